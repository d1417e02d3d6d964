"""Read commands never create a home, a database or a store (issue #13, case 8).

Run against a home that does not exist, an empty home, or a --db file that does not exist (a typo),
every command that only reads says in one line where it looked and how to create a store, exits
non-zero, and leaves no file behind. `evidence init` and the write commands still create the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import sqlite_only

TIN = "000123456"
# Every command that only reads records (some write a report file outside the store).
READ_COMMANDS: dict[str, list[str]] = {
    "practice list": ["practice", "list"],
    "practice show": ["practice", "show", TIN],
    "clinician list": ["clinician", "list", "--tin", TIN],
    "list": ["list"],
    "show": ["show", "1"],
    "missing": ["missing"],
    "score": ["score", "--tin", TIN, "--year", "2020"],
    "status": ["status", "--tin", TIN, "--year", "2020"],
    "export-qpp": ["export-qpp", "--tin", TIN, "--year", "2020", "-o", "{out}/export.json"],
    "packet": ["packet", "--tin", TIN, "--year", "2020", "-o", "{out}/packet.pdf"],
    "log": ["log"],
    "log verify": ["log", "verify"],
    "log checkpoint": ["log", "checkpoint", "--signing-key", "{out}/../signing.key", "-o", "{out}/checkpoint.json"],
    "catalog list": ["catalog", "list"],
    "catalog show": ["catalog", "show", "IA_PM_7"],
    "catalog import-qpp --dry-run": ["catalog", "import-qpp", "{out}/ia.json", "--year", "2027", "--dry-run"],
    "verify": ["verify"],
    "retention show": ["retention", "show"],
    "hold list": ["hold", "list"],
    "purge (preview)": ["purge"],
    "backup": ["backup", "{out}/backup"],
    "db current": ["db", "current"],
    "deadlines": ["deadlines", "--ics", "{out}/deadlines.ics"],
    "audit list": ["audit", "list"],
    "audit show": ["audit", "show", "1"],
}


def _args(name: str, out: Path) -> list[str]:
    return [arg.replace("{out}", str(out)) for arg in READ_COMMANDS[name]]


@pytest.fixture
def out(tmp_path: Path, run) -> Path:
    """Where report files would go; holds one small CMS file for the import preview (and a signing key beside)."""
    run("log", "keygen", tmp_path / "signing.key")
    folder = tmp_path / "out"
    folder.mkdir()
    entry = {"category": "ia", "measureId": "IA_PM_7", "title": "T", "subcategoryId": "populationManagement"}
    (folder / "ia.json").write_text(json.dumps([entry]), encoding="utf-8")
    return folder


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


def _assert_refused(result, where: str) -> None:
    lines = result.output.splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and where in lines[0] and "`evidence init`" in lines[0], lines[0]
    assert "nothing was created" in lines[0]


@pytest.mark.parametrize("name", sorted(READ_COMMANDS))
def test_read_command_on_a_missing_home_creates_nothing(tmp_path: Path, run, out: Path, name: str) -> None:
    missing = tmp_path / "no" / "such-home"
    before = _files(out)
    result = run("--home", missing, *_args(name, out), expect=1)
    _assert_refused(result, f"no evidence home at {missing}")
    assert not missing.exists() and not missing.parent.exists()
    assert _files(out) == before


@sqlite_only
@pytest.mark.parametrize("name", sorted(READ_COMMANDS))
def test_read_command_on_an_empty_home_adds_no_file(tmp_path: Path, run, out: Path, name: str) -> None:
    empty = tmp_path / "empty-home"
    empty.mkdir()
    result = run("--home", empty, *_args(name, out), expect=1)
    _assert_refused(result, f"the database {empty / 'evidence.sqlite3'} does not exist")
    assert _files(empty) == []


@sqlite_only
@pytest.mark.parametrize("name", ["list", "missing", "log", "catalog list", "verify", "db current"])
def test_read_command_with_a_mistyped_db_creates_no_database(home: Path, run, out: Path, name: str) -> None:
    typo = home / "evidnce.sqlite3"
    before = _files(home)
    result = run("--db", f"sqlite:///{typo}", *_args(name, out), expect=1)
    _assert_refused(result, f"the database {typo} does not exist")
    assert _files(home) == before


@sqlite_only
def test_a_zero_byte_database_file_is_reported_as_empty(tmp_path: Path, run) -> None:
    fresh = tmp_path / "zero-home"
    fresh.mkdir()
    (fresh / "evidence.sqlite3").touch()
    result = run("--home", fresh, "practice", "list", expect=1)
    _assert_refused(result, f"the database {fresh / 'evidence.sqlite3'} is empty")
    assert [p.name for p in _files(fresh)] == ["evidence.sqlite3"]


@sqlite_only
def test_init_creates_the_store_and_is_idempotent(tmp_path: Path, run, dump) -> None:
    fresh = tmp_path / "new" / "home"
    first = run("--home", fresh, "init").output
    assert f"store ready in {fresh}" in first and f"database: {fresh / 'evidence.sqlite3'}" in first
    assert (fresh / "evidence.sqlite3").stat().st_size > 0 and (fresh / "store").is_dir()
    assert run("--home", fresh, "practice", "list").output.strip() == "(no rows)"  # now a read works
    events = run("--home", fresh, "log", "--format", "json").output
    files = {p: p.read_bytes() for p in _files(fresh) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}
    run("--home", fresh, "init")
    assert run("--home", fresh, "log", "--format", "json").output == events  # nothing recorded the second time
    assert {p: p.read_bytes() for p in files} == files


@sqlite_only
def test_write_commands_still_create_the_home(tmp_path: Path, run) -> None:
    fresh = tmp_path / "first-use"
    run("--home", fresh, "practice", "add", TIN, "--name", "Riverbend")
    assert (fresh / "evidence.sqlite3").exists()
    assert f"{TIN},Riverbend" in run("--home", fresh, "practice", "list", "--format", "csv").output


# Commands that change records which must already exist: a typo'd --home is not a new store.
CORRECTION_COMMANDS: dict[str, list[str]] = {
    "link": ["link", "1", "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7", "--item", "1", "--reason", "r"],
    "unlink": ["unlink", "1", "--reason", "r"],
    "attestation edit": ["attestation", "edit", "1", "--start", "2020-01-01", "--reason", "r"],
    "attestation delete": ["attestation", "delete", "1", "--reason", "r"],
    "participation edit": ["participation", "edit", "1", "--end", "2020-12-31", "--reason", "r"],
    "participation delete": ["participation", "delete", "1", "--reason", "r"],
    "clinician update": [
        "clinician",
        "update",
        "1234567893",
        "--tin",
        TIN,
        "--year",
        "2020",
        "--rural",
        "--reason",
        "r",
    ],
    "practice set": ["practice", "set", TIN, "--pcmh", "--reason", "r"],
    "edit": ["edit", "1", "--description", "d", "--reason", "r"],
    "withdraw": ["withdraw", "1", "--reason", "r"],
    "hold release": ["hold", "release", "1", "--reason", "r"],
    "hold review": ["hold", "review", "1", "--on", "2099-01-01", "--reason", "r"],
    "audit open": ["audit", "open", "--tin", TIN, "--year", "2020", "--received", "2024-11-20"],
    "audit note": ["audit", "note", "1", "a call"],
    "audit close": ["audit", "close", "1", "--outcome", "passed"],
}


@pytest.mark.parametrize("name", sorted(CORRECTION_COMMANDS))
def test_a_correction_on_a_missing_home_creates_nothing(tmp_path: Path, run, name: str) -> None:
    missing = tmp_path / "typo-home"
    result = run("--home", missing, *CORRECTION_COMMANDS[name], expect=1)
    _assert_refused(result, f"no evidence home at {missing}")
    assert not missing.exists()
