"""The coverage rule (evidence/rules/coverage.py): evidence counts when its effective range overlaps
the period, both ends included; a single date is a one-day range."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from evidence.errors import InputError
from evidence.rules import coverage

START, END = date(2020, 4, 1), date(2020, 9, 30)  # an attested period

# (case, effective_from, effective_until, covered)
ROWS = [
    ("single day before", date(2020, 3, 31), None, False),
    ("single day on the start", date(2020, 4, 1), None, True),
    ("single day inside", date(2020, 6, 15), None, True),
    ("single day on the end", date(2020, 9, 30), None, True),
    ("single day after", date(2020, 10, 1), None, False),
    ("range wholly before", date(2019, 1, 1), date(2020, 3, 31), False),
    ("range ending on the start", date(2019, 12, 1), date(2020, 4, 1), True),
    ("range inside", date(2020, 5, 1), date(2020, 5, 31), True),
    ("range spanning the period", date(2019, 12, 1), date(2020, 12, 31), True),
    ("range starting on the end", date(2020, 9, 30), date(2021, 3, 1), True),
    ("range wholly after", date(2020, 10, 1), date(2021, 3, 1), False),
    ("range exactly the period", START, END, True),
    ("one-day range equals a single day", date(2020, 3, 31), date(2020, 3, 31), False),
]


@pytest.mark.parametrize(("case", "start", "until", "covered"), ROWS, ids=[r[0] for r in ROWS])
def test_coverage_table(case: str, start: date, until: date | None, covered: bool) -> None:
    assert coverage.covers(start, until, START, END) is covered


# (case, a, b, overlap): open ends (None) for the general overlap
OPEN_ROWS = [
    ("open start, ends before", (None, date(2020, 3, 31)), (START, END), False),
    ("open start, ends on the start", (None, START), (START, END), True),
    ("open end, starts on the end", (END, None), (START, END), True),
    ("open end, starts after", (END + timedelta(days=1), None), (START, END), False),
    ("both open", (None, None), (START, END), True),
    ("open period", (date(1999, 1, 1), date(1999, 1, 1)), (None, None), True),
]


@pytest.mark.parametrize(("case", "a", "b", "overlap"), OPEN_ROWS, ids=[r[0] for r in OPEN_ROWS])
def test_open_ends(case: str, a: tuple[date | None, date | None], b: tuple[date, date], overlap: bool) -> None:
    assert coverage.overlaps(*a, *b) is overlap
    assert coverage.overlaps(*b, *a) is overlap


days = st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31))


def _range(draw_a: date, draw_b: date) -> tuple[date, date]:
    return min(draw_a, draw_b), max(draw_a, draw_b)


@given(days, days, days, days)
@example(date(2020, 4, 1), date(2020, 4, 1), START, END)  # one day on the start
@example(date(2019, 12, 1), date(2020, 12, 31), START, END)  # spanning
@example(date(2020, 10, 1), date(2020, 10, 1), START, END)  # the day after
def test_overlap_is_symmetric_and_means_a_shared_day(a1: date, a2: date, b1: date, b2: date) -> None:
    a, b = _range(a1, a2), _range(b1, b2)
    assert coverage.overlaps(*a, *b) == coverage.overlaps(*b, *a)
    shared = max(a[0], b[0]) <= min(a[1], b[1])  # the latest start is not after the earliest end
    assert coverage.overlaps(*a, *b) is shared


@given(days, days, days)
@example(date(2020, 3, 31), START, END)
@example(START, START, END)
@example(END, START, END)
def test_a_single_date_is_a_one_day_range_and_must_fall_inside(day: date, p1: date, p2: date) -> None:
    start, end = _range(p1, p2)
    assert coverage.covers(day, None, start, end) == coverage.covers(day, day, start, end)
    assert coverage.covers(day, None, start, end) is (start <= day <= end)


@given(days, days, days, days)
@example(date(2020, 1, 1), date(2020, 6, 1), START, END)
def test_a_longer_range_covers_whatever_a_shorter_one_inside_it_covers(a1: date, a2: date, p1: date, p2: date) -> None:
    inner, (start, end) = _range(a1, a2), _range(p1, p2)
    wider = (inner[0] - timedelta(days=30), inner[1] + timedelta(days=30))
    if coverage.covers(*inner, start, end):
        assert coverage.covers(*wider, start, end)


@pytest.mark.parametrize(
    ("start", "until", "stored"),
    [
        (date(2020, 1, 1), None, (date(2020, 1, 1), None)),
        (date(2020, 1, 1), date(2020, 1, 1), (date(2020, 1, 1), None)),  # one day is a date
        (date(2019, 12, 1), date(2020, 12, 31), (date(2019, 12, 1), date(2020, 12, 31))),
    ],
)
def test_normalized_range(start: date, until: date | None, stored: tuple[date, date | None]) -> None:
    assert coverage.normalized_range(start, until) == stored


def test_a_range_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(InputError, match=r"ends \(2020-01-01\) before it starts \(2020-12-01\)"):
        coverage.normalized_range(date(2020, 12, 1), date(2020, 1, 1))


@pytest.mark.parametrize(
    ("start", "until", "problem"),
    [
        (date(2020, 6, 1), None, None),
        (date(2019, 12, 1), date(2020, 12, 31), None),
        (
            date(2020, 3, 1),
            None,
            "effective 2020-03-01 lies wholly outside the attested period 2020-04-01 to 2020-09-30",
        ),
        (date(2020, 10, 1), date(2020, 12, 31), "lies wholly outside the attested period"),
        (date(2021, 1, 1), None, "effective 2021-01-01 is after performance year 2020"),
        (date(2021, 2, 1), date(2021, 3, 1), "effective 2021-02-01 to 2021-03-01 is after performance year 2020"),
    ],
)
def test_placement_problem(start: date, until: date | None, problem: str | None) -> None:
    found = coverage.placement_problem(start, until, START, END, 2020)
    assert found is None if problem is None else problem in (found or "")


def test_describe() -> None:
    assert coverage.describe(date(2020, 10, 5), None) == "2020-10-05"
    assert coverage.describe(date(2019, 12, 1), date(2020, 12, 31)) == "2019-12-01 to 2020-12-31"
