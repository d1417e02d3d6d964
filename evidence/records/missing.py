"""The missing-documentation report: for every attested activity, each suggested item,
the evidence that covers it, and what is still missing under the activity's rule.

Evidence counts only if its effective date falls inside the attested period, or, for
evidence about one participating clinician of a group attestation, inside that
clinician's own period. The report issues a fixed number of queries whatever the size of
the store (five), so it stays fast for large practices.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from evidence.db.models import (
    Activity,
    Attestation,
    Blob,
    Clinician,
    DocumentationItem,
    DocumentationRequirement,
    Evidence,
    EvidenceLink,
    Membership,
    Participation,
    Practice,
)
from evidence.errors import NotFoundError
from evidence.rules import cms as rules

COMPLETE, INCOMPLETE, MISSING = "complete", "incomplete", "missing"
_Columns = TypeVarTuple("_Columns")


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    id: int
    name: str
    effective_date: date
    description: str | None
    size: int
    hash_algorithm: str
    digest: str
    media_type: str
    registered_by: str
    registered_at: datetime
    clinician_npi: str | None
    period_start: date
    period_end: date

    @property
    def in_period(self) -> bool:
        return self.period_start <= self.effective_date <= self.period_end


@dataclass
class ItemStatus:
    key: int
    label: str
    description: str
    evidence: list[EvidenceRef] = field(default_factory=list)

    @property
    def covering(self) -> list[EvidenceRef]:
        return [e for e in self.evidence if e.in_period]

    @property
    def outside(self) -> list[EvidenceRef]:
        return [e for e in self.evidence if not e.in_period]

    @property
    def status(self) -> str:
        if self.covering:
            return "covered"
        return "outside the attested period" if self.evidence else "missing"


@dataclass(frozen=True)
class Participant:
    npi: str
    name: str
    start: date
    end: date
    valid: bool
    evidence_count: int


@dataclass(frozen=True)
class ParticipationCheck:
    """The group rule: before 2020 one clinician suffices, from 2020 at least half must take part."""

    year: int
    clinicians: int
    participants: tuple[Participant, ...]

    @property
    def half_required(self) -> bool:
        return rules.group_needs_half_of_clinicians(self.year)

    @property
    def valid_count(self) -> int:
        return sum(1 for p in self.participants if p.valid)

    @property
    def met(self) -> bool:
        return rules.group_participation_met(self.year, self.valid_count, self.clinicians)

    def describe(self) -> str:
        share = f"{self.valid_count / self.clinicians:.0%}" if self.clinicians else "n/a"
        base = f"{self.valid_count} of {self.clinicians} clinicians ({share}) with their own 90-day period"
        if not self.half_required:
            if not self.participants:
                return "not required before 2020 (one clinician's work lets the TIN claim the activity)"
            return base + "; one clinician is enough before 2020"
        return base + ("; meets the 50% rule" if self.met else "; below the 50% rule")


@dataclass
class ActivityStatus:
    attestation_id: int
    tin: str
    practice_name: str
    year: int
    activity_id: str
    title: str
    weight: str | None
    subcategory: str | None
    npi: str | None
    clinician_name: str | None
    start: date
    end: date
    rule: str
    generic: bool
    items: list[ItemStatus]
    participation: ParticipationCheck | None = None

    @property
    def level(self) -> str:
        return "individual" if self.npi else "group"

    @property
    def covered_keys(self) -> list[int]:
        return [i.key for i in self.items if i.covering]

    @property
    def status(self) -> str:
        covered = len(self.covered_keys)
        satisfied = covered >= 1 if self.rule == "any" else covered == len(self.items)
        if satisfied:
            return COMPLETE
        if not any(i.evidence for i in self.items):
            return MISSING
        return INCOMPLETE

    @property
    def missing_text(self) -> str:
        """What is still needed, in words; empty when complete."""
        if self.status == COMPLETE:
            return ""
        outside = [i.key for i in self.items if i.status == "outside the attested period"]
        note = f" (item {', '.join(map(str, outside))}: evidence only outside the attested period)" if outside else ""
        uncovered = [i.key for i in self.items if not i.covering]
        if self.rule == "any":
            return f"needs one of items {', '.join(map(str, uncovered))}{note}"
        return f"missing item {', '.join(map(str, uncovered))}{note}"


@dataclass
class MissingReport:
    activities: list[ActivityStatus]
    queries: int = 0

    def count(self, status: str) -> int:
        return sum(1 for a in self.activities if a.status == status)

    @property
    def anything_missing(self) -> bool:
        return any(a.status != COMPLETE for a in self.activities)


def _filtered(query: Select[*_Columns], tin: str | None, year: int | None, npi: str | None) -> Select[*_Columns]:
    if tin is not None:
        query = query.where(Attestation.practice_id == select(Practice.id).where(Practice.tin == tin).scalar_subquery())
    if year is not None:
        query = query.where(Attestation.performance_year == year)
    if npi is not None:
        query = query.where(
            Attestation.clinician_id == select(Clinician.id).where(Clinician.npi == npi).scalar_subquery()
        )
    return query


def missing_report(
    session: Session, *, tin: str | None = None, year: int | None = None, npi: str | None = None
) -> MissingReport:
    if tin is not None and session.scalar(select(Practice.id).where(Practice.tin == tin)) is None:
        raise NotFoundError(f"no practice with TIN {tin}")
    attesting = aliased(Clinician)
    # Plain columns, not ORM entities: a large practice has 100,000 evidence links, and
    # building that many tracked objects costs seconds.
    # 1. The attestations.
    attestation_rows = session.execute(
        _filtered(
            select(
                Attestation.id,
                Attestation.practice_id,
                Attestation.clinician_id,
                Attestation.performance_year,
                Attestation.start_date,
                Attestation.end_date,
                Activity.activity_id,
                Activity.title,
                Activity.weight,
                Activity.subcategory,
                Practice.tin,
                Practice.name,
                attesting.npi,
                attesting.name,
            )
            .join(Activity, Activity.id == Attestation.activity_pk)
            .join(Practice, Practice.id == Attestation.practice_id)
            .outerjoin(attesting, attesting.id == Attestation.clinician_id),
            tin,
            year,
            npi,
        )
    ).all()
    ids = _filtered(select(Attestation.id), tin, year, npi).scalar_subquery()
    # 2. The documentation items of the activities involved.
    requirement_rows = session.execute(
        select(
            DocumentationRequirement.activity_id,
            DocumentationRequirement.rule,
            DocumentationRequirement.generic,
            DocumentationItem.id,
            DocumentationItem.key,
            DocumentationItem.label,
            DocumentationItem.description,
        )
        .join(DocumentationItem, DocumentationItem.activity_id == DocumentationRequirement.activity_id)
        .where(
            DocumentationRequirement.activity_id.in_(
                select(Activity.activity_id)
                .join(Attestation, Attestation.activity_pk == Activity.id)
                .where(Attestation.id.in_(ids))
            )
        )
        .order_by(DocumentationItem.activity_id, DocumentationItem.key)
    ).all()
    # 3. Participation in group attestations.
    participation_rows = session.execute(
        select(
            Participation.attestation_id,
            Participation.clinician_id,
            Participation.start_date,
            Participation.end_date,
            Clinician.npi,
            Clinician.name,
        )
        .join(Clinician, Clinician.id == Participation.clinician_id)
        .where(Participation.attestation_id.in_(ids))
        .order_by(Clinician.npi)
    ).all()
    # 4. Evidence links (withdrawn evidence never counts).
    linked = aliased(Clinician)
    link_rows = session.execute(
        select(
            EvidenceLink.attestation_id,
            EvidenceLink.item_id,
            EvidenceLink.clinician_id,
            linked.npi,
            Evidence.id,
            Evidence.original_name,
            Evidence.effective_date,
            Evidence.description,
            Blob.size,
            Blob.hash_algorithm,
            Blob.digest,
            Blob.media_type,
            Evidence.registered_by,
            Evidence.registered_at,
        )
        .join(Evidence, Evidence.id == EvidenceLink.evidence_id)
        .join(Blob, Blob.id == Evidence.blob_id)
        .outerjoin(linked, linked.id == EvidenceLink.clinician_id)
        .where(EvidenceLink.attestation_id.in_(ids), Evidence.withdrawn_at.is_(None))
        .order_by(Evidence.effective_date, Evidence.id)
    ).all()
    # 5. Clinicians per practice and year (the 50% denominator).
    member_counts = {
        (practice_id, y): n
        for practice_id, y, n in session.execute(
            select(Membership.practice_id, Membership.performance_year, func.count()).group_by(
                Membership.practice_id, Membership.performance_year
            )
        )
    }

    items_by_activity: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
    requirements: dict[str, tuple[str, bool]] = {}
    for activity_id, rule, generic, item_id, key, label, description in requirement_rows:
        requirements[activity_id] = (rule, generic)
        items_by_activity[activity_id].append((item_id, key, label, description))
    participations: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in participation_rows:
        participations[row[0]].append(row[1:])
    links: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for link_row in link_rows:
        links[link_row[0]].append(link_row[1:])

    activities: list[ActivityStatus] = []
    for (attestation_id, practice_id, clinician_id, a_year, a_start, a_end, activity_id, title, weight,
         subcategory, p_tin, p_name, a_npi, a_name) in attestation_rows:  # fmt: skip
        rule, generic = requirements[activity_id]
        item_status = {
            item_id: ItemStatus(key, label, description)
            for item_id, key, label, description in items_by_activity[activity_id]
        }
        own_periods = {c_id: (start, end) for c_id, start, end, _, _ in participations[attestation_id]}
        evidence_per_clinician: dict[int, int] = defaultdict(int)
        for item_id, link_clinician, clinician_npi, *evidence in links[attestation_id]:
            start, end = own_periods.get(link_clinician, (a_start, a_end))
            if link_clinician is not None:
                evidence_per_clinician[link_clinician] += 1
            status = item_status.get(item_id)
            if status is not None:
                # mypy lets the list *evidence fill every parameter; it holds the 10 evidence columns.
                status.evidence.append(EvidenceRef(*evidence, clinician_npi, start, end))  # type: ignore[call-arg]
        check = None
        if clinician_id is None:
            participants = tuple(
                Participant(
                    p_npi,
                    name,
                    start,
                    end,
                    rules.period_problem(a_year, start, end) is None,
                    evidence_per_clinician.get(c_id, 0),
                )
                for c_id, start, end, p_npi, name in participations[attestation_id]
            )
            check = ParticipationCheck(a_year, member_counts.get((practice_id, a_year), 0), participants)
        activities.append(
            ActivityStatus(
                attestation_id,
                p_tin,
                p_name,
                a_year,
                activity_id,
                title,
                weight,
                subcategory,
                a_npi,
                a_name,
                a_start,
                a_end,
                rule,
                generic,
                sorted(item_status.values(), key=lambda i: i.key),
                check,
            )
        )
    from evidence.catalog.store import activity_sort_key

    activities.sort(key=lambda a: (a.tin, a.year, a.npi is not None, a.npi or "", activity_sort_key(a.activity_id)))
    return MissingReport(activities, queries=5)
