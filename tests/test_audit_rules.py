"""The audit clock (rules.cms.audit_due_date): a response is due 45 calendar days after the notice.

Source: 42 CFR 414.1390 and CMS's MIPS Data Validation and Audit fact sheets (docs/RULES-SOURCES.md).
The property test counts the days with its own calendar (month lengths and the Gregorian leap
rule), not with the date arithmetic the rule itself uses.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from evidence.rules import cms as rules

# (rule, value the code holds)
RULES = [
    ("a response is due this many calendar days after the notice", rules.AUDIT_RESPONSE_DAYS, 45),
    ("an audit closes with one of CMS's outcomes", rules.AUDIT_OUTCOMES, ("passed", "failed", "withdrawn")),
]


@pytest.mark.parametrize(("rule", "actual", "expected"), RULES, ids=[r[0] for r in RULES])
def test_audit_rule(rule: str, actual: object, expected: object) -> None:
    assert actual == expected, rule


DUE_DATES = [
    # (notice received, calendar days, due)
    (date(2024, 1, 15), 45, date(2024, 2, 29)),  # through a leap February
    (date(2023, 1, 15), 45, date(2023, 3, 1)),  # the same day in a common year
    (date(2023, 11, 17), 45, date(2024, 1, 1)),  # across the year end
    (date(2024, 11, 20), 45, date(2025, 1, 4)),
    (date(2024, 12, 31), 45, date(2025, 2, 14)),
    (date(2100, 1, 15), 45, date(2100, 3, 1)),  # 2100 is not a leap year (divisible by 100, not 400)
    (date(2000, 1, 15), 45, date(2000, 2, 29)),  # 2000 is (divisible by 400)
    (date(2024, 11, 20), 10, date(2024, 11, 30)),  # a period the notice sets otherwise
    (date(2024, 11, 20), 0, date(2024, 11, 20)),
]


@pytest.mark.parametrize(("received", "days", "due"), DUE_DATES)
def test_due_date(received: date, days: int, due: date) -> None:
    assert rules.audit_due_date(received, days) == due


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if _leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _count_forward(start: date, days: int) -> date:
    """`days` calendar days after `start`, a month at a time: the oracle the rule is checked against."""
    year, month, day = start.year, start.month, start.day
    while days:
        left_in_month = _month_days(year, month) - day
        if days <= left_in_month:
            day, days = day + days, 0
        else:
            days -= left_in_month + 1
            year, month, day = (year + 1, 1, 1) if month == 12 else (year, month + 1, 1)
    return date(year, month, day)


@given(received=st.dates(min_value=date(2017, 1, 1), max_value=date(2100, 12, 31)), days=st.integers(0, 400))
@example(received=date(2024, 1, 15), days=45)  # leap February
@example(received=date(2023, 11, 17), days=45)  # lands on January 1
@example(received=date(2024, 12, 31), days=45)  # from the last day of a leap year
@example(received=date(2100, 2, 14), days=45)  # 2100: no February 29
@example(received=date(2100, 12, 31), days=0)
def test_due_date_counts_calendar_days(received: date, days: int) -> None:
    due = rules.audit_due_date(received, days)
    assert due == _count_forward(received, days)
    assert (due - received).days == days and due >= received


@given(received=st.dates(min_value=date(2017, 1, 1), max_value=date(2100, 12, 31)))
@example(received=date(2100, 2, 14))
def test_default_period_is_45_days(received: date) -> None:
    assert rules.audit_due_date(received) == _count_forward(received, 45)


NOTICES = [
    # (performance year, notice received, refused?)
    (2020, date(2021, 1, 1), False),  # the first day after the year: the earliest possible notice
    (2020, date(2020, 12, 31), True),  # the year's last day: nothing has been submitted yet
    (2020, date(2020, 5, 1), True),  # during the year
    (2020, date(1900, 1, 1), True),  # a typo in the year
    (2024, date(2026, 11, 20), False),
    (2024, date(2025, 1, 1), False),
    (2024, date(2024, 12, 31), True),  # a leap year's last day
]


@pytest.mark.parametrize(("year", "received", "refused"), NOTICES)
def test_a_notice_comes_only_after_its_performance_year(year: int, received: date, refused: bool) -> None:
    problem = rules.audit_notice_problem(year, received)
    assert (problem is not None) is refused
    if refused:
        assert problem is not None and f"--received {received}" in problem and f"year {year} ended" in problem


@given(year=st.integers(2017, 2099), offset=st.integers(-800, 800))
@example(year=2020, offset=0)  # December 31 itself is refused
@example(year=2020, offset=1)  # January 1 after it is the first day accepted
@example(year=2024, offset=0)  # a leap year's December 31
@example(year=2099, offset=1)
def test_the_notice_edge_is_the_day_after_december_31(year: int, offset: int) -> None:
    received = date(year, 12, 31) + timedelta(days=offset)
    assert (rules.audit_notice_problem(year, received) is None) is (offset >= 1)
