"""Issue #14: each activity's own minimum duration and CMS's 2025 suspension, as data and as rules.

The completeness tests read CMS's files (../shared/reference/qpp-measures-data): a description
with a duration phrase that no table of evidence.rules.activity_terms accounts for fails here.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from evidence.rules import activity_terms as terms
from evidence.rules import cms, credit
from tests.conftest import reference_file

CMS_YEARS = range(2017, 2028)

# What counts as a duration phrase in a description: a number of months/weeks/days/years, or
# words that set how long or how often ("minimum", "at least", "annual", "every", "ongoing", ...).
DURATION_PHRASE = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[\s-]*(month|week|day|year)s?\b"
    r"|\bminimum\b|\bat least\b|\bannual|\bquarterl|\bmonthly\b|\bweekly\b|\bevery\b|\bongoing\b"
    r"|\bcontinuous|\bconsecutive\b|\bduration\b",
    re.IGNORECASE,
)


def cms_entries(year: int) -> list[dict[str, str]]:
    return [e for e in json.loads(reference_file(year).read_text(encoding="utf-8")) if e.get("category") == "ia"]


def _accounted(year: int, activity_id: str) -> bool:
    if terms.term(year, activity_id) or terms.schedule(year, activity_id) or terms.suspension(year, activity_id):
        return True
    first, last, _why = terms.NOT_DURATIONS.get(activity_id, (0, -1, ""))
    return first <= year <= last


@pytest.mark.parametrize("year", CMS_YEARS)
def test_every_description_with_a_duration_phrase_was_read(year: int) -> None:
    unread = [
        f"{e['measureId']}: {DURATION_PHRASE.search(e['description']).group(0)!r}"  # type: ignore[union-attr]
        for e in cms_entries(year)
        if DURATION_PHRASE.search(e.get("description") or "") and not _accounted(year, e["measureId"])
    ]
    assert not unread, f"PY{year}: record these in activity_terms (TERMS, SCHEDULES or NOT_DURATIONS): {unread}"


@pytest.mark.parametrize("year", CMS_YEARS)
def test_each_recorded_sentence_is_cms_text_of_that_year(year: int) -> None:
    descriptions = {e["measureId"]: e.get("description") or "" for e in cms_entries(year)}
    for row in (*terms.TERMS, *terms.SCHEDULES, *terms.SUSPENSIONS):
        covers = row.year == year if isinstance(row, terms.Suspension) else row.first_year <= year <= row.last_year
        if covers:
            assert row.sentence in descriptions.get(row.activity_id, ""), f"{row.activity_id} PY{year}"


def test_the_not_durations_name_activities_whose_text_has_a_duration_phrase() -> None:
    """A stale row (an id or year span CMS's files do not back) would hide a future description."""
    for activity_id, (first, last, why) in terms.NOT_DURATIONS.items():
        assert why
        hits = [y for y in range(first, last + 1) for e in cms_entries(y)
                if e["measureId"] == activity_id and DURATION_PHRASE.search(e.get("description") or "")]  # fmt: skip
        assert hits and min(hits) == first and max(hits) == last, activity_id


def test_the_suspensions_are_the_eight_cms_marked_suspended_in_2025() -> None:
    marked = {e["measureId"] for e in cms_entries(2025) if "suspended" in (e.get("description") or "")}
    assert marked == {s.activity_id for s in terms.SUSPENSIONS} and len(marked) == 8
    later = {e["measureId"] for y in (2026, 2027) for e in cms_entries(y)}
    assert not marked & later, "CMS removed them from PY2026 on"


# --- The rules, one row each ---------------------------------------------------------------------

D = date
TERM_ROWS = {
    # name: (year, activity, start, end, refused)
    "IA_ERP_1 90 days": (2025, "IA_ERP_1", D(2025, 10, 3), D(2025, 12, 31), True),
    "IA_ERP_1 one day short of 6 months": (2025, "IA_ERP_1", D(2025, 1, 15), D(2025, 7, 13), True),
    "IA_ERP_1 exactly 6 months": (2025, "IA_ERP_1", D(2025, 1, 15), D(2025, 7, 14), False),
    "IA_ERP_1 from the latest start": (2025, "IA_ERP_1", D(2025, 7, 1), D(2025, 12, 31), False),
    "IA_ERP_1 a day after the latest start": (2025, "IA_ERP_1", D(2025, 7, 2), D(2025, 12, 31), True),
    "IA_ERP_1 PY2017": (2017, "IA_ERP_1", D(2017, 3, 1), D(2017, 6, 30), True),
    "IA_PSPA_5 PY2018 6 months": (2018, "IA_PSPA_5", D(2018, 1, 1), D(2018, 6, 30), False),
    "IA_PSPA_5 PY2019 5 months": (2019, "IA_PSPA_5", D(2019, 1, 1), D(2019, 5, 31), True),
    "IA_PSPA_5 PY2020: no longer in the text": (2020, "IA_PSPA_5", D(2020, 1, 1), D(2020, 3, 31), False),
    "IA_ERP_2 60 days: the 90-day floor stands": (2020, "IA_ERP_2", D(2020, 1, 1), D(2020, 3, 30), False),
    "IA_PSPA_2 monthly: shown, not checked": (2020, "IA_PSPA_2", D(2020, 1, 1), D(2020, 3, 30), False),
}


@pytest.mark.parametrize("name", TERM_ROWS)
def test_activity_minimum(name: str) -> None:
    year, activity_id, start, end, refused = TERM_ROWS[name]
    problem = cms.period_problem(year, start, end, activity_id)
    assert (problem is not None) == refused, problem
    if refused:
        assert problem is not None and problem.startswith(f'{activity_id} needs at least 6 months (CMS: "')


def test_the_refusal_line_names_the_rule_the_cms_sentence_the_length_and_the_latest_start() -> None:
    problem = cms.period_problem(2025, D(2025, 10, 3), D(2025, 12, 31), "IA_ERP_1")
    assert problem == (
        'IA_ERP_1 needs at least 6 months (CMS: "MIPS eligible clinicians and MIPS eligible clinician groups '
        'must be registered for a minimum of 6 months as a volunteer for disaster or emergency response."); '
        "the period 2025-10-03 to 2025-12-31 is 90 days (it would have to run through 2026-04-02); "
        "latest start for PY2025: 2025-07-01"
    )


LATEST_START_ROWS = {
    "90-day floor": (2025, None, D(2025, 10, 3)),
    "90-day floor, activity without its own term": (2025, "IA_PM_7", D(2025, 10, 3)),
    "6 months, 2025": (2025, "IA_ERP_1", D(2025, 7, 1)),
    "6 months, leap year 2024": (2024, "IA_ERP_1", D(2024, 7, 1)),
    "IA_PSPA_5 PY2019": (2019, "IA_PSPA_5", D(2019, 7, 1)),
    "IA_PSPA_5 PY2020 (no term)": (2020, "IA_PSPA_5", D(2020, 10, 3)),
}


@pytest.mark.parametrize("name", LATEST_START_ROWS)
def test_latest_start(name: str) -> None:
    year, activity_id, expected = LATEST_START_ROWS[name]
    assert cms.latest_start(year, activity_id) == expected


SUSPENSION_ROWS = {
    "started 2025-04-01: credit kept": (2025, "IA_ERP_3", D(2025, 4, 1), False),
    "started the day before": (2025, "IA_AHE_8", D(2025, 5, 5), False),
    "started on the day": (2025, "IA_AHE_8", D(2025, 5, 6), True),
    "started 2025-06-01": (2025, "IA_PM_26", D(2025, 6, 1), True),
    "PY2024 is not suspended": (2024, "IA_ERP_3", D(2024, 6, 1), False),
    "not a suspended activity": (2025, "IA_PM_7", D(2025, 6, 1), False),
}


@pytest.mark.parametrize("name", SUSPENSION_ROWS)
def test_suspension(name: str) -> None:
    year, activity_id, start, refused = SUSPENSION_ROWS[name]
    problem = cms.suspension_problem(year, activity_id, start)
    assert (problem is not None) == refused, problem
    if refused:
        assert problem is not None and f"{activity_id} is suspended for PY2025 from 2025-05-06" in problem
        assert "CMS QPP notice of May 6, 2025" in problem


# --- Calendar months (docs/DATES.md) -------------------------------------------------------------

SIX_MONTHS = terms.term(2025, "IA_ERP_1")
assert SIX_MONTHS is not None
days = st.dates(min_value=D(2017, 1, 1), max_value=D(2027, 12, 31))  # the years IA_ERP_1 has the term


@given(start=days, months=st.integers(min_value=1, max_value=12))
@example(start=D(2025, 1, 15), months=6)  # -> Jul 15
@example(start=D(2024, 8, 31), months=6)  # no Feb 31 -> Mar 1
@example(start=D(2023, 8, 29), months=6)  # -> Feb 29, 2024 (leap)
@example(start=D(2025, 1, 31), months=1)  # -> Mar 1
@example(start=D(2024, 2, 29), months=12)  # -> Mar 1, 2025
@example(start=D(2025, 12, 31), months=6)  # across the year end
def test_months_later_is_the_same_day_or_the_next_months_first(start: date, months: int) -> None:
    later = terms.months_later(start, months)
    expected_month = (start.month - 1 + months) % 12 + 1
    if later.day == start.day:
        assert later.month == expected_month
    else:  # the day does not exist in that month: the first of the month after it
        assert later.day == 1 and later.month == expected_month % 12 + 1 and start.day > 28
    assert 28 * months <= (later - start).days <= 31 * months + 3


@given(start=days)
@example(start=D(2025, 1, 15))  # through Jul 14
@example(start=D(2024, 8, 31))  # through Feb 28, 2025 (Feb's last day)
@example(start=D(2023, 8, 31))  # through Feb 29, 2024 (leap)
@example(start=D(2024, 2, 29))  # through Aug 28
def test_six_months_end_the_day_before_the_same_day_six_months_on(start: date) -> None:
    assert SIX_MONTHS is not None
    end = terms.earliest_end(start, SIX_MONTHS)
    assert end == terms.months_later(start, 6) - timedelta(days=1)
    assert 181 <= cms.period_days(start, end) <= 184  # six calendar months: 181 to 184 days
    year = start.year
    if end.year == year:
        assert cms.activity_term_problem(year, "IA_ERP_1", start, end) is None
        assert cms.activity_term_problem(year, "IA_ERP_1", start, end - timedelta(days=1)) is not None


@given(year=st.integers(min_value=2017, max_value=2027))
@example(year=2024)  # leap year
@example(year=2025)
def test_latest_start_is_the_last_start_that_fits(year: int) -> None:
    assert SIX_MONTHS is not None
    latest = cms.latest_start(year, "IA_ERP_1")
    assert terms.earliest_end(latest, SIX_MONTHS) <= D(year, 12, 31)
    assert terms.earliest_end(latest + timedelta(days=1), SIX_MONTHS) > D(year, 12, 31)


# --- The credit verdict ---------------------------------------------------------------------------

COVERED = (credit.ItemFacts(1, covered=True),)


def _facts(activity_id: str, start: date, end: date, *, participants=(), clinicians: int = 0) -> credit.CreditFacts:
    group = bool(clinicians)
    return credit.CreditFacts(2025, activity_id, start, end, group, "single", COVERED, tuple(participants), clinicians)


def _participant(number: int, start: date, end: date) -> credit.ParticipantFacts:
    return credit.ParticipantFacts(f"10000000{number:02d}", start, end, bills_under_tin=True)


VERDICT_ROWS = {
    # name: (facts, failed checks, claimable)
    "IA_ERP_1 for 90 days": (_facts("IA_ERP_1", D(2025, 10, 3), D(2025, 12, 31)), ["duration"], False),
    "IA_ERP_1 for 6 months": (_facts("IA_ERP_1", D(2025, 1, 1), D(2025, 6, 30)), [], True),
    "IA_ERP_3 started 2025-06-01": (_facts("IA_ERP_3", D(2025, 6, 1), D(2025, 12, 31)), ["suspension"], False),
    "IA_ERP_3 started 2025-04-01": (_facts("IA_ERP_3", D(2025, 4, 1), D(2025, 12, 31)), [], True),
    "group: participants' own 90 days do not meet 6 months": (
        _facts("IA_ERP_1", D(2025, 1, 1), D(2025, 12, 31), clinicians=2,
               participants=[_participant(1, D(2025, 1, 1), D(2025, 3, 31)), _participant(2, D(2025, 1, 1),
                                                                                          D(2025, 6, 30))]),
        ["participants"], True),  # 1 of 2 valid: 50% met, the short one puts it at risk
    "group: a participant who started after the suspension does not count": (
        _facts("IA_PM_26", D(2025, 1, 1), D(2025, 12, 31), clinicians=2,
               participants=[_participant(1, D(2025, 6, 1), D(2025, 12, 31))]),
        ["group participation", "participants"], False),
}  # fmt: skip


@pytest.mark.parametrize("name", VERDICT_ROWS)
def test_the_verdict_judges_the_activitys_own_terms(name: str) -> None:
    facts, failed, claimable = VERDICT_ROWS[name]
    verdict = credit.verdict(facts)
    assert [c.name for c in verdict.failed] == failed, verdict.reasons
    assert verdict.claimable == claimable
    if "group participation" in failed:
        assert "have their own period of 90+ days" in " ".join(verdict.reasons)  # IA_PM_26: the floor
    if facts.group and facts.activity_id == "IA_ERP_1":
        group = next(c for c in verdict.checks if c.name == "group participation")
        assert "1 of 2 clinicians (50%) have their own period of at least 6 months" in group.reasons[0]
    names = [c.name for c in verdict.checks]
    assert ("duration" in names) == (facts.activity_id == "IA_ERP_1")
    assert ("suspension" in names) == (facts.activity_id in terms.SUSPENDED_IN_2025)
