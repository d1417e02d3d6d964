"""Evidence files in an S3-compatible object store, against moto's S3 server on loopback (real HTTP).

The server runs in its own process for the session, so what the tests see of it is what a
client sees of AWS, MinIO or Ceph, and tracemalloc measures our process alone. Each test gets
its own key prefix; buckets are shared: one plain, one with Object Lock enabled.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from botocore.exceptions import ClientError  # noqa: E402
from botocore.stub import Stubber  # noqa: E402

from evidence.app import App  # noqa: E402
from evidence.errors import StoreError  # noqa: E402
from evidence.store import s3 as s3store  # noqa: E402
from evidence.store.s3 import S3BlobStore  # noqa: E402
from evidence.support import clock  # noqa: E402
from tests.conftest import SAMPLE  # noqa: E402

TIN = "000123456"
SECRET = "evidence-test-secret-never-printed"
PLAIN, LOCKED = "evidence-plain", "evidence-locked"
MiB = 1024 * 1024
# Lock tests use a 30-year retention period so their dates stay in the future (S3 accepts no
# retention date in the past): with 6 years, PY2020's 2026-12-31 would soon stop being one.
LONG = "30"

# The packet test renders a PDF; where libharfbuzz-subset is missing WeasyPrint says so at import.
# s3 and slow: moto's server and a registration per test (about 45 s). .ci/run runs them once, in its
# PostgreSQL pass (-m "not slow or s3"): the team's deployment is PostgreSQL + S3, and the S3 store's code
# is the same over either database. `python3 -m pytest -m s3` runs them on SQLite.
pytestmark = [
    pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning"),
    pytest.mark.slow,
    pytest.mark.s3,
]

SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # serve until the test session closes our stdin
"""


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = int(process.stdout.readline())  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stdin.close()  # type: ignore[union-attr]
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()  # type: ignore[union-attr]


def make_admin(endpoint: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key=SECRET, region_name="us-east-1"
    ).client("s3", endpoint_url=endpoint)


@pytest.fixture(scope="session")
def admin(endpoint: str) -> Any:
    """The bucket owner's own client, to look at (and tamper with) objects behind the tool's back."""
    client = make_admin(endpoint)
    client.create_bucket(Bucket=PLAIN)
    client.create_bucket(Bucket=LOCKED, ObjectLockEnabledForBucket=True)
    return client


@pytest.fixture(autouse=True)
def s3_env(endpoint: str, admin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "EVIDENCE_S3_LOCK_MODE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("EVIDENCE_S3_ENDPOINT_URL", endpoint)
    # The tests run registrations and verify one after the other, on one machine.
    monkeypatch.setattr(s3store, "SETTLE_TIME", timedelta(0))


class Bucket:
    """One test's slice of a bucket, the store the CLI uses, and the admin's view of it."""

    def __init__(self, admin: Any, name: str, home: Path):
        self.admin, self.name = admin, name
        self.prefix = f"t-{uuid.uuid4().hex[:12]}"
        self.url = f"s3://{name}/{self.prefix}"
        self.store = S3BlobStore.from_url(self.url, work_dir=home / "s3-work")

    def key(self, digest: str) -> str:
        return f"{self.prefix}/sha256/{digest[:2]}/{digest}"

    def object_keys(self) -> list[str]:
        """The stored files (not the store's STORE-ID object, nor its quarantine/)."""
        listing = self.admin.list_objects_v2(Bucket=self.name, Prefix=f"{self.prefix}/sha256/")
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def versions(self) -> list[dict]:
        listing = self.admin.list_object_versions(Bucket=self.name, Prefix=f"{self.prefix}/sha256/")
        return listing.get("Versions", []) + listing.get("DeleteMarkers", [])

    def head(self, digest: str) -> dict:
        return self.admin.head_object(Bucket=self.name, Key=self.key(digest))

    def lock(self, digest: str) -> tuple[str | None, datetime | None]:
        head = self.head(digest)
        return head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")

    def legal_hold(self, digest: str) -> str | None:
        return self.head(digest).get("ObjectLockLegalHoldStatus")


def open_bucket(name: str, admin: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    bucket = Bucket(admin, name, home)
    monkeypatch.setenv("EVIDENCE_STORE_URL", bucket.url)
    return bucket


@pytest.fixture
def plain(admin: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    return open_bucket(PLAIN, admin, home, monkeypatch)


@pytest.fixture
def locked(admin: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    return open_bucket(LOCKED, admin, home, monkeypatch)


@pytest.fixture(params=[PLAIN, LOCKED])
def bucket(request: pytest.FixtureRequest, admin: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    return open_bucket(request.param, admin, home, monkeypatch)


def register_sample(run) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    run("import", SAMPLE / "practice.csv")
    out = run("register", "--manifest", SAMPLE / "manifest.yaml").output
    assert "12 registered, 0 already present, 0 failed" in out
    return {e["name"]: e for e in json.loads(run("list", "--format", "json").output)}


def digests_of(evidence: dict[str, dict], year: int) -> set[str]:
    return {e["sha256"] for e in evidence.values() if f" PY{year} " in e["links"]}


def hold_id(result) -> str:  # type: ignore[no-untyped-def]
    return re.search(r"legal hold (\d+) placed", result.output).group(1)


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


# --- Registration, dedup, verify ------------------------------------------------------------------


def test_sample_registers_into_the_bucket_once(run, bucket: Bucket, home: Path) -> None:
    evidence = register_sample(run)
    digests = {e["sha256"] for e in evidence.values()}
    assert bucket.object_keys() == sorted(bucket.key(d) for d in digests)
    assert not (home / "store" / "sha256").exists()  # nothing went to the local folder
    again = run("register", "--manifest", SAMPLE / "manifest.yaml").output
    assert "0 registered, 12 already present, 0 failed" in again
    assert len(bucket.versions()) == 12  # content already stored is not uploaded again
    head = bucket.head(evidence["qcdr-feedback-report-2020-q3.pdf"]["sha256"])
    assert head["ContentType"] == "application/pdf"
    assert "12 stored files checked: 0 problems" in run("verify").output


def test_verify_finds_corrupted_missing_orphaned_and_leftovers(run, plain: Bucket, admin: Any) -> None:
    evidence = register_sample(run)
    corrupted = evidence["care-plan-template.pdf"]["sha256"]
    missing = evidence["falls-screening-policy.pdf"]["sha256"]
    orphan = hashlib.sha256(b"nobody registered this").hexdigest()
    unfinished = hashlib.sha256(b"a registration that crashed mid-upload").hexdigest()
    admin.put_object(Bucket=PLAIN, Key=plain.key(corrupted), Body=b"tampered")
    admin.delete_object(Bucket=PLAIN, Key=plain.key(missing))
    admin.put_object(Bucket=PLAIN, Key=plain.key(orphan), Body=b"nobody registered this")
    upload = admin.create_multipart_upload(Bucket=PLAIN, Key=plain.key(unfinished))
    admin.upload_part(Bucket=PLAIN, Key=plain.key(unfinished), UploadId=upload["UploadId"], PartNumber=1, Body=b"x")

    out = run("verify", expect=1).output
    assert f"corrupted: {corrupted}" in out
    assert f"missing: {missing}" in out
    assert f"orphaned: {orphan}" in out
    assert f"leftover: incomplete upload of {unfinished}" in out
    assert "12 stored files checked: 4 problems" in out

    out = run("verify", "--repair", expect=1).output  # the corrupted and missing files stay reported
    assert f"quarantined orphaned file {orphan}" in out
    assert f"removed leftover temporary file incomplete upload of {unfinished}" in out
    assert plain.key(orphan) not in plain.object_keys()
    moved = f"{plain.prefix}/quarantine/{clock.today().isoformat()}/sha256/{orphan}"  # moved, never deleted
    assert admin.get_object(Bucket=PLAIN, Key=moved)["Body"].read() == b"nobody registered this"
    store_id = admin.get_object(Bucket=PLAIN, Key=f"{plain.prefix}/STORE-ID")["Body"].read().decode().strip()
    assert store_id == _database_store_id()
    assert admin.list_multipart_uploads(Bucket=PLAIN, Prefix=f"{plain.prefix}/").get("Uploads", []) == []
    out = run("verify", expect=1).output
    assert "orphaned:" not in out and "leftover:" not in out and "2 problems" in out


def _database_store_id() -> str | None:
    from evidence.config import resolve_settings
    from evidence.store.identity import database_store_id

    app = App(resolve_settings(), actor="tester")
    try:
        with app.read() as session:
            return database_store_id(session)
    finally:
        app.close()


def test_large_file_streams_in_parts(run, plain: Bucket, tmp_path: Path) -> None:
    run("import", SAMPLE / "practice.csv")
    big = tmp_path / "qcdr-export-2020.bin"
    hasher = hashlib.sha256()
    with big.open("wb") as handle:
        for i in range(64):
            block = bytes([i]) * MiB
            hasher.update(block)
            handle.write(block)
    tracemalloc.start()
    try:
        run("register", big, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * s3store.PART_SIZE, f"peak {peak / MiB:.1f} MiB for a 64 MiB file"
    digest = hasher.hexdigest()
    assert plain.head(digest)["ETag"].endswith('-8"')  # eight 8 MiB parts
    assert plain.head(digest)["ContentLength"] == 64 * MiB
    assert "1 stored file checked: 0 problems" in run("verify").output


@pytest.mark.parametrize("size", [1000, 2 * s3store.PART_SIZE + 5], ids=["one-request", "multipart"])
def test_a_file_changing_while_stored_leaves_nothing(
    size: int, plain: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, admin: Any
) -> None:
    source = tmp_path / "minutes.txt"
    source.write_bytes(b"m" * size)
    real_sniff = s3store.sniff_media_type

    def sniff_then_edit(head: bytes) -> str:  # runs between the hash and the upload
        with source.open("r+b") as handle:
            handle.write(b"edited")
        return real_sniff(head)

    monkeypatch.setattr(s3store, "sniff_media_type", sniff_then_edit)
    with pytest.raises(OSError, match="changed while it was being stored"):
        plain.store.put_file(source)
    assert plain.object_keys() == []
    assert admin.list_multipart_uploads(Bucket=PLAIN, Prefix=f"{plain.prefix}/").get("Uploads", []) == []


# --- Object Lock ------------------------------------------------------------------------------------


def test_each_object_is_locked_until_its_years_retain_until_date(run, locked: Bucket) -> None:
    run("retention", "set", "--years", LONG)
    evidence = register_sample(run)
    for digest in digests_of(evidence, 2020):
        assert locked.lock(digest) == ("GOVERNANCE", end_of(date(2050, 12, 31)))
    for digest in digests_of(evidence, 2024):
        assert locked.lock(digest) == ("GOVERNANCE", end_of(date(2054, 12, 31)))

    # The same content linked from a later year: the lock follows the later year...
    report = SAMPLE / "files" / "2020" / "qcdr-feedback-report-2020-q3.pdf"
    run("register", report, "--tin", TIN, "--year", 2024, "--activity", "IA_PSPA_21", "--item", "1",
        "--npi", "1234567893")  # fmt: skip
    assert locked.lock(evidence[report.name]["sha256"]) == ("GOVERNANCE", end_of(date(2054, 12, 31)))
    # ...and an earlier year never shortens it.
    portal = SAMPLE / "files" / "2024" / "patient-portal-screenshot.png"
    run("register", portal, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7")
    assert locked.lock(evidence[portal.name]["sha256"]) == ("GOVERNANCE", end_of(date(2054, 12, 31)))


def test_a_link_to_a_later_or_held_year_extends_the_objects_lock(run, locked: Bucket) -> None:
    run("retention", "set", "--years", LONG)
    evidence = register_sample(run)
    report = evidence["qcdr-feedback-report-2020-q3.pdf"]
    assert locked.lock(report["sha256"]) == ("GOVERNANCE", end_of(date(2050, 12, 31)))
    run("link", report["id"], "--tin", TIN, "--year", 2024, "--activity", "IA_PSPA_21", "--item", "1",
        "--npi", "1234567893", "--reason", "the same QCDR report documents PY2024")  # fmt: skip
    assert locked.lock(report["sha256"]) == ("GOVERNANCE", end_of(date(2054, 12, 31)))
    run("hold", "add", "--tin", TIN, "--year", 2019, "--reason", "CMS audit")
    portal = evidence["patient-portal-screenshot.png"]
    assert locked.legal_hold(portal["sha256"]) != "ON"
    run("link", portal["id"], "--tin", TIN, "--year", 2019, "--activity", "IA_PM_7", "--reason", "also 2019")
    assert locked.legal_hold(portal["sha256"]) == "ON"  # held like a file registered for the held year
    assert locked.lock(portal["sha256"]) == ("GOVERNANCE", end_of(date(2054, 12, 31)))  # never shortened


def test_lengthening_the_retention_period_extends_the_locks(run, locked: Bucket) -> None:
    evidence = register_sample(run)  # 6 years: PY2024 is locked through 2030-12-31
    for digest in digests_of(evidence, 2024):
        assert locked.lock(digest) == ("GOVERNANCE", end_of(date(2030, 12, 31)))
    assert "retention period: 6 -> 30 years" in run("retention", "set", "--years", LONG).output
    for digest in digests_of(evidence, 2020) - digests_of(evidence, 2024):
        assert locked.lock(digest) == ("GOVERNANCE", end_of(date(2050, 12, 31)))
    for digest in digests_of(evidence, 2024):
        assert locked.lock(digest) == ("GOVERNANCE", end_of(date(2054, 12, 31)))
    for digest in digests_of(evidence, 2019):  # PY2019 + 30 years: its past lock is renewed too
        assert locked.lock(digest) == ("GOVERNANCE", end_of(date(2049, 12, 31)))


def test_a_year_whose_window_has_ended_gets_no_lock(run, locked: Bucket) -> None:
    evidence = register_sample(run)  # 6 years: PY2019 was kept through 2025-12-31
    for digest in digests_of(evidence, 2019):
        assert locked.lock(digest) == (None, None)


def test_compliance_mode(run, locked: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVIDENCE_S3_LOCK_MODE", "compliance")
    run("retention", "set", "--years", LONG)
    run("import", SAMPLE / "practice.csv")
    portal = SAMPLE / "files" / "2024" / "patient-portal-screenshot.png"
    run("register", portal, "--tin", TIN, "--year", 2024, "--activity", "IA_BE_4", "--npi", "1234567893")
    digest = hashlib.sha256(portal.read_bytes()).hexdigest()
    assert locked.lock(digest) == ("COMPLIANCE", end_of(date(2054, 12, 31)))


def test_large_files_are_locked_too(run, locked: Bucket, tmp_path: Path) -> None:
    run("retention", "set", "--years", LONG)
    run("import", SAMPLE / "practice.csv")
    big = tmp_path / "portal-audit-log.bin"
    big.write_bytes(b"\x01" * (s3store.PART_SIZE + 1))
    run("register", big, "--tin", TIN, "--year", 2024, "--activity", "IA_BE_4", "--npi", "1234567893")
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    assert locked.lock(digest) == ("GOVERNANCE", end_of(date(2054, 12, 31)))


def test_the_server_refuses_an_early_delete(run, locked: Bucket, admin: Any) -> None:
    run("retention", "set", "--years", LONG)
    evidence = register_sample(run)
    digest = evidence["falls-screening-policy.pdf"]["sha256"]
    with pytest.raises(StoreError, match=rf"Object Lock \(GOVERNANCE\) keeps stored file {digest} until 2054-12-31"):
        locked.store.delete(digest)
    assert locked.store.hash_of(digest) == digest
    # Not our code refusing: the server itself, to anyone holding the version id.
    version = locked.head(digest)["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        admin.delete_object(Bucket=LOCKED, Key=locked.key(digest), VersionId=version)
    assert "0 problems" in run("verify").output


def test_legal_holds_follow_hold_add_and_release(run, locked: Bucket, tmp_path: Path) -> None:
    evidence = register_sample(run)
    py2019, py2024 = digests_of(evidence, 2019), digests_of(evidence, 2024)
    everything = {e["sha256"] for e in evidence.values()}
    audit = hold_id(run("hold", "add", "--tin", TIN, "--year", 2019, "--reason", "CMS data validation audit"))
    assert {d for d in everything if locked.legal_hold(d) == "ON"} == py2019
    # PY2019's retention date has passed, so only the legal hold stops a delete now.
    some = sorted(py2019)[0]
    with pytest.raises(StoreError, match="under a legal hold"):
        locked.store.delete(some)

    # Evidence found later for a held year is held as soon as it is registered.
    late = tmp_path / "qcdr-feedback-report-2019-q4.txt"
    late.write_text("QCDR feedback, Q4 2019\n")
    run("register", late, "--tin", TIN, "--year", 2019, "--activity", "IA_PM_7")
    late_digest = hashlib.sha256(late.read_bytes()).hexdigest()
    assert locked.legal_hold(late_digest) == "ON"

    litigation = hold_id(run("hold", "add", "--tin", TIN, "--reason", "litigation"))  # every year
    assert all(locked.legal_hold(d) == "ON" for d in everything)
    run("hold", "release", audit, "--reason", "audit closed")  # the litigation hold still covers PY2019
    assert all(locked.legal_hold(d) == "ON" for d in everything | {late_digest})
    run("hold", "release", litigation, "--reason", "settled")
    assert not any(locked.legal_hold(d) == "ON" for d in everything | {late_digest})
    assert not any(locked.legal_hold(d) == "ON" for d in py2024)


def test_a_missing_file_does_not_stop_the_other_holds(run, locked: Bucket, admin: Any) -> None:
    evidence = register_sample(run)
    gone, *others = sorted(digests_of(evidence, 2019))
    for version in admin.list_object_versions(Bucket=LOCKED, Prefix=locked.key(gone))["Versions"]:
        admin.delete_object(Bucket=LOCKED, Key=locked.key(gone), VersionId=version["VersionId"])
    out = run("hold", "add", "--tin", TIN, "--year", 2019, "--reason", "CMS audit", expect=1).output
    assert f"placed on {TIN} PY2019" in out  # the database records it all the same
    assert f"could not place its own hold on 1 of 3 files: stored file {gone} is missing" in out
    assert all(locked.legal_hold(d) == "ON" for d in others)


def test_purge_deletes_every_version_once_the_locks_expire(
    run, locked: Bucket, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_sample(run)
    monkeypatch.setattr(clock, "today", lambda: date(2031, 1, 2))  # PY2019, PY2020 and PY2024 all past
    # The server's calendar cannot be moved: the test (a GOVERNANCE privilege the tool never uses)
    # brings every lock forward to two seconds from now, as if the years had passed.
    soon = datetime.now(UTC) + timedelta(seconds=2)
    for key in locked.object_keys():
        admin.put_object_retention(
            Bucket=LOCKED,
            Key=key,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": soon},
            BypassGovernanceRetention=True,
        )
    time.sleep((soon - datetime.now(UTC)).total_seconds() + 0.2)
    assert "purged 47 records and 12 files" in run("purge", "--yes").output
    assert locked.versions() == []  # deleted, not hidden behind delete markers
    assert "0 stored files checked: 0 problems" in run("verify").output


def test_a_retention_period_cannot_be_shortened_under_its_locks(
    run, locked: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("retention", "set", "--years", LONG)
    register_sample(run)
    out = run("retention", "set", "--years", "6", expect=1).output
    assert f"Error: the retention period is {LONG} years and can only be lengthened" in out
    monkeypatch.setattr(clock, "today", lambda: date(2031, 1, 2))
    assert "nothing has passed its retention window" in run("purge", "--yes").output
    assert len(locked.object_keys()) == 12
    assert "0 problems" in run("verify").output


# --- Packets --------------------------------------------------------------------------------------------


def test_packet_with_attachments_reads_the_bucket(run, locked: Bucket, tmp_path: Path) -> None:
    evidence = register_sample(run)
    pdf, archive = tmp_path / "py2020.pdf", tmp_path / "py2020.zip"
    out = run("packet", "--tin", TIN, "--year", 2020, "-o", pdf, "--zip", archive).output
    assert "5 attachments" in out
    with zipfile.ZipFile(archive) as opened:
        stored = {
            name.split("-", 1)[1]: hashlib.sha256(opened.read(name)).hexdigest()
            for name in opened.namelist()
            if name.startswith("evidence/")
        }
    assert stored == {name: evidence[name]["sha256"] for name in stored}
    assert len(stored) == 5


# --- Errors: one line, no credentials ---------------------------------------------------------------------


def test_no_such_bucket(run, monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("EVIDENCE_STORE_URL", "s3://no-such-bucket/evidence")
    out = run("verify", expect=1).output
    assert f"Error: no bucket 'no-such-bucket' at {endpoint}" in out
    assert SECRET not in out


def test_unreachable_endpoint(run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("EVIDENCE_S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("EVIDENCE_STORE_URL", f"s3://{PLAIN}/evidence")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    source = tmp_path / "minutes.txt"
    source.write_text("QI minutes\n")
    run("import", SAMPLE / "practice.csv")
    out = run("register", source, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7", expect=1).output
    assert f"Error: cannot reach the object store at http://127.0.0.1:{port}" in out
    assert SECRET not in out


def test_access_denied_is_one_line(plain: Bucket) -> None:
    with Stubber(plain.store.client) as stub:
        stub.add_client_error("get_object_lock_configuration", "AccessDenied", "Access Denied", 403)
        with pytest.raises(StoreError) as caught:
            plain.store.exists("0" * 64)
    assert caught.value.message == (
        f"access denied to {plain.url} while opening {plain.url}: check the IAM permissions listed in docs/DEPLOYMENT.md"
    )


@pytest.mark.parametrize(
    ("env", "url", "message"),
    [
        ({}, "s3://", "names no bucket"),
        (
            {"EVIDENCE_S3_LOCK_MODE": "strict"},
            f"s3://{PLAIN}/x",
            "EVIDENCE_S3_LOCK_MODE='STRICT': use GOVERNANCE or COMPLIANCE",
        ),
        (
            {"EVIDENCE_S3_ADDRESSING_STYLE": "Path"},
            f"s3://{PLAIN}/x",
            "EVIDENCE_S3_ADDRESSING_STYLE='Path': use auto, virtual or path",
        ),
    ],
)
def test_bad_settings(run, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert message in run("--store", url, "verify", expect=1).output


# --- The store id: a --db typo beside a bucket ---------------------------------------------------------------


def test_typo_db_beside_a_bucket_writes_and_repairs_nothing(
    run, plain: Bucket, home: Path, tmp_path, monkeypatch
) -> None:
    register_sample(run)
    keys, head = plain.object_keys(), (home / "audit-head").read_bytes()
    monkeypatch.chdir(tmp_path)
    typo = ("--db", "sqlite:///typo.sqlite3")
    out = run(*typo, "verify", "--repair", expect=1).output  # verify only reads: no typo database is created
    assert out.startswith("Error: the database typo.sqlite3 does not exist: create one with `evidence init`")
    assert "check --db / --home; nothing was created" in out and out.count("\n") == 1
    assert not (tmp_path / "typo.sqlite3").exists()
    out = run(*typo, "practice", "add", "000999999", "--name", "Typo", expect=1).output
    assert out.startswith("Error: refusing to write") and out.count("\n") == 1
    assert plain.object_keys() == keys  # every object still there
    assert (home / "audit-head").read_bytes() == head  # the typo database never wrote the home's mirror
    assert "audit trail intact" in run("log", "verify").output


# --- Signed checkpoints kept in the bucket ---------------------------------------------------------


@pytest.fixture
def signing(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = tmp_path / "keys" / "audit.key"
    key.parent.mkdir()
    run("log", "keygen", key)
    monkeypatch.setenv("EVIDENCE_SIGNING_KEY", str(key))
    return key


def test_log_checkpoint_to_the_store_is_kept_under_object_lock(run, locked: Bucket, signing: Path, tmp_path) -> None:
    register_sample(run)
    out = run("log", "checkpoint", "--to-store", "-o", tmp_path / "also.json").output
    url = re.match(r"checkpoint of event #(\d+) kept under Object Lock: (s3://\S+)\n", out)
    assert url is not None, out
    key = url[2].removeprefix(f"s3://{LOCKED}/")
    assert key.startswith(f"{locked.prefix}/checkpoints/{int(url[1]):08d}-") and key.endswith(".json")
    head = locked.admin.head_object(Bucket=LOCKED, Key=key)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] == end_of(date(datetime.now(UTC).year + 6, 12, 31))
    body = locked.admin.get_object(Bucket=LOCKED, Key=key)["Body"].read()
    kept = tmp_path / "kept.json"
    kept.write_bytes(body)
    assert body == (tmp_path / "also.json").read_bytes()  # -o wrote the same checkpoint
    assert "audit trail intact" in run("log", "verify", "--checkpoint", kept).output  # a real, valid checkpoint
    with pytest.raises(ClientError):  # the lock holds against the bucket's owner too
        locked.admin.delete_object(Bucket=LOCKED, Key=key, VersionId=head["VersionId"])


def test_log_checkpoint_to_a_store_without_object_lock_is_refused(run, plain: Bucket, signing: Path) -> None:
    register_sample(run)
    out = run("log", "checkpoint", "--to-store", expect=1).output
    assert out == (
        f"Error: the bucket of {plain.url} has no Object Lock: whoever can write it could remove the checkpoint; "
        "keep it with -o on other media\n"
    )
    assert plain.admin.list_objects_v2(Bucket=PLAIN, Prefix=f"{plain.prefix}/checkpoints/").get("KeyCount") == 0


def test_log_checkpoint_to_a_local_store_is_refused(run, home: Path, signing: Path) -> None:
    out = run("log", "checkpoint", "--to-store", expect=1).output
    assert out.startswith(f"Error: the local store at {home / 'store'} cannot lock a file against its owner")
    assert len(out.splitlines()) == 1 and not (home / "store" / "checkpoints").exists()


def test_an_open_audit_holds_its_years_files_until_closed(run, locked: Bucket, tmp_path: Path) -> None:
    evidence = register_sample(run)
    py2019 = digests_of(evidence, 2019)
    everything = {e["sha256"] for e in evidence.values()}
    run("audit", "open", "--tin", TIN, "--year", 2019, "--received", "2024-11-20")
    assert {d for d in everything if locked.legal_hold(d) == "ON"} == py2019
    late = tmp_path / "qcdr-feedback-report-2019-q4.txt"  # found later: held as soon as it is registered
    late.write_text("QCDR feedback, Q4 2019\n")
    run("register", late, "--tin", TIN, "--year", 2019, "--activity", "IA_PM_7")
    late_digest = hashlib.sha256(late.read_bytes()).hexdigest()
    assert locked.legal_hold(late_digest) == "ON"

    run("audit", "open", "--tin", TIN, "--year", 2019, "--received", "2024-12-01", "--activity", "IA_PM_7")
    hold = hold_id(run("hold", "add", "--tin", TIN, "--year", 2019, "--reason", "litigation"))
    run("hold", "release", hold, "--reason", "settled")  # both audits still hold PY2019
    run("audit", "close", "1", "--outcome", "passed")  # the second audit still does
    assert all(locked.legal_hold(d) == "ON" for d in py2019 | {late_digest})
    run("audit", "close", "2", "--outcome", "passed")
    assert not any(locked.legal_hold(d) == "ON" for d in everything | {late_digest})
