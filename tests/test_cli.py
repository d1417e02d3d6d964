"""The command line as a user meets it: help, version, where data lives, errors without tracebacks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest

from evidence import __version__
from evidence.cli import COMMANDS, cli
from tests.conftest import sqlite_only
from tests.stores import use_sample_practice


def _walk(group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _walk(command, click.Context(command, parent=ctx, info_name=name), (*prefix, name))


ALL_COMMANDS = [path for path, _ in _walk(cli, click.Context(cli, info_name="evidence"))]


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(run, path: tuple[str, ...]) -> None:
    result = run(*path, "--help")
    assert "Usage: " in result.output
    assert "Example" in result.output, f"`evidence {' '.join(path)} --help` shows no example"
    assert "evidence " in result.output.split("Example", 1)[1]


def test_root_help_lists_every_command_with_its_own_summary(run) -> None:
    output = run("--help").output
    ctx = click.Context(cli, info_name="evidence")
    for name, (_, _, summary) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command.get_short_help_str(limit=200) == summary, name
        assert name in output


def test_version(run) -> None:
    assert run("--version").output.strip() == f"evidence, version {__version__}"


def test_python_dash_m_works(home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "evidence", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and __version__ in result.stdout


def test_home_and_store_are_owner_only_whatever_the_umask(tmp_path: Path, run) -> None:
    fresh = tmp_path / "deep" / "new-home"
    old = os.umask(0)
    try:
        run("--home", fresh, "init")
    finally:
        os.umask(old)
    for folder in (fresh.parent, fresh, fresh / "store"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in fresh.glob("evidence.sqlite3*"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


@sqlite_only
def test_env_home_is_used(home: Path, run) -> None:
    run("catalog", "list", "--year", "2019")
    assert (home / "evidence.sqlite3").exists()


def test_database_url_option_and_env(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "elsewhere.sqlite3"
    run("--home", tmp_path / "new-home", "--db", f"sqlite:///{db}", "init")
    assert db.exists()
    other = tmp_path / "from-env.sqlite3"
    monkeypatch.setenv("EVIDENCE_DATABASE_URL", f"sqlite:///{other}")
    run("db", "upgrade")
    assert other.exists()


@sqlite_only
@pytest.mark.parametrize("before", [False, True], ids=["after-only", "both"])
def test_home_after_the_command_is_used_and_wins(tmp_path: Path, home: Path, run, before: bool) -> None:
    """`evidence practice list --home DIR` reads DIR, even with another --home before the command."""
    other, ignored = tmp_path / "other-home", tmp_path / "ignored-home"
    run("--home", other, "practice", "add", "000777777", "--name", "Other Practice")
    args = ["--home", ignored] if before else []
    listed = run(*args, "practice", "list", "--home", other, "--format", "csv").output
    assert "000777777,Other Practice" in listed
    assert "000777777" not in run("practice", "list").output  # $EVIDENCE_HOME's store is untouched
    assert not ignored.exists()
    assert (other / "evidence.sqlite3").exists()


@sqlite_only
def test_db_store_and_actor_after_nested_commands(tmp_path: Path, home: Path, run) -> None:
    # Another database needs its own home: the home's store and audit-head belong to the home's database.
    db, other = tmp_path / "after.sqlite3", ("--home", tmp_path / "other-home")
    run("practice", "add", "000888888", "--name", "After", "--db", f"sqlite:///{db}", *other, "--actor", "clerk")
    assert db.exists()
    events = run("log", "--format", "csv", "--db", f"sqlite:///{db}", *other).output
    assert "clerk,practice.add,000888888" in events
    run(
        "hold", "add", "--tin", "000888888", "--reason", "audit", "--db", f"sqlite:///{db}", *other
    )  # a group's command
    assert "000888888" in run("hold", "list", "--db", f"sqlite:///{db}", *other).output
    assert "(no rows)" in run("hold", "list").output
    result = run("verify", "--store", "ftp://host/x", expect=1)
    assert "unsupported store URL 'ftp://host/x'" in result.output
    assert "--home DIRECTORY" in run("clinician", "list", "--help").output


def test_bad_database_url_is_a_clear_error(run) -> None:
    result = run("--db", "nosuchdriver://x/y", "db", "upgrade", expect=1)
    assert result.output.startswith("Error: cannot use database URL")


def test_password_never_printed(run) -> None:
    result = run("--db", "postgresql+nosuch://user:s3cret@localhost/db", "db", "upgrade", expect=1)
    assert "s3cret" not in result.output


@sqlite_only
def test_corrupted_database_is_reported_not_used(tmp_path: Path, run) -> None:
    broken = tmp_path / "broken-home"
    broken.mkdir()
    (broken / "evidence.sqlite3").write_bytes(b"this is not a database" * 100)
    result = run("--home", broken, "catalog", "list", expect=1)
    assert "Error: cannot open the database" in result.output
    assert "damaged or not a SQLite database" in result.output


def test_unknown_activity_and_year_errors(run) -> None:
    assert (
        "IA_ERP_3 is not in the PY2019 inventory"
        in run("catalog", "show", "IA_ERP_3", "--year", "2019", expect=1).output
    )
    assert "performance year 2016 is before MIPS began" in run("catalog", "list", "--year", "2016", expect=2).output
    assert "no IA inventory for performance year 2030" in run("catalog", "list", "--year", "2030", expect=1).output
    assert "in no performance year's inventory" in run("catalog", "show", "IA_NOPE_1", expect=1).output


@pytest.mark.usefixtures("wide")
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_catalog_list_formats(run, fmt: str) -> None:
    import csv
    import io
    import json

    output = run("catalog", "list", "--year", "2020", "--weight", "high", "--format", fmt).output
    if fmt == "json":
        rows = json.loads(output)
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(output)))
    else:
        rows = [line for line in output.splitlines()[2:] if line.startswith("2020 ")]  # long titles wrap below
    assert len(rows) == 26
    if fmt == "json":
        assert {r["weight"] for r in rows} == {"high"}
        assert rows[0]["activity"] == "IA_AHE_1"


def test_catalog_list_filters_by_subcategory_and_sorts_naturally(run) -> None:
    import json

    rows = json.loads(
        run(
            "catalog",
            "list",
            "--year",
            "2020",
            "--subcategory",
            "patientSafetyAndPracticeAssessment",
            "--format",
            "json",
        ).output
    )
    ids = [r["activity"] for r in rows]
    assert len(ids) == 29
    assert ids.index("IA_PSPA_2") < ids.index("IA_PSPA_10")
    assert {r["subcategory"] for r in rows} == {"patientSafetyAndPracticeAssessment"}


def test_catalog_show_gives_items_and_rule(run) -> None:
    output = run("catalog", "show", "IA_PSPA_20", "--year", "2020").output
    assert "any one of these items is enough" in output
    assert "1) " in output and "3) " in output and "4) " not in output
    generic = run("catalog", "show", "IA_EPA_1", "--year", "2020").output
    assert "generic" in generic and "during the attested period" in generic


# --- One output layer: every JSON document in one style, every listing in three formats -------------


@pytest.fixture
def sample(app):
    use_sample_practice(app)  # tests/stores.py: a copy of one built once


@pytest.mark.parametrize(
    "args",
    [
        ("score", "--tin", "000123456", "--year", "2020"),
        ("status", "--tin", "000123456", "--year", "2020"),
        ("missing", "--tin", "000123456", "--year", "2020"),
        ("list", "--year", "2020"),
        ("show", "1"),
        ("practice", "list"),
        ("log", "--tin", "000123456"),
    ],
    ids=lambda args: args[0],
)
def test_every_json_document_has_one_style(run, sample, args: tuple[str, ...]) -> None:
    import json

    output = run(*args, "--format", "json").output
    document = json.loads(output)
    assert output == json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def test_show_json_has_the_file_facts_and_links(run, sample) -> None:
    import json

    listed = json.loads(run("list", "--format", "json").output)[0]
    shown = json.loads(run("show", listed["id"], "--format", "json").output)
    assert (shown["id"], shown["original_name"], shown["digest"]) == (listed["id"], listed["name"], listed["sha256"])
    assert shown["links"] and {"tin", "year", "activity_id", "item_key"} <= set(shown["links"][0])
    assert "links:" in run("show", listed["id"]).output  # text stays the default


@pytest.mark.parametrize("args", [("score", "--tin", "000123456", "--year", "2020"), ("practice", "list")])
def test_every_report_takes_csv(run, sample, args: tuple[str, ...]) -> None:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(run(*args, "--format", "csv").output)))
    assert rows and {row["tin"] for row in rows} == {"000123456"}
