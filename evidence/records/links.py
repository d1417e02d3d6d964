"""Linking registered evidence to another documentation item, and removing a mistaken link.

A `link` event carries what a `register` event carries (the attestation, the new link ids and
the retain-until then in force) so retention's chain replay learns each link's owner the same
way; an `unlink` event keeps what the removed link tied together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.db.models import Evidence, EvidenceLink
from evidence.errors import InputError, StoreError
from evidence.records.corrections import (
    correction_reason,
    describe_attestation,
    link_facts,
    nothing_to_change,
    refuse_if_held,
    require_row,
)
from evidence.retention import audit
from evidence.retention.policy import held_attestations, retention_years
from evidence.rules import cms as rules
from evidence.store.blobstore import BlobStore
from evidence.store.registration import LinkRequest, resolve_target


@dataclass(frozen=True)
class LinkChange:
    evidence_id: int
    link_ids: tuple[int, ...]
    label: str
    digest: str
    retain_until: date
    held: bool  # the attestation's practice and year are under a legal hold


def _usable_evidence(session: Session, evidence_id: int, doing: str) -> Evidence:
    evidence: Evidence = require_row(session, Evidence, evidence_id, "evidence", "evidence")
    if evidence.withdrawn_at is not None:
        raise InputError(
            f"evidence {evidence_id} was withdrawn on {evidence.withdrawn_at:%Y-%m-%d}; "
            f"withdrawn evidence keeps its links as they were, so it cannot {doing}"
        )
    return evidence


def link_evidence(session: Session, evidence_id: int, request: LinkRequest, *, reason: str, actor: str) -> LinkChange:
    """Link existing evidence to an attestation's documentation items, as `register` would."""
    reason = correction_reason(reason)
    evidence = _usable_evidence(session, evidence_id, "be linked")
    target = resolve_target(session, request)
    have = {
        (attestation_id, item_id)
        for attestation_id, item_id in session.execute(
            select(EvidenceLink.attestation_id, EvidenceLink.item_id).where(EvidenceLink.evidence_id == evidence.id)
        )
    }
    wanted = [item_id for item_id in target.item_ids if (target.attestation_id, item_id) not in have]
    if not wanted:
        raise nothing_to_change(f"evidence {evidence.id} is already linked to {target.label}")
    links = [
        EvidenceLink(
            evidence_id=evidence.id,
            attestation_id=target.attestation_id,
            item_id=item_id,
            clinician_id=target.clinician_id,
            created_by=actor,
        )
        for item_id in wanted
    ]
    session.add_all(links)
    session.flush()
    until = rules.retain_until(target.year, retention_years(session))
    link_ids = tuple(link.id for link in links)
    audit.record(session, actor, "link", f"evidence {evidence.id} linked to {target.label}: {reason}",
                 tin=target.tin, year=target.year,
                 details={"evidence": evidence.id, "links": list(link_ids), "attestation": target.attestation_id,
                          "retain_until": until.isoformat(), "old": None, "new": target.label,
                          "reason": reason})  # fmt: skip
    held = bool(held_attestations(session, [target.attestation_id]))
    return LinkChange(evidence.id, link_ids, target.label, evidence.blob.digest, until, held)


def protect_in_store(store: BlobStore, change: LinkChange) -> None:
    """After the commit: the file's own lock follows its new link (S3 Object Lock; nothing locally)."""
    try:
        store.extend_retention(change.digest, change.retain_until)
        if change.held:
            store.set_legal_hold(change.digest, True)
    except StoreError as exc:
        raise StoreError(
            f"the link is recorded, but the file store could not extend its own lock: {exc.message}; "
            "`evidence retention set` or `evidence hold add` mends it"
        ) from exc


@dataclass(frozen=True)
class Unlinked:
    link_id: int
    evidence_id: int
    attestation: str
    item: int
    links_left: int


def unlink_evidence(session: Session, link_id: int, *, reason: str, actor: str) -> Unlinked:
    """Remove a mistaken link; the evidence stays, and the event keeps what the link tied together."""
    reason = correction_reason(reason)
    link: EvidenceLink = require_row(session, EvidenceLink, link_id, "evidence_link", "evidence link")
    _usable_evidence(session, link.evidence_id, "be unlinked")
    attestation = link.attestation
    name = describe_attestation(attestation)
    refuse_if_held(session, attestation, f"unlink evidence {link.evidence_id} from {name}")
    facts = link_facts(link)
    session.delete(link)
    session.flush()
    left = len(list(session.scalars(select(EvidenceLink.id).where(EvidenceLink.evidence_id == facts["evidence"]))))
    audit.record(session, actor, "unlink",
                 f"evidence {facts['evidence']} unlinked from {name} item {facts['item']}: {reason}",
                 tin=attestation.practice.tin, year=attestation.performance_year,
                 details={"link": link_id, "evidence": facts["evidence"], "old": facts, "new": None,
                          "reason": reason})  # fmt: skip
    return Unlinked(link_id, facts["evidence"], name, facts["item"], left)
