"""Special statuses at their thresholds, individual and group, through the library and the CLI."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from evidence.db.models import Practice
from evidence.rules.status import SpecialStatus, special_statuses
from tests import factories
from tests.factories import TIN

YEAR = 2020
# Status inputs of a clinician who qualifies for nothing.
ORDINARY = {"patient_facing_encounters": 500, "hospital_pos_pct": 10.0, "asc_pos_pct": 0.0}


def build_group(app, qualifying: int, others: int, inputs: dict[str, Any], year: int = YEAR) -> None:
    with app.write() as session:
        practice = factories.practice(session)
        factories.clinicians(session, practice, year, qualifying, **{**ORDINARY, **inputs})
        factories.clinicians(session, practice, year, others, **ORDINARY)


def statuses(app, npi: str | None = None, year: int = YEAR) -> dict[tuple[str, str], SpecialStatus]:
    with app.read() as session:
        report = special_statuses(session, TIN, year, npi)
    return {(s.level, s.status): s for s in [*report.individual, *report.group]}


@pytest.mark.parametrize(("count", "small"), [(15, True), (16, False)], ids=["15-small", "16-not-small"])
def test_small_practice_at_15_clinicians(app, count: int, small: bool) -> None:
    build_group(app, 0, count, {})
    group = statuses(app)[("group", "small_practice")]
    assert group.applies is small and group.doubles_ia_points
    assert f"{count} clinicians bill under TIN {TIN} in PY{YEAR}" in group.reason
    npi = factories.npi_for(0)
    assert statuses(app, npi)[("individual", "small_practice")].applies is small


@pytest.mark.parametrize(
    ("encounters", "npf", "reason"),
    [
        (100, True, "100 patient-facing encounters (100 or fewer)"),
        (101, False, "101 patient-facing encounters (more than 100)"),
        (None, False, "patient-facing encounters unknown: not treated as non-patient facing"),
    ],
    ids=["100-npf", "101-patient-facing", "unknown"],
)
def test_non_patient_facing_individual(app, encounters: int | None, npf: bool, reason: str) -> None:
    build_group(app, 1, 3, {"patient_facing_encounters": encounters})
    status = statuses(app, factories.npi_for(0))[("individual", "non_patient_facing")]
    assert status.applies is npf
    assert status.reason == reason


@pytest.mark.parametrize(("pct", "based"), [(75.0, True), (74.9, False), (None, False)], ids=["75", "74.9", "unknown"])
@pytest.mark.parametrize("field", ["hospital_pos_pct", "asc_pos_pct"])
def test_pos_based_individual(app, field: str, pct: float | None, based: bool) -> None:
    build_group(app, 1, 0, {field: pct})
    status = "hospital_based" if field == "hospital_pos_pct" else "asc_based"
    result = statuses(app, factories.npi_for(0))[("individual", status)]
    assert result.applies is based
    assert not result.doubles_ia_points


@pytest.mark.parametrize("flag", ["rural", "hpsa"])
def test_rural_and_hpsa_individual_follow_the_flag(app, flag: str) -> None:
    build_group(app, 1, 1, {flag: True})
    assert statuses(app, factories.npi_for(0))[("individual", flag)].applies
    assert not statuses(app, factories.npi_for(1))[("individual", flag)].applies


# Group statuses that need MORE than 75% of the NPIs: (status, inputs of a qualifying clinician).
SHARE_STATUSES = [
    pytest.param("rural", {"rural": True}, id="rural"),
    pytest.param("hpsa", {"hpsa": True}, id="hpsa"),
    pytest.param("non_patient_facing", {"patient_facing_encounters": 40}, id="non-patient-facing"),
    pytest.param("hospital_based", {"hospital_pos_pct": 90.0}, id="hospital-based"),
]
SHARES = [
    pytest.param(3, 1, False, "3 of 4 clinicians (75%)", id="75-percent-is-not-more"),
    pytest.param(751, 249, True, "751 of 1000 clinicians (75.1%)", id="75.1-percent"),
    pytest.param(750, 250, False, "750 of 1000 clinicians (75%)", id="750-of-1000"),
    pytest.param(4, 0, True, "4 of 4 clinicians (100%)", id="all"),
]


@pytest.mark.parametrize(("qualifying", "others", "applies", "reason"), SHARES)
@pytest.mark.parametrize(("status", "inputs"), SHARE_STATUSES)
def test_group_share_statuses_need_more_than_75_percent(
    app, status: str, inputs: dict[str, Any], qualifying: int, others: int, applies: bool, reason: str
) -> None:
    build_group(app, qualifying, others, inputs)
    result = statuses(app)[("group", status)]
    assert result.applies is applies
    assert reason in result.reason and "a group in PY2020 needs more than 75%" in result.reason


@pytest.mark.parametrize(("asc", "others", "applies"), [(4, 0, True), (3, 1, False)], ids=["all", "all-but-one"])
def test_group_asc_based_needs_every_clinician(app, asc: int, others: int, applies: bool) -> None:
    build_group(app, asc, others, {"asc_pos_pct": 80.0})
    result = statuses(app)[("group", "asc_based")]
    assert result.applies is applies
    assert f"{asc} of 4 clinicians" in result.reason and "a group in PY2020 needs all of them" in result.reason


# PY2017: one practice site in a rural area or HPSA was enough for a group; from PY2018 more
# than 75% of the NPIs (CY2018 QPP final rule). One clinician of four is a site here.
@pytest.mark.parametrize(
    ("year", "applies", "needed"),
    [(2017, True, "at least one (one practice site in the area)"), (2018, False, "more than 75%")],
    ids=["2017-one-site", "2018-share"],
)
@pytest.mark.parametrize("flag", ["rural", "hpsa"])
def test_group_rural_and_hpsa_rule_is_keyed_by_year(app, flag: str, year: int, applies: bool, needed: str) -> None:
    build_group(app, 1, 3, {flag: True}, year=year)
    result = statuses(app, year=year)[("group", flag)]
    assert result.applies is applies
    assert "1 of 4 clinicians (25%)" in result.reason and f"a group in PY{year} needs {needed}" in result.reason


def test_2017_group_with_one_rural_clinician_of_21_is_rural_through_the_cli(run, app) -> None:
    build_group(app, 1, 20, {"rural": True}, year=2017)
    document = json.loads(run("status", "--tin", TIN, "--year", "2017", "--format", "json").output)
    by_status = {row["status"]: row for row in document["statuses"]}
    assert by_status["rural"]["applies"] is True and by_status["rural"]["doubles_ia_points"] is True
    assert by_status["small_practice"]["applies"] is False


def test_unknown_encounters_count_as_patient_facing_in_a_group(app) -> None:
    build_group(app, 3, 0, {"patient_facing_encounters": 20})
    with app.write() as session:
        practice = session.get_one(Practice, 1)
        factories.clinicians(session, practice, YEAR, 1, patient_facing_encounters=None)
    result = statuses(app)[("group", "non_patient_facing")]
    assert not result.applies
    assert "1 with unknown encounters counted as patient facing" in result.reason


def test_a_tin_without_clinicians_has_no_status(app) -> None:
    with app.write() as session:
        factories.practice(session)
    report = statuses(app)
    assert not any(s.applies for s in report.values())
    assert "no clinicians are recorded" in report[("group", "small_practice")].reason


@pytest.mark.usefixtures("wide")
def test_cli_table_shows_reasons_for_both_levels(run, app) -> None:
    build_group(app, 3, 1, {"rural": True})
    output = run("status", "--tin", TIN, "--year", YEAR, "--npi", factories.npi_for(0)).output
    assert f"NPI {factories.npi_for(0)} under TIN {TIN}, PY2020: 4 clinicians" in output
    assert "3 of 4 clinicians (75%) practice in a rural ZIP code; a group in PY2020 needs more than 75%" in output
    assert "practices in a rural ZIP code" in output
    assert "4 clinicians bill under TIN 000123456 in PY2020 (15 or fewer)" in output
    assert "IA points are doubled (individual): small practice, rural" in output


def test_cli_json(run, app) -> None:
    build_group(app, 16, 0, {"hospital_pos_pct": 100.0})
    document = json.loads(run("status", "--tin", TIN, "--year", YEAR, "--format", "json").output)
    assert document["tin"] == TIN and document["npi"] is None and document["clinicians"] == 16
    by_status = {row["status"]: row for row in document["statuses"]}
    assert {row["level"] for row in document["statuses"]} == {"group"}
    assert by_status["hospital_based"]["applies"] is True
    assert by_status["hospital_based"]["doubles_ia_points"] is False
    assert by_status["small_practice"]["applies"] is False


def test_cli_csv_has_one_row_per_status(run, app) -> None:
    import csv
    import io

    build_group(app, 16, 0, {"hospital_pos_pct": 100.0})
    rows = list(csv.DictReader(io.StringIO(run("status", "--tin", TIN, "--year", YEAR, "--format", "csv").output)))
    document = json.loads(run("status", "--tin", TIN, "--year", YEAR, "--format", "json").output)
    assert len(rows) == len(document["statuses"])
    assert {(r["tin"], r["performance_year"], r["npi"]) for r in rows} == {(TIN, str(YEAR), "")}
    by_status = {r["status"]: r for r in rows}
    assert by_status["hospital_based"]["applies"] == "True"
    assert by_status["hospital_based"]["doubles_ia_points"] == "False"
    assert by_status["small_practice"]["reason"] == next(
        s["reason"] for s in document["statuses"] if s["status"] == "small_practice"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--tin", "000999999"], "Error: no practice with TIN 000999999", id="unknown-tin"),
        pytest.param(["--tin", "12-345"], "Invalid value for '--tin': TIN '12-345' is not 9 digits", id="bad-tin"),
        pytest.param(
            ["--tin", TIN, "--npi", "1234567890"], "Invalid value for '--npi': NPI '1234567890' fails", id="bad-npi"
        ),
        pytest.param(
            ["--tin", TIN, "--npi", "1234567893"],
            f"NPI 1234567893 does not bill under TIN {TIN} in 2020",
            id="npi-not-under-tin",
        ),
    ],
)
def test_user_mistakes_are_one_line_errors(run, app, args: list[str], message: str) -> None:
    build_group(app, 0, 2, {})
    for command in ("status", "score", "export-qpp"):
        result = run(command, "--year", YEAR, *args, expect=2 if "Invalid value" in message else 1)
        assert message in result.output, command


@pytest.mark.parametrize(
    ("year", "message"),
    [
        ("20x0", "year '20x0' is not a four-digit performance year"),
        ("20", "year '20' is not a four-digit performance year"),
        ("2016", "performance year 2016 is before MIPS began (2017)"),
        ("2101", "performance year 2101 is after 2100"),
    ],
)
def test_bad_year(run, app, year: str, message: str) -> None:
    """Every command that takes a year, and the library, give the same error for the same bad year."""
    from evidence.errors import InputError
    from evidence.rules.status import special_statuses

    build_group(app, 0, 2, {})
    for args in (
        ("status", "--tin", TIN, "--year", year),
        ("score", "--tin", TIN, "--year", year),
        ("catalog", "list", "--year", year),
        ("practice", "show", TIN, "--year", year),
        ("hold", "add", "--tin", TIN, "--year", year, "--reason", "audit"),
        ("clinician", "add", "1234567893", "--tin", TIN, "--name", "X", "--year", year),
    ):
        result = run(*args, expect=2)
        assert f"Invalid value for '--year': {message}" in result.output, args
    with app.read() as session, pytest.raises(InputError, match=re.escape(message)):
        special_statuses(session, TIN, year)
