"""`evidence audit open|list|show|note|close` end to end, and an open audit keeping its year from purge."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from evidence.cli import cli
from evidence.cli import output as output_module
from evidence.cli.output import render_table
from evidence.records.missing import missing_report
from tests.stores import use_sample_practice

TIN = "000123456"
OPEN_2019 = ("audit", "open", "--tin", TIN, "--year", "2019", "--received", "2024-11-20")


@pytest.fixture
def sample(app) -> None:  # type: ignore[no-untyped-def]
    use_sample_practice(app)  # tests/stores.py: a copy of one built once


def _actions(run) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["action"] for e in json.loads(run("log", "--format", "json").output)]


def test_open_list_show_note_close_each_a_chained_event(run, sample, wide) -> None:  # type: ignore[no-untyped-def]
    out = run(*OPEN_2019, "--reference", "DVA-2019-7", "--contact", "J. Doe, security official").output
    assert out.splitlines() == [
        f"audit #1 (DVA-2019-7) opened for {TIN} PY2019",
        "received 2024-11-20, due 2025-01-04 (45 days)",
        "scope (group): IA_PM_7, IA_PSPA_20",
    ]
    out = run("audit", "open", "--tin", TIN, "--year", "2024", "--received", "2025-01-01", "--npi", "1234567893",
              "--activity", "IA_BE_4", "--due", "2025-01-02").output  # fmt: skip
    assert "due 2025-01-02 (1 day)" in out and "scope: NPI 1234567893: IA_BE_4" in out

    listed = json.loads(run("audit", "list", "--as-of", "2025-01-03", "--format", "json").output)
    assert [(a["id"], a["due"], a["days_left"], a["status"]) for a in listed] == [
        (2, "2025-01-02", -1, "overdue"),
        (1, "2025-01-04", 1, "open"),
    ]
    table = run("audit", "list", "--as-of", "2025-01-03").output
    assert "\x1b" not in table and "overdue" in table  # piped: no colour codes
    csv_text = run("audit", "list", "--tin", TIN, "--format", "csv").output
    assert csv_text.splitlines()[0].startswith("id,tin,year,reference,received,due,days_left,status")

    shown = run("audit", "show", "1", "--as-of", "2025-01-01").output
    assert "received 2024-11-20, 3 days left (due 2025-01-04)" in shown
    assert "contact: J. Doe, security official" in shown
    assert "IA_PM_7     group       creditable" in shown and "IA_PSPA_20  group       creditable" in shown

    out = run("audit", "note", "1", "Guidehouse granted 15 days by e-mail", "--due", "2025-01-19").output
    assert out.strip() == "audit #1: note added; due 2025-01-04 -> 2025-01-19"
    run("audit", "note", "1", "Sent the packet by secure e-mail")
    document = json.loads(run("audit", "show", "1", "--as-of", "2025-01-20", "--format", "json").output)
    assert (document["due"], document["days_left"], document["overdue"], document["ready"]) == (
        "2025-01-19", -1, True, True)  # fmt: skip
    assert [(j["note"], j["due_moved"]) for j in document["journal"]] == [
        ("Guidehouse granted 15 days by e-mail", "2025-01-04 -> 2025-01-19"),
        ("Sent the packet by secure e-mail", None),
    ]
    assert [s["activity"] for s in document["scope"]] == ["IA_PM_7", "IA_PSPA_20"]

    assert run("audit", "close", "1", "--outcome", "passed", "--note", "no findings").output.strip() == (
        "audit #1 closed: passed")  # fmt: skip
    shown = run("audit", "show", "1").output
    assert f"closed {date.today()} by tester: passed" in shown and "closing note: no findings" in shown
    assert [a["id"] for a in json.loads(run("audit", "list", "--open", "--format", "json").output)] == [2]
    assert _actions(run)[-5:] == ["audit.open", "audit.open", "audit.note", "audit.note", "audit.close"]
    run("log", "verify")


def test_show_names_what_is_missing_and_an_activity_no_longer_attested(run, app, sample, wide) -> None:  # type: ignore[no-untyped-def]
    run("audit", "open", "--tin", TIN, "--year", "2020", "--received", "2024-11-20")
    missing = {a["activity"]: a for a in json.loads(run("missing", "--year", "2020", "--format", "json").output)}
    document = json.loads(run("audit", "show", "1", "--format", "json").output)
    for entry in document["scope"]:  # the verdict is the missing report's, word for word
        assert entry["documentation"] == missing[entry["activity"]]["status"]
    with app.read() as session:
        report = missing_report(session, year=2020)
        attestation = next(a.attestation_id for a in report.activities if a.activity_id == "IA_BE_6")
    refused = run("attestation", "delete", attestation, "--unlink", "--reason", "attested by mistake", expect=1)
    assert "under open audit #1" in refused.output  # an open audit freezes what CMS reviews, as a hold does
    run("audit", "close", "1", "--outcome", "withdrawn")
    run("attestation", "delete", attestation, "--unlink", "--reason", "attested by mistake")
    shown = run("audit", "show", "1").output
    assert "IA_BE_6   group       no longer attested" in shown
    assert json.loads(run("audit", "show", "1", "--format", "json").output)["ready"] is False


REFUSALS = [
    # (arguments after the sample and an open audit #1 on PY2019, what the one error line says)
    ((*OPEN_2019, "--due", "2024-11-19"), "--due 2024-11-19 is before --received 2024-11-20"),
    ((*OPEN_2019, "--activity", "IA_NOPE_99"), "activity IA_NOPE_99 is not in the PY2019 inventory"),
    ((*OPEN_2019, "--activity", "IA_BE_4"), "IA_BE_4 is not attested by TIN 000123456 (group reporting) in PY2019"),
    ((*OPEN_2019, "--npi", "1000000004"), "NPI 1000000004 under TIN 000123456 attested no activity in PY2019"),
    ((*OPEN_2019[:-1], str(date.today() + timedelta(days=1))), "is in the future"),
    (("audit", "open", "--tin", "000999999", "--year", "2019", "--received", "2024-11-20"), "no practice with TIN"),
    ((*OPEN_2019, "--reference", "R" * 201), "the reference is 201 characters long; at most 200 are kept"),
    ((*OPEN_2019, "--received", "2024-02-30"), "--received"),
    (("--actor", "a" * 201, *OPEN_2019), "--actor is 201 characters long; at most 200 are kept"),
    (("audit", "close", "1", "--outcome", "won"), "'won' is not one of 'passed', 'failed', 'withdrawn'"),
    (("audit", "close", "9", "--outcome", "passed"), "no audit request #9; `evidence audit list` shows them"),
    (("audit", "note", "9", "a call"), "no audit request #9"),
    (("audit", "show", "9"), "no audit request #9"),
    (("audit", "note", "1", " \n "), "the note is empty"),
    (("audit", "note", "1", "ext", "--due", "2024-11-01"), "before the notice was received (2024-11-20)"),
    (("audit", "note", "1", "ext", "--due", "2025-01-04"), "audit #1 is already due 2025-01-04: nothing to move"),
    (("audit", "list", "--tin", "000999999"), "no practice with TIN 000999999"),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS, ids=[r[1][:40] for r in REFUSALS])
def test_bad_input_is_refused_in_one_line_with_nothing_changed(run, dump, sample, args, message) -> None:  # type: ignore[no-untyped-def]
    run(*OPEN_2019)
    before = dump()
    result = run(*args, expect=None)
    assert result.exit_code != 0, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert dump() == before


def test_closing_twice_is_refused_with_the_first_close_named(run, dump, sample) -> None:  # type: ignore[no-untyped-def]
    run(*OPEN_2019)
    run("audit", "close", "1", "--outcome", "withdrawn")
    before = dump()
    out = run("audit", "close", "1", "--outcome", "passed", expect=1).output
    assert out.strip() == f"Error: audit #1 was already closed on {date.today()} (withdrawn)"
    assert "its due date no longer moves" in run("audit", "note", "1", "x", "--due", "2025-02-01", expect=1).output
    assert dump() == before


def test_an_open_audit_keeps_its_year_from_purge_until_closed(run, sample) -> None:  # type: ignore[no-untyped-def]
    run(*OPEN_2019, "--reference", "DVA-1")
    out = run("purge", "--as-of", "2026-01-01", "--yes").output
    assert f"{TIN} PY2019: past its window but kept: open audit #1 (DVA-1) until closed" in out
    assert "purged" not in out
    assert json.loads(run("list", "--year", "2019", "--format", "json").output)
    assert f"    kept: {TIN}: open audit #1 (DVA-1) until closed" in run("retention", "show").output

    run("hold", "add", "--tin", TIN, "--year", "2019", "--reason", "litigation")
    run("audit", "close", "1", "--outcome", "passed")
    out = run("purge", "--as-of", "2026-01-01").output  # the legal hold alone still keeps it
    assert "past its window but kept: legal hold #1" in out and "open audit" not in out
    run("hold", "release", "1", "--reason", "settled")

    assert "purged 12 records and 3 files" in run("purge", "--as-of", "2026-01-01", "--yes").output
    assert "open audit" not in run("retention", "show").output
    assert _actions(run)[-5:] == ["audit.open", "hold.add", "audit.close", "hold.release", "purge"]
    run("log", "verify")


def test_an_audit_of_another_year_or_a_closed_one_keeps_nothing(run, sample) -> None:  # type: ignore[no-untyped-def]
    run("audit", "open", "--tin", TIN, "--year", "2020", "--received", "2024-11-20")  # PY2020 is not expired in 2026
    run(*OPEN_2019)
    run("audit", "close", "2", "--outcome", "failed")
    assert "purged 12 records and 3 files" in run("purge", "--as-of", "2026-01-01", "--yes").output


def test_hostile_text_is_shown_escaped(run, sample, wide) -> None:  # type: ignore[no-untyped-def]
    hostile = "DVA\x1b[2J\u202eevil"
    run(*OPEN_2019, "--reference", hostile, "--contact", "x\x07y", "--reason", "r\x1b]0;title\x07")
    run("audit", "note", "1", "call \x1b[31mred")
    outputs = [
        run("audit", "list").output,
        run("audit", "show", "1").output,
        run("purge", "--as-of", "2026-01-01").output,
        run("retention", "show").output,
    ]
    for out in outputs:
        assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
        assert "\\x1b" in out or "\\u202e" in out
    assert json.loads(run("audit", "show", "1", "--format", "json").output)["reference"] == "DVA\x1b[2J\u202eevil"


def test_overdue_rows_are_red_only_on_a_terminal(run, sample, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run(*OPEN_2019)
    run("audit", "open", "--tin", TIN, "--year", "2020", "--received", str(date.today()))
    monkeypatch.setattr(output_module, "use_colour", lambda: True)  # as if stdout were a terminal
    terminal = CliRunner().invoke(cli, ["audit", "list"], color=True).output
    red_lines = [line for line in terminal.splitlines() if line.startswith("\x1b[31m")]
    assert len(red_lines) == 1 and red_lines[0].startswith("\x1b[31m1 ") and "overdue" in red_lines[0]
    for fmt in ("json", "csv"):  # never coloured, even at a terminal
        assert "\x1b" not in CliRunner().invoke(cli, ["audit", "list", "--format", fmt], color=True).output
    monkeypatch.undo()
    assert "\x1b" not in CliRunner().invoke(cli, ["audit", "list"], color=True).output  # not a terminal


def test_use_colour_follows_the_terminal_and_no_color(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("sys.stdout", Stream(True))
    assert output_module.use_colour()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not output_module.use_colour()
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr("sys.stdout", Stream(False))
    assert not output_module.use_colour()


def test_red_rows_keep_the_table_aligned() -> None:
    rows = [{"id": 1, "status": "open"}, {"id": 22, "status": "overdue, long text that wraps"}]
    plain = render_table(rows, ["id", "status"], width=20)
    coloured = render_table(rows, ["id", "status"], width=20, alert=lambda row: row["id"] == 22)
    assert coloured.replace("\x1b[31m", "").replace("\x1b[0m", "") == plain
    assert [line.startswith("\x1b[31m") for line in coloured.splitlines()] == [False, False, False, True, True]


def test_a_notice_dated_inside_its_performance_year_is_refused_in_one_line(run, dump, sample) -> None:  # type: ignore[no-untyped-def]
    before = dump()
    result = run("audit", "open", "--tin", TIN, "--year", "2024", "--received", "2024-12-31", expect=None)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: --received 2024-12-31 is not after performance year 2024 ended (2024-12-31): CMS audits a year's "
        "submitted data, sent only after the year; check the notice's date and year"
    ]
    assert dump() == before


def test_purge_help_says_an_open_audit_keeps_records(run) -> None:  # type: ignore[no-untyped-def]
    assert "legal hold or an open audit request" in " ".join(run("purge", "--help").output.split())


def test_a_closed_audits_clock_line_shows_its_closer_inert(run, sample) -> None:  # type: ignore[no-untyped-def]
    run(*OPEN_2019)
    run("--actor", "ann\u202eXR", "audit", "close", "1", "--outcome", "passed")
    shown = run("audit", "show", "1").output
    assert "\u202e" not in shown
    assert f"received 2024-11-20, closed {date.today()} by ann\\u202eXR: passed" in shown
