"""The IA measurement set in the QPP Submissions API shape (RULES.md "Submission format").

Only activities whose claim holds (period, group rule) are submitted; the rest are returned
with their reasons so the user sees what was left out and why. A submitted activity that is
not creditable (its documentation does not cover it inside the attested period, see
evidence.rules.credit) is named with its reasons; `strict=True` refuses such a submission.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from evidence.errors import ConflictError, NotFoundError
from evidence.rules import cms as rules
from evidence.rules.scoring import ActivityScore, score
from evidence.support.text import plural

SUBMISSION_METHOD = "registry"


@dataclass(frozen=True)
class QppSubmission:
    document: dict[str, Any]
    submitted: list[ActivityScore]
    left_out: list[ActivityScore]

    @property
    def undocumented(self) -> list[ActivityScore]:
        """Submitted, but not creditable: an audit would find their documentation wanting."""
        return [a for a in self.submitted if not a.creditable]

    def to_json(self) -> str:
        return json.dumps(self.document, indent=2) + "\n"

    @property
    def tin(self) -> str:
        return str(self.document["taxpayerIdentificationNumber"])

    @property
    def year(self) -> int:
        return int(self.document["performanceYear"])

    @property
    def npi(self) -> str | None:
        return self.document.get("nationalProviderIdentifier")


def record_export(session: Session, submission: QppSubmission, *, target: str, actor: str) -> None:
    """The `qpp.export` event, once the JSON is written: its SHA-256, what it submits, where it went.

    An output event (evidence.retention.audit.OUTPUT_ACTIONS): packets do not report it.
    """
    from evidence.retention.audit import QPP_EXPORT_ACTION, record

    data = submission.to_json().encode()
    digest = hashlib.sha256(data).hexdigest()
    who = f"NPI {submission.npi} under TIN {submission.tin}" if submission.npi else f"TIN {submission.tin} (group)"
    record(
        session,
        actor,
        QPP_EXPORT_ACTION,
        f"QPP export of {who}, PY{submission.year}: {plural(len(submission.submitted), 'activity')} to {target}",
        tin=submission.tin,
        year=submission.year,
        details={
            "npi": submission.npi,
            "sha256": digest,
            "size": len(data),
            "target": target,
            "submitted": [a.activity_id for a in submission.submitted],
            "left_out": [a.activity_id for a in submission.left_out],
        },
    )


def left_out_line(activity: ActivityScore) -> str:
    return f"{activity.activity_id} left out: {'; '.join(activity.problems)}"


def undocumented_line(activity: ActivityScore) -> str:
    return f"{activity.activity_id} submitted but not fully documented: {'; '.join(activity.risks)}"


def build_submission(
    session: Session, tin: str, year: int | str, npi: str | None = None, *, strict: bool = False
) -> QppSubmission:
    """The submission; with `strict`, ConflictError when any submitted activity is not creditable."""
    report = score(session, tin, year, npi)
    submitted = [a for a in report.activities if a.counted]  # already in activity-id order
    left_out = [a for a in report.activities if not a.counted]
    if not submitted:
        who = f"NPI {report.npi} under TIN {report.tin}" if report.npi else f"TIN {report.tin}"
        why = "no activity meets the requirements" if left_out else f"no {report.level} attestations"
        raise NotFoundError(
            f"nothing to export for {who} in PY{report.year}: {why}",
            details=[left_out_line(a) for a in left_out],
        )
    start, end = rules.performance_period(report.year)
    document: dict[str, Any] = {
        "entityType": report.level,
        "taxpayerIdentificationNumber": report.tin,
    }
    if report.npi:
        document["nationalProviderIdentifier"] = report.npi
    document["performanceYear"] = report.year
    document["measurementSets"] = [
        {
            "category": "ia",
            "submissionMethod": SUBMISSION_METHOD,
            "performanceStart": start.isoformat(),
            "performanceEnd": end.isoformat(),
            "measurements": [{"measureId": a.activity_id, "value": True} for a in submitted],
        }
    ]
    submission = QppSubmission(document, submitted, left_out)
    undocumented = submission.undocumented
    if strict and undocumented:
        raise ConflictError(
            f"not exported (--strict): {len(undocumented)} of {len(submitted)} submitted activities "
            "are not fully documented",
            details=[undocumented_line(a) for a in undocumented],
        )
    return submission
