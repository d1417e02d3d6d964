"""The program, APM and medical-home rules of evidence.rules.cms: one row per rule per year."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from evidence.rules import cms as rules

YEARS = st.integers(min_value=rules.FIRST_PERFORMANCE_YEAR, max_value=rules.LAST_PERFORMANCE_YEAR)

# (year, the programs a reporting entity can use that year)
PROGRAMS = [
    pytest.param(2017, ("mips",), id="2017-mips-only"),
    pytest.param(2020, ("mips",), id="2020-no-app-yet"),
    pytest.param(2021, ("mips", "app"), id="2021-app-begins"),
    pytest.param(2022, ("mips", "app"), id="2022-no-mvp-yet"),
    pytest.param(2023, ("mips", "mvp", "app"), id="2023-mvps-begin"),
    pytest.param(2025, ("mips", "mvp", "app"), id="2025-all-three"),
    pytest.param(2027, ("mips", "mvp", "app"), id="2027-all-three"),
]


@pytest.mark.parametrize(("year", "expected"), PROGRAMS)
def test_programs_of_each_year(year: int, expected: tuple[str, ...]) -> None:
    assert rules.programs(year) == expected


# (year, APM participation, allowed, IA credit in points)
APM_CREDIT = [
    pytest.param(2017, "mips", True, 40, id="2017-apm-scoring-standard-full"),
    pytest.param(2018, "mips", True, 40, id="2018-apm-scoring-standard-full"),
    pytest.param(2019, "mips", True, 40, id="2019-apm-scoring-standard-full"),
    pytest.param(2020, "mips", True, 40, id="2020-apm-scoring-standard-last-year"),
    pytest.param(2021, "mips", False, 0, id="2021-apm-scoring-standard-ended"),
    pytest.param(2024, "mips", False, 0, id="2024-apm-scoring-standard-ended"),
    pytest.param(2019, "app", False, 0, id="2019-no-app"),
    pytest.param(2020, "app", False, 0, id="2020-no-app"),
    pytest.param(2021, "app", True, 40, id="2021-app-full"),
    pytest.param(2025, "app", True, 40, id="2025-app-full"),
    pytest.param(2017, "other", True, 20, id="2017-other-apm-half"),
    pytest.param(2020, "other", True, 20, id="2020-other-apm-half"),
    pytest.param(2023, "other", True, 20, id="2023-other-apm-half"),
    pytest.param(2026, "other", True, 20, id="2026-other-apm-half"),
    pytest.param(2020, "none", True, 0, id="2020-no-apm"),
    pytest.param(2025, "none", True, 0, id="2025-no-apm"),
]


@pytest.mark.parametrize(("year", "apm", "allowed", "points"), APM_CREDIT)
def test_apm_participation_and_credit_by_year(year: int, apm: str, allowed: bool, points: int) -> None:
    assert (rules.apm_problem(year, apm) is None) is allowed
    assert rules.apm_credit(year, apm) == points


def test_unknown_apm_kind_is_a_problem_and_an_error() -> None:
    assert "is not one of none, mips, other, app" in str(rules.apm_problem(2020, "maybe"))
    with pytest.raises(ValueError, match="unknown APM participation"):
        rules.apm_credit(2020, "maybe")


# (year, APM participation, program, IA weight in the 100-point final score)
FINAL_WEIGHT = [
    pytest.param(2017, "none", "mips", 15, id="2017-traditional-15"),
    pytest.param(2024, "none", "mips", 15, id="2024-traditional-15"),
    pytest.param(2017, "mips", "mips", 20, id="2017-apm-scoring-standard-20"),
    pytest.param(2018, "mips", "mips", 20, id="2018-apm-scoring-standard-20"),
    pytest.param(2019, "mips", "mips", 20, id="2019-apm-scoring-standard-20"),
    pytest.param(2020, "mips", "mips", 20, id="2020-apm-scoring-standard-20"),
    pytest.param(2021, "mips", "mips", 15, id="2021-no-apm-scoring-standard-15"),
    pytest.param(2021, "app", "app", 20, id="2021-app-20"),
    pytest.param(2025, "app", "app", 20, id="2025-app-20"),
    pytest.param(2020, "app", "app", 15, id="2020-no-app-15"),
    pytest.param(2020, "other", "mips", 15, id="2020-other-apm-15"),
    pytest.param(2024, "none", "mvp", 15, id="2024-mvp-15"),
]


@pytest.mark.parametrize(("year", "apm", "program", "weight"), FINAL_WEIGHT)
def test_ia_weight_in_the_final_score(year: int, apm: str, program: str, weight: int) -> None:
    assert rules.final_score_weight(year, apm, program) == weight
    assert rules.final_score_points(year, 40, apm, program) == weight


# (year, practice sites, recognised sites, the group earns medical-home credit)
PCMH_SITES = [
    pytest.param(2017, 4, 4, True, id="2017-every-site"),
    pytest.param(2017, 4, 3, False, id="2017-not-every-site"),
    pytest.param(2017, 1, 1, True, id="2017-single-site"),
    pytest.param(2018, 4, 2, True, id="2018-half-of-sites"),
    pytest.param(2018, 4, 1, False, id="2018-quarter-of-sites"),
    pytest.param(2020, 3, 2, True, id="2020-two-of-three"),
    pytest.param(2020, 3, 1, False, id="2020-one-of-three"),
    pytest.param(2024, 2, 1, True, id="2024-exactly-half"),
    pytest.param(2025, 7, 3, False, id="2025-just-under-half"),
    pytest.param(2025, 7, 4, True, id="2025-just-over-half"),
    pytest.param(2020, 5, 0, False, id="2020-none-recognised"),
    pytest.param(2020, 0, 0, False, id="no-sites-no-credit"),
]


@pytest.mark.parametrize(("year", "sites", "recognized", "met"), PCMH_SITES)
def test_group_medical_home_practice_sites(year: int, sites: int, recognized: int, met: bool) -> None:
    assert rules.pcmh_sites_met(year, sites, recognized) is met


# (year, weight, an MVP reporter's points for the activity)
MVP_POINTS = [
    pytest.param(2023, "medium", 20, id="2023-mvp-medium-20"),
    pytest.param(2023, "high", 40, id="2023-mvp-high-40"),
    pytest.param(2024, "medium", 20, id="2024-mvp-medium-20"),
    pytest.param(2024, "high", 40, id="2024-mvp-high-40"),
    pytest.param(2025, None, 40, id="2025-mvp-one-activity-40"),
    pytest.param(2027, None, 40, id="2027-mvp-one-activity-40"),
]


@pytest.mark.parametrize(("year", "weight", "points"), MVP_POINTS)
def test_mvp_activity_points(year: int, weight: str | None, points: int) -> None:
    assert rules.mvp_activity_points(year, weight) == points


# (year, an MVP reporter's activities by weight, category score): the requirement of each year
MVP_REQUIREMENT = [
    pytest.param(2023, ["medium", "medium"], Fraction(1), id="2023-two-medium-full"),
    pytest.param(2023, ["high"], Fraction(1), id="2023-one-high-full"),
    pytest.param(2023, ["medium"], Fraction(1, 2), id="2023-one-medium-half"),
    pytest.param(2024, ["high"], Fraction(1), id="2024-one-high-full"),
    pytest.param(2024, ["medium", "medium"], Fraction(1), id="2024-two-medium-full"),
    pytest.param(2025, [None], Fraction(1), id="2025-one-activity-full"),
    pytest.param(2026, [None], Fraction(1), id="2026-one-activity-full"),
]


@pytest.mark.parametrize(("year", "weights", "category"), MVP_REQUIREMENT)
def test_mvp_requirement_per_year(year: int, weights: list[str | None], category: Fraction) -> None:
    raw = sum(rules.mvp_activity_points(year, weight) for weight in weights)
    assert rules.category_score(year, raw) == category


def test_mvp_requirement_text_per_year() -> None:
    assert rules.mvp_requirement(2023) == "2 medium-weighted activities, 1 high-weighted activity or IA_PCMH"
    assert rules.mvp_requirement(2024) == rules.mvp_requirement(2023)
    assert rules.mvp_requirement(2025) == "1 activity or IA_PCMH"


def test_mvp_weighted_year_refuses_an_activity_without_weight() -> None:
    with pytest.raises(ValueError, match="weighted"):
        rules.mvp_activity_points(2024, None)


@pytest.mark.parametrize(
    ("mvp_id", "ok"),
    [
        pytest.param("M0001", True, id="M0001"),
        pytest.param("M1366", True, id="M1366"),
        pytest.param("G0053", True, id="G0053-subgroup-era-id"),
        pytest.param("M001", False, id="three-digits"),
        pytest.param("X0001", False, id="wrong-letter"),
        pytest.param("M00011", False, id="five-digits"),
        pytest.param("M0001\n", False, id="trailing-newline"),
        pytest.param("mips", False, id="a-program-not-an-mvp"),
    ],
)
def test_mvp_id_shape(mvp_id: str, ok: bool) -> None:
    assert (rules.mvp_id_problem(mvp_id) is None) is ok


MVPS_2025 = frozenset({"G0053", "M0001", "M1420"})  # a few of ia-2025.json's allowedPrograms


@pytest.mark.parametrize(
    ("mvp_id", "year_mvps", "problem"),
    [
        pytest.param("M1420", MVPS_2025, None, id="listed-that-year"),
        pytest.param("M0003", MVPS_2025, "MVP id M0003 is not one of CMS's PY2025 MVPs (G0053, M0001, M1420)",
                     id="dropped-by-cms"),
        pytest.param("M9999", MVPS_2025, "MVP id M9999 is not one of CMS's PY2025 MVPs", id="never-an-mvp"),
        pytest.param("M9999", None, None, id="no-inventory-list-shape-only"),
    ],
)  # fmt: skip
def test_mvp_id_must_be_one_of_the_years_mvps(
    mvp_id: str, year_mvps: frozenset[str] | None, problem: str | None
) -> None:
    found = rules.mvp_id_problem(mvp_id, 2025, year_mvps)
    assert found == problem if problem is None else (found is not None and found.startswith(problem))


@pytest.mark.parametrize(
    ("program", "mvp_id", "name"),
    [
        pytest.param("mips", None, "mips", id="traditional-mips"),
        pytest.param("app", None, "app1", id="app-is-app1"),
        pytest.param("mvp", "M0001", "M0001", id="mvp-is-its-id"),
    ],
)
def test_program_name_for_the_submissions_api(program: str, mvp_id: str | None, name: str) -> None:
    assert rules.program_name(program, mvp_id) == name


@given(YEARS)
@example(2020)
@example(2021)
@example(2022)
@example(2023)
@example(rules.FIRST_PERFORMANCE_YEAR)
@example(rules.LAST_PERFORMANCE_YEAR)
def test_each_program_exists_exactly_in_its_years(year: int) -> None:
    assert (rules.program_problem(year, "app") is None) is (year >= 2021)
    assert (rules.program_problem(year, "mvp") is None) is (year >= 2023)
    assert rules.program_problem(year, "mips") is None
    assert (rules.apm_problem(year, "mips") is None) is (2017 <= year <= 2020)
    assert (rules.apm_problem(year, "app") is None) is (year >= 2021)
