"""Issue #13: one notion of "creditable" across missing, score, export-qpp and the packet, end to end.

Invented practices built with the factories (real SQLite under tmp_path), evidence registered
through the CLI, packets read back with pypdf.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from evidence.db.models import Clinician, Practice
from tests import factories
from tests.factories import TIN

# Whole report lines are matched: a terminal wide enough that none wraps (tables fit $COLUMNS).
pytestmark = pytest.mark.usefixtures("wide")

ORDINARY = {"patient_facing_encounters": 500, "hospital_pos_pct": 10.0, "asc_pos_pct": 0.0}


def register(run, tmp_path: Path, activity: str, item: int, effective: str, *, npi: str | None = None) -> None:
    """One evidence file for `activity` item `item`, dated `effective` (distinct bytes per call)."""
    path = tmp_path / f"{activity}-{item}-{effective}-{npi or 'group'}.pdf"
    path.write_bytes(f"%PDF-1.4 {path.name}".encode())
    args = ["register", path, "--tin", TIN, "--year", "2020", "--activity", activity, "--item", item,
            "--effective-date", effective]  # fmt: skip
    run(*args, *(["--npi", npi] if npi else []))


def pdf_pages(path: Path) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(path).pages]


def activity_page(pages: list[str], activity_id: str) -> str:
    """The first page of an activity's own section (its facts table names the attested period)."""
    return next(p for p in pages if activity_id in p and "Attested period" in p and "Suggested documentation" in p)


# --- Case 1: a fully documented group activity below the 50% rule -----------------------------------


@pytest.fixture
def case1(app, run, tmp_path: Path) -> None:
    """4 clinicians (a small practice: points double). Three group activities, every item documented
    inside its period; IA_AHE_3 has only 1 of 4 participants, the other two 2 of 4."""
    with app.write() as session:
        practice = factories.practice(session)
        ids = factories.clinicians(session, practice, 2020, 4, **ORDINARY)
        for activity_id, participants in (("IA_AHE_3", ids[:1]), ("IA_EPA_2", ids[:2]), ("IA_PM_2", ids[1:3])):
            row = factories.attestation(session, practice, activity_id, 2020)
            factories.participations(session, row, participants)
    for activity_id in ("IA_AHE_3", "IA_EPA_2", "IA_PM_2"):
        register(run, tmp_path, activity_id, 1, "2020-06-15")


def test_case1_missing_names_the_50_percent_rule_and_fails(run, case1) -> None:
    result = run("missing", "--tin", TIN, "--year", "2020", "--fail-on-missing", expect=1)
    out = result.output
    assert "3 attested activities: 3 complete, 0 incomplete, 0 missing; 2 creditable, 1 not creditable" in out
    assert (
        "credit: NOT CREDITABLE: group requirement not met: 1 of 4 clinicians (25%) have their own period of "
        "90+ days; at least 50% needed from PY2020" in out
    )
    assert out.count("credit: CREDITABLE") == 2
    rows = {r["activity"]: r for r in json.loads(run("missing", "--format", "json").output)}
    assert rows["IA_AHE_3"]["status"] == "complete" and rows["IA_AHE_3"]["creditable"] is False
    assert rows["IA_AHE_3"]["credit_reasons"][0].startswith("group requirement not met: 1 of 4")
    failed = [c["check"] for c in rows["IA_AHE_3"]["checks"] if not c["passed"]]
    assert failed == ["group participation"]
    assert rows["IA_EPA_2"]["creditable"] is True and rows["IA_EPA_2"]["credit_reasons"] == []


def test_case1_csv_carries_the_verdict(run, case1) -> None:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(run("missing", "--format", "csv").output)))
    verdicts = {r["activity"]: (r["activity_status"], r["creditable"], r["credit_reasons"]) for r in rows}
    assert verdicts["IA_AHE_3"][:2] == ("complete", "False")
    assert verdicts["IA_AHE_3"][2].startswith("group requirement not met")
    assert verdicts["IA_PM_2"] == ("complete", "True", "")


def test_case1_score_and_export_leave_it_out(run, case1) -> None:
    document = json.loads(run("score", "--tin", TIN, "--year", "2020", "--format", "json").output)
    ahe3 = next(a for a in document["activities"] if a["activity"] == "IA_AHE_3")
    assert (ahe3["counted"], ahe3["points"], ahe3["creditable"], ahe3["points_at_risk"]) == (False, 0, False, 0)
    # IA_EPA_2 (medium, doubled 20) + IA_PM_2 (high, doubled 40): raw 60, capped at 40, all documented.
    assert (document["raw_points"], document["points"]) == (60, 40)
    assert (document["documented_points"], document["points_at_risk"]) == (40, 0)
    result = run("export-qpp", "--tin", TIN, "--year", "2020", "--strict")
    measured = [m["measureId"] for m in json.loads(result.stdout)["measurementSets"][0]["measurements"]]
    assert measured == ["IA_EPA_2", "IA_PM_2"]
    assert result.stderr.startswith("IA_AHE_3 left out: group requirement not met: 1 of 4")


def test_case1_packet_gives_no_green_badge(run, case1, tmp_path: Path) -> None:
    pdf = tmp_path / "case1.pdf"
    run("packet", "--tin", TIN, "--year", "2020", "-o", pdf, "--no-attachments")
    pages = pdf_pages(pdf)
    ahe3 = activity_page(pages, "IA_AHE_3")
    assert ahe3.startswith("Not creditable") and "Complete" not in ahe3
    assert "Not creditable: group requirement not met: 1 of 4 clinicians (25%)" in ahe3
    assert activity_page(pages, "IA_PM_2").startswith("Creditable")
    summary = next(p for p in pages if p.startswith("Summary"))
    assert "Creditable activities: 2 of 3" in summary and summary.count("Not creditable") == 1


# --- Case 2: an item documented only outside the attested period -----------------------------------


@pytest.fixture
def case2(app, run, tmp_path: Path) -> str:
    """One NPI of a 20-clinician TIN (no special status) attests IA_EPA_1 (high, 20), IA_EPA_2 and
    IA_CC_9 (medium, 10 each): 40 claimed. IA_CC_9's item 1 has evidence only after its period."""
    with app.write() as session:
        practice = factories.practice(session)
        (first, *_) = factories.clinicians(session, practice, 2020, 20, **ORDINARY)
        clinician = session.get_one(Clinician, first)
        factories.attestation(session, practice, "IA_EPA_1", 2020, clinician=clinician)
        factories.attestation(session, practice, "IA_EPA_2", 2020, clinician=clinician)
        factories.attestation(session, practice, "IA_CC_9", 2020, date(2020, 4, 1), date(2020, 9, 30),
                              clinician=clinician)  # fmt: skip
        npi = clinician.npi
    register(run, tmp_path, "IA_EPA_1", 1, "2020-03-01", npi=npi)
    register(run, tmp_path, "IA_EPA_2", 1, "2020-03-01", npi=npi)
    register(run, tmp_path, "IA_CC_9", 1, "2020-11-15", npi=npi)  # after the period ends on Sep 30
    register(run, tmp_path, "IA_CC_9", 2, "2020-05-01", npi=npi)
    return npi


CC9_GAP = "documentation incomplete: missing item 1 (item 1: evidence only outside the attested period)"


def test_case2_score_shows_claimed_documented_and_at_risk(run, case2: str) -> None:
    out = run("score", "--tin", TIN, "--year", "2020", "--npi", case2).output
    assert "40 of 40" not in out
    assert "Points documented: 30 of 40; claimed 40 (raw 40); at risk 10" in out
    assert "IA_CC_9 (medium): 10 points, counted, NOT fully documented (10 points at risk)" in out
    assert f"    - {CC9_GAP}" in out
    assert "Note: 10 of the points claimed are not fully documented (IA_CC_9)" in out
    document = json.loads(run("score", "--tin", TIN, "--year", "2020", "--npi", case2, "--format", "json").output)
    assert (document["points"], document["documented_points"], document["points_at_risk"]) == (40, 30, 10)
    assert document["documented_category_score"] == 0.75 and document["category_score"] == 1.0
    cc9 = next(a for a in document["activities"] if a["activity"] == "IA_CC_9")
    assert (cc9["points"], cc9["documented_points"], cc9["points_at_risk"], cc9["risks"]) == (10, 0, 10, [CC9_GAP])


def test_case2_missing_fails(run, case2: str) -> None:
    out = run("missing", "--npi", case2, "--fail-on-missing", expect=1).output
    assert f"credit: NOT CREDITABLE: {CC9_GAP}" in out
    assert "3 attested activities: 2 complete, 1 incomplete, 0 missing; 2 creditable, 1 not creditable" in out


def test_case2_export_warns_and_strict_refuses(run, case2: str, tmp_path: Path) -> None:
    result = run("export-qpp", "--tin", TIN, "--year", "2020", "--npi", case2)
    measured = [m["measureId"] for m in json.loads(result.stdout)["measurementSets"][0]["measurements"]]
    assert measured == ["IA_CC_9", "IA_EPA_1", "IA_EPA_2"]  # submitted: the claim itself holds
    assert result.stderr.splitlines() == [f"IA_CC_9 submitted but not fully documented: {CC9_GAP}"]
    target = tmp_path / "ia.json"
    refused = run("export-qpp", "--tin", TIN, "--year", "2020", "--npi", case2, "--strict", "-o", target, expect=1)
    assert refused.output.splitlines() == [
        "Error: not exported (--strict): 1 of 3 submitted activities are not fully documented",
        f"  IA_CC_9 submitted but not fully documented: {CC9_GAP}",
    ]
    assert not target.exists() and list(tmp_path.glob("ia.json*")) == []


def test_case2_packet_headline_is_documented_not_claimed(run, case2: str, tmp_path: Path) -> None:
    pdf = tmp_path / "case2.pdf"
    run("packet", "--tin", TIN, "--year", "2020", "--npi", case2, "-o", pdf, "--no-attachments")
    pages = pdf_pages(pdf)
    summary = next(p for p in pages if p.startswith("Summary"))
    assert "40 of 40" not in summary
    assert "30 of 40 points documented" in summary
    assert "Claimed 40 points (category maximum 40); 10 points at risk" in summary
    assert "30 documented, 10 at risk" in " ".join(pages)  # the score breakdown's total row
    cc9 = activity_page(pages, "IA_CC_9")
    assert cc9.startswith("Not creditable") and f"Not creditable: {CC9_GAP}" in cc9
    assert "10 points, counted, 10 at risk" in cc9
    assert activity_page(pages, "IA_EPA_1").startswith("Creditable")


# --- Claimed, documented and at risk, with capping and full credit -----------------------------------


def score_of(run, app, tmp_path: Path, *, pcmh: bool, apm: str, small: bool, activities: list[tuple[str, bool]]):
    """A group practice of 4 (small: points double) or 20 clinicians, each activity with 50% taking
    part; an activity flagged True gets its evidence, False none."""
    with app.write() as session:
        practice = factories.practice(session, pcmh=pcmh, apm=apm, year=2020)
        ids = factories.clinicians(session, practice, 2020, 4 if small else 20, **ORDINARY)
        for activity_id, _ in activities:
            row = factories.attestation(session, practice, activity_id, 2020)
            factories.participations(session, row, ids[: len(ids) // 2])
    for activity_id, documented in activities:
        if documented:
            register(run, tmp_path, activity_id, 1, "2020-06-15")
    return json.loads(run("score", "--tin", TIN, "--year", "2020", "--format", "json").output)


# (case, practice, activities (id, documented), raw claimed, claimed, documented, at risk)
SCORES: list[tuple[str, dict[str, Any], list[tuple[str, bool]], int, int, int, int]] = [
    ("all documented", {"small": False}, [("IA_EPA_1", True), ("IA_PM_2", True)], 40, 40, 40, 0),
    ("one undocumented", {"small": False}, [("IA_EPA_1", True), ("IA_PM_2", False)], 40, 40, 20, 20),
    ("the cap absorbs an undocumented activity", {"small": True}, [("IA_EPA_1", True), ("IA_EPA_2", False)],
     60, 40, 40, 0),
    ("the cap absorbs only part of it", {"small": True}, [("IA_EPA_2", True), ("IA_EPA_3", False),
                                                         ("IA_PM_2", False)], 80, 40, 20, 20),
    ("half APM credit is not at risk", {"small": False, "apm": "other"}, [("IA_PM_2", False)], 40, 40, 20, 20),
    ("full APM credit covers an undocumented activity", {"small": False, "apm": "mips"}, [("IA_PM_2", False)],
     60, 40, 40, 0),
    ("medical-home practice", {"small": False, "pcmh": True}, [("IA_PM_2", False)], 60, 40, 40, 0),
    ("IA_PCMH attested and documented", {"small": False}, [("IA_PCMH", True)], 40, 40, 40, 0),
    ("IA_PCMH attested without documentation", {"small": False}, [("IA_PCMH", False)], 40, 40, 0, 40),
]  # fmt: skip


@pytest.mark.parametrize(("case", "practice", "activities", "raw", "claimed", "documented", "at_risk"), SCORES,
                         ids=[row[0] for row in SCORES])  # fmt: skip
def test_claimed_documented_and_at_risk(
    run, app, tmp_path: Path, case: str, practice: dict[str, Any], activities: list[tuple[str, bool]],
    raw: int, claimed: int, documented: int, at_risk: int,
) -> None:  # fmt: skip
    document = score_of(run, app, tmp_path, pcmh=practice.get("pcmh", False), apm=practice.get("apm", "none"),
                        small=practice["small"], activities=activities)  # fmt: skip
    totals = (document["raw_points"], document["points"], document["documented_points"], document["points_at_risk"])
    assert totals == (raw, claimed, documented, at_risk)
    for row, (_, has_evidence) in zip(document["activities"], sorted(activities), strict=True):
        assert row["counted"] and row["creditable"] is has_evidence
        assert row["points_at_risk"] == (0 if has_evidence else row["points"])
    text = run("score", "--tin", TIN, "--year", "2020").output
    if at_risk:
        assert f"Points documented: {documented} of 40; claimed {claimed} (raw {raw}); at risk {at_risk}" in text
        assert "40 of 40" not in text
    else:
        assert f"Points: {claimed} of 40 (raw {raw}), none at risk" in text


def test_export_of_a_fully_documented_entity_is_silent_even_when_strict(run, app, tmp_path: Path) -> None:
    score_of(run, app, tmp_path, pcmh=False, apm="none", small=False, activities=[("IA_PM_2", True)])
    result = run("export-qpp", "--tin", TIN, "--year", "2020", "--strict")
    assert result.stderr == "" and json.loads(result.stdout)["measurementSets"][0]["measurements"] == [
        {"measureId": "IA_PM_2", "value": True}
    ]


def test_a_participation_outside_the_tin_puts_the_activity_at_risk(run, app, tmp_path: Path) -> None:
    """2 of 4 valid participants meet the rule, but a third who does not bill under the TIN is listed."""
    with app.write() as session:
        practice = factories.practice(session)
        ids = factories.clinicians(session, practice, 2020, 4, **ORDINARY)
        other = factories.practice(session, "000999999")
        (outsider,) = factories.clinicians(session, other, 2020, 1, **ORDINARY)
        row = factories.attestation(session, session.get_one(Practice, practice.id), "IA_PM_2", 2020)
        factories.participations(session, row, [*ids[:2], outsider])
    register(run, tmp_path, "IA_PM_2", 1, "2020-06-15")
    document = json.loads(run("score", "--tin", TIN, "--year", "2020", "--format", "json").output)
    (pm2,) = document["activities"]
    assert pm2["counted"] and not pm2["creditable"] and pm2["points_at_risk"] == 40
    assert pm2["risks"][0].startswith(f"participation not counted: NPI {factories.npi_for(4)} does not bill")
    out = run("missing", "--tin", TIN, "--fail-on-missing", expect=1).output
    assert "credit: NOT CREDITABLE: participation not counted" in out
