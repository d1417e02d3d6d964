"""`evidence backup` and `evidence restore`: verified copies, and a restore that never deletes anything."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from evidence.app import App
from evidence.cli import cli
from tests.conftest import REPO, SAMPLE, sqlite_only
from tests.stores import use_sample_practice

pytestmark = sqlite_only  # backup of PostgreSQL runs pg_dump; restore writes the SQLite file

LINK = ("--tin", "000123456", "--year", 2020, "--activity", "IA_CC_9", "--item", 2, "--effective-date", "2020-05-01")


def rows(database: Path) -> list[str]:
    """Every row of a SQLite file, read-only (the file is not changed by looking)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def stored(home: Path) -> set[str]:
    return {p.name for p in (home / "store" / "sha256").glob("*/*")}


@pytest.fixture
def filled(app: App, home: Path) -> Path:
    use_sample_practice(app)  # tests/stores.py: a copy of one built once
    return home


def test_backup_then_more_files_then_restore_keeps_every_file(run, filled: Path, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    out = run("backup", dest).output
    assert "backed up 12 stored files" in out and "every file re-read and verified" in out
    manifest = json.loads((dest / "manifest.json").read_text())
    assert {e["sha256"] for e in manifest["files"]} == stored(filled)
    assert manifest["audit"]["events"] > 0 and manifest["tool_version"]
    assert (dest / "manifest.json").stat().st_mode & 0o777 == 0o600

    newer = tmp_path / "newer.txt"
    newer.write_text("registered after the backup\n")
    run("register", newer, *LINK)
    before_restore = stored(filled)
    old_database = (filled / "evidence.sqlite3").read_bytes()

    refused = run("restore", dest, expect=1).output
    assert refused.startswith("Error: ") and "newer than the backup" in refused and "--replace-newer" in refused
    assert (filled / "evidence.sqlite3").read_bytes() == old_database

    out = run("restore", dest, "--replace-newer").output
    assert "kept 1 stored file the restored database does not know" in out
    assert stored(filled) == before_restore  # nothing deleted
    aside = sorted(filled.glob("evidence.sqlite3.before-restore-*"))
    assert aside and aside[0].name.endswith("Z")  # the replaced database is kept, not deleted
    assert "newer.txt" not in run("list").output
    assert "intact" in run("log", "verify").output
    assert "restore" in run("log").output


def test_restore_into_a_new_home(run, filled: Path, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    run("backup", dest)
    fresh = tmp_path / "fresh-home"
    out = run("--home", fresh, "restore", dest).output
    assert "12 files copied into the store, 0 already there" in out
    assert stored(fresh) == stored(filled)
    assert run("--home", fresh, "verify").exit_code == 0
    assert run("--home", fresh, "list").output == run("list").output


def test_a_flipped_byte_is_refused(run, filled: Path, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    run("backup", dest)
    blob = next((dest / "store").rglob("*/*/*"))
    original = blob.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    fresh = tmp_path / "fresh"
    out = run("--home", fresh, "restore", dest, expect=1).output
    assert out.startswith(f"Error: {dest}: the backup is damaged, nothing was restored")
    assert "does not match its SHA-256" in out
    assert not (fresh / "evidence.sqlite3").exists()
    database = dest / "evidence.sqlite3"
    blob.write_bytes(original)
    raw = bytearray(database.read_bytes())
    raw[100] ^= 0x01
    database.write_bytes(bytes(raw))
    out = run("--home", fresh, "restore", dest, expect=1).output
    assert "evidence.sqlite3: does not match its SHA-256" in out


@pytest.mark.parametrize("where", ["home", "store", "database", "not-empty", "file"])
def test_backup_destination_is_guarded(run, filled: Path, tmp_path: Path, where: str) -> None:
    dest = {
        "home": filled / "backup",
        "store": filled / "store" / "b",
        "database": filled / "evidence.sqlite3",
        "not-empty": tmp_path / "full",
        "file": tmp_path / "a-file",
    }[where]
    if where == "not-empty":
        dest.mkdir()
        (dest / "keep.txt").write_text("x")
    if where == "file":
        dest.write_text("x")
    out = run("backup", dest, expect=1).output
    assert out.startswith(f"Error: cannot write backup {dest}: ") and len(out.strip().splitlines()) == 1
    assert not (filled / "backup").exists() and not (filled / "store" / "b").exists()
    # the folder that holds the home is refused too
    assert "holds" in run("backup", filled.parent, expect=1).output


def test_restore_refuses_an_unrelated_chain_and_keeps_the_database(run, filled: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    run("--home", other, "import", SAMPLE / "practice.csv")
    run("--home", other, "practice", "list")
    dest = tmp_path / "backup"
    run("--home", other, "backup", dest)
    before = (filled / "evidence.sqlite3").read_bytes()
    for extra in ((), ("--replace-newer",)):  # another store's backup: even --replace-newer would pair it wrongly
        out = run("restore", dest, *extra, expect=1).output
        assert out.startswith(f"Error: {dest} is a backup of store ") and "restore it into a new home" in out
        assert (filled / "evidence.sqlite3").read_bytes() == before
        assert not (filled / "restore-in-progress").exists()


BACKUP_KILLS = 10


@pytest.mark.slow
def test_an_interrupted_backup_is_not_taken_for_a_complete_one(run, filled: Path, tmp_path: Path) -> None:
    """SIGKILLs at random moments of a backup: no folder looks complete, and the source store stays clean."""
    env = {**os.environ, "EVIDENCE_HOME": str(filled), "PYTHONPATH": str(REPO)}
    rng = random.Random(12)
    kills = attempts = 0
    while kills < BACKUP_KILLS:
        attempts += 1
        assert attempts <= 3 * BACKUP_KILLS, "the backup kept finishing before the kill"
        dest = tmp_path / f"b{attempts}"
        process = subprocess.Popen([sys.executable, "-m", "evidence", "backup", dest], env=env, cwd=REPO)
        deadline, delay = time.monotonic() + 120, rng.uniform(0.0, 0.4)
        while process.poll() is None and time.monotonic() < deadline:
            if (dest / "evidence.sqlite3").exists() or (dest / "store").exists():
                time.sleep(delay)  # somewhere between the first copied byte and the manifest
                process.send_signal(signal.SIGKILL)
                kills += process.wait() == -signal.SIGKILL
                break
            time.sleep(0.0005)
        process.wait()
        assert run("--home", filled, "verify").output.endswith("0 problems\n")  # the source: never touched
        fresh = tmp_path / f"fresh{attempts}"
        if process.returncode == 0 or (dest / "manifest.json").exists():
            run("--home", fresh, "restore", dest)  # the manifest is written last: whole and verified
            continue
        out = run("--home", fresh, "restore", dest, expect=1).output
        assert "no manifest.json" in out and "interrupted" in out


def test_restore_never_deletes_the_current_database(run, filled: Path, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    run("backup", dest)
    before = rows(filled / "evidence.sqlite3")
    run("restore", dest)  # same chain, nothing newer: accepted, the current database kept under a second name
    (aside,) = sorted(filled.glob("evidence.sqlite3.before-restore-*[0-9]Z"))
    assert rows(aside) == before  # every row (its WAL was checkpointed into it first)
    assert not list(filled.glob("evidence.sqlite3.before-restore-*-wal"))  # one self-contained file
    run("restore", dest, "--replace-newer")  # the restore event made the current one newer
    assert len(sorted(filled.glob("evidence.sqlite3.before-restore-*[0-9]Z"))) == 2


def test_other_commands_wait_for_a_running_restore(run, filled: Path, tmp_path: Path) -> None:
    run("backup", tmp_path / "b")
    journal = {"pid": 1, "source": "/mnt/b", "stamp": "x", "head": None,  # process 1 is always alive
               "temporary": str(filled / ".evidence.sqlite3.restore-1.part"),
               "aside": str(filled / "evidence.sqlite3.before-restore-x")}  # fmt: skip
    (filled / "restore-in-progress").write_text(json.dumps(journal))
    for command in (("list",), ("verify",), ("restore", tmp_path / "b")):
        out = run(*command, expect=1).output
        assert out == f"Error: a restore of /mnt/b is running in {filled} (process 1): wait for it to finish\n"


def test_a_killed_restore_is_undone_by_the_next_command(run, filled: Path, tmp_path: Path) -> None:
    """What a restore killed before its switch leaves (a temporary database, files copied in with
    their markers, the journal) is removed by the next command; the database is as it was."""
    dest = tmp_path / "backup"
    run("backup", dest)
    fresh = tmp_path / "fresh"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has exited
    digests = sorted(stored(filled))
    for digest in digests[:5]:  # as the restore's put_file left them: blob, then its intent marker
        blob = fresh / "store" / "sha256" / digest[:2] / digest
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes((filled / "store" / "sha256" / digest[:2] / digest).read_bytes())
        (fresh / "store" / "pending").mkdir(exist_ok=True)
        (fresh / "store" / "pending" / f"{pid}-{digest}").touch()
    temporary = fresh / f".evidence.sqlite3.restore-{pid}.part"
    temporary.write_bytes((dest / "evidence.sqlite3").read_bytes()[:5000])
    (fresh / "restore-in-progress").write_text(json.dumps({
        "pid": pid, "source": str(dest), "stamp": "x", "head": None, "temporary": str(temporary),
        "aside": str(fresh / "evidence.sqlite3.before-restore-x")}))  # fmt: skip
    # The home had no database before the restore, so the read command then says so (and creates none).
    out = run("--home", fresh, "verify", expect=1).output
    assert out.startswith(
        f"Error: undid an interrupted restore of {dest}: the database is as it was; removed its temporary "
        "database and 5 files it had copied into the store (the backup still holds them); "
    )
    assert "does not exist: create one with `evidence init`" in out and not (fresh / "evidence.sqlite3").exists()
    assert not temporary.exists() and not (fresh / "restore-in-progress").exists()
    assert stored(fresh) == set() and not list((fresh / "store" / "pending").iterdir())
    assert "12 files copied" in run("--home", fresh, "restore", dest).output


def test_restore_refuses_a_database_another_command_holds_open(run, filled: Path, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    run("backup", dest)
    before = rows(filled / "evidence.sqlite3")
    other = sqlite3.connect(filled / "evidence.sqlite3")  # another process's connection, in WAL mode
    try:
        other.execute("SELECT COUNT(*) FROM events").fetchone()
        out = run("restore", dest, expect=1).output
    finally:
        other.close()
    assert (
        out
        == f"Error: {filled / 'evidence.sqlite3'} is in use by another command: let it finish, then run restore again\n"
    )
    assert rows(filled / "evidence.sqlite3") == before and not (filled / "restore-in-progress").exists()
    assert not list(filled.glob("*before-restore*")) and not list(filled.glob(".evidence.sqlite3.restore-*"))
    run("restore", dest)  # once nothing else holds it


def test_without_hard_links_the_replaced_database_is_copied_aside(
    run, filled: Path, tmp_path: Path, monkeypatch
) -> None:
    dest = tmp_path / "backup"
    run("backup", dest)
    run("practice", "list")
    before = rows(filled / "evidence.sqlite3")

    def no_links(*args: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)  # a file system without hard links
    run("restore", dest)
    (aside,) = filled.glob("evidence.sqlite3.before-restore-*[0-9]Z")
    assert rows(aside) == before and aside.stat().st_ino != (filled / "evidence.sqlite3").stat().st_ino
    assert aside.stat().st_mode & 0o777 == 0o600 and not list(filled.glob(".*.part"))


class Killed(BaseException):
    """Stands for a SIGKILL at one exact moment (the slow suite sends real ones at random moments)."""


def test_a_restore_killed_after_its_switch_is_finished_by_the_next_command(
    run, home: Path, tmp_path: Path, monkeypatch
) -> None:
    import evidence.store.restore as restore_module

    run("import", SAMPLE / "practice.csv")
    target = tmp_path / "target"
    shutil.copytree(home, target)  # the store before its files: the backup continues its chain
    older = rows(target / "evidence.sqlite3")
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    dest = tmp_path / "backup"
    run("backup", dest)
    mirror = (target / "audit-head").read_text()

    def killed(*args: object) -> None:
        raise Killed

    finish = restore_module._finish
    monkeypatch.setattr(restore_module, "_finish", killed)  # the switch is done, nothing after it
    with pytest.raises(Killed):
        CliRunner().invoke(cli, ["--home", str(target), "restore", str(dest)], catch_exceptions=False)
    monkeypatch.setattr(restore_module, "_finish", finish)  # (not undo(): that would unset EVIDENCE_HOME too)
    assert (target / "restore-in-progress").exists() and (target / "audit-head").read_text() == mirror
    assert list((target / "store" / "pending").iterdir())  # its markers are still there
    out = run("--home", target, "verify").output
    assert out == (
        f"recovered: finished an interrupted restore of {dest}: the restored database is in place\n"
        "12 stored files checked: 0 problems\n"
    )
    assert not (target / "restore-in-progress").exists() and not list((target / "store" / "pending").iterdir())
    assert (target / "audit-head").read_text() != mirror and "intact" in run("--home", target, "log", "verify").output
    assert run("--home", target, "list").output == run("list").output
    (aside,) = target.glob("evidence.sqlite3.before-restore-*[0-9]Z")
    assert rows(aside) == older  # the target's own database, kept row for row
