"""IA scores end to end through `evidence score`, for groups and individuals, PY2019-PY2025."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from evidence.db.models import Practice
from tests import factories
from tests.factories import TIN

ORDINARY = {"patient_facing_encounters": 500, "hospital_pos_pct": 10.0, "asc_pos_pct": 0.0}
LARGE = 20  # clinicians: more than 15, so not a small practice


def score_json(run, year: int, npi: str | None = None) -> dict[str, Any]:
    args = ["score", "--tin", TIN, "--year", year, "--format", "json"]
    return json.loads(run(*args, *(["--npi", npi] if npi else [])).output)


def activity(document: dict[str, Any], activity_id: str) -> dict[str, Any]:
    (row,) = [a for a in document["activities"] if a["activity"] == activity_id]
    return row


def group_practice(app, year: int, clinicians: int, *, pcmh: bool = False, apm: str = "none", **inputs):
    """A practice with `clinicians` ordinary clinicians in `year`; returns (practice id, clinician ids)."""
    with app.write() as session:
        practice = factories.practice(session, pcmh=pcmh, apm=apm, year=year)
        ids = factories.clinicians(session, practice, year, clinicians, **{**ORDINARY, **inputs})
        return practice.id, ids


def attest(app, practice_id: int, activity_id: str, year: int, participants: Sequence[int] = (), **period):
    with app.write() as session:
        practice = session.get_one(Practice, practice_id)
        row = factories.attestation(session, practice, activity_id, year, **period)
        if participants:
            factories.participations(session, row, list(participants))


def test_json_shape(run, app) -> None:
    practice_id, _ = group_practice(app, 2019, LARGE)
    attest(app, practice_id, "IA_PM_2", 2019)
    document = score_json(run, 2019)
    assert {
        "points",
        "raw_points",
        "category_score",
        "final_score_points",
        "special_statuses",
        "credits",
        "activities",
    } <= set(document)
    assert document["level"] == "group" and document["npi"] is None and document["tin"] == TIN
    assert set(document["credits"]) == {"pcmh", "apm"}
    assert set(activity(document, "IA_PM_2")) == {
        "activity",
        "title",
        "weight",
        "base_points",
        "doubled",
        "points",
        "counted",
        "reasons",
        "creditable",
        "documented_points",
        "points_at_risk",
        "risks",
    }


def test_csv_has_one_row_per_activity_matching_the_json(run, app) -> None:
    import csv
    import io

    practice_id, _ = group_practice(app, 2019, LARGE)
    attest(app, practice_id, "IA_PM_2", 2019)
    attest(app, practice_id, "IA_BE_4", 2019, start=date(2019, 11, 1), end=date(2019, 12, 31))  # too short
    output = run("score", "--tin", TIN, "--year", 2019, "--format", "csv").output
    rows = list(csv.DictReader(io.StringIO(output)))
    document = score_json(run, 2019)
    assert [r["activity"] for r in rows] == [a["activity"] for a in document["activities"]]
    for row in rows:
        expected = activity(document, row["activity"])
        assert (row["tin"], row["performance_year"], row["npi"], row["level"]) == (TIN, "2019", "", "group")
        assert int(row["points"]) == expected["points"] and row["weight"] == expected["weight"]
        assert row["counted"] == str(expected["counted"])
        assert row["reasons"] == "; ".join(expected["reasons"])
        assert int(row["total_points"]) == document["points"]
    counted = sum(int(r["points"]) for r in rows if r["counted"] == "True")
    assert counted == document["raw_points"]  # a spreadsheet can recompute the total from the rows
    assert {r["counted"] for r in rows} == {"True", "False"}


def test_csv_of_nothing_attested_is_a_header(run, app) -> None:
    group_practice(app, 2019, LARGE)
    output = run("score", "--tin", TIN, "--year", 2019, "--format", "csv").output
    assert output.splitlines() == [
        "tin,performance_year,npi,level,activity,title,weight,base_points,doubled,points,counted,reasons,"
        "total_points,category_score,creditable,documented_points,points_at_risk,risks,total_documented_points"
    ]


def test_before_2020_a_group_attestation_counts_without_participation(run, app) -> None:
    practice_id, _ = group_practice(app, 2019, LARGE)
    attest(app, practice_id, "IA_PM_2", 2019)
    document = score_json(run, 2019)
    row = activity(document, "IA_PM_2")
    assert row["counted"] and row["points"] == 20 and row["weight"] == "high" and not row["doubled"]
    assert "PY2019: one clinician completing it lets the TIN claim it (participation optional)" in row["reasons"]
    assert (document["points"], document["category_score"], document["final_score_points"]) == (20, 0.5, 7.5)


@pytest.mark.parametrize(
    ("participants", "counted", "summary"),
    [
        (1, False, "group requirement not met: 1 of 4 clinicians (25%)"),
        (2, True, "group requirement met: 2 of 4 clinicians (50%)"),
    ],
    ids=["1-of-4-no-credit", "2-of-4-credit"],
)
def test_from_2020_a_group_needs_half_of_its_clinicians(
    run, app, participants: int, counted: bool, summary: str
) -> None:
    practice_id, ids = group_practice(app, 2020, 4)  # small practice: points doubled
    attest(app, practice_id, "IA_PM_2", 2020, ids[:participants])
    document = score_json(run, 2020)
    row = activity(document, "IA_PM_2")
    assert row["counted"] is counted
    assert row["points"] == (40 if counted else 0) and row["base_points"] == 20 and row["doubled"]
    assert any(reason.startswith(summary) for reason in row["reasons"]), row["reasons"]
    assert document["points"] == row["points"]


def test_participation_shorter_than_90_days_is_not_counted(run, app) -> None:
    practice_id, ids = group_practice(app, 2020, 4)
    with app.write() as session:
        practice = session.get_one(Practice, practice_id)
        row = factories.attestation(session, practice, "IA_PM_2", 2020)
        factories.participations(session, row, ids[:1])
        factories.participations(session, row, ids[1:2], date(2020, 10, 5), date(2020, 12, 31))
    row = activity(score_json(run, 2020), "IA_PM_2")
    assert not row["counted"] and row["points"] == 0
    npi = factories.npi_for(1)
    assert any(
        r.startswith(f"participation not counted: NPI {npi}: the period 2020-10-05 to 2020-12-31 is 88 days")
        for r in row["reasons"]
    ), row["reasons"]
    assert any(r.startswith("group requirement not met: 1 of 4") for r in row["reasons"])


def test_participation_by_a_clinician_outside_the_tin_is_not_counted(run, app) -> None:
    practice_id, _ = group_practice(app, 2020, 2)
    with app.write() as session:
        other = factories.practice(session, "000999999")
        outsider = factories.clinicians(session, other, 2020, 1)
    attest(app, practice_id, "IA_PM_2", 2020, outsider)
    row = activity(score_json(run, 2020), "IA_PM_2")
    assert not row["counted"]
    assert (
        f"participation not counted: NPI {factories.npi_for(2)} does not bill under the TIN in PY2020"
        in (row["reasons"])
    )


def test_attested_period_must_be_90_days_inside_the_year(run, app) -> None:
    practice_id, _ = group_practice(app, 2019, LARGE)
    attest(app, practice_id, "IA_PM_2", 2019, start=date(2019, 11, 1), end=date(2019, 12, 31))
    row = activity(score_json(run, 2019), "IA_PM_2")
    assert not row["counted"]
    assert any("is 61 days; an activity needs at least 90" in r for r in row["reasons"])


def test_points_are_capped_at_40(run, app) -> None:
    practice_id, ids = group_practice(app, 2020, 4)
    for activity_id in ("IA_PM_2", "IA_BE_6", "IA_EPA_2"):
        attest(app, practice_id, activity_id, 2020, ids[:2])
    document = score_json(run, 2020)
    assert [a["points"] for a in document["activities"]] == [40, 20, 40]  # IA_BE_6, IA_EPA_2, IA_PM_2
    assert document["raw_points"] == 100 and document["points"] == 40
    assert document["category_score"] == 1.0 and document["final_score_points"] == 15.0
    assert "100 points capped at the category maximum of 40" in document["notes"]


def test_pcmh_flag_gives_full_credit_without_attestations(run, app) -> None:
    group_practice(app, 2020, LARGE, pcmh=True)
    document = score_json(run, 2020)
    assert document["credits"]["pcmh"]["points"] == 40 and document["points"] == 40
    assert document["category_score"] == 1.0
    assert "no group attestations for TIN 000123456, PY2020" in document["notes"]


def test_attested_ia_pcmh_gives_full_credit(run, app) -> None:
    practice_id, _ = group_practice(app, 2020, LARGE)
    attest(app, practice_id, "IA_PCMH", 2020)
    document = score_json(run, 2020)
    row = activity(document, "IA_PCMH")
    assert row["counted"] and row["points"] == 40 and row["weight"] == "none"
    assert document["points"] == 40 and document["credits"]["pcmh"]["points"] == 0


@pytest.mark.parametrize(
    ("apm", "points", "category", "final"),
    [
        pytest.param("mips", 10, 0.25, 3.75, id="apm-scoring-standard-ended-with-2020"),
        pytest.param("app", 40, 1.0, 20.0, id="app-full-weight-20"),
        pytest.param("other", 30, 0.75, 11.25, id="other-apm-half-plus-medium"),
        pytest.param("none", 10, 0.25, 3.75, id="no-apm-medium-only"),
    ],
)
def test_apm_credit(run, app, apm: str, points: int, category: float, final: float) -> None:
    practice_id, ids = group_practice(app, 2021, LARGE, apm=apm)
    attest(app, practice_id, "IA_EPA_2", 2021, ids[: LARGE // 2])
    document = score_json(run, 2021)
    assert activity(document, "IA_EPA_2")["points"] == 10
    assert (document["points"], document["category_score"], document["final_score_points"]) == (
        points,
        category,
        final,
    )
    assert document["credits"]["apm"]["kind"] == apm


def test_individual_score_uses_the_npis_own_attestations_and_statuses(run, app) -> None:
    practice_id, _ = group_practice(app, 2024, LARGE)
    with app.write() as session:
        practice = session.get_one(Practice, practice_id)
        npf = factories.clinician(session, practice, 2024, patient_facing_encounters=60)
        factories.attestation(session, practice, "IA_EPA_2", 2024, clinician=npf)
    individual = score_json(run, 2024, npf.npi)
    assert individual["level"] == "individual" and individual["npi"] == npf.npi
    assert [s["status"] for s in individual["special_statuses"]] == ["non_patient_facing"]
    row = activity(individual, "IA_EPA_2")
    assert row["doubled"] and row["points"] == 20
    assert "doubled to 20 points: special status non-patient facing" in row["reasons"]
    group = score_json(run, 2024)  # the individual attestation is not the group's
    assert group["activities"] == [] and group["points"] == 0 and group["special_statuses"] == []
    # Another NPI of the same TIN has no attestations of its own.
    other = score_json(run, 2024, factories.npi_for(0))
    assert other["points"] == 0
    assert f"no individual attestations for NPI {factories.npi_for(0)} under TIN {TIN}, PY2024" in other["notes"]


def test_hospital_based_alone_does_not_double(run, app) -> None:
    practice_id, _ = group_practice(app, 2020, LARGE)
    with app.write() as session:
        practice = session.get_one(Practice, practice_id)
        hospitalist = factories.clinician(session, practice, 2020, **{**ORDINARY, "hospital_pos_pct": 90.0})
        factories.attestation(session, practice, "IA_PM_2", 2020, clinician=hospitalist)
    document = score_json(run, 2020, hospitalist.npi)
    row = activity(document, "IA_PM_2")
    assert not row["doubled"] and row["points"] == 20
    assert (
        "not doubled: no special status that counts for IA (hospital-based does not change IA points)"
        in (row["reasons"])
    )


@pytest.mark.parametrize(
    ("inputs", "points", "category"),
    [({}, 20, 0.5), ({"rural": True}, 40, 1.0)],
    ids=["one-activity-half", "one-activity-with-status-full"],
)
def test_2025_unweighted_individual(run, app, inputs: dict[str, Any], points: int, category: float) -> None:
    practice_id, _ = group_practice(app, 2025, LARGE)
    with app.write() as session:
        practice = session.get_one(Practice, practice_id)
        member = factories.clinician(session, practice, 2025, **{**ORDINARY, **inputs})
        factories.attestation(session, practice, "IA_BE_4", 2025, clinician=member)
    document = score_json(run, 2025, member.npi)
    row = activity(document, "IA_BE_4")
    assert row["weight"] == "unweighted" and row["base_points"] == 20 and row["points"] == points
    assert "PY2025 activities are unweighted: 20 points each" in row["reasons"]
    assert (document["points"], document["category_score"]) == (points, category)


def test_2025_group_two_activities_give_full_credit(run, app) -> None:
    practice_id, ids = group_practice(app, 2025, LARGE)
    attest(app, practice_id, "IA_BE_4", 2025, ids[:10])
    attest(app, practice_id, "IA_PSPA_7", 2025, ids[10:])
    document = score_json(run, 2025)
    assert [a["points"] for a in document["activities"]] == [20, 20]
    assert document["points"] == 40 and document["category_score"] == 1.0


def test_no_attestations_is_zero_points_not_an_error(run, app) -> None:
    group_practice(app, 2020, LARGE)
    document = score_json(run, 2020)
    assert (document["points"], document["raw_points"], document["category_score"]) == (0, 0, 0.0)
    assert "no group attestations for TIN 000123456, PY2020" in document["notes"]
    output = run("score", "--tin", TIN, "--year", 2020).output
    assert "Activities: none attested" in output and "Points: 0 of 40" in output


@pytest.mark.usefixtures("wide")
def test_table_output_explains_each_activity(run, app) -> None:
    practice_id, ids = group_practice(app, 2020, 4, apm="other")
    attest(app, practice_id, "IA_PM_2", 2020, ids[:1])
    attest(app, practice_id, "IA_EPA_2", 2020, ids[:2])
    output = run("score", "--tin", TIN, "--year", 2020).output
    for expected in [
        "IA score, group reporting: TIN 000123456, PY2020",
        "Special statuses: small practice",
        "IA_EPA_2 (medium): 20 points, counted",
        "- medium weight: 10 points",
        "- doubled to 20 points: special status small practice",
        "- period 2020-01-01 to 2020-12-31 (366 days) is inside PY2020 and at least 90 days",
        "- group requirement met: 2 of 4 clinicians (50%)",
        "IA_PM_2 (high): 0 points, NOT counted",
        "- group requirement not met: 1 of 4 clinicians (25%)",
        "APM (other): 20 points - participant in another APM: half credit",
        "IA_EPA_2 (medium): 20 points, counted, NOT fully documented (20 points at risk)",
        "- documentation incomplete: missing item 1",
        "Points documented: 20 of 40; claimed 40 (raw 40); at risk 20",
        "Category score: 50% documented -> 7.5 of 15 final-score points (claimed: 100% -> 15 of 15",
    ]:
        assert expected in output, expected


def test_the_dashboard_score_made_from_its_own_report_equals_the_score_made_alone(app) -> None:
    """The dashboard makes the year's report once and scores from its group rows: the same answer."""
    from evidence.records.dashboard import dashboard
    from evidence.records.missing import missing_report
    from evidence.rules.scoring import score
    from tests.stores import use_sample_practice

    use_sample_practice(app)
    with app.read() as session:
        years = sorted({a.year for a in missing_report(session, tin="000123456").activities})
        assert len(years) >= 3
        for year in years:
            board = dashboard(session, "000123456", year, as_of=date(2026, 12, 1))
            assert board.score == score(session, "000123456", year), year
        with pytest.raises(ValueError, match="another practice or year"):
            score(session, "000123456", years[0], report=missing_report(session, tin="000123456", year=years[1]))
