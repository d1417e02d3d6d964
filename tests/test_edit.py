"""`evidence edit`: correcting a record's effective date or range, or its description, audited."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence.db.models import Evidence
from evidence.errors import InputError, NotFoundError
from evidence.records.evidence_edit import EDIT_ACTION, edit_evidence
from tests.conftest import SAMPLE

TIN = "000123456"
PM7 = ("--tin", TIN, "--year", "2020", "--activity", "IA_PM_7")


@pytest.fixture
def registered(run, tmp_path: Path) -> Path:
    """Evidence 1, a single day 2026 (a scan's date) for PY2020, and evidence 2, a policy range."""
    run("import", SAMPLE / "practice.csv")
    scan = tmp_path / "qcdr-report.txt"
    scan.write_text("QCDR feedback\n", encoding="utf-8")
    run("register", scan, *PM7, "--effective-date", "2026-01-15", "--description", "scan")
    policy = tmp_path / "policy.txt"
    policy.write_text("policy\n", encoding="utf-8")
    run("register", policy, *PM7, "--effective-from", "2019-12-01", "--effective-until", "2020-12-31")
    return scan


def _events(run, action: str = EDIT_ACTION) -> list[dict]:
    return [e for e in json.loads(run("log", "--format", "json").output) if e["action"] == action]


def test_edit_the_date_is_shown_counted_and_audited(run, registered) -> None:
    assert not _in_period(run)
    out = run("edit", "1", "--effective-date", "2020-10-05", "--reason", "the report's date, not the scan's",
              "--actor", "officer").output  # fmt: skip
    assert out.splitlines() == [
        "evidence 1 (qcdr-report.txt) edited: effective_date 2026-01-15 -> 2020-10-05",
        "  reason: the report's date, not the scan's",
    ]
    assert "effective date: 2020-10-05" in run("show", "1").output
    assert _in_period(run)
    (event,) = _events(run)
    assert (event["actor"], event["tin"], event["year"]) == ("officer", TIN, 2020)
    assert json.loads(event["details"]) == {
        "evidence": 1,
        "old": {"effective_date": "2026-01-15"},
        "new": {"effective_date": "2020-10-05"},
        "reason": "the report's date, not the scan's",
    }
    assert "intact" in run("log", "verify").output


def _in_period(run, evidence_id: int = 1) -> bool:
    """Whether the missing report counts the evidence for IA_PM_7 in PY2020."""
    rows = json.loads(run("missing", "--tin", TIN, "--year", "2020", "--format", "json").output)
    item = next(r for r in rows if r["activity"] == "IA_PM_7")["items"][0]
    return next(e["in_period"] for e in item["evidence"] if e["id"] == evidence_id)


def test_edit_makes_a_single_day_a_range_and_back(run, registered) -> None:
    run("edit", "1", "--effective-from", "2019-12-01", "--effective-until", "2020-12-31", "--reason", "a policy")
    assert "effective range: 2019-12-01 to 2020-12-31" in run("show", "1").output
    assert _in_period(run)
    run("edit", "1", "--effective-date", "2020-02-01", "--reason", "a single meeting after all")
    assert json.loads(run("show", "1", "--format", "json").output)["effective_until"] is None
    old_new = [(json.loads(e["details"])["old"], json.loads(e["details"])["new"]) for e in _events(run)]
    assert old_new == [
        ({"effective_date": "2026-01-15", "effective_until": None}, {"effective_date": "2019-12-01", "effective_until": "2020-12-31"}),
        ({"effective_date": "2019-12-01", "effective_until": "2020-12-31"}, {"effective_date": "2020-02-01", "effective_until": None}),
    ]  # fmt: skip


def test_edit_one_end_of_a_range_keeps_the_other(run, registered) -> None:
    run("edit", "2", "--effective-until", "2021-06-30", "--reason", "renewed")
    assert "effective range: 2019-12-01 to 2021-06-30" in run("show", "2").output
    run("edit", "2", "--effective-from", "2020-01-01", "--reason", "adopted later")
    assert "effective range: 2020-01-01 to 2021-06-30" in run("show", "2").output


def test_edit_the_description_keeps_hostile_text_inert(run, registered) -> None:
    out = run("edit", "1", "--description", "Q3\x1b[31m report\u202e", "--reason", "typo").output
    assert "\x1b" not in out and "\u202e" not in out
    assert "description 'scan' -> 'Q3\\x1b[31m report\\u202e'" in out
    assert "description: Q3\\x1b[31m report\\u202e" in run("show", "1").output
    assert json.loads(_events(run)[0]["details"])["new"] == {"description": "Q3\x1b[31m report\u202e"}


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (("99", "--effective-date", "2020-01-01", "--reason", "x"), "Error: no evidence with id 99", 1),
        (("1", "--effective-date", "2020-01-01"), "Missing option '--reason'", 2),
        (("1", "--effective-date", "2020-01-01", "--reason", "  "), "Error: an edit needs a --reason", 1),
        (("1", "--reason", "x"), "Error: nothing to change: give --effective-date, --effective-from/--effective-until "
                                 "or --description", 1),
        (("1", "--effective-date", "2026-01-15", "--reason", "x"),
         "Error: nothing to change: evidence 1 already says effective 2026-01-15", 1),
        (("1", "--description", "scan", "--reason", "x"), "nothing to change", 1),
        (("2", "--effective-until", "2019-01-01", "--reason", "x"),
         "Error: the effective range ends (2019-01-01) before it starts (2019-12-01)", 1),
        (("2", "--effective-from", "2021-01-01", "--effective-until", "2020-01-01", "--reason", "x"),
         "Error: the effective range ends (2020-01-01) before it starts (2021-01-01)", 1),
        (("1", "--effective-from", "2019-01-01", "--reason", "x"),
         "Error: evidence 1 has a single effective date (2026-01-15): give --effective-until", 1),
        (("1", "--effective-date", "2020-01-01", "--effective-from", "2020-01-01", "--reason", "x"),
         "Error: give --effective-date (one day) or --effective-from/--effective-until (a range), not both", 1),
        (("1", "--description", "", "--reason", "x"), "Error: --description is empty", 1),
        (("1", "--effective-date", "2020-02-30", "--reason", "x"), "not a real calendar date", 2),
        (("one", "--reason", "x"), "'one' is not a valid integer", 2),
    ],
)  # fmt: skip
def test_refused_edits_are_one_line_and_change_nothing(run, registered, dump, args, message, code) -> None:
    before = dump()
    result = run("edit", *args, expect=code)
    assert message in result.output
    if code == 1:
        assert len(result.output.strip().splitlines()) == 1
    assert dump() == before


def test_withdrawn_evidence_is_not_edited(run, registered, dump) -> None:
    run("withdraw", "1", "--reason", "wrong practice")
    before = dump()
    out = run("edit", "1", "--effective-date", "2020-05-01", "--reason", "x", expect=1).output
    assert "Error: evidence 1 was withdrawn on" in out and "is not edited" in out
    assert dump() == before


def test_help_has_examples(run) -> None:
    out = run("edit", "--help").output
    assert "evidence edit 7 --effective-from 2019-12-01 --effective-until 2020-12-31" in out
    assert "--reason" in out


# --- the library ------------------------------------------------------------------------------


def test_library_edit_in_the_callers_transaction(app, run, registered) -> None:
    with app.write() as session:
        change = edit_evidence(session, 2, reason="renewed", actor="lib", effective_until=date(2021, 12, 31))
        assert change.changes == {"effective_until": (date(2020, 12, 31), date(2021, 12, 31))}
    with app.read() as session:
        assert session.scalar(select(Evidence.effective_until).where(Evidence.id == 2)) == date(2021, 12, 31)
    assert _events(run)[0]["actor"] == "lib"


def test_library_edit_refusals(app, registered) -> None:
    with app.write() as session:
        with pytest.raises(NotFoundError, match="no evidence with id 42"):
            edit_evidence(session, 42, reason="x", actor="lib", effective_date=date(2020, 1, 1))
        with pytest.raises(InputError, match="before it starts"):
            edit_evidence(session, 2, reason="x", actor="lib", effective_from=date(2021, 1, 1))
        with pytest.raises(InputError, match="NUL"):
            edit_evidence(session, 1, reason="x", actor="lib", description="a\x00b")
