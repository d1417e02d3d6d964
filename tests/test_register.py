"""Registering evidence: the store, links, idempotence, and every kind of bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evidence.db.models import Blob, Evidence, EvidenceLink
from tests.conftest import SAMPLE
from tests.stores import use_sample_practice

TIN = "000123456"


@pytest.fixture
def sample(app):
    use_sample_practice(app, register=False)  # tests/stores.py: a copy of one built once


def _count(app, model) -> int:
    with app.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def _store_files(home: Path) -> list[Path]:
    return sorted(p for p in (home / "store" / "sha256").rglob("*") if p.is_file())


def test_register_stores_file_owner_only_with_facts(tmp_path: Path, run, app, home, sample) -> None:
    report = tmp_path / "qcdr-q3.pdf"
    report.write_bytes((SAMPLE / "files/2020/qcdr-feedback-report-2020-q3.pdf").read_bytes())
    out = run("register", report, "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7",
              "--effective-date", "2020-10-05", "--description", "Q3 report", "--actor", "alice").output  # fmt: skip
    assert "1 registered, 0 already present, 0 failed" in out
    files = _store_files(home)
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    for folder in (files[0].parent, files[0].parent.parent, home / "store"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    listed = json.loads(run("list", "--format", "json").output)[0]
    import hashlib

    assert listed["sha256"] == hashlib.sha256(report.read_bytes()).hexdigest() == files[0].name
    assert (listed["name"], listed["media_type"], listed["size"]) == (
        "qcdr-q3.pdf",
        "application/pdf",
        report.stat().st_size,
    )
    assert (listed["effective_date"], listed["registered_by"], listed["description"]) == (
        "2020-10-05",
        "alice",
        "Q3 report",
    )
    assert "000123456 PY2020 IA_PM_7 item 1" in listed["links"]
    with app.read() as session:
        assert session.scalar(select(Blob.hash_algorithm)) == "sha256"


def test_media_type_comes_from_content_not_extension(tmp_path: Path, run, sample) -> None:
    disguised = tmp_path / "screenshot.txt"
    disguised.write_bytes((SAMPLE / "files/2024/patient-portal-screenshot.png").read_bytes())
    run("register", disguised, "--tin", TIN, "--year", "2024", "--activity", "IA_BE_4", "--npi", "1234567893")
    assert json.loads(run("list", "--format", "json").output)[0]["media_type"] == "image/png"


def test_effective_date_defaults_to_modification_date(tmp_path: Path, run, sample) -> None:
    path = tmp_path / "minutes.txt"
    path.write_text("QI meeting minutes\n", encoding="utf-8")
    when = 1_590_000_000  # 2020-05-20
    os.utime(path, (when, when))
    run("register", path, "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7")
    assert json.loads(run("list", "--format", "json").output)[0]["effective_date"] == "2020-05-20"


def test_same_content_stored_once_links_kept_and_rerun_is_already_present(tmp_path, run, app, home, sample) -> None:
    path = SAMPLE / "files/2020/care-plan-template.pdf"
    args = ["--tin", TIN, "--year", "2020", "--effective-date", "2020-04-06"]
    run("register", path, "--activity", "IA_CC_9", "--item", "1", *args)
    again = run("register", path, "--activity", "IA_CC_9", "--item", "1", *args).output
    assert "0 registered, 1 already present" in again
    run("register", path, "--activity", "IA_PM_7", *args)  # same bytes, another link
    assert len(_store_files(home)) == 1
    assert (_count(app, Blob), _count(app, Evidence), _count(app, EvidenceLink)) == (1, 1, 2)


def test_manifest_registers_sample_and_rerun_changes_nothing(run, app, dump, sample) -> None:
    out = run("register", "--manifest", SAMPLE / "manifest.yaml").output
    assert "12 registered, 0 already present, 0 failed" in out
    before = dump()
    assert (
        "0 registered, 12 already present, 0 failed" in run("register", "--manifest", SAMPLE / "manifest.yaml").output
    )
    assert dump() == before


def test_csv_manifest_with_several_items(tmp_path: Path, run, app, sample) -> None:
    (tmp_path / "plan.pdf").write_bytes(b"%PDF-1.4 plan")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,tin,year,activity,items,effective_date,description\n"
        "plan.pdf,000123456,2020,IA_CC_9,1;2,2020-05-01,Care plan and sharing log\n",
        encoding="utf-8",
    )
    run("register", "--manifest", manifest)
    assert _count(app, EvidenceLink) == 2


def test_activity_with_several_items_needs_item(tmp_path: Path, run, dump, sample) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF-1.4 x")
    before = dump()
    out = run("register", path, "--tin", TIN, "--year", "2020", "--activity", "IA_CC_9", expect=1).output
    assert "IA_CC_9 has 2 documentation items; choose with --item: 1) Individual care plan process; 2) " in out
    assert dump() == before


BAD_TARGETS = {
    "unknown item": (["--activity", "IA_CC_9", "--item", "7"], "IA_CC_9 has no documentation item 7"),
    "no such attestation": (["--activity", "IA_BE_4"], "no attestation of IA_BE_4 by the group under TIN 000123456"),
    "activity not in year": (["--activity", "IA_ERP_3", "--year", "2019"], "IA_ERP_3 is not in the PY2019 inventory"),
    "unknown practice": (["--activity", "IA_PM_7", "--tin", "999999999"], "no practice with TIN 999999999"),
}


@pytest.mark.parametrize("case", sorted(BAD_TARGETS))
def test_bad_target_is_one_clear_error(tmp_path: Path, run, dump, home, sample, case: str) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF-1.4 x")
    extra, expected = BAD_TARGETS[case]
    args = {"--tin": TIN, "--year": "2020"}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        args[flag] = value
    flat = [part for pair in args.items() for part in pair]
    before = dump()
    out = run("register", path, *flat, expect=1).output
    assert expected in out and "Traceback" not in out
    assert dump() == before and _store_files(home) == []


def test_bad_files_fail_alone_and_the_rest_register(tmp_path: Path, run, app, home, sample) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "good-1.pdf").write_bytes(b"%PDF-1.4 one")
    (folder / "good-2.txt").write_text("two", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "link.pdf").symlink_to(folder / "good-1.pdf")
    locked = folder / "locked.pdf"
    locked.write_bytes(b"%PDF-1.4 secret")
    locked.chmod(0)
    bad_name = os.fsencode(folder) + b"/caf\xe9.pdf"
    with open(bad_name, "wb") as handle:
        handle.write(b"%PDF-1.4 latin")
    missing = tmp_path / "nowhere.pdf"
    result = run("register", folder, missing, "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7", expect=1)
    out = result.output
    root = os.geteuid() == 0  # root reads anything, so the locked file registers
    assert f"{3 if root else 2} registered, 0 already present, {4 if root else 5} failed" in out
    assert "empty.txt: empty file (use --allow-empty" in out
    assert "link.pdf: is a symbolic link (use --follow-symlinks" in out
    assert "nowhere.pdf: no such file" in out
    assert "file name is not valid UTF-8" in out
    if not root:
        assert "locked.pdf: not readable" in out
    assert _count(app, Evidence) == (3 if root else 2)
    locked.chmod(0o600)
    run("register", folder / "empty.txt", "--allow-empty", "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7")
    run("register", folder / "link.pdf", "--follow-symlinks", "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7")


def test_manifest_bad_entries_fail_alone(tmp_path: Path, run, app, sample) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4 a")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.4 b")
    outside = tmp_path.parent / "outside.pdf"
    outside.write_bytes(b"%PDF-1.4 outside")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        "evidence:\n"
        "  - {path: a.pdf, tin: '000123456', year: 2020, activity: IA_PM_7}\n"
        "  - {path: b.pdf, tin: '000123456', year: 2020, activity: IA_PM_7, npi: '1234567890'}\n"
        "  - {path: b.pdf, tin: '000123456', year: 2020, activity: IA_PM_7, effective_date: 05/01/2020}\n"
        "  - {path: ../outside.pdf, tin: '000123456', year: 2020, activity: IA_PM_7}\n"
        "  - {path: b.pdf, year: 2020, activity: IA_PM_7}\n",
        encoding="utf-8",
    )
    out = run("register", "--manifest", manifest, expect=1).output
    assert "1 registered, 0 already present, 4 failed" in out
    assert "manifest.yaml line 3: npi '1234567890' fails the NPI check digit" in out
    assert "manifest.yaml line 4: effective_date '05/01/2020' is not an ISO date" in out
    assert "manifest.yaml line 5: path '../outside.pdf' is outside the manifest's folder (use --allow-outside)" in out
    assert "manifest.yaml line 6: missing field 'tin'" in out


def test_manifest_not_yaml(tmp_path: Path, run) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("evidence: [\n", encoding="utf-8")
    assert "not valid YAML" in run("register", "--manifest", manifest, expect=1).output


def test_withdraw_keeps_record_and_file(run, app, home, sample) -> None:
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    out = run("withdraw", "4", "--reason", "wrong quarter").output
    assert "withdrawn: wrong quarter" in out
    shown = run("show", "4").output
    assert "WITHDRAWN by tester" in shown and "wrong quarter" in shown
    assert len(_store_files(home)) == 12
    assert "already withdrawn" in run("withdraw", "4", "--reason", "again", expect=1).output
    assert "no evidence with id 999" in run("withdraw", "999", "--reason", "x", expect=1).output


def test_list_filters_and_csv_escapes_formulas(tmp_path: Path, run, sample) -> None:
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    assert len(json.loads(run("list", "--year", "2024", "--format", "json").output)) == 4
    assert len(json.loads(run("list", "--activity", "IA_PM_7", "--format", "json").output)) == 3
    path = tmp_path / "f.txt"
    path.write_text("x", encoding="utf-8")
    run("register", path, "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7", "--description", "=HYPERLINK(1)")
    assert "'=HYPERLINK(1)" in run("list", "--format", "csv").output


def test_verify_finds_missing_corrupted_orphaned_and_repairs(run, home, sample) -> None:
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    assert "12 stored files checked: 0 problems" in run("verify").output
    files = _store_files(home)
    files[0].unlink()
    files[1].write_bytes(b"tampered")
    orphan = home / "store" / "sha256" / "ab" / ("abcd" + "0" * 60)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"orphan")
    out = run("verify", expect=1).output
    assert f"missing: {files[0].name}" in out
    assert f"corrupted: {files[1].name}" in out
    assert f"orphaned: {orphan.name}" in out
    repaired = run("verify", "--repair", expect=1).output  # missing and corrupted cannot be repaired
    assert "quarantined orphaned file" in repaired and not orphan.exists()
    assert [p.read_bytes() for p in (home / "quarantine").glob(f"*/sha256/{orphan.name}")] == [b"orphan"]


# --- The library call: one writer session, committed batch by batch -----------------------------------


def _files(tmp_path: Path, n: int) -> list:
    from evidence.store.registration import FileToRegister, LinkRequest

    request = LinkRequest(TIN, 2020, "IA_PM_7")
    folder = tmp_path / "batch"
    folder.mkdir()
    files = []
    for i in range(n):
        (folder / f"sheet-{i}.txt").write_text(f"sign-in sheet {i}\n", encoding="utf-8")
        files.append(FileToRegister(folder / f"sheet-{i}.txt", request))
    return files


def test_each_batch_is_its_own_locked_transaction_and_no_transaction_is_open_while_storing(
    tmp_path: Path, app, monkeypatch, sample
) -> None:
    from sqlalchemy import event

    from evidence.store import registration
    from evidence.store.registration import OutcomeStatus, register_files

    monkeypatch.setattr(registration, "BATCH_FILES", 2)
    files = _files(tmp_path, 5)
    log: list[str] = []

    def on_statement(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        log.append(statement)

    store = app.blob_store
    event.listen(app.engine, "before_cursor_execute", on_statement)
    event.listen(app.engine, "commit", lambda _conn: log.append("<commit>"))
    event.listen(app.engine, "rollback", lambda _conn: log.append("<rollback>"))
    try:
        with app.write() as session:
            calls: list[str] = []

            def outside_transactions(name: str) -> None:  # staging a file, and publishing a batch of them
                real = getattr(store, name)

                def storing(*args, **kwargs):  # type: ignore[no-untyped-def]
                    assert not session.in_transaction(), f"a transaction (the writer lock) is open during {name}"
                    calls.append(name)
                    return real(*args, **kwargs)

                monkeypatch.setattr(store, name, storing)

            outside_transactions("stage")
            outside_transactions("publish")
            outcomes = register_files(session, store, files, actor="tester")
            assert calls.count("stage") == 5 and calls.count("publish") == 3  # the checks above did run
    finally:
        event.remove(app.engine, "before_cursor_execute", on_statement)
    assert [o.status for o in outcomes] == [OutcomeStatus.REGISTERED] * 5
    # Every write happens in a transaction that began with the writer lock, even after a commit.
    locked, writes, committed_writes = False, 0, 0
    for entry in log:
        if entry.startswith("BEGIN IMMEDIATE") or "pg_advisory_xact_lock" in entry:
            locked, writes = True, 0
        elif entry in ("<commit>", "<rollback>"):
            committed_writes += entry == "<commit>" and writes > 0
            locked, writes = False, 0
        elif entry.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            assert locked, f"{entry[:60]} outside a locked transaction"
            writes += 1
    assert committed_writes == 3  # 5 files in batches of 2: three transactions that write
    assert _count(app, EvidenceLink) == 5


def test_a_failing_later_batch_keeps_the_earlier_ones_and_the_audit_head_is_mirrored(
    tmp_path: Path, app, home, monkeypatch, sample
) -> None:
    from evidence.retention.audit import HEAD_FILE, verify_chain
    from evidence.store import registration
    from evidence.store.registration import register_files

    monkeypatch.setattr(registration, "BATCH_FILES", 2)
    record_batch, calls = registration.record_batch, []

    def interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return record_batch(*args, **kwargs)

    monkeypatch.setattr(registration, "record_batch", interrupted)
    (home / HEAD_FILE).unlink(missing_ok=True)
    with pytest.raises(KeyboardInterrupt), app.write() as session:
        register_files(session, app.blob_store, _files(tmp_path, 5), actor="tester")
    assert _count(app, EvidenceLink) == 2  # the first batch stays registered; the second left nothing
    assert len(_store_files(home)) == 2  # and no blob of the interrupted batch
    with app.read() as session:
        assert verify_chain(session, home).ok
        from evidence.db.models import AuditHead

        head = session.get(AuditHead, 1)
    assert (home / HEAD_FILE).read_text(encoding="utf-8").splitlines()[0].split() == [str(head.seq), head.hash]


# --- Files that are not what they seemed: FIFOs, folders, far-off dates, files changing (issue #12, 8 and 9) ---


@pytest.fixture
def deadline():
    """Fail the test instead of hanging it: a read that blocks is interrupted after `seconds`."""
    import signal

    def expired(signum, frame):  # type: ignore[no-untyped-def]
        raise TimeoutError("the command hung")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _register(run, *paths, expect=0, extra=()):
    return run("register", *paths, "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7", *extra, expect=expect)


def test_a_fifo_in_the_list_is_refused_alone_and_never_hangs(tmp_path, run, app, sample, deadline) -> None:
    fifo, good = tmp_path / "scan.pdf", tmp_path / "minutes.txt"
    os.mkfifo(fifo)
    good.write_text("minutes\n", encoding="utf-8")
    out = _register(run, fifo, good, expect=1).output
    assert "1 registered, 0 already present, 1 failed" in out
    assert f"Error: {fifo}: not a regular file" in out and "Traceback" not in out
    assert _count(app, Evidence) == 1


@pytest.mark.parametrize("swap", ["fifo", "directory", "symlink"])
def test_a_file_swapped_between_the_check_and_the_open_is_refused_and_never_hangs(
    tmp_path, run, app, home, sample, deadline, monkeypatch, swap
) -> None:
    """The name passes the check as a regular file, then becomes a FIFO (a folder, a link) before it is opened."""
    import evidence.store.registration as registration

    victim, good = tmp_path / "report.pdf", tmp_path / "minutes.txt"
    victim.write_bytes(b"%PDF-1.4 the real report")
    good.write_text("minutes\n", encoding="utf-8")
    real_check = registration.check_source

    def check_then_swap(path: Path, **kwargs):  # type: ignore[no-untyped-def]
        info = real_check(path, **kwargs)
        if path == victim:
            victim.unlink()
            if swap == "fifo":
                os.mkfifo(victim)
            elif swap == "directory":
                victim.mkdir()
            else:
                victim.symlink_to(good)
        return info

    monkeypatch.setattr(registration, "check_source", check_then_swap)
    out = _register(run, victim, good, expect=1).output
    expected = {
        "fifo": f"{victim}: not a regular file (a FIFO)",
        "directory": f"{victim}: not a regular file (a directory)",
        "symlink": f"{victim}: is a symbolic link (use --follow-symlinks to register its target)",
    }[swap]
    assert f"Error: {expected}" in out, out
    assert "1 registered, 0 already present, 1 failed" in out and "Traceback" not in out
    assert _count(app, Evidence) == 1 and len(_store_files(home)) == 1
    assert not list((home / "store" / "incoming").glob("*")) and not list((home / "store" / "pending").glob("*"))


def test_a_file_that_changes_while_it_is_stored_is_refused(tmp_path, run, app, home, sample, monkeypatch) -> None:
    import evidence.store.blobstore as blobstore

    growing, good = tmp_path / "log.txt", tmp_path / "minutes.txt"
    growing.write_text("line 1\n", encoding="utf-8")
    good.write_text("minutes\n", encoding="utf-8")
    real_read, appended = os.read, []

    def read_and_append(fd: int, n: int) -> bytes:
        data = real_read(fd, n)
        if data and not appended and os.path.samefile(f"/proc/self/fd/{fd}", growing):
            appended.append(True)
            with open(growing, "a", encoding="utf-8") as handle:
                handle.write("line 2, written while the file was being stored\n")
        return data

    monkeypatch.setattr(blobstore.os, "read", read_and_append)
    out = _register(run, growing, good, expect=1).output
    assert f"Error: {growing}: changed while it was being stored; register it again once it is complete" in out
    assert "1 registered, 0 already present, 1 failed" in out
    assert _count(app, Evidence) == 1 and len(_store_files(home)) == 1  # nothing of the changing file is kept


def _far_future_file(folder: Path) -> Path:
    """A file dated in year 10000 (os.utime), on a file system that can hold that date."""
    year_10000 = 253402300800 + 86400 * 10  # 10 January 10000, UTC
    for base in (folder, Path("/dev/shm")):  # ext4 stops at year 2446; tmpfs holds 64-bit times
        if not base.is_dir() or not os.access(base, os.W_OK):
            continue
        path = base / f"far-future-{os.getpid()}-{id(folder)}.txt"
        path.write_text("dated in year 10000\n", encoding="utf-8")
        os.utime(path, (year_10000, year_10000))
        if path.stat().st_mtime == year_10000:
            return path
        path.unlink()
    pytest.skip("no file system here holds a modification time in year 10000")


def test_a_modification_time_in_year_10000_fails_that_file_alone(tmp_path, run, app, sample) -> None:
    far, good = _far_future_file(tmp_path), tmp_path / "minutes.txt"
    try:
        good.write_text("minutes\n", encoding="utf-8")
        out = _register(run, far, good, expect=1).output
        assert f"Error: {far}: its modification time (about year 10000) is out of range; give its date with " in out
        assert "1 registered, 0 already present, 1 failed" in out and "Traceback" not in out
        out = _register(run, far, extra=("--effective-date", "2020-06-01")).output  # the way out the message names
        assert "1 registered, 0 already present, 0 failed" in out
    finally:
        far.unlink()


@pytest.mark.parametrize("what", ["fifo", "directory"])
def test_verify_reports_a_fifo_or_folder_in_the_store_without_hanging(run, home, sample, deadline, what) -> None:
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    known = _store_files(home)[0]
    stray = home / "store" / "sha256" / "ab" / "dropped-here"
    stray.parent.mkdir(exist_ok=True)
    known.unlink()
    for path in (known, stray):
        os.mkfifo(path) if what == "fifo" else path.mkdir()
    kind = "a FIFO" if what == "fifo" else "a directory"
    out = run("verify", expect=1).output
    assert f"unreadable: {known} is {kind}, not a stored file" in out
    assert f"unreadable: {stray} is {kind}, not a stored file" in out
    assert out.endswith("12 stored files checked: 2 problems\n") and "Traceback" not in out
    out = run("verify", "--repair", expect=1).output  # --repair never removes what it cannot tell is ours
    assert known.exists() and stray.exists() and "Traceback" not in out


def test_a_killed_registration_leaves_nothing_the_next_command_does_not_recover(tmp_path, run, app, home, sample):
    """What a SIGKILL between storing and committing leaves (test_faults kills real processes): recovered."""
    from evidence.store.blobstore import LocalBlobStore

    store = LocalBlobStore(home / "store")
    document = tmp_path / "minutes.txt"
    document.write_text("minutes of the meeting\n", encoding="utf-8")
    blob = store.put_file(document)  # stored, intent marked, never committed: what a kill before the commit leaves
    dead = "999999999"  # no such process
    marker = next((home / "store" / "pending").iterdir())
    marker.rename(marker.with_name(f"{dead}-{blob.digest}"))
    (home / "store" / "incoming" / f"{dead}-0123456789ab.part").write_bytes(b"half a copy")
    out = run("verify").output  # exit 0: recovered, not a problem
    assert out.splitlines() == [
        f"recovered: removed temporary file {dead}-0123456789ab.part of an interrupted registration",
        f"recovered: removed file {blob.digest} stored by an interrupted registration, never committed",
        "0 stored files checked: 0 problems",
    ]
    assert _store_files(home) == [] and not list((home / "store" / "pending").iterdir())
    # A marker whose blob the database names is only a trace of a committed registration: the file stays.
    _register(run, document)
    (home / "store" / "pending" / f"{dead}-{blob.digest}").touch()
    assert run("verify").output == "1 stored file checked: 0 problems\n"
    assert len(_store_files(home)) == 1 and not list((home / "store" / "pending").iterdir())


def test_the_next_registration_adopts_a_blob_a_killed_one_stored(tmp_path, run, app, home, sample) -> None:
    from evidence.store.blobstore import LocalBlobStore

    document = tmp_path / "minutes.txt"
    document.write_text("minutes of the meeting\n", encoding="utf-8")
    LocalBlobStore(home / "store").put_file(document)  # this (live) process's marker: recovery leaves it alone
    assert "1 registered" in _register(run, document).output
    assert run("verify").output == "1 stored file checked: 0 problems\n"
