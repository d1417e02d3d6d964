"""Faults: the real CLI killed with SIGKILL at random moments, a full disk, damaged database and store files.

After every kill the next command finds the store consistent by itself: `verify` exits 0, having
recovered what the kill left (temporary files, blobs stored but never committed, files a committed
purge had not removed yet: "recovered:" lines, never problems); never a row without its file, a
corrupted file or a broken audit chain; the resumed run finishes the job exactly once.
The figures in docs/RELIABILITY.md come from these tests (`-s` prints them).
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import event

from evidence.support.text import plural
from tests.conftest import GENERATED_AT, ON_POSTGRES, REPO, SAMPLE, sqlite_only

TIN = "000123456"
SEED = 20261123
KILLS = 12  # per command; with the backup loop (test_backup) more than 50 kills in the slow step
# Where libharfbuzz-subset is missing WeasyPrint falls back to fontTools (and says so at import).
pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning")


# --- The real CLI in a child process ------------------------------------------------------------


def child_env(home: Path) -> dict[str, str]:
    """The test's own store: its home folder, and its database when the suite runs on PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_") or k == "EVIDENCE_DATABASE_URL"}
    env.update(EVIDENCE_HOME=str(home), EVIDENCE_ACTOR="tester", PYTHONPATH=str(REPO))
    return env


def evidence_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "evidence", *map(str, args)]


def run_to_end(home: Path, *args: object, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        evidence_command(*args), env=child_env(home), cwd=REPO, capture_output=True, text=True, timeout=300,
        check=False, **options,
    )  # fmt: skip


def run_and_kill(home: Path, args: tuple[object, ...], moments: KillMoments, log: Path) -> bool:
    """Start the command and SIGKILL it at the next of `moments`; False if it finished first (then it must
    succeed, and `moments` learns how long it took)."""
    delay = next(moments)
    with open(log, "wb") as output:
        started = time.monotonic()
        process = subprocess.Popen(evidence_command(*args), env=child_env(home), cwd=REPO, stdout=output, stderr=output)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
    assert process.returncode == 0, log.read_text(errors="replace")
    moments.ran_to_end(time.monotonic() - started)
    return False


def run_and_kill_when(home: Path, args: tuple[object, ...], ready: Callable[[], bool], log: Path) -> bool:
    """Start the command and SIGKILL it the moment `ready()` holds (polled every half millisecond)."""
    with open(log, "wb") as output:
        process = subprocess.Popen(evidence_command(*args), env=child_env(home), cwd=REPO, stdout=output, stderr=output)
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.0005)
        process.wait()
    assert process.returncode == 0, log.read_text(errors="replace")
    return False


def measured(home: Path, *args: object) -> float:
    """How long the command takes to run to completion (on a copy of the store)."""
    started = time.monotonic()
    result = run_to_end(home, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return time.monotonic() - started


class KillMoments:
    """One random moment in each 1/KILLS slice of a run (in random order), then anywhere in it.

    A run takes a little longer or shorter each time: the span is 10% longer than the measured
    run, and a run that ends before its kill is simply run again with another moment. The span
    follows the runs that ended first: the load beside a loop changes while it runs (other tests
    start and stop), and a span measured under a load that has gone would put every kill after
    the end ("kept finishing before the kill", seen in the slow step with the browser tests beside).
    """

    def __init__(self, rng: random.Random, duration: float) -> None:
        self.rng = rng
        self.span = 1.1 * duration
        self.fractions = [(k + rng.random()) / KILLS for k in range(KILLS)]
        rng.shuffle(self.fractions)

    def __iter__(self) -> Iterator[float]:
        return self

    def __next__(self) -> float:
        fraction = self.fractions.pop() if self.fractions else self.rng.random()
        return self.span * fraction

    def ran_to_end(self, seconds: float) -> None:
        self.span = min(self.span, 1.1 * seconds)


def report(request: pytest.FixtureRequest, name: str, figures: dict[str, object]) -> None:
    """Keep the figures (pytest cache, for docs/RELIABILITY.md) and print them (`-s`)."""
    if getattr(request.config, "cache", None) is not None:
        request.config.cache.set(f"evidence/reliability/{name}", figures)
    print(f"\n{name}: {json.dumps(figures, sort_keys=True)}")


# --- What must hold after every kill ------------------------------------------------------------


def query(home: Path, sql: str) -> int:
    connection = sqlite3.connect(home / "evidence.sqlite3")
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


def assert_consistent(run: Callable[..., object], home: Path) -> Counter[str]:
    """`evidence verify` exits 0 (recovering what the kill left), the audit chain verifies, no row is half-written.

    Returns how many things of each kind verify recovered ("temporary", "never committed", "purged").
    """
    result = run("--home", home, "verify", expect=0)
    *lines, summary = result.output.splitlines()
    assert re.search(r"\d+ stored files? checked: 0 problems", summary), result.output
    assert all(line.startswith("recovered: ") for line in lines), result.output  # no problem of any kind
    kinds = Counter(_recovered_kind(line) for line in lines)
    assert part_files(home) == [] and not list((home / "store" / "pending").glob("*")), "recovery left traces"
    assert "audit trail intact" in run("--home", home, "log", "verify").output
    orphan_rows = {
        "evidence without a link": "SELECT COUNT(*) FROM evidence e WHERE NOT EXISTS "
        "(SELECT 1 FROM evidence_links l WHERE l.evidence_id = e.id)",
        "file record without evidence": "SELECT COUNT(*) FROM blobs b WHERE NOT EXISTS "
        "(SELECT 1 FROM evidence e WHERE e.blob_id = b.id)",
        "link without evidence": "SELECT COUNT(*) FROM evidence_links l WHERE NOT EXISTS "
        "(SELECT 1 FROM evidence e WHERE e.id = l.evidence_id)",
    }
    for what, sql in orphan_rows.items():
        assert query(home, sql) == 0, what
    return kinds


def _recovered_kind(line: str) -> str:
    if "interrupted restore" in line:
        return "restore undone" if line.startswith("recovered: undid") else "restore finished"
    for kind in ("temporary", "never committed", "purged"):
        if kind in line:
            return kind
    raise AssertionError(f"unexpected line: {line}")


def store_files(home: Path) -> set[str]:
    return {p.name for p in (home / "store" / "sha256").glob("*/*") if p.is_file()}


def part_files(home: Path) -> list[Path]:
    return sorted((home / "store" / "incoming").glob("*.part"))


# --- SIGKILL: register ---------------------------------------------------------------------------

BULK_FILES = 240  # two batches (evidence.store.registration.BATCH_FILES is 200)


def bulk_folder(folder: Path, count: int, rng: random.Random) -> Path:
    folder.mkdir()
    for i in range(count):
        size = rng.randrange(200, 20_000)
        (folder / f"scan-{i:04d}.txt").write_bytes(f"document {i}\n".encode() + rng.randbytes(size))
    return folder


@pytest.mark.slow
@sqlite_only  # each kill works on a copy of the store: home folder and SQLite file
def test_register_survives_sigkill_at_random_moments(run, home: Path, tmp_path: Path, request) -> None:
    """Each kill hits a first registration of the whole folder (on a copy of the store), then it is resumed."""
    rng = random.Random(SEED)
    run("import", SAMPLE / "practice.csv")
    source = bulk_folder(tmp_path / "bulk", BULK_FILES, rng)
    args = ("register", source, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7", "--effective-date", "2020-06-01")
    expected_home = tmp_path / "expected"
    shutil.copytree(home, expected_home)
    duration = measured(expected_home, *args)
    expected = sorted(store_files(expected_home))
    assert len(expected) == BULK_FILES

    states, kills, attempts, left = Counter(), 0, 0, Counter()
    delays = KillMoments(rng, duration)
    while kills < KILLS:
        attempts += 1
        assert attempts <= 3 * KILLS, "the command kept finishing before the kill"
        work = tmp_path / "work"
        shutil.copytree(home, work)
        killed = run_and_kill(work, args, delays, tmp_path / "register.log")
        kills += killed
        found = assert_consistent(run, work)
        left += found
        registered = query(work, "SELECT COUNT(*) FROM evidence")
        assert registered in (0, 200, BULK_FILES)  # a batch commits whole or not at all
        assert registered == query(work, "SELECT COUNT(*) FROM events WHERE action = 'register'")
        if not killed:
            states["finished before the kill"] += 1
            shutil.rmtree(work)
            continue
        states[
            f"{registered} of {BULK_FILES} registered, {'files or temporaries recovered' if found else 'clean'}"
        ] += 1
        resumed = run("--home", work, *args).output  # resume
        assert f"{BULK_FILES - registered} registered, {registered} already present, 0 failed" in resumed
        listed = json.loads(run("--home", work, "list", "--format", "json").output)
        assert sorted(e["name"] for e in listed) == sorted(p.name for p in source.iterdir())  # each exactly once
        assert all(e["links"] == f"{TIN} PY2020 IA_PM_7 item 1" for e in listed)
        assert run("--home", work, "verify").output == f"{BULK_FILES} stored files checked: 0 problems\n"
        assert sorted(store_files(work)) == expected
        shutil.rmtree(work)
    report(request, "register_kills", {
        "files": BULK_FILES, "kills": kills, "run_seconds": round(duration, 2), "states": dict(states),
        "uncommitted_files_recovered": left["never committed"], "temporaries_recovered": left["temporary"],
    })  # fmt: skip


@pytest.mark.slow
@sqlite_only  # the kills hit one store in a row, as on a user's machine
def test_three_kills_of_one_300_file_run_leave_verify_clean(run, home: Path, tmp_path: Path, request) -> None:
    """The issue's case 7: kill a 300-file registration three times, resuming each time; verify is clean."""
    rng = random.Random(SEED + 7)
    run("import", SAMPLE / "practice.csv")
    source = bulk_folder(tmp_path / "bulk", 300, rng)
    args = ("register", source, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7", "--effective-date", "2020-06-01")
    stored = home / "store" / "sha256"
    kills = 0
    for floor in (5, 40, 205):  # early; in the first batch; in the second, after the first one's commit
        kills += run_and_kill_when(home, args, lambda floor=floor: len(list(stored.glob("*/*"))) >= floor,
                                   tmp_path / "register.log")  # fmt: skip
    assert kills == 3
    left = {"temporaries": len(part_files(home)), "markers": len(list((home / "store" / "pending").glob("*")))}
    result = run("verify")  # exit 0: what the kills left is recovered, not a problem
    assert result.output.endswith("checked: 0 problems\n"), result.output
    assert all(line.startswith("recovered: ") for line in result.output.splitlines()[:-1]), result.output
    registered = query(home, "SELECT COUNT(*) FROM evidence")
    assert registered == 200  # the first batch committed before the last kill
    assert len(store_files(home)) == query(home, "SELECT COUNT(*) FROM blobs")  # every file left is evidence
    resumed = run("--home", home, *args).output
    assert f"{300 - registered} registered, {registered} already present, 0 failed" in resumed
    assert run("verify").output == "300 stored files checked: 0 problems\n"
    report(request, "register_three_kills", {**left, "registered_before_resume": registered,
                                             "recovered": len(result.output.splitlines()) - 1})  # fmt: skip


# --- SIGKILL: purge --------------------------------------------------------------------------------

PURGE_FILES = 120  # PY2019 files; purged together with the sample's own PY2019 evidence
PURGE = ("purge", "--as-of", "2026-01-01", "--yes")


@pytest.fixture(scope="module")
def purge_store(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample practice plus PY2019 files to purge, built once (each kill works on a copy)."""
    from click.testing import CliRunner

    from evidence.cli import cli

    base = tmp_path_factory.mktemp("purge")
    home = base / "home"
    shutil.copytree(template_home, home)
    source = bulk_folder(base / "bulk", PURGE_FILES, random.Random(SEED + 1))
    for args in (
        ("import", SAMPLE / "practice.csv"),
        ("register", "--manifest", SAMPLE / "manifest.yaml"),
        ("register", source, "--tin", TIN, "--year", 2019, "--activity", "IA_PM_7", "--effective-date", "2019-06-01"),
    ):
        result = CliRunner().invoke(cli, ["--home", str(home), "--actor", "tester", *map(str, args)])
        assert result.exit_code == 0, result.output
    return home


def purge_outcome(run: Callable[..., object], home: Path) -> dict[str, object]:
    """What a finished purge leaves: the evidence kept, the files kept, tombstones and purge events."""
    return {
        "evidence": sorted(e["sha256"] for e in json.loads(run("--home", home, "list", "--format", "json").output)),
        "files": sorted(store_files(home)),
        "tombstones": query(home, "SELECT COUNT(*) FROM tombstones"),
        "purge events": query(home, "SELECT COUNT(*) FROM events WHERE action = 'purge'"),
    }


@pytest.mark.slow
@sqlite_only  # each kill works on a copy of the store: home folder and SQLite file
def test_purge_survives_sigkill_at_random_moments(run, purge_store: Path, tmp_path: Path, request) -> None:
    rng = random.Random(SEED)
    expected_home = tmp_path / "expected"
    shutil.copytree(purge_store, expected_home)
    duration = measured(expected_home, *PURGE)
    expected = purge_outcome(run, expected_home)
    assert expected["purge events"] == 1 and len(expected["evidence"]) == 9  # PY2020 and PY2024 stay

    states, kills, attempts, left = Counter(), 0, 0, Counter()
    delays = KillMoments(rng, duration)
    while kills < KILLS:
        attempts += 1
        assert attempts <= 3 * KILLS, "the command kept finishing before the kill"
        work = tmp_path / "work"
        shutil.copytree(purge_store, work)
        killed = run_and_kill(work, PURGE, delays, tmp_path / "purge.log")
        kills += killed
        found = assert_consistent(run, work)
        left += found
        committed = query(work, "SELECT COUNT(*) FROM events WHERE action = 'purge'") == 1
        if not killed:
            states["finished before the kill"] += 1
        elif not committed:
            states["killed before the commit"] += 1
        else:  # rows gone; verify removed the files the purge had not removed yet
            states[f"killed after the commit, {'files recovered' if found['purged'] else 'all files removed'}"] += 1
        run("--home", work, *PURGE)  # resume
        assert "0 problems" in run("--home", work, "verify").output
        assert purge_outcome(run, work) == expected  # purged exactly once, nothing else touched
        shutil.rmtree(work)
    report(request, "purge_kills", {
        "files_purged": len(store_files(purge_store)) - len(expected["files"]), "kills": kills,
        "run_seconds": round(duration, 2), "states": dict(states),
        "purged_files_recovered": left["purged"],
    })  # fmt: skip


# --- SIGKILL: packet -------------------------------------------------------------------------------


@dataclass
class PacketRun:
    """The sample packet's command with its two outputs, and the bytes a whole run writes to them."""

    args: tuple[object, ...]
    out: Path
    expected: dict[str, bytes]
    duration: float  # a whole run, measured
    before: list[str]  # every row of the database before the kills


def _packet_run(run, dump, home: Path, tmp_path: Path) -> PacketRun:  # type: ignore[no-untyped-def]
    run("import", SAMPLE / "practice.csv")
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    before = dump()
    reference = tmp_path / "reference"
    reference.mkdir()
    packet = ("packet", "--tin", TIN, "--year", 2020, "--generated-at", GENERATED_AT)
    duration = measured(home, *packet, "-o", reference / "p.pdf", "--zip", reference / "p.zip")
    expected = {"p.pdf": (reference / "p.pdf").read_bytes(), "p.zip": (reference / "p.zip").read_bytes()}
    out = tmp_path / "out"
    out.mkdir()
    args = (*packet, "-o", out / "p.pdf", "--zip", out / "p.zip", "--force")  # every other run replaces the last
    return PacketRun(args, out, expected, duration, before)


def _assert_no_half_file(packet: PacketRun) -> None:
    for name, data in packet.expected.items():
        target = packet.out / name
        assert not target.exists() or target.read_bytes() == data, f"half-written {name}"


def _assert_packet_changed_no_record(run, dump, home: Path, packet: PacketRun) -> None:  # type: ignore[no-untyped-def]
    result = run_to_end(home, *packet.args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {name: (packet.out / name).read_bytes() for name in packet.expected} == packet.expected
    # A packet changes no record: the only rows it adds are its own `packet.generate` events (and their head).
    before, after = packet.before, dump()
    added = [row for row in after if row not in before]
    assert added and all(row.startswith(("events:", "audit_head:", "audit_checkpoints:")) for row in added), added
    assert all("packet.generate" in row for row in added if row.startswith("events:"))
    assert [row for row in before if row not in after] == [r for r in before if r.startswith("audit_head:")]
    assert "0 problems" in run("verify").output


# The packet's two kill loops are two tests, so that the slow step's workers run them side by side
# (one test of both was the step's longest, about 70 s of its 140 s).
@pytest.mark.slow
@sqlite_only  # a packet changes no record (it appends its own event): one backend is enough for the kill loop
def test_packet_survives_sigkill_and_never_leaves_half_a_file(run, dump, home: Path, tmp_path: Path, request) -> None:
    rng = random.Random(SEED)
    packet = _packet_run(run, dump, home, tmp_path)
    out = packet.out
    states, kills, attempts = Counter(), 0, 0
    delays = KillMoments(rng, packet.duration)
    while kills < KILLS:
        attempts += 1
        assert attempts <= 3 * KILLS, "the command kept finishing before the kill"
        if attempts % 2:  # every other run writes over the previous, complete, output
            for name in packet.expected:
                (out / name).unlink(missing_ok=True)
        kills += run_and_kill(home, packet.args, delays, tmp_path / "packet.log")
        _assert_no_half_file(packet)
        for name in packet.expected:
            states[f"{name} {'complete' if (out / name).exists() else 'absent'}"] += 1
        assert {p.name for p in out.iterdir() if not p.name.startswith(".")} <= set(packet.expected)
    temporaries = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    _assert_packet_changed_no_record(run, dump, home, packet)
    report(request, "packet_kills", {
        "kills": kills, "run_seconds": round(packet.duration, 2), "outputs": dict(states),
        "hidden_temporaries_left": len(temporaries),
    })  # fmt: skip


@pytest.mark.slow
@sqlite_only  # as above
def test_packet_killed_while_writing_never_leaves_half_a_file(run, dump, home: Path, tmp_path: Path, request) -> None:
    """Random moments rarely fall inside the short write itself: kill the moment each temporary
    file appears, i.e. while the PDF or the ZIP is being written beside its target."""
    packet = _packet_run(run, dump, home, tmp_path)
    out = packet.out
    mid_write = Counter()
    for name in [*packet.expected] * 3:
        for leftover in out.glob(".*"):
            leftover.unlink()
        writing = lambda name=name: any(p.name.startswith(f".{name}.") for p in out.iterdir())  # noqa: E731
        if run_and_kill_when(home, packet.args, writing, tmp_path / "packet.log"):
            mid_write[name] += 1
        _assert_no_half_file(packet)
    assert sum(mid_write.values()) >= 3, mid_write
    _assert_packet_changed_no_record(run, dump, home, packet)
    report(request, "packet_kills_while_writing", {"killed_while_writing": dict(mid_write)})


# --- A full disk -----------------------------------------------------------------------------------


@pytest.fixture
def sample(run) -> None:
    run("import", SAMPLE / "practice.csv")


def _is_blob_temporary(fd: int) -> bool:
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return "/store/incoming/" in target and target.endswith(".part")


@pytest.fixture
def disk_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int, str], None]]:
    """Simulate a disk that fills up: writes (or fsyncs) of blob temporaries fail with ENOSPC once `bytes` are used."""

    def fill(budget: int, failing: str = "write") -> None:
        used = [0]
        real_write, real_fsync = os.write, os.fsync

        def write(fd: int, data: bytes) -> int:
            if _is_blob_temporary(fd):
                if failing == "write" and used[0] + len(data) > budget:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                used[0] += len(data)
            return real_write(fd, data)

        def fsync(fd: int) -> None:
            if failing == "fsync" and _is_blob_temporary(fd) and used[0] > budget:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "fsync", fsync)

    yield fill


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_full_disk_fails_clearly_and_registers_nothing(run, dump, home, tmp_path, sample, disk_budget, failing) -> None:
    document = tmp_path / "qcdr-report.pdf"
    document.write_bytes(b"%PDF-1.4 " + os.urandom(50_000))
    before = dump()
    disk_budget(10_000 if failing == "write" else 0, failing)
    result = run("register", document, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7", expect=1)
    assert error_lines(result.output) == [f"Error: {document}: cannot store: No space left on device"]
    assert dump() == before
    assert store_files(home) == set() and part_files(home) == []


def test_disk_filling_mid_batch_leaves_every_file_whole_or_absent(
    run, app, home, tmp_path, sample, disk_budget
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(10):
        (folder / f"minutes-{i}.txt").write_bytes(f"meeting {i}\n".encode() * 400)  # 4.4 KB each
    disk_budget(int(3.5 * 4400))
    result = run("register", folder, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7", expect=1)
    assert "3 registered, 0 already present, 7 failed" in result.output
    assert error_lines(result.output) == ["Error: 7 files not registered"]
    failures = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert failures == [f"  {folder}/minutes-{i}.txt: cannot store: No space left on device" for i in range(3, 10)]
    listed = json.loads(run("list", "--format", "json").output)
    assert sorted(e["name"] for e in listed) == [f"minutes-{i}.txt" for i in range(3)]
    assert "3 stored files checked: 0 problems" in run("verify").output  # no orphan, no leftover
    assert part_files(home) == []


def test_file_size_limit_in_a_real_process(run, dump, home: Path, tmp_path: Path, sample) -> None:
    """The kernel refuses to grow a file past RLIMIT_FSIZE (EFBIG), as a full quota would."""
    limit = 4 * 1024 * 1024
    if not ON_POSTGRES:  # the limit applies to every file the process writes, the database too
        assert (home / "evidence.sqlite3").stat().st_size < limit
    document = tmp_path / "scanned-binder.pdf"
    document.write_bytes(b"%PDF-1.4 " + os.urandom(2 * limit))
    before = dump()

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_to_end(home, "register", document, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7",
                        preexec_fn=limited)  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert error_lines(result.stderr) == [f"Error: {document}: cannot store: File too large"]
    assert dump() == before
    assert store_files(home) == set() and part_files(home) == []


@sqlite_only  # SQLite's own page limit
def test_database_full_fails_clearly_and_leaves_no_half_registration(run, app, home, tmp_path, sample, monkeypatch):
    """SQLite's own "database or disk is full" (SQLITE_FULL), by capping the database at its current size."""
    import evidence.app
    from evidence.db.engine import make_engine

    pages = query(home, "PRAGMA page_count")

    def capped(url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        engine = make_engine(url, **kwargs)
        event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute(f"PRAGMA max_page_count = {pages}"))
        return engine

    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(60):
        (folder / f"sign-in-sheet-{i:02d}.txt").write_text(f"sheet {i}\n" * 50, encoding="utf-8")
    with monkeypatch.context() as patched:
        patched.setattr(evidence.app, "make_engine", capped)
        result = run("register", folder, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7", "--description",
                     "x" * 2000, expect=1)  # fmt: skip
    failures = [line.strip() for line in result.output.splitlines() if line.startswith("  ")] or [
        error_lines(result.output)[0].removeprefix("Error: ")
    ]
    assert failures and all("cannot record: database error: database or disk is full" in f for f in failures)
    assert all(f.startswith(str(folder)) for f in failures)  # each names its file
    registered = json.loads(run("list", "--format", "json").output)
    assert len(registered) + len(failures) == 60
    assert_consistent(run, home)
    assert f"{plural(len(registered), 'stored file')} checked: 0 problems" in run("verify").output  # no orphaned blob
    assert part_files(home) == []


# --- Damaged database and store files -----------------------------------------------------------------


def _page_of(home: Path, table: str) -> int:
    return query(home, f"SELECT rootpage FROM sqlite_master WHERE name = '{table}'")


DAMAGE: dict[str, Callable[[Path, Path], None]] = {
    "garbage instead of a database": lambda db, home: db.write_bytes(b"this is not a database" * 200),
    "header overwritten": lambda db, home: _overwrite(db, 0, 100),
    "truncated to half": lambda db, home: os.truncate(db, db.stat().st_size // 2),
    "a page of the evidence table": lambda db, home: _overwrite(db, (_page_of(home, "evidence") - 1) * 4096, 4096),
    "a page of the audit trail": lambda db, home: _overwrite(db, (_page_of(home, "events") - 1) * 4096, 4096),
    "a page in the middle": lambda db, home: _overwrite(db, db.stat().st_size // 8192 * 4096, 4096),
    "emptied": lambda db, home: db.write_bytes(b""),
    "deleted": lambda db, home: db.unlink(),
}


def _overwrite(path: Path, offset: int, length: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(random.Random(offset).randbytes(length))


@sqlite_only  # damage to the SQLite file itself
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_database_is_reported_never_used(run, home: Path, tmp_path: Path, damage: str) -> None:
    run("import", SAMPLE / "practice.csv")
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    files = store_files(home)
    db = home / "evidence.sqlite3"
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    assert query(home, "PRAGMA page_size") == 4096
    DAMAGE[damage](db, home)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    document = tmp_path / "new.txt"
    document.write_text("new minutes\n", encoding="utf-8")
    # verify is the command a user runs to check a store: it always notices, and repairs nothing
    outputs = [run("verify", expect=None), run("verify", "--repair", expect=None)]
    assert store_files(home) == files
    # the others fail as soon as they meet the damage (a page they never read goes unnoticed)
    for args in (("list",), ("log", "verify"), ("missing",), ("show", "1"),
                 ("register", document, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7")):  # fmt: skip
        result = run(*args, expect=None)
        if result.exit_code != 0:
            outputs.append(result)
    for result in outputs:
        assert result.exit_code == 1, result.output
        assert len(error_lines(result.output)) == 1 or "database:" in result.output, result.output
        assert "damaged" in result.output or "empty" in result.output or "missing" in result.output


def test_corrupted_store_file_is_reported_and_never_handed_over(run, home: Path, tmp_path: Path) -> None:
    run("import", SAMPLE / "practice.csv")
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    listed = {e["name"]: e for e in json.loads(run("list", "--year", "2020", "--format", "json").output)}
    tampered, emptied = listed["care-plan-template.pdf"]["sha256"], listed["qcdr-feedback-report-2020-q3.pdf"]["sha256"]
    for digest, data in ((tampered, b"%PDF-1.4 not the registered report"), (emptied, b"")):
        path = home / "store" / "sha256" / digest[:2] / digest
        path.chmod(0o600)
        path.write_bytes(data)
    result = run("verify", expect=1)
    assert sorted(line.split()[1] for line in result.output.splitlines() if line.startswith("corrupted:")) == sorted(
        [tampered, emptied]
    )
    assert "2 problems" in result.output
    out = tmp_path / "out"
    out.mkdir()
    result = run("packet", "--tin", TIN, "--year", 2020, "-o", out / "p.pdf", "--zip", out / "p.zip", expect=1)
    assert len(error_lines(result.output)) == 1 and "no longer matches its SHA-256" in result.output
    assert list(out.iterdir()) == []
    missing_file = listed["patient-experience-survey-2020.csv"]["sha256"]
    (home / "store" / "sha256" / missing_file[:2] / missing_file).unlink()
    assert f"missing: {missing_file}" in run("verify", expect=1).output


@pytest.mark.parametrize("content", [b"\xff\xfe not text", "²⁰ 0123abcd\n".encode(), b""])
def test_damaged_audit_head_mirror_is_reported(run, home: Path, content: bytes) -> None:
    run("import", SAMPLE / "practice.csv")
    (home / "audit-head").write_bytes(content)
    result = run("log", "verify", expect=1)
    assert "audit trail BROKEN: audit-head is damaged" in result.output


def test_foreign_temporary_file_is_reported_not_fatal(run, home: Path) -> None:
    incoming = home / "store" / "incoming"
    incoming.mkdir(exist_ok=True)
    (incoming / "²-x.part").write_bytes(b"not ours")
    assert "leftover: ²-x.part" in run("verify", expect=1).output
    assert "removed leftover temporary file" in run("verify", "--repair").output


# --- SIGKILL: restore ----------------------------------------------------------------------------

RESTORE_FILES = 120  # besides the sample's 12: the copying takes a good part of the restore


def rows_of(database: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def restore_and_kill(home: Path, args: tuple[object, ...], delay: float | None, log: Path) -> tuple[bool, float]:
    """Run a restore; SIGKILL it `delay` seconds after its journal appears (None: let it finish).

    Returns whether it was killed and how long it ran from the journal's appearance.
    """
    journal = home / "restore-in-progress"
    with open(log, "wb") as output:
        process = subprocess.Popen(evidence_command(*args), env=child_env(home), cwd=REPO, stdout=output, stderr=output)
        deadline = time.monotonic() + 300
        while process.poll() is None and not journal.exists() and time.monotonic() < deadline:
            time.sleep(0.0005)
        started = time.monotonic()
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True, time.monotonic() - started
    assert process.returncode == 0, log.read_text(errors="replace")
    return False, time.monotonic() - started


@pytest.mark.slow
@sqlite_only  # the database switch is the SQLite file's
def test_restore_survives_sigkill_at_random_moments(run, home: Path, tmp_path: Path, request) -> None:
    """Each kill hits a restore over an older copy of the store (every third one into a new home).

    After each: `verify` exits 0, and either the old database is live with the store it had, or the
    restored one with every file it names and the old one kept beside it; then the restore is resumed.
    """
    rng = random.Random(SEED + 12)
    run("import", SAMPLE / "practice.csv")
    older = tmp_path / "older"
    shutil.copytree(home, older)  # its chain is where the backup's begins: restored without --replace-newer
    older_rows = rows_of(older / "evidence.sqlite3")
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    run("register", bulk_folder(tmp_path / "bulk", RESTORE_FILES, rng), "--tin", TIN, "--year", 2020,
        "--activity", "IA_PM_7", "--effective-date", "2020-06-01")  # fmt: skip
    backup = tmp_path / "backup"
    run("backup", backup)
    files = store_files(home)
    assert len(files) == RESTORE_FILES + 12
    args = ("restore", backup)

    timing = tmp_path / "timing"
    shutil.copytree(older, timing)
    _, duration = restore_and_kill(timing, args, None, tmp_path / "restore.log")
    states, kills, attempts, recovered = Counter(), 0, 0, Counter()
    delays = KillMoments(rng, duration)
    while kills < KILLS:
        attempts += 1
        assert attempts <= 3 * KILLS, "the restore kept finishing before the kill"
        work, fresh = tmp_path / "work", attempts % 3 == 0
        if fresh:
            work.mkdir()
        else:
            shutil.copytree(older, work)
        killed, ran = restore_and_kill(work, args, next(delays), tmp_path / "restore.log")
        if not killed:
            delays.ran_to_end(ran)
        kills += killed
        if fresh and not (work / "evidence.sqlite3").exists():
            # Undone in a new home: no database, so the read command says so (after what it undid)
            # and creates none; the resumed restore below then needs no --replace-newer.
            out = run("--home", work, "verify", expect=1).output
            assert "does not exist: create one with `evidence init`" in out and out.count("\n") == 1, out
            found = Counter({"restore undone": int(out.startswith("Error: undid an interrupted restore"))})
            assert not (work / "evidence.sqlite3").exists() and not list(work.glob("store/sha256/*/*"))
        else:
            found = assert_consistent(run, work)
        recovered += found
        assert not (work / "restore-in-progress").exists() and not list(work.glob(".evidence.sqlite3.restore-*"))
        asides = sorted(work.glob("evidence.sqlite3.before-restore-*"))
        if (work / "evidence.sqlite3").exists() and query(work, "SELECT COUNT(*) FROM evidence"):  # restored, whole
            assert store_files(work) == files
            assert [rows_of(a) == older_rows for a in asides] == ([] if fresh else [True])  # the old one kept
            state = "restored"
        else:  # the old database is live, with the store it had
            assert store_files(work) == set() and asides == []
            if not fresh:
                assert rows_of(work / "evidence.sqlite3") == older_rows
            state = "as before"
        if not killed:
            states["finished before the kill"] += 1
            shutil.rmtree(work)
            continue
        how = "undone" if found["restore undone"] else "finished" if found["restore finished"] else "clean"
        states[f"{state} ({how}){', into a new home' if fresh else ''}"] += 1
        if state == "as before":  # resumed (a new home has no database: nothing newer to replace)
            run("--home", work, *args)
        # A new home's store leftovers (a .part of the killed copy) wait for the first command with a database.
        *leftovers, summary = run("--home", work, "verify").output.splitlines()
        assert summary == f"{len(files)} stored files checked: 0 problems"
        assert all(line.startswith("recovered: ") for line in leftovers) and (fresh or not leftovers), leftovers
        assert store_files(work) == files and query(work, "SELECT COUNT(*) FROM evidence") == len(files)
        shutil.rmtree(work)
    report(request, "restore_kills", {
        "files": len(files), "kills": kills, "run_seconds": round(duration, 2), "states": dict(states),
        "undone": recovered["restore undone"], "finished": recovered["restore finished"],
    })  # fmt: skip
