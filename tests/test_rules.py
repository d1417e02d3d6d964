"""Every rule in evidence.rules.cms, one table row each (RULES.md), and the period rule's edges."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evidence.rules import cms as rules

pure = settings(max_examples=300)

# --- Points --------------------------------------------------------------------------------------

# (year, weight, statuses that apply, expected activity points)
ACTIVITY_POINTS = [
    pytest.param(2020, "medium", set(), 10, id="weighted-medium-10"),
    pytest.param(2020, "high", set(), 20, id="weighted-high-20"),
    pytest.param(2017, "medium", set(), 10, id="first-year-medium-10"),
    pytest.param(2024, "high", set(), 20, id="last-weighted-year-high-20"),
    pytest.param(2020, "medium", {"small_practice"}, 20, id="medium-doubled-small-practice"),
    pytest.param(2020, "high", {"small_practice"}, 40, id="high-doubled-small-practice"),
    pytest.param(2019, "medium", {"rural"}, 20, id="medium-doubled-rural"),
    pytest.param(2019, "high", {"rural"}, 40, id="high-doubled-rural"),
    pytest.param(2021, "medium", {"hpsa"}, 20, id="medium-doubled-hpsa"),
    pytest.param(2021, "high", {"hpsa"}, 40, id="high-doubled-hpsa"),
    pytest.param(2024, "medium", {"non_patient_facing"}, 20, id="medium-doubled-non-patient-facing"),
    pytest.param(2024, "high", {"non_patient_facing"}, 40, id="high-doubled-non-patient-facing"),
    pytest.param(2020, "medium", {"hospital_based"}, 10, id="hospital-based-alone-not-doubled"),
    pytest.param(2020, "high", {"asc_based"}, 20, id="asc-based-alone-not-doubled"),
    pytest.param(2020, "high", {"hospital_based", "asc_based"}, 20, id="hospital-and-asc-not-doubled"),
    pytest.param(2020, "medium", {"hospital_based", "rural"}, 20, id="rural-doubles-beside-hospital"),
    pytest.param(2020, "high", {"small_practice", "rural"}, 40, id="two-statuses-double-once"),
    pytest.param(2020, "none", set(), 0, id="unweighted-entry-no-weight-points"),
    pytest.param(2025, None, set(), 20, id="unweighted-2025-20"),
    pytest.param(2025, None, {"small_practice"}, 40, id="unweighted-2025-doubled-40"),
    pytest.param(2027, None, {"hpsa"}, 40, id="unweighted-2027-doubled-40"),
    pytest.param(2026, None, {"asc_based"}, 20, id="unweighted-2026-asc-not-doubled"),
]


@pytest.mark.parametrize(("year", "weight", "statuses", "expected"), ACTIVITY_POINTS)
def test_activity_points(year: int, weight: str | None, statuses: set[str], expected: int) -> None:
    special = rules.has_ia_special_status(year, statuses)
    assert rules.activity_points(year, weight, special) == expected


def test_weighted_year_refuses_an_activity_without_weight() -> None:
    with pytest.raises(ValueError, match="weighted"):
        rules.activity_base_points(2020, None)


# (year, raw points, expected category score)
CATEGORY = [
    pytest.param(2020, 0, Fraction(0), id="nothing"),
    pytest.param(2020, 30, Fraction(3, 4), id="partial"),
    pytest.param(2020, 40, Fraction(1), id="exactly-full"),
    pytest.param(2020, 60, Fraction(1), id="cap-at-40"),
    pytest.param(2020, 20 + 20 + 40, Fraction(1), id="cap-with-doubled-high"),
    pytest.param(2020, rules.full_credit_points(2020), Fraction(1), id="pcmh-full-credit"),
    pytest.param(2020, rules.apm_credit(2020, "mips"), Fraction(1), id="mips-apm-full-credit"),
    pytest.param(2021, rules.apm_credit(2021, "app"), Fraction(1), id="app-full-credit"),
    pytest.param(2020, rules.apm_credit(2020, "other"), Fraction(1, 2), id="other-apm-half-credit"),
    pytest.param(
        2020,
        rules.apm_credit(2020, "other") + rules.activity_points(2020, "medium", False),
        Fraction(3, 4),
        id="other-apm-half-plus-medium",
    ),
    pytest.param(
        2020,
        rules.apm_credit(2020, "other") + rules.activity_points(2020, "high", False),
        Fraction(1),
        id="other-apm-half-plus-high-full",
    ),
    pytest.param(2020, rules.apm_credit(2020, "none"), Fraction(0), id="no-apm-nothing"),
    pytest.param(2025, 2 * rules.activity_points(2025, None, False), Fraction(1), id="2025-two-activities-full"),
    pytest.param(2025, rules.activity_points(2025, None, False), Fraction(1, 2), id="2025-one-activity-half"),
    pytest.param(2025, rules.activity_points(2025, None, True), Fraction(1), id="2025-one-special-full"),
]


@pytest.mark.parametrize(("year", "raw", "expected"), CATEGORY)
def test_category_score(year: int, raw: int, expected: Fraction) -> None:
    assert rules.category_score(year, raw) == expected
    assert rules.capped_points(year, raw) == min(raw, 40)


@pytest.mark.parametrize(
    ("year", "kind", "points"),
    [
        pytest.param(2020, "mips", 40, id="mips-full"),
        pytest.param(2021, "app", 40, id="app-full"),
        pytest.param(2020, "other", 20, id="other-half"),
        pytest.param(2020, "none", 0, id="none"),
    ],
)
def test_apm_credit(year: int, kind: str, points: int) -> None:
    assert rules.apm_credit(year, kind) == points


def test_pcmh_earns_full_credit_in_every_year() -> None:
    for year in range(2017, 2028):
        assert rules.earns_full_credit(year, "IA_PCMH")
        assert not rules.earns_full_credit(year, "IA_PM_2")
    assert rules.full_credit_points(2020) == 40


@pytest.mark.parametrize(
    ("kind", "raw", "weight", "final"),
    [
        pytest.param("none", 40, 15, Fraction(15), id="weight-15"),
        pytest.param("mips", 40, 15, Fraction(15), id="mips-apm-ended-weight-15"),
        pytest.param("app", 40, 20, Fraction(20), id="app-weight-20"),
        pytest.param("other", 30, 15, Fraction(45, 4), id="three-quarters-of-15"),
        pytest.param("app", 20, 20, Fraction(10), id="half-of-20"),
    ],
)
def test_final_score_weight(kind: str, raw: int, weight: int, final: Fraction) -> None:
    assert rules.final_score_weight(2021, kind) == weight
    assert rules.final_score_points(2021, raw, kind) == final


# --- Special statuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "doubles"),
    [
        pytest.param("small_practice", True, id="small-practice-counts"),
        pytest.param("rural", True, id="rural-counts"),
        pytest.param("hpsa", True, id="hpsa-counts"),
        pytest.param("non_patient_facing", True, id="npf-counts"),
        pytest.param("hospital_based", False, id="hospital-based-does-not-count"),
        pytest.param("asc_based", False, id="asc-based-does-not-count"),
    ],
)
def test_which_statuses_double_ia_points(status: str, doubles: bool) -> None:
    assert rules.status_doubles_ia_points(2020, status) is doubles


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        pytest.param(lambda: rules.is_small_practice(2020, 15), True, id="small-15"),
        pytest.param(lambda: rules.is_small_practice(2020, 16), False, id="not-small-16"),
        pytest.param(lambda: rules.is_small_practice(2020, 0), False, id="no-clinicians-not-judged"),
        pytest.param(lambda: rules.is_non_patient_facing(2020, 100), True, id="npf-100"),
        pytest.param(lambda: rules.is_non_patient_facing(2020, 101), False, id="patient-facing-101"),
        pytest.param(lambda: rules.is_non_patient_facing(2020, None), False, id="unknown-not-npf"),
        pytest.param(lambda: rules.is_pos_based(2020, 75.0), True, id="pos-based-75"),
        pytest.param(lambda: rules.is_pos_based(2020, 74.9), False, id="pos-not-based-74.9"),
        pytest.param(lambda: rules.is_pos_based(2020, None), False, id="pos-unknown"),
    ],
)
def test_status_thresholds(check, expected: bool) -> None:
    assert check() is expected


# One row per group special-status rule per year it changed (docs/RULES-SOURCES.md).
@pytest.mark.parametrize(
    ("year", "status", "count", "clinicians", "met"),
    [
        pytest.param(2017, "rural", 1, 4, True, id="2017-rural-one-practice-site-enough"),
        pytest.param(2017, "hpsa", 1, 40, True, id="2017-hpsa-one-practice-site-enough"),
        pytest.param(2017, "rural", 0, 4, False, id="2017-rural-none"),
        pytest.param(2018, "rural", 1, 4, False, id="2018-rural-one-of-four-not-enough"),
        pytest.param(2018, "rural", 3, 4, False, id="2018-rural-75-not-more"),
        pytest.param(2018, "hpsa", 751, 1000, True, id="2018-hpsa-75.1"),
        pytest.param(2020, "rural", 750, 1000, False, id="2020-rural-750-of-1000"),
        pytest.param(2025, "hpsa", 4, 5, True, id="2025-hpsa-80"),
        pytest.param(2017, "non_patient_facing", 1, 4, False, id="2017-npf-needs-share"),
        pytest.param(2017, "non_patient_facing", 4, 5, True, id="2017-npf-80"),
        pytest.param(2020, "non_patient_facing", 3, 4, False, id="2020-npf-75-not-more"),
        pytest.param(2018, "hospital_based", 4, 5, False, id="2018-hospital-needs-all"),
        pytest.param(2018, "hospital_based", 5, 5, True, id="2018-hospital-all"),
        pytest.param(2019, "hospital_based", 4, 5, True, id="2019-hospital-more-than-75"),
        pytest.param(2019, "hospital_based", 3, 4, False, id="2019-hospital-75-not-more"),
        pytest.param(2020, "asc_based", 4, 4, True, id="asc-group-all"),
        pytest.param(2020, "asc_based", 3, 4, False, id="asc-group-all-but-one"),
        pytest.param(2017, "rural", 0, 0, False, id="empty-group-has-no-status"),
        pytest.param(2020, "asc_based", 0, 0, False, id="asc-empty-group"),
    ],
)
def test_group_status_thresholds_by_year(year: int, status: str, count: int, clinicians: int, met: bool) -> None:
    assert rules.group_status_met(year, status, count, clinicians) is met


def test_every_group_status_has_a_rule_in_every_year() -> None:
    group_statuses = [s for s in rules.SPECIAL_STATUSES if s != "small_practice"]
    for year in range(rules.FIRST_PERFORMANCE_YEAR, 2031):
        for status in group_statuses:
            assert rules.group_threshold(year, status) in set(rules.GroupThreshold)


# --- Group reporting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "participating", "clinicians", "met"),
    [
        pytest.param(2017, 1, 1000, True, id="2017-one-clinician-enough"),
        pytest.param(2019, 1, 1000, True, id="2019-one-clinician-enough"),
        pytest.param(2019, 0, 10, False, id="2019-nobody"),
        pytest.param(2020, 1, 1000, False, id="2020-one-clinician-not-enough"),
        pytest.param(2020, 499, 1000, False, id="2020-49.9-percent-fails"),
        pytest.param(2020, 500, 1000, True, id="2020-50-percent-passes"),
        pytest.param(2020, 1, 2, True, id="2020-one-of-two-passes"),
        pytest.param(2020, 1, 4, False, id="2020-one-of-four-fails"),
        pytest.param(2024, 2, 4, True, id="2024-two-of-four-passes"),
        pytest.param(2025, 3, 7, False, id="2025-three-of-seven-fails"),
        pytest.param(2025, 4, 7, True, id="2025-four-of-seven-passes"),
        pytest.param(2020, 0, 0, False, id="no-clinicians"),
    ],
)
def test_group_participation(year: int, participating: int, clinicians: int, met: bool) -> None:
    assert rules.group_participation_met(year, participating, clinicians) is met


def test_half_of_clinicians_rule_starts_in_2020() -> None:
    assert [y for y in range(2017, 2031) if rules.group_needs_half_of_clinicians(y)] == list(range(2020, 2031))


# --- Performance period (property-based) ---------------------------------------------------------

years = st.integers(min_value=2017, max_value=2030)


def year_length(year: int) -> int:
    return rules.period_days(date(year, 1, 1), date(year, 12, 31))


@st.composite
def valid_periods(draw: st.DrawFn) -> tuple[int, date, date]:
    """Any period of 90+ consecutive days inside a year."""
    year = draw(years)
    length = draw(st.integers(min_value=90, max_value=year_length(year)))
    offset = draw(st.integers(min_value=0, max_value=year_length(year) - length))
    start = date(year, 1, 1) + timedelta(days=offset)
    return year, start, start + timedelta(days=length - 1)


@pure
@given(valid_periods())
@example((2020, date(2020, 1, 1), date(2020, 12, 31)))  # a leap year's 366 days
@example((2024, date(2024, 10, 3), date(2024, 12, 31)))
@example((2020, date(2020, 2, 1), date(2020, 4, 30)))  # 29 + 31 + 30 = 90 with Feb 29
def test_every_period_of_90_days_inside_the_year_passes(period: tuple[int, date, date]) -> None:
    year, start, end = period
    assert rules.period_problem(year, start, end) is None


@pure
@given(years, st.integers(min_value=1, max_value=89), st.integers(min_value=0, max_value=365))
@example(2021, 89, 31)  # Feb 1 - Apr 30 is 89 days without a Feb 29
@example(2024, 89, 277)  # Oct 4 in a leap year
@example(2017, 1, 0)  # "is 1 day", not "1 days"
def test_shorter_periods_fail(year: int, length: int, offset: int) -> None:
    start = date(year, 1, 1) + timedelta(days=min(offset, year_length(year) - length))
    end = start + timedelta(days=length - 1)
    problem = rules.period_problem(year, start, end)
    assert problem is not None and f"is {length} {'day' if length == 1 else 'days'};" in problem


@pure
@given(valid_periods(), st.integers(min_value=1, max_value=400), st.booleans())
def test_periods_reaching_outside_the_year_fail(period: tuple[int, date, date], shift: int, later: bool) -> None:
    year, start, end = period
    delta = timedelta(days=shift if later else -shift)
    start, end = start + delta, end + delta
    if start.year == year and end.year == year:
        return  # still inside: covered by the passing property
    problem = rules.period_problem(year, start, end)
    assert problem is not None and "not inside performance year" in problem


@pure
@given(valid_periods())
def test_reversed_periods_fail(period: tuple[int, date, date]) -> None:
    year, start, end = period
    problem = rules.period_problem(year, end, start)
    assert problem is not None and "before it starts" in problem


@pure
@given(years, st.dates(date(2015, 1, 1), date(2032, 12, 31)), st.dates(date(2015, 1, 1), date(2032, 12, 31)))
def test_period_rule_is_exactly_inside_and_90_days(year: int, start: date, end: date) -> None:
    """Any pair of dates: it passes if and only if it is ordered, inside the year and 90+ days."""
    inside = date(year, 1, 1) <= start <= end <= date(year, 12, 31)
    expected = inside and (end - start).days + 1 >= 90
    assert (rules.period_problem(year, start, end) is None) is expected


@pytest.mark.parametrize("year", range(2017, 2031))
def test_october_3_is_the_last_possible_start(year: int) -> None:
    assert rules.latest_start(year) == date(year, 10, 3)
    assert rules.period_problem(year, date(year, 10, 3), date(year, 12, 31)) is None
    assert rules.period_problem(year, date(year, 10, 4), date(year, 12, 31)) is not None
