"""The JSON and CSV shapes of the reports and listings, one place for every front end.

`evidence missing|score|list --format json|csv` and the web app's REST API and downloads
build their documents here, so the same arguments give the same document everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from evidence.records.listing import EvidenceView
from evidence.records.missing import ActivityStatus, MissingReport
from evidence.rules.cms import weight_label

if TYPE_CHECKING:
    from evidence.db.models import Membership
    from evidence.rules.scoring import ScoreReport


def missing_document(report: MissingReport) -> list[dict[str, Any]]:
    """`evidence missing --format json`: one object per attested activity."""
    return [activity_document(a) for a in report.activities]


def missing_rows(report: MissingReport) -> list[dict[str, Any]]:
    """`evidence missing --format csv`: one row per documentation item of each attested activity."""
    return [
        {
            "tin": a.tin,
            "year": a.year,
            "activity": a.activity_id,
            "level": a.level,
            "npi": a.npi,
            "start": a.start,
            "end": a.end,
            "rule": a.rule,
            "activity_status": a.status,
            "item": i.key,
            "label": i.label,
            "item_status": i.status,
            "evidence": "; ".join(e.name for e in i.covering),
            "outside_period": "; ".join(f"{e.name} ({e.effective})" for e in i.outside),
            "participation_met": None if a.participation is None else a.participation.met,
            "creditable": a.creditable,
            "credit_reasons": "; ".join(a.verdict.reasons),
        }
        for a in report.activities
        for i in a.items
    ]


def activity_document(a: ActivityStatus) -> dict[str, Any]:
    return {
        "tin": a.tin,
        "practice": a.practice_name,
        "year": a.year,
        "activity": a.activity_id,
        "title": a.title,
        "level": a.level,
        "npi": a.npi,
        "start": a.start,
        "end": a.end,
        "rule": a.rule,
        "generic": a.generic,
        "status": a.status,
        "missing": a.missing_text,
        "items": [
            {
                "key": i.key,
                "label": i.label,
                "status": i.status,
                "evidence": [
                    {
                        "id": e.id,
                        "name": e.name,
                        "effective_date": e.effective_date,
                        "effective_until": e.effective_until,
                        "sha256": e.digest,
                        "in_period": e.in_period,
                        "npi": e.clinician_npi,
                    }
                    for e in i.evidence
                ],
            }
            for i in a.items
        ],
        "participation": None
        if a.participation is None
        else {
            "clinicians": a.participation.clinicians,
            "participating": a.participation.valid_count,
            "half_required": a.participation.half_required,
            "met": a.participation.met,
            "participants": [p.npi for p in a.participation.participants],
        },
        "program_name": a.reporting.status.program_name if a.reporting else "mips",
        "pcmh_recognized": a.reporting.pcmh if a.reporting else False,
        "apm": a.reporting.apm if a.reporting else "none",
        "creditable": a.creditable,
        "credit_reasons": a.verdict.reasons,
        "checks": [{"check": c.name, "passed": c.passed, "reasons": list(c.reasons)} for c in a.verdict.checks],
    }


def score_document(report: ScoreReport) -> dict[str, Any]:
    return {
        "tin": report.tin,
        "performance_year": report.year,
        "npi": report.npi,
        "level": report.level,
        "points": report.points,
        "raw_points": report.raw_points,
        "category_score": float(report.category_score),
        "final_score_weight": report.final_score_weight,
        "final_score_points": float(report.final_score_points),
        "documented_points": report.documented_points,
        "documented_raw_points": report.documented_raw_points,
        "points_at_risk": report.points_at_risk,
        "documented_category_score": float(report.documented_category_score),
        "special_statuses": [
            {
                "status": s.status,
                "label": s.label,
                "doubles_ia_points": s.doubles_ia_points,
                "reason": s.reason,
            }
            for s in report.special_statuses
        ],
        "program": {
            "program": report.program.program,
            "program_name": report.program.program_name,
            "recorded_for": report.program.source,
            "requirement": report.program.requirement,
            "problems": list(report.program.problems),
        },
        "credits": {
            "pcmh": {"points": report.pcmh.points, "reason": report.pcmh.reason},
            "apm": {"kind": report.apm.kind, "points": report.apm.points, "reason": report.apm.reason},
        },
        "activities": [
            {
                "activity": a.activity_id,
                "title": a.title,
                "weight": weight_label(a.weight),  # the word catalog list and the CSV use: never null
                "base_points": a.base_points,
                "doubled": a.doubled,
                "points": a.points,
                "counted": a.counted,
                "reasons": list(a.reasons),
                "creditable": a.creditable,
                "documented_points": a.documented_points,
                "points_at_risk": a.points_at_risk,
                "risks": list(a.risks),
            }
            for a in report.activities
        ],
        "notes": report.notes,
    }


def evidence_rows(views: Iterable[EvidenceView]) -> list[dict[str, Any]]:
    rows = []
    for v in views:
        links = "; ".join(
            f"{link.tin} PY{link.year} {link.activity_id} item {link.item_key}"
            + (
                f" (NPI {link.clinician_npi or link.attestation_npi})"
                if (link.clinician_npi or link.attestation_npi)
                else ""
            )
            for link in v.links
        )
        rows.append(
            {
                "id": v.id,
                "name": v.original_name,
                "effective": v.effective,
                "effective_date": v.effective_date,
                "effective_until": v.effective_until,
                "size": v.size,
                "media_type": v.media_type,
                "sha256": v.digest,
                "registered_by": v.registered_by,
                "registered_at": v.registered_at.replace(microsecond=0),
                "withdrawn": v.withdrawn_at is not None,
                "links": links,
                "description": v.description,
            }
        )
    return rows


EVIDENCE_TABLE_COLUMNS = ["id", "name", "effective", "size", "withdrawn", "links"]


def evidence_columns(rows: list[dict[str, Any]], fmt: str) -> list[str]:
    """A table shows `effective` as one word; JSON and CSV give the dates as data instead."""
    if fmt == "table" or not rows:
        return EVIDENCE_TABLE_COLUMNS
    return [c for c in rows[0] if c != "effective"]


def evidence_document(views: Iterable[EvidenceView]) -> list[dict[str, Any]]:
    """`evidence list --format json`."""
    rows = evidence_rows(views)
    columns = evidence_columns(rows, "json")
    return [{k: r.get(k) for k in columns} for r in rows]


def clinician_rows(members: Iterable[Membership]) -> list[dict[str, Any]]:
    """`evidence clinician list` and the web app's records page: one row per clinician and year."""
    return [
        {
            "year": m.performance_year,
            "npi": m.clinician.npi,
            "name": m.clinician.name,
            "rural": m.rural,
            "hpsa": m.hpsa,
            "patient_facing_encounters": m.patient_facing_encounters,
            "hospital_pos_pct": m.hospital_pos_pct,
            "asc_pos_pct": m.asc_pos_pct,
        }
        for m in members
    ]
