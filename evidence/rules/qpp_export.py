"""The IA measurement set in the QPP Submissions API shape (RULES.md "Submission format").

Only activities whose claim holds (period, group rule) are submitted; the rest are returned
with their reasons so the user sees what was left out and why. A submitted activity that is
not creditable (its documentation does not cover it inside the attested period, see
evidence.rules.credit) is named with its reasons; `strict=True` refuses such a submission.

The entity (individual, group, virtual group, APM entity, subgroup), its programName and the
submissionMethod follow CMS's rules of the year (evidence.rules.cms); every document is then
checked against the shipped JSON Schema (rules/data/qpp_submission.schema.json) before anyone
writes it. A virtual group, APM entity or subgroup submits the TIN's group attestations under the
entity's id: the tool keeps one TIN's records.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from evidence.errors import ConflictError, InputError, NotFoundError
from evidence.records.reporting import year_status
from evidence.rules import cms as rules
from evidence.rules.scoring import ActivityScore, score
from evidence.rules.status import reporting_entity
from evidence.support.text import plural

if TYPE_CHECKING:  # jsonschema is imported where the validator is first built
    from jsonschema.protocols import Validator

# What users type (export-qpp --entity-type) -> CMS's entityType.
ENTITY_TYPES = {
    "individual": "individual",
    "group": "group",
    "virtual-group": "virtualGroup",
    "apm-entity": "apm",
    "subgroup": "subgroup",
}
PCMH_MEASURE = "IA_PCMH"


@dataclass(frozen=True)
class QppSubmission:
    document: dict[str, Any]
    submitted: list[ActivityScore]
    left_out: list[ActivityScore]
    tin: str
    year: int
    npi: str | None
    entity_type: str
    entity_id: str | None
    program_name: str
    submission_method: str

    @property
    def undocumented(self) -> list[ActivityScore]:
        """Submitted, but not creditable: an audit would find their documentation wanting."""
        return [a for a in self.submitted if not a.creditable]

    def to_json(self) -> str:
        return json.dumps(self.document, indent=2) + "\n"

    @property
    def measure_ids(self) -> list[str]:
        """What the document submits: the counted activities, and IA_PCMH for a recognised medical home."""
        return [m["measureId"] for s in self.document["measurementSets"] for m in s["measurements"]]

    @property
    def who(self) -> str:
        if self.npi:
            return f"NPI {self.npi} under TIN {self.tin}"
        if self.entity_id:
            return f"{rules.QPP_ENTITY_LABELS[self.entity_type]} {self.entity_id} (TIN {self.tin})"
        return f"TIN {self.tin} (group)"


def record_export(session: Session, submission: QppSubmission, *, target: str, actor: str) -> None:
    """The `qpp.export` event, once the JSON is written: its SHA-256, what it submits, where it went.

    An output event (evidence.retention.audit.OUTPUT_ACTIONS): packets do not report it.
    """
    from evidence.retention.audit import QPP_EXPORT_ACTION, record

    data = submission.to_json().encode()
    digest = hashlib.sha256(data).hexdigest()
    count = plural(len(submission.measure_ids), "activity")
    record(
        session,
        actor,
        QPP_EXPORT_ACTION,
        f"QPP export of {submission.who}, PY{submission.year} ({submission.program_name}): {count} to {target}",
        tin=submission.tin,
        year=submission.year,
        details={
            "npi": submission.npi,
            "entity_type": submission.entity_type,
            "entity_id": submission.entity_id,
            "program_name": submission.program_name,
            "submission_method": submission.submission_method,
            "measurements": submission.measure_ids,
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
    session: Session,
    tin: str,
    year: int | str,
    npi: str | None = None,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    submission_method: str = rules.DEFAULT_SUBMISSION_METHOD,
    strict: bool = False,
) -> QppSubmission:
    """The submission of `tin` (or `npi` under it) as `entity_type` (CMS's name; default: individual
    with an NPI, else group). InputError for what CMS would refuse (entity, id, program, method, year,
    or the shipped schema); NotFoundError when nothing qualifies; with `strict`, ConflictError when
    any submitted activity is not creditable."""
    entity_type = entity_type or ("individual" if npi else "group")
    _check_entity(entity_type, entity_id, npi)
    entity = reporting_entity(session, tin, year, npi)
    status = year_status(session, entity.practice.tin, entity.year, entity.clinician.npi if entity.clinician else None)
    program_name = status.program_name
    for problem in (
        rules.qpp_entity_problem(entity.year, entity_type, program_name),
        rules.qpp_submission_method_problem(entity.year, submission_method),
    ):
        if problem:
            raise InputError(f"not exported: {problem}")
    report = score(session, tin, entity.year, npi)
    submitted = [a for a in report.activities if a.counted]  # already in activity-id order
    left_out = [a for a in report.activities if not a.counted]
    measure_ids = [a.activity_id for a in submitted]
    if status.pcmh and PCMH_MEASURE not in measure_ids:
        measure_ids.insert(0, PCMH_MEASURE)  # the recognition itself is CMS's IA_PCMH attestation
    if not measure_ids:
        who = f"NPI {report.npi} under TIN {report.tin}" if report.npi else f"TIN {report.tin}"
        why = "no activity meets the requirements" if left_out else f"no {report.level} attestations"
        raise NotFoundError(
            f"nothing to export for {who} in PY{report.year}: {why}",
            details=[left_out_line(a) for a in left_out],
        )
    start, end = rules.performance_period(report.year)
    document: dict[str, Any] = {"entityType": entity_type}
    if entity_id is not None:
        document["entityId"] = entity_id
    else:
        document["taxpayerIdentificationNumber"] = report.tin
    if report.npi:
        document["nationalProviderIdentifier"] = report.npi
    document["performanceYear"] = report.year
    document["measurementSets"] = [
        {
            "category": "ia",
            "submissionMethod": submission_method,
            "programName": program_name,
            "performanceStart": start.isoformat(),
            "performanceEnd": end.isoformat(),
            "measurements": [{"measureId": measure_id, "value": True} for measure_id in measure_ids],
        }
    ]
    schema_check(document)
    submission = QppSubmission(
        document, submitted, left_out, report.tin, report.year, report.npi,
        entity_type, entity_id, program_name, submission_method,
    )  # fmt: skip
    undocumented = submission.undocumented
    if strict and undocumented:
        raise ConflictError(
            f"not exported (--strict): {len(undocumented)} of {len(submitted)} submitted activities "
            "are not fully documented",
            details=[undocumented_line(a) for a in undocumented],
        )
    return submission


def _check_entity(entity_type: str, entity_id: str | None, npi: str | None) -> None:
    if entity_type not in rules.QPP_ENTITY_FIRST_YEAR:
        raise InputError(f"unknown entity type {entity_type!r}")
    if entity_type == "individual" and npi is None:
        raise InputError("not exported: an individual submission needs the clinician's NPI")
    if entity_type != "individual" and npi is not None:
        label = rules.QPP_ENTITY_LABELS[entity_type]
        raise InputError(f"not exported: an NPI names an individual, not {rules.article(label)}")
    if problem := rules.qpp_entity_id_problem(entity_type, entity_id):
        raise InputError(f"not exported: {problem}")


@cache
def _validator() -> Validator:
    import jsonschema

    text = files("evidence.rules").joinpath("data/qpp_submission.schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text), format_checker=jsonschema.FormatChecker())


def schema_problem(document: dict[str, Any]) -> str | None:
    """The first place the shipped QPP submission schema refuses `document`, in one line, or None."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(document))
    if error is None:
        return None
    where = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in error.absolute_path)
    where = where.lstrip(".") or "the document"
    if error.validator == "not" and error.validator_value == {}:  # a field CMS does not take for this entity type
        return f"{where}: not allowed for entityType {document.get('entityType')!r}"
    return f"{where}: {error.message}"


def schema_check(document: dict[str, Any]) -> None:
    if problem := schema_problem(document):
        raise InputError(f"not exported: the QPP submission schema refuses {problem}")
