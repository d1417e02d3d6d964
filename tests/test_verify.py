"""verify never destroys evidence: orphans go to the quarantine, a foreign or rolled-back database repairs nothing.

Issue #12, cases 1 (a typo in --db beside a real store) and 2 (a database restored from an older
backup), on real SQLite files, real files in the store and the real CLI.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import SAMPLE, sqlite_only

TIN, YEAR, ACTIVITY = "000123456", "2019", "IA_PM_7"


def _store_files(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((home / "store" / "sha256").glob("*/*"))}


def _quarantined(home: Path) -> list[Path]:
    return sorted((home / "quarantine").glob("*/sha256/*"))


@pytest.fixture
def registered(run, home: Path) -> dict[str, bytes]:
    run("import", SAMPLE / "practice.csv")
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    files = _store_files(home)
    assert len(files) == 12
    return files


def _error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    return lines[0]


# --- Case 1: a typo in --db ---------------------------------------------------------------------------


@sqlite_only
def test_typo_db_repair_deletes_nothing_and_leaves_the_audit_head(
    run, home: Path, registered, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    head_before = (home / "audit-head").read_bytes()
    store_id = (home / "store" / "STORE-ID").read_text().strip()
    result = run("--db", "sqlite:///typo.sqlite3", "verify", "--repair", expect=1)
    line = _error_line(result.output)
    assert "typo.sqlite3 is empty/new" in line and f"belongs to store id {store_id}: wrong --db?" in line
    assert not (tmp_path / "typo.sqlite3").exists()  # refused before it was created
    assert _store_files(home) == registered  # every file still there, unchanged
    assert not (home / "quarantine").exists()
    assert (home / "audit-head").read_bytes() == head_before
    assert "audit trail intact" in run("log", "verify").output
    assert "12 stored files checked: 0 problems" in run("verify").output


@sqlite_only
def test_typo_db_beside_a_store_from_before_store_ids(run, app, home: Path, registered, tmp_path, monkeypatch) -> None:
    with app.engine.begin() as connection:
        connection.execute(text("DELETE FROM settings WHERE key = 'store_id'"))
    (home / "store" / "STORE-ID").unlink()
    monkeypatch.chdir(tmp_path)
    line = _error_line(run("--db", "sqlite:///typo.sqlite3", "verify", "--repair", expect=1).output)
    assert "typo.sqlite3 is empty/new" in line and "already holds files: wrong --db?" in line
    assert _store_files(home) == registered and not (tmp_path / "typo.sqlite3").exists()


def test_a_store_from_before_ids_gets_one_on_the_first_write(run, app, home: Path, registered) -> None:
    with app.engine.begin() as connection:
        connection.execute(text("DELETE FROM settings WHERE key = 'store_id'"))
    (home / "store" / "STORE-ID").unlink()
    run("practice", "add", "000999999", "--name", "Second Practice")
    store_id = (home / "store" / "STORE-ID").read_text().strip()
    with app.engine.connect() as connection:
        assert connection.scalar(text("SELECT value FROM settings WHERE key = 'store_id'")) == store_id
    assert str(uuid.UUID(store_id)) == store_id
    assert stat.S_IMODE((home / "store" / "STORE-ID").stat().st_mode) == 0o600


def _database_id(app) -> str:
    with app.engine.connect() as connection:
        return str(connection.scalar(text("SELECT value FROM settings WHERE key = 'store_id'")))


def test_another_stores_id_refuses_writes_and_repair(run, app, home: Path, registered, dump) -> None:
    other = str(uuid.uuid4())
    (home / "store" / "STORE-ID").write_text(f"{other}\n")
    (home / "store" / "sha256" / "ab").mkdir(exist_ok=True)
    orphan = home / "store" / "sha256" / "ab" / ("ab" + "1" * 62)
    orphan.write_bytes(b"dropped in")
    before, head = dump(), (home / "audit-head").read_bytes()
    line = _error_line(run("practice", "add", "000999999", "--name", "Second Practice", expect=1).output)
    assert line.startswith("Error: refusing to write: the database at ") and f"is store id {other}" in line
    out = run("verify", "--repair", expect=1).output
    assert "store: the database at " in out and f"belongs to store id {_database_id(app)}, but the store at" in out
    assert "not repaired: nothing was moved or removed" in out and orphan.exists()
    assert dump() == before and (home / "audit-head").read_bytes() == head


# --- Case 2: a database restored from an older backup ---------------------------------------------------


@sqlite_only
def test_restored_backup_is_reported_as_rollback_and_nothing_is_deleted(
    run, home: Path, registered, tmp_path: Path
) -> None:
    database = home / "evidence.sqlite3"
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(database, backup)  # a normal backup (no writer is running)
    later = [tmp_path / "later-minutes.txt", tmp_path / "later-report.txt"]
    for n, path in enumerate(later):
        path.write_text(f"registered after the backup {n}\n")
    run("register", *later, "--tin", TIN, "--year", YEAR, "--activity", ACTIVITY, "--item", "1")
    files = _store_files(home)
    assert len(files) == 14
    shutil.copy(backup, database)  # the restore
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    head = (home / "audit-head").read_bytes()

    out = run("verify", "--repair", expect=1).output
    assert "rollback: the database is older than audit-head: the chain ends at event #" in out
    assert "restored from a backup" in out and "not repaired: nothing was moved or removed" in out
    assert out.count("orphaned: ") == 2 and "\nrepaired:" not in out
    assert _store_files(home) == files and not (home / "quarantine").exists()  # nothing deleted or moved
    log = run("log", "verify", expect=1).output
    assert "audit trail BROKEN: the database is older than audit-head" in log and "intact" not in log

    # the next write refuses, and the mirror is not rewritten to match the older database
    line = _error_line(run("practice", "add", "000999999", "--name", "Second Practice", expect=1).output)
    assert "refusing to write: the database is older than audit-head" in line and "--accept-rollback" in line
    line = _error_line(run("register", later[0], "--tin", TIN, "--year", YEAR, "--activity", ACTIVITY, expect=1).output)
    assert "refusing to write" in line
    assert (home / "audit-head").read_bytes() == head
    assert "audit trail BROKEN" in run("log", "verify", expect=1).output

    # the officer accepts the restore: a chained event says so, the unknown files go to the quarantine
    out = run("verify", "--accept-rollback", "--actor", "officer").output
    assert "rollback accepted and recorded: the database is older than audit-head" in out
    assert out.count("repaired: quarantined orphaned file") == 2
    assert "audit trail intact" in run("log", "verify").output
    events = run("log", "--format", "csv").output.strip().splitlines()
    assert "officer,rollback.accept" in events[-1]
    quarantined = _quarantined(home)
    assert sorted(p.name for p in quarantined) == sorted(set(files) - set(registered))
    for path in quarantined:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name  # bytes kept
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "quarantine").stat().st_mode) == 0o700
    run("practice", "add", "000999999", "--name", "Second Practice")  # writes work again
    out = run("verify").output
    assert "12 stored files checked: 0 problems" in out and "quarantine: 2 files" in out
    line = _error_line(run("verify", "--accept-rollback", expect=1).output)
    assert "there is no rollback to accept" in line


# --- Quarantine of a real orphan, and re-adoption ---------------------------------------------------------


def test_orphan_is_quarantined_and_can_be_registered_again(run, home: Path, registered, tmp_path: Path) -> None:
    content = b"a scanned policy someone copied into the store by hand\n"
    digest = hashlib.sha256(content).hexdigest()
    orphan = home / "store" / "sha256" / digest[:2] / digest
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(content)
    out = run("verify", expect=1).output
    assert f"orphaned: {digest} (in the store, not in the database; --repair moves it to the quarantine)" in out
    assert "12 stored files checked: 1 problem" in out

    out = run("verify", "--repair").output
    assert f"repaired: quarantined orphaned file {digest}: moved to {home / 'quarantine'}" in out
    assert not orphan.exists()
    (quarantined,) = _quarantined(home)
    assert quarantined.read_bytes() == content and quarantined.name == digest
    out = run("verify").output
    assert "12 stored files checked: 0 problems" in out and "quarantine: 1 file" in out

    # the same file dropped in and quarantined again: both copies kept, none overwritten
    orphan.write_bytes(content)
    run("verify", "--repair")
    assert [p.name for p in _quarantined(home)] == [digest, f"{digest}.1"]

    # re-adoption: register the quarantined file like any other
    run("register", quarantined, "--tin", TIN, "--year", YEAR, "--activity", ACTIVITY, "--item", "1")
    assert orphan.read_bytes() == content
    assert "13 stored files checked: 0 problems" in run("verify", "--repair").output
    assert quarantined.exists()  # the quarantine is never emptied by the tool
