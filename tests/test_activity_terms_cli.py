"""Issue #14 end to end through the CLI: an activity's own minimum and CMS's 2025 suspension.

Refused at `attest`, `participate`, `attestation edit` and `import` with one line (nothing written);
a record that already breaks the rule (made before the rule existed) shows as not creditable.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from tests import factories
from tests.factories import TIN

pytestmark = pytest.mark.usefixtures("wide")

NPI = "1234567893"
ERP_1 = ("attest", "--tin", TIN, "--activity", "IA_ERP_1", "--year", "2025")


@pytest.fixture
def practice(run) -> str:
    run("practice", "add", TIN, "--name", "Riverbend Family Medicine")
    run("clinician", "add", NPI, "--tin", TIN, "--name", "Dr. Avery Chen", "--year", "2025")
    return TIN


def _one_error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in output, output
    return lines[0]


def test_erp_1_for_90_days_is_refused_and_nothing_is_written(run, dump, practice) -> None:
    before = dump()
    line = _one_error_line(run(*ERP_1, "--start", "2025-10-03", "--end", "2025-12-31", expect=1).output)
    assert line.startswith('Error: IA_ERP_1 needs at least 6 months (CMS: "MIPS eligible clinicians')
    assert "the period 2025-10-03 to 2025-12-31 is 90 days" in line and "latest start for PY2025: 2025-07-01" in line
    assert dump() == before


def test_erp_1_for_6_months_is_accepted(run, practice) -> None:
    run(*ERP_1, "--start", "2025-01-15", "--end", "2025-07-14")
    run(*ERP_1, "--npi", NPI, "--start", "2025-07-01", "--end", "2025-12-31")  # the latest start
    shown = run("practice", "show", TIN).output
    assert shown.count("IA_ERP_1") == 2


def test_a_participant_needs_the_activitys_own_minimum_too(run, dump, practice) -> None:
    run(*ERP_1, "--start", "2025-01-01", "--end", "2025-12-31")
    before = dump()
    args = ("participate", "--tin", TIN, "--npi", NPI, "--activity", "IA_ERP_1", "--year", "2025")
    line = _one_error_line(run(*args, "--start", "2025-01-01", "--end", "2025-04-30", expect=1).output)
    assert "IA_ERP_1 needs at least 6 months" in line
    assert dump() == before
    run(*args, "--start", "2025-01-01", "--end", "2025-06-30")


def test_attestation_edit_cannot_shorten_below_the_minimum(app, run, dump, practice) -> None:
    run(*ERP_1, "--start", "2025-01-01", "--end", "2025-12-31")
    with app.engine.connect() as connection:
        attestation = connection.execute(text("SELECT id FROM attestations")).scalar_one()
    before = dump()
    edit = ("attestation", "edit", str(attestation), "--reason", "registered later than we thought")
    line = _one_error_line(run(*edit, "--start", "2025-09-01", expect=1).output)
    assert "IA_ERP_1 needs at least 6 months" in line and "latest start for PY2025: 2025-07-01" in line
    assert dump() == before
    run(*edit, "--start", "2025-07-01")


def test_the_csv_import_refuses_the_row_and_writes_nothing(tmp_path: Path, run, dump) -> None:
    path = tmp_path / "practice.csv"
    path.write_text(
        "record,tin,name,year,activity,start,end\n"
        f"practice,{TIN},Riverbend,,,,\n"
        f"attestation,{TIN},,2025,IA_ERP_1,2025-10-03,2025-12-31\n"
        f"attestation,{TIN},,2025,IA_ERP_3,2025-06-01,2025-12-31\n",
        encoding="utf-8",
    )
    before = dump()
    out = run("import", path, expect=1).output
    assert "line 3 (attestation): IA_ERP_1 needs at least 6 months" in out
    assert "line 4 (attestation): IA_ERP_3 is suspended for PY2025 from 2025-05-06" in out
    assert dump() == before


# --- The 2025 suspension -----------------------------------------------------------------------------


def test_a_suspended_activity_started_2025_06_01_is_refused(run, dump, practice) -> None:
    before = dump()
    args = ("attest", "--tin", TIN, "--activity", "IA_ERP_3", "--year", "2025")
    line = _one_error_line(run(*args, "--start", "2025-06-01", "--end", "2025-12-31", expect=1).output)
    assert line == (
        "Error: IA_ERP_3 is suspended for PY2025 from 2025-05-06 (started before 2025-05-06: credit; started on or "
        "after: not creditable); the period starts 2025-06-01 (source: CMS QPP notice of May 6, 2025 (eight "
        "improvement activities suspended); the PY2025 description of each in CMSgov/qpp-measures-data "
        "measures/2025/measures-data.json)"
    )
    assert dump() == before


def test_a_suspended_activity_started_2025_04_01_is_accepted_and_creditable(run, tmp_path: Path, practice) -> None:
    run("attest", "--tin", TIN, "--npi", NPI, "--activity", "IA_ERP_3", "--year", "2025", "--start", "2025-04-01",
        "--end", "2025-12-31")  # fmt: skip
    evidence = tmp_path / "registry-submission.pdf"
    evidence.write_bytes(b"%PDF-1.4 registry submission")
    run("register", evidence, "--tin", TIN, "--npi", NPI, "--year", "2025", "--activity", "IA_ERP_3", "--item", "1",
        "--effective-date", "2025-06-15")  # fmt: skip
    (row,) = json.loads(run("missing", "--tin", TIN, "--year", "2025", "--format", "json").output)
    assert row["creditable"] is True
    check = next(c for c in row["checks"] if c["check"] == "suspension")
    assert check["passed"] and "before CMS suspended IA_ERP_3 on 2025-05-06: credit kept" in check["reasons"][0]


# --- Records made before the rule: not creditable, with the reason -----------------------------------


def test_an_older_attestation_that_breaks_the_rules_is_not_creditable(app, run) -> None:
    """Attestations inserted directly (as a store from before these rules holds them)."""
    with app.write() as session:
        practice = factories.practice(session)
        clinician = factories.clinician(session, practice, 2025)
        npi = clinician.npi
        for activity_id, start in (("IA_ERP_1", date(2025, 10, 3)), ("IA_PM_26", date(2025, 6, 1))):
            factories.attestation(session, practice, activity_id, 2025, start, date(2025, 12, 31), clinician=clinician)
    rows = {
        r["activity"]: r for r in json.loads(run("missing", "--tin", TIN, "--year", "2025", "--format", "json").output)
    }
    erp = rows["IA_ERP_1"]
    assert erp["creditable"] is False
    assert [c["check"] for c in erp["checks"] if not c["passed"]] == ["duration", "documentation"]
    assert erp["credit_reasons"][0].startswith("IA_ERP_1 needs at least 6 months")
    pm26 = rows["IA_PM_26"]
    assert pm26["creditable"] is False
    assert pm26["credit_reasons"][0].startswith("IA_PM_26 is suspended for PY2025 from 2025-05-06")
    table = run("missing", "--tin", TIN, "--year", "2025").output
    assert "credit: NOT CREDITABLE: IA_ERP_1 needs at least 6 months" in table
    score = json.loads(run("score", "--tin", TIN, "--npi", npi, "--year", "2025", "--format", "json").output)
    assert {a["activity"]: a["counted"] for a in score["activities"]} == {"IA_ERP_1": False, "IA_PM_26": False}


# --- The catalog says so ----------------------------------------------------------------------------


def test_catalog_show_and_list_name_the_minimum_and_the_suspension(run) -> None:
    erp_1 = run("catalog", "show", "IA_ERP_1", "--year", "2025").output
    assert "Minimum period (PY2017-PY2027): 6 months, not 90 days; latest start PY2025: 2025-07-01" in erp_1
    assert 'CMS: "MIPS eligible clinicians and MIPS eligible clinician groups must be registered' in erp_1
    erp_3 = run("catalog", "show", "IA_ERP_3").output
    assert "Suspended (PY2025): from 2025-05-06; started before 2025-05-06: credit" in erp_3
    assert "Suspended" not in run("catalog", "show", "IA_ERP_3", "--year", "2024").output
    pspa_22 = run("catalog", "show", "IA_PSPA_22", "--year", "2020").output
    assert "Schedule (PY2018-PY2027): may be selected once every 4 years (shown, not checked by the tool)" in pspa_22
    rows = {r["activity"]: r for r in json.loads(run("catalog", "list", "--year", "2025", "--format", "json").output)}
    suspended = sorted((a for a, r in rows.items() if r["status"]), key=str)
    assert suspended == sorted(
        ["IA_AHE_5", "IA_AHE_8", "IA_AHE_9", "IA_AHE_11", "IA_AHE_12", "IA_ERP_3", "IA_PM_6", "IA_PM_26"]
    )
    assert rows["IA_ERP_3"]["status"] == "suspended 2025-05-06" and rows["IA_AHE_1"]["status"] == ""
