"""What is registered, and where it is linked: listings for `evidence list` and `show`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from evidence.db.models import (
    Activity,
    Attestation,
    Blob,
    Clinician,
    DocumentationItem,
    Evidence,
    EvidenceLink,
    Practice,
)
from evidence.errors import NotFoundError
from evidence.rules import coverage


@dataclass(frozen=True)
class LinkView:
    tin: str
    year: int
    activity_id: str
    item_key: int
    item_label: str
    attestation_npi: str | None
    clinician_npi: str | None
    link_id: int  # what `evidence unlink` names
    attestation_id: int


@dataclass(frozen=True)
class EvidenceView:
    id: int
    original_name: str
    effective_date: date
    effective_until: date | None  # None: a single day
    description: str | None
    size: int
    media_type: str
    hash_algorithm: str
    digest: str
    registered_by: str
    registered_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawal_reason: str | None
    links: tuple[LinkView, ...]

    @property
    def effective(self) -> str:
        """ "2020-10-05", or "2019-12-01 to 2020-12-31" for a range."""
        return coverage.describe(self.effective_date, self.effective_until)


def _views(
    session: Session,
    evidence_ids: list[int] | None,
    *,
    tin: str | None = None,
    year: int | None = None,
    activity: str | None = None,
) -> list[EvidenceView]:
    attesting = Clinician.__table__.alias("attesting")
    query = (
        select(
            EvidenceLink.evidence_id,
            Practice.tin,
            Attestation.performance_year,
            Activity.activity_id,
            DocumentationItem.key,
            DocumentationItem.label,
            attesting.c.npi,
            Clinician.npi,
            EvidenceLink.id,
            EvidenceLink.attestation_id,
        )
        .join(Attestation, Attestation.id == EvidenceLink.attestation_id)
        .join(Practice, Practice.id == Attestation.practice_id)
        .join(Activity, Activity.id == Attestation.activity_pk)
        .join(DocumentationItem, DocumentationItem.id == EvidenceLink.item_id)
        .outerjoin(attesting, attesting.c.id == Attestation.clinician_id)
        .outerjoin(Clinician, Clinician.id == EvidenceLink.clinician_id)
        .order_by(EvidenceLink.evidence_id, Attestation.performance_year, Activity.activity_id, DocumentationItem.key)
    )
    if evidence_ids is not None:
        query = query.where(EvidenceLink.evidence_id.in_(evidence_ids))
    if tin is not None:
        query = query.where(Practice.tin == tin)
    if year is not None:
        query = query.where(Attestation.performance_year == year)
    if activity is not None:
        query = query.where(Activity.activity_id == activity)
    links: dict[int, list[LinkView]] = {}
    for evidence_id, *fields in session.execute(query):
        links.setdefault(evidence_id, []).append(LinkView(*fields))
    ids = list(links) if evidence_ids is None else evidence_ids
    if not ids:
        return []
    rows = session.scalars(
        select(Evidence).options(joinedload(Evidence.blob)).where(Evidence.id.in_(ids)).order_by(Evidence.id)
    )
    return [
        EvidenceView(
            e.id,
            e.original_name,
            e.effective_date,
            e.effective_until,
            e.description,
            e.blob.size,
            e.blob.media_type,
            e.blob.hash_algorithm,
            e.blob.digest,
            e.registered_by,
            e.registered_at,
            e.withdrawn_at,
            e.withdrawn_by,
            e.withdrawal_reason,
            tuple(links.get(e.id, [])),
        )
        for e in rows
    ]


def list_evidence(
    session: Session, *, tin: str | None = None, year: int | None = None, activity: str | None = None
) -> list[EvidenceView]:
    """Evidence linked to the given practice / year / activity (all evidence when unfiltered)."""
    if tin is None and year is None and activity is None:
        linked = _views(session, None)
        unlinked_ids = list(
            session.scalars(select(Evidence.id).where(~Evidence.id.in_(select(EvidenceLink.evidence_id))))
        )
        return sorted(linked + _views(session, unlinked_ids), key=lambda v: v.id)
    return _views(session, None, tin=tin, year=year, activity=activity)


def evidence_detail(session: Session, evidence_id: int) -> EvidenceView:
    views = _views(session, [evidence_id])
    if views:
        return views[0]
    from evidence.retention.policy import tombstones_for

    for stone in tombstones_for(session, record_id=evidence_id):
        raise NotFoundError(
            f"evidence {evidence_id} was purged on {stone.purged_at:%Y-%m-%d} by {stone.purged_by} "
            f"after its retention window (kept through {stone.retain_until}): {stone.description}, "
            f"sha256 {stone.sha256}"
        )
    raise NotFoundError(f"no evidence with id {evidence_id}")


def blob_digests(session: Session) -> dict[str, int]:
    """digest -> size for every blob the database knows."""
    return {digest: size for digest, size in session.execute(select(Blob.digest, Blob.size))}
