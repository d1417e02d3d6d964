"""One piece of evidence as its page shows it: the practices it belongs to, its history in the
audit trail, and the facts needed to hand its file out (the web app's evidence page and download)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from evidence.db.models import Attestation, Event, Evidence, EvidenceLink, Practice, Tombstone
from evidence.errors import GoneError, NotFoundError


def no_such_evidence(evidence_id: int) -> NotFoundError:
    """One wording for an id that never existed and one a principal may not see."""
    return NotFoundError(f"no evidence with id {evidence_id}")


def evidence_tins(session: Session, evidence_id: int) -> frozenset[str] | None:
    """The practices the evidence belongs to: those of its links; with no link left, those its audit
    events were filed under (where it was registered and linked); a purged one, those its tombstones
    name. None when there is no such evidence and never was."""
    if session.get(Evidence, evidence_id) is not None:
        linked = frozenset(
            session.scalars(
                select(Practice.tin)
                .join(Attestation, Attestation.practice_id == Practice.id)
                .join(EvidenceLink, EvidenceLink.attestation_id == Attestation.id)
                .where(EvidenceLink.evidence_id == evidence_id)
            )
        )
        return linked or frozenset(e.tin for e, _ in _events_about(session, evidence_id) if e.tin is not None)
    stones = list(
        session.scalars(select(Tombstone.tin).where(Tombstone.kind == "evidence", Tombstone.record_id == evidence_id))
    )
    return frozenset(tin for tin in stones if tin is not None) if stones else None


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    summary: str
    reason: str | None


def _concerns(details: dict[str, Any], evidence_id: int) -> bool:
    """Whether an event's details name this evidence: its own id, or a removed link of it."""
    named = details.get("evidence")
    if named == evidence_id or (isinstance(named, list) and evidence_id in named):
        return True
    removed = details.get("removed_links")
    return isinstance(removed, list) and any(
        isinstance(link, dict) and link.get("evidence") == evidence_id for link in removed
    )


def _events_about(session: Session, evidence_id: int) -> list[tuple[Event, dict[str, Any]]]:
    """Every audit event about this evidence with its details, oldest first. Details are canonical
    JSON (audit.canonical: no spaces), so LIKE patterns narrow the rows and the parsed details decide."""
    named = (f'%"evidence":{evidence_id},%', f'%"evidence":{evidence_id}}}%')
    in_list = and_(Event.details.like('%"evidence":[%'), Event.details.like(f"%{evidence_id}%"))  # a purge
    candidates = session.scalars(
        select(Event).where(or_(*(Event.details.like(p) for p in named), in_list)).order_by(Event.seq)
    )
    found = []
    for event in candidates:
        try:
            details = json.loads(event.details)
        except ValueError:
            continue  # a damaged row: `log verify` names it; the page shows what it can read
        if isinstance(details, dict) and _concerns(details, evidence_id):
            found.append((event, details))
    return found


def evidence_history(session: Session, evidence_id: int) -> list[HistoryEntry]:
    """What happened to the record, oldest first: registered, edited, linked, unlinked, withdrawn,
    its attestation deleted."""
    return [
        HistoryEntry(
            event.seq,
            event.occurred_at,
            event.actor,
            event.action,
            event.summary,
            details["reason"] if isinstance(details.get("reason"), str) else None,
        )
        for event, details in _events_about(session, evidence_id)
    ]


@dataclass(frozen=True)
class EvidenceFile:
    """What a download needs: the stored blob and how to name it."""

    evidence_id: int
    original_name: str
    digest: str
    size: int
    media_type: str


def evidence_file(session: Session, evidence_id: int) -> EvidenceFile:
    """The file of current evidence; GoneError (410) for a withdrawn or purged record, whose file is
    not handed out as evidence any more; NotFoundError for an id that never existed."""
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        stone = session.scalars(
            select(Tombstone).where(Tombstone.kind == "evidence", Tombstone.record_id == evidence_id)
        ).first()
        if stone is not None:
            raise GoneError(
                f"evidence {evidence_id} was purged on {stone.purged_at:%Y-%m-%d} after its retention window: "
                "its file is no longer kept"
            )
        raise no_such_evidence(evidence_id)
    if evidence.withdrawn_at is not None:
        raise GoneError(
            f"evidence {evidence_id} was withdrawn on {evidence.withdrawn_at:%Y-%m-%d}: its file is kept for the "
            "record but not handed out as evidence (`evidence show` and the audit trail say why)"
        )
    blob = evidence.blob
    return EvidenceFile(evidence.id, evidence.original_name, blob.digest, blob.size, blob.media_type)
