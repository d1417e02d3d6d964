"""Correcting what a piece of evidence says about itself: its effective date or range, its description.

The file, its hash and its links never change here. Each edit is one `evidence.edit` event of
the audit trail with the old and the new values and the reason, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.db.models import Attestation, Evidence, EvidenceLink, Practice
from evidence.errors import InputError, NotFoundError
from evidence.retention import audit
from evidence.rules import coverage

EDIT_ACTION = "evidence.edit"


@dataclass(frozen=True)
class EvidenceEdit:
    """What changed: field -> (old, new), in the order effective_date, effective_until, description."""

    evidence_id: int
    name: str
    changes: dict[str, tuple[Any, Any]]
    reason: str

    def describe(self) -> str:
        return "; ".join(f"{field} {_shown(old)} -> {_shown(new)}" for field, (old, new) in self.changes.items())


def _shown(value: Any) -> str:
    return "(none)" if value is None else str(value) if isinstance(value, date) else repr(value)


def edit_evidence(
    session: Session,
    evidence_id: int,
    *,
    reason: str,
    actor: str,
    effective_date: date | None = None,
    effective_from: date | None = None,
    effective_until: date | None = None,
    description: str | None = None,
) -> EvidenceEdit:
    """Change evidence's effective date (one day), start and/or end of its range, or description.

    effective_date makes it a single day; effective_from or effective_until alone keeps the other
    end as recorded (a single day given only an until becomes a range from that day). Refused
    (InputError, NotFoundError) for unknown, purged or withdrawn evidence, a missing reason, a
    range ending before it starts, or nothing to change.
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise InputError("an edit needs a --reason")
    if effective_date is not None and (effective_from is not None or effective_until is not None):
        raise InputError("give --effective-date (one day) or --effective-from/--effective-until (a range), not both")
    if (effective_date, effective_from, effective_until, description) == (None, None, None, None):
        raise InputError(
            "nothing to change: give --effective-date, --effective-from/--effective-until or --description"
        )
    if description is not None:
        if not description.strip():
            raise InputError("--description is empty: give the text that describes the file")
        if "\x00" in description:  # no database can store it (PostgreSQL)
            raise InputError("--description contains a NUL character")
    evidence = _require(session, evidence_id)
    old_from, old_until = evidence.effective_date, evidence.effective_until
    new_from, new_until = old_from, old_until
    if effective_date is not None:
        new_from, new_until = effective_date, None
    elif effective_from is not None or effective_until is not None:
        if effective_until is None and old_until is None:  # a start alone would be read as a range or a day
            raise InputError(
                f"evidence {evidence_id} has a single effective date ({old_from}): give --effective-until with "
                "--effective-from for a range, or --effective-date for another day"
            )
        start = effective_from or old_from
        until = effective_until if effective_until is not None else old_until
        new_from, new_until = coverage.normalized_range(start, until)
    changes: dict[str, tuple[Any, Any]] = {}
    if new_from != old_from:
        changes["effective_date"] = (old_from, new_from)
    if new_until != old_until:
        changes["effective_until"] = (old_until, new_until)
    if description is not None and description != evidence.description:
        changes["description"] = (evidence.description, description)
    if not changes:
        now = coverage.describe(old_from, old_until)
        raise InputError(f"nothing to change: evidence {evidence_id} already says effective {now}"
                         + (" and that description" if description is not None else ""))  # fmt: skip
    evidence.effective_date, evidence.effective_until = new_from, new_until
    if "description" in changes:
        evidence.description = description
    session.flush()
    edit = EvidenceEdit(evidence.id, evidence.original_name, changes, reason)
    tin, year = _one_practice_year(session, evidence.id)
    audit.record(
        session,
        actor,
        EDIT_ACTION,
        f"evidence {evidence.id} edited: {', '.join(changes)} ({reason})",
        tin=tin,
        year=year,
        details={
            "evidence": evidence.id,
            "old": {field: _plain(old) for field, (old, _) in changes.items()},
            "new": {field: _plain(new) for field, (_, new) in changes.items()},
            "reason": reason,
        },
    )
    return edit


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _require(session: Session, evidence_id: int) -> Evidence:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        from evidence.retention.policy import tombstones_for

        for stone in tombstones_for(session, record_id=evidence_id):
            raise NotFoundError(f"evidence {evidence_id} was purged on {stone.purged_at:%Y-%m-%d}: nothing to edit")
        raise NotFoundError(f"no evidence with id {evidence_id}")
    if evidence.withdrawn_at is not None:
        raise InputError(
            f"evidence {evidence_id} was withdrawn on {evidence.withdrawn_at:%Y-%m-%d}: a withdrawn record "
            "is not edited (register the file again for a new record)"
        )
    return evidence


def _one_practice_year(session: Session, evidence_id: int) -> tuple[str | None, int | None]:
    """The event is filed under the practice and year when all the evidence's links share them."""
    pairs = session.execute(
        select(Practice.tin, Attestation.performance_year)
        .join(Attestation, Attestation.practice_id == Practice.id)
        .join(EvidenceLink, EvidenceLink.attestation_id == Attestation.id)
        .where(EvidenceLink.evidence_id == evidence_id)
        .distinct()
    ).all()
    return (pairs[0][0], pairs[0][1]) if len(pairs) == 1 else (None, None)
