"""`evidence export-qpp`: the QPP Submissions API shape, field by field (RULES.md "Submission format")."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

from evidence.db.models import Clinician
from tests import factories
from tests.factories import TIN

YEAR = 2020


def build(app) -> Clinician:
    """A 4-clinician TIN (small practice). Group: IA_PM_2 with 2 of 4 (qualifies), IA_EPA_2 with
    1 of 4 (does not). The first NPI individually: IA_PSPA_2 and IA_BE_6 over the whole year
    (qualify), IA_BE_4 for 61 days (does not)."""
    with app.write() as session:
        practice = factories.practice(session)
        ids = factories.clinicians(session, practice, YEAR, 4)
        group_ok = factories.attestation(session, practice, "IA_PM_2", YEAR)
        factories.participations(session, group_ok, ids[:2])
        group_short = factories.attestation(session, practice, "IA_EPA_2", YEAR)
        factories.participations(session, group_short, ids[:1])
        clinician = session.get_one(Clinician, ids[0])
        for activity_id in ("IA_PSPA_2", "IA_BE_6"):
            factories.attestation(session, practice, activity_id, YEAR, clinician=clinician)
        factories.attestation(
            session, practice, "IA_BE_4", YEAR, date(2020, 11, 1), date(2020, 12, 31), clinician=clinician
        )
        return clinician


def test_individual_submission(run, app) -> None:
    clinician = build(app)
    result = run("export-qpp", "--tin", TIN, "--year", YEAR, "--npi", clinician.npi)
    document = json.loads(result.stdout)
    assert list(document) == [
        "entityType",
        "taxpayerIdentificationNumber",
        "nationalProviderIdentifier",
        "performanceYear",
        "measurementSets",
    ]
    assert document["entityType"] == "individual"
    assert document["taxpayerIdentificationNumber"] == "000123456"  # text: leading zeros kept
    assert document["nationalProviderIdentifier"] == clinician.npi
    assert document["performanceYear"] == 2020 and isinstance(document["performanceYear"], int)
    (measurement_set,) = document["measurementSets"]
    assert measurement_set == {
        "category": "ia",
        "submissionMethod": "registry",
        "programName": "mips",  # CMS's default, written out
        "performanceStart": "2020-01-01",
        "performanceEnd": "2020-12-31",
        "measurements": [
            {"measureId": "IA_BE_6", "value": True},
            {"measureId": "IA_PSPA_2", "value": True},
        ],
    }
    assert [line for line in result.stderr.splitlines() if " left out: " in line] == [
        "IA_BE_4 left out: the period 2020-11-01 to 2020-12-31 is 61 days; an activity needs at least "
        "90 consecutive days (latest start for PY2020: 2020-10-03)"
    ]


def test_group_submission(run, app) -> None:
    build(app)
    result = run("export-qpp", "--tin", TIN, "--year", YEAR)
    document = json.loads(result.stdout)
    assert document["entityType"] == "group"
    assert "nationalProviderIdentifier" not in document
    assert document["taxpayerIdentificationNumber"] == TIN
    assert document["measurementSets"][0]["measurements"] == [{"measureId": "IA_PM_2", "value": True}]
    (line,) = [line for line in result.stderr.splitlines() if " left out: " in line]
    assert line.startswith("IA_EPA_2 left out: group requirement not met: 1 of 4 clinicians (25%)")


def test_output_file_is_owner_only_and_matches_stdout(run, app, tmp_path: Path) -> None:
    build(app)
    target = tmp_path / "ia-2020.json"
    result = run("export-qpp", "--tin", TIN, "--year", YEAR, "-o", target)
    assert result.stdout == ""
    assert f"Wrote 1 activity to {target}" in result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == run("export-qpp", "--tin", TIN, "--year", YEAR).stdout
    assert not list(tmp_path.glob(".*.tmp"))


def test_unwritable_output_is_a_clear_error(run, app, tmp_path: Path) -> None:
    build(app)
    result = run("export-qpp", "--tin", TIN, "--year", YEAR, "-o", tmp_path / "missing" / "x.json", expect=1)
    assert "Error: cannot write" in result.output


def test_nothing_to_export_lists_why(run, app) -> None:
    with app.write() as session:
        practice = factories.practice(session)
        ids = factories.clinicians(session, practice, YEAR, 4)
        factories.participations(session, factories.attestation(session, practice, "IA_PM_2", YEAR), ids[:1])
    result = run("export-qpp", "--tin", TIN, "--year", YEAR, expect=1)
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: nothing to export for TIN 000123456 in PY2020: no activity meets the requirements\n"
    )
    assert "  IA_PM_2 left out: group requirement not met: 1 of 4 clinicians (25%)" in result.stderr


def test_nothing_attested(run, app) -> None:
    with app.write() as session:
        factories.clinicians(session, factories.practice(session), YEAR, 2)
    result = run("export-qpp", "--tin", TIN, "--year", YEAR, "--npi", factories.npi_for(1), expect=1)
    assert (
        f"Error: nothing to export for NPI {factories.npi_for(1)} under TIN {TIN} in PY2020: no individual attestations"
    ) in result.output
