"""`evidence deadlines`: every date that matters, soonest first, and the ICS calendar read back."""

from __future__ import annotations

import json
import os
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from icalendar import Calendar

from evidence.app import App
from evidence.records.audits import open_audit
from evidence.retention.deadlines import RETENTION_HORIZON_DAYS, deadlines
from evidence.retention.policy import add_hold
from evidence.rules import cms
from evidence.rules.deadlines import SUBMISSION_WINDOWS, last_closed_window, open_windows, submission_window
from tests import factories

TIN, OTHER = factories.TIN, "000987654"
AS_OF = date(2025, 6, 2)


# --- Submission windows: one row per performance year ---------------------------------------------

# (year, last day, time CMS states, end before any extension, verified by a source found)
WINDOWS = [
    (2017, date(2018, 4, 3), None, date(2018, 3, 31), True),
    (2018, date(2019, 4, 2), None, date(2019, 3, 31), True),
    (2019, date(2020, 4, 30), "8 p.m. ET", date(2020, 3, 31), True),  # COVID-19
    (2020, date(2021, 3, 31), "8 p.m. ET", date(2021, 3, 31), True),
    (2021, date(2022, 3, 31), "8 p.m. ET", date(2022, 3, 31), True),
    (2022, date(2023, 3, 31), "8 p.m. ET", date(2023, 3, 31), True),
    (2023, date(2024, 4, 15), "8 p.m. ET", date(2024, 3, 31), True),  # Change Healthcare cyberattack
    (2024, date(2025, 4, 14), "8 p.m. ET", date(2025, 3, 31), True),  # national IV fluid shortage
    (2025, date(2026, 3, 31), "8 p.m. ET", date(2026, 3, 31), False),
    (2026, date(2027, 3, 31), "8 p.m. ET", date(2027, 3, 31), False),
]


@pytest.mark.parametrize(("year", "closes", "at", "regular", "verified"), WINDOWS, ids=[f"PY{w[0]}" for w in WINDOWS])
def test_each_years_submission_window_closes_on_cmss_date(
    year: int, closes: date, at: str | None, regular: date, verified: bool
) -> None:
    window = submission_window(year)
    assert (window.closes, window.regular_close, window.verified) == (closes, regular, verified)
    assert window.closing_time == (f"{closes} {at}" if at else f"{closes} (time not stated)")
    assert window.extended == (closes != regular) and (window.extension is not None) == window.extended
    assert "http" in window.source  # every row says where its date comes from
    assert window.verified or window.note  # an unconfirmed date says why


def test_the_table_covers_every_year_from_2017_without_a_gap() -> None:
    assert sorted(SUBMISSION_WINDOWS) == [w[0] for w in WINDOWS]
    with pytest.raises(
        Exception, match=r"no MIPS submission window is known for PY2031 \(the tool knows PY2017-PY2026\)"
    ):
        submission_window(2031)


@given(st.dates(date(2018, 1, 1), date(2027, 12, 31)))
@example(date(2024, 4, 15))  # the extended closing day itself: still open that day
@example(date(2024, 4, 16))
def test_a_window_is_open_through_its_closing_day_and_only_one_closed_one_is_the_latest(day: date) -> None:
    opened = open_windows(day)
    assert all(w.closes >= day for w in opened) and opened == sorted(opened, key=lambda w: w.closes)
    closed = last_closed_window(day)
    assert closed is None or (closed.closes < day and all(w.closes <= closed.closes or w in opened
                                                          for w in SUBMISSION_WINDOWS.values()))  # fmt: skip


@given(st.integers(2017, 2027))
@example(2020)  # leap years: Oct 3 is still 90 days before Dec 31, Jul 1 still 6 months
@example(2024)
def test_latest_start_plus_the_term_reaches_december_31_exactly(year: int) -> None:
    start = cms.latest_start(year)
    assert cms.period_days(start, date(year, 12, 31)) == cms.minimum_days(year) == 90
    assert cms.period_days(start + timedelta(days=1), date(year, 12, 31)) < 90
    erp = cms.latest_start(year, "IA_ERP_1")  # 6 calendar months: July 1 - December 31
    assert erp == date(year, 7, 1) and cms.period_problem(year, erp, date(year, 12, 31), "IA_ERP_1") is None
    assert cms.period_problem(year, erp + timedelta(days=1), date(year, 12, 31), "IA_ERP_1") is not None


# --- The list --------------------------------------------------------------------------------------


def _store(app: App) -> None:
    """Two practices: an open audit (of PY2024: a notice comes after its year) and an attested IA_ERP_1
    at TIN, holds with and without a review date."""
    with app.write() as session:
        practice = factories.practice(session)
        other = factories.practice(session, OTHER)
        factories.attestation(session, practice, "IA_ERP_1", 2025, date(2025, 1, 1), date(2025, 12, 31))
        factories.attestation(session, practice, "IA_PSPA_8", 2019)
        factories.attestation(session, practice, "IA_PSPA_8", 2024)
        factories.attestation(session, other, "IA_BE_4", 2024)
        open_audit(session, TIN, 2024, date(2025, 5, 1), due=date(2025, 6, 15), reference="DVA;1,\\x", actor="t")
        add_hold(session, TIN, 2019, "counsel's letter\nline two\x1b[2J", actor="t")
        add_hold(session, OTHER, None, "litigation", review_on=date(2099, 1, 1), actor="t")


def test_the_list_has_every_kind_soonest_first_and_undated_holds_last(app: App) -> None:
    _store(app)
    with app.read() as session:
        rows = deadlines(session, as_of=AS_OF, include_all=True)
    got = [(r.day, r.kind, r.tin, r.year) for r in rows]
    assert got == [
        (date(2025, 6, 15), "audit-due", TIN, 2024),
        (date(2025, 7, 1), "latest-start", TIN, 2025),  # IA_ERP_1's 6 months: earlier than October 3
        (date(2025, 10, 3), "latest-start", None, 2025),
        (date(2025, 12, 31), "retention-ends", TIN, 2019),  # PY2019 + 6 years, held
        (date(2026, 1, 1), "purgeable", TIN, 2019),
        (date(2026, 3, 31), "submission", None, 2025),
        (date(2030, 12, 31), "retention-ends", TIN, 2024),
        (date(2030, 12, 31), "retention-ends", OTHER, 2024),
        (date(2031, 1, 1), "purgeable", TIN, 2024),
        (date(2031, 1, 1), "purgeable", OTHER, 2024),
        (date(2031, 12, 31), "retention-ends", TIN, 2025),
        (date(2032, 1, 1), "purgeable", TIN, 2025),
        (date(2099, 1, 1), "hold-review", OTHER, None),
        (None, "hold-no-review", TIN, 2019),
    ]
    by_kind = {r.kind: r for r in rows}
    assert "IA_ERP_1 (6 months)" in rows[1].title and by_kind["audit-due"].title.startswith("Audit #1 (DVA;1,\\x)")
    assert "kept past it: legal hold #1" in rows[3].detail and "held, not purgeable" in rows[4].detail
    assert rows[8].detail == "held, not purgeable; kept past it: open audit #1"  # an open audit holds its year
    assert rows[11].detail == "`evidence purge` may delete it from this day"  # PY2025: nothing holds it
    assert "NOT VERIFIED" in rows[5].detail and "no review date set" in rows[-1].detail
    assert len({r.uid for r in rows}) == len(rows)


def test_past_dates_drop_off_but_an_overdue_audit_stays(app: App) -> None:
    _store(app)
    with app.read() as session:
        rows = deadlines(session, as_of=date(2025, 11, 1))
    audit = rows[0]
    assert (audit.kind, audit.overdue, audit.days_left(date(2025, 11, 1))) == ("audit-due", True, -139)
    assert "overdue by 139 days" in audit.detail
    assert not [r for r in rows if r.kind == "latest-start"]  # July 1 and October 3 have passed
    assert [r.day for r in rows if r.kind == "retention-ends"] == [date(2025, 12, 31)]  # the rest is past the horizon


def test_retention_beyond_the_horizon_is_left_out_unless_all(app: App) -> None:
    _store(app)
    with app.read() as session:
        near = {(r.tin, r.year) for r in deadlines(session, as_of=AS_OF) if r.kind == "purgeable"}
        every = {(r.tin, r.year) for r in deadlines(session, as_of=AS_OF, include_all=True) if r.kind == "purgeable"}
    assert near == {(TIN, 2019)} and every == {(TIN, 2019), (TIN, 2024), (OTHER, 2024), (TIN, 2025)}
    assert date(2026, 1, 1) - AS_OF < timedelta(days=RETENTION_HORIZON_DAYS)


def test_tin_keeps_that_practices_rows_and_the_shared_ones(app: App) -> None:
    _store(app)
    with app.read() as session:
        rows = deadlines(session, as_of=AS_OF, tin=OTHER, include_all=True)
    assert {r.tin for r in rows} == {OTHER, None}
    assert [r.kind for r in rows if r.tin is None] == ["latest-start", "submission"]


def test_a_hold_whose_review_date_passed_becomes_an_undated_reminder(app: App) -> None:
    _store(app)
    with app.read() as session:
        rows = deadlines(session, as_of=date(2099, 1, 2), tin=OTHER)
    (hold,) = [r for r in rows if r.uid.startswith("hold-")]
    assert hold.day is None and "review date 2099-01-01 passed" in hold.detail


# --- The command -----------------------------------------------------------------------------------


def test_cli_json_and_csv_list_the_same_rows_with_days_left(app: App, run) -> None:
    _store(app)
    listed = json.loads(run("deadlines", "--as-of", "2025-06-02", "--format", "json").output)
    assert [row["days_left"] for row in listed[:3]] == [13, 29, 123]
    assert listed[0]["overdue"] is False and listed[-1]["date"] is None and listed[-1]["days_left"] is None
    csv_rows = run("deadlines", "--as-of", "2025-06-02", "--format", "csv").output.splitlines()
    assert csv_rows[0] == "date,days_left,kind,tin,year,title,detail,overdue,uid" and len(csv_rows) == len(listed) + 1
    table = run("deadlines", "--as-of", "2025-11-01").output
    assert "OVERDUE 139d" in table and "\x1b[31m" not in table  # red only on a terminal
    assert "\\x1b[2J" in table and "\x1b[2J" not in table  # the hold reason's escape is shown, not run


def test_the_ics_has_one_all_day_event_per_dated_deadline_with_a_7_day_alarm(app: App, run, tmp_path: Path) -> None:
    _store(app)
    out = tmp_path / "deadlines.ics"
    result = run("deadlines", "--as-of", "2025-06-02", "--all", "--ics", out)
    with app.read() as session:
        rows = [r for r in deadlines(session, as_of=AS_OF, include_all=True) if r.day is not None]
    assert f"wrote {out} ({len(rows)} events)" in result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    calendar = Calendar.from_ical(out.read_bytes())
    assert str(calendar["VERSION"]) == "2.0" and "evidence" in str(calendar["PRODID"])
    events = calendar.walk("VEVENT")
    assert [(str(e["UID"]), e.decoded("DTSTART")) for e in events] == [(r.uid, r.day) for r in rows]
    for event in events:
        assert type(event.decoded("DTSTART")) is date  # all-day: a DATE, not a DATE-TIME
        (alarm,) = event.walk("VALARM")
        assert str(alarm["ACTION"]) == "DISPLAY" and alarm.decoded("TRIGGER") == timedelta(days=-7)
    assert str(events[0]["SUMMARY"]).startswith("Audit #1 (DVA;1,\\x) response due")  # ; , \ round-trip
    assert b"DVA\\;1\\,\\\\x" in out.read_bytes()  # escaped in the file as RFC 5545 says
    again = tmp_path / "again.ics"
    run("deadlines", "--as-of", "2025-06-02", "--all", "--ics", again)
    assert again.read_bytes() == out.read_bytes()  # DTSTAMP from --as-of: the same store gives the same file


def test_hostile_hold_text_is_inert_in_the_calendar(app: App, run) -> None:
    _store(app)
    with app.write() as session:
        add_hold(session, TIN, None, "a\x1b[31m;b\u202e", review_on=date(2099, 2, 1), actor="t")
    ics = run("deadlines", "--as-of", "2025-06-02", "--tin", TIN, "--ics", "-").output
    assert "\x1b" not in ics and "\u202e" not in ics
    (event,) = [e for e in Calendar.from_ical(ics).walk("VEVENT") if str(e["UID"]).startswith("hold-3@")]
    assert str(event["DESCRIPTION"]).startswith("reason: a[U+001B][31m;b[U+202E]")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2025-02-30"], "--as-of"),
        (["--as-of", "next week"], "--as-of"),
        (["--tin", "000000001"], "no practice with TIN 000000001"),
        (["--tin", "12-34"], "--tin"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(app: App, run, tmp_path: Path, args: list[str], message: str) -> None:
    _store(app)
    out = tmp_path / "d.ics"
    result = run("deadlines", *args, "--ics", out, expect=None)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_the_calendar_is_never_written_inside_the_home_or_over_a_file(
    app: App, run, home: Path, tmp_path: Path
) -> None:
    _store(app)
    inside = run("deadlines", "--ics", home / "d.ics", expect=1).output
    assert inside.count("\n") == 1 and "cannot write the calendar" in inside and not (home / "d.ics").exists()
    existing = tmp_path / "old.ics"
    existing.write_text("keep me", encoding="utf-8")
    refused = run("deadlines", "--ics", existing, expect=1).output
    assert "the file exists; add --force to replace it" in refused and existing.read_text(encoding="utf-8") == "keep me"
    link = tmp_path / "link.ics"
    link.symlink_to(existing)
    assert "symbolic link" in run("deadlines", "--ics", link, "--force", expect=1).output
    run("deadlines", "--ics", existing, "--force")
    assert existing.read_bytes().startswith(b"BEGIN:VCALENDAR")


def test_overdue_rows_are_red_only_when_asked_for_a_terminal() -> None:
    from evidence.cli.output import render_table

    rows = [{"title": "late", "overdue": True}, {"title": "fine", "overdue": False}]
    red = render_table(rows, ["title"], width=40, alert=lambda row: bool(row["overdue"])).splitlines()
    assert red[2] == "\x1b[31mlate\x1b[0m" and red[3] == "fine"
    assert "\x1b" not in render_table(rows, ["title"], width=40)


@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31"])
def test_the_ends_of_the_calendar_are_a_list_not_a_crash(app: App, run, tmp_path: Path, as_of: str) -> None:
    _store(app)
    listed = json.loads(run("deadlines", "--as-of", as_of, "--all", "--format", "json").output)
    assert listed  # the undated hold reminder is always there
    run("deadlines", "--as-of", as_of, "--ics", tmp_path / "edge.ics")
