"""The missing-documentation report: for every attested activity, each suggested item,
the evidence that covers it, and what is still missing under the activity's rule.

Evidence counts only if its effective date (or range) covers the attested period, or, for
evidence about one participating clinician of a group attestation, that clinician's own
period, by the one coverage rule (evidence.rules.coverage.covers: the ranges overlap).
Each activity also carries its credit verdict (evidence.rules.credit): the one answer
`missing`, `score`, `export-qpp` and the packet give to "is it creditable?".

The report issues a fixed number of queries whatever the size of the store (five, and one
more to check a --tin filter), so it stays fast for large practices: one loader per query,
each returning plain rows (no ORM objects), then an assembly step that needs no database.
The 100,000 links of bench/large_store.py are the one large result; docs/PERFORMANCE.md
says where its time goes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Result, ScalarSelect, Select, func, select
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
from evidence.errors import InputError, NotFoundError
from evidence.records.reporting import YearFacts, facts_in, recorded_years
from evidence.rules import cms as rules
from evidence.rules import coverage, credit
from evidence.support.collection import collection_paused
from evidence.support.derived import derived_once


class DocumentationStatus(StrEnum):
    """An attested activity's documentation under its rule; the values are what JSON and CSV show."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    MISSING = "missing"


class ItemState(StrEnum):
    """One suggested-documentation item; the values are what JSON and CSV show."""

    COVERED = "covered"
    OUTSIDE = "outside the attested period"
    MISSING = "missing"


class EvidenceDetails(NamedTuple):
    """What only the packet shows of a file: loaded by `missing_report(..., details=True)`."""

    description: str | None
    size: int
    registered_by: str
    registered_at: datetime


# Not frozen: a frozen dataclass sets each field through object.__setattr__, and building the
# 100,000 links of bench/large_store.py took 0.28 s that way against 0.04 s (docs/PERFORMANCE.md).
# Nothing changes a ref after the report builds it.
@dataclass(slots=True)
class EvidenceRef:
    id: int
    name: str
    effective_date: date
    effective_until: date | None  # None: a single day
    digest: str  # SHA-256
    clinician_npi: str | None
    period_start: date  # the participant's own period for evidence about them, else the attested one
    period_end: date
    in_period: bool  # coverage.covers(...) of the dates and the period, decided once (100,000 links)
    # None unless the report was asked for details: the registration timestamps alone (a UTC
    # conversion per row) were a fifth of the report's time for 100,000 links.
    details: EvidenceDetails | None = None

    @property
    def effective(self) -> str:
        """ "2020-10-05", or "2019-12-01 to 2020-12-31" for a range."""
        return coverage.describe(self.effective_date, self.effective_until)

    @property
    def before_period(self) -> bool:
        """Wholly before the period it is checked against (its range ends before the period starts)."""
        return (self.effective_until or self.effective_date) < self.period_start

    @property
    def after_period(self) -> bool:
        return self.effective_date > self.period_end

    @property
    def description(self) -> str | None:
        return self._details().description

    @property
    def size(self) -> int:
        return self._details().size

    @property
    def registered_by(self) -> str:
        return self._details().registered_by

    @property
    def registered_at(self) -> datetime:
        return self._details().registered_at

    def _details(self) -> EvidenceDetails:
        if self.details is None:
            raise AssertionError("the report was built without details: missing_report(..., details=True)")
        return self.details


@dataclass
class ItemStatus:
    """One suggested item and its evidence, oldest first. The report builds it complete and
    nothing changes it afterwards, so what it derives is worked out once."""

    key: int
    label: str
    description: str
    evidence: list[EvidenceRef] = field(default_factory=list)

    @derived_once
    def covering(self) -> list[EvidenceRef]:
        return [e for e in self.evidence if e.in_period]

    @derived_once
    def outside(self) -> list[EvidenceRef]:
        return [e for e in self.evidence if not e.in_period]

    @derived_once
    def status(self) -> ItemState:
        if self.covering:
            return ItemState.COVERED
        return ItemState.OUTSIDE if self.evidence else ItemState.MISSING


@dataclass(frozen=True)
class Participant:
    npi: str
    name: str
    start: date
    end: date
    valid: bool  # counts toward the group rule (credit.participant_problem)
    evidence_count: int  # distinct evidence files linked with this clinician's NPI for the activity
    bills_under_tin: bool = True


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
    verdict: credit.Verdict = field(default_factory=lambda: credit.Verdict(()))  # _assemble always sets it
    # How the entity reports the year (program, medical home, APM): evidence.records.reporting.
    reporting: YearFacts | None = None

    @property
    def creditable(self) -> bool:
        return self.verdict.creditable

    @property
    def level(self) -> str:
        return "individual" if self.npi else "group"

    # Derived once: the report builds an activity complete, and `missing` asks each
    # of 13,000 activities for its status several times.
    @derived_once
    def covered_keys(self) -> list[int]:
        return [i.key for i in self.items if i.covering]

    @derived_once
    def status(self) -> DocumentationStatus:
        if credit.documentation_met(self.rule, len(self.covered_keys), len(self.items)):
            return DocumentationStatus.COMPLETE
        if not any(i.evidence for i in self.items):
            return DocumentationStatus.MISSING
        return DocumentationStatus.INCOMPLETE

    @derived_once
    def missing_text(self) -> str:
        """What is still needed, in words; empty when complete."""
        return credit.documentation_gap(self.rule, _item_facts(self.items))


def _item_facts(items: list[ItemStatus]) -> tuple[credit.ItemFacts, ...]:
    return tuple(credit.ItemFacts(i.key, bool(i.covering), i.status is ItemState.OUTSIDE) for i in items)


@dataclass
class MissingReport:
    activities: list[ActivityStatus]

    def count(self, status: DocumentationStatus) -> int:
        return sum(1 for a in self.activities if a.status == status)

    @property
    def creditable_count(self) -> int:
        return sum(1 for a in self.activities if a.creditable)

    @property
    def anything_missing(self) -> bool:
        return any(a.status is not DocumentationStatus.COMPLETE for a in self.activities)

    @property
    def anything_not_creditable(self) -> bool:
        return any(not a.creditable for a in self.activities)

    def only(
        self, *, activity: str | None = None, level: str | None = None, status: str | None = None
    ) -> MissingReport:
        """The activities of one attested activity id, level (group, individual) or documentation status."""
        if level is not None and level not in LEVELS:
            raise InputError(f"level {level[:40]!r} is not one of {', '.join(LEVELS)}")
        if status is not None and status not in set(DocumentationStatus):
            raise InputError(f"status {status[:40]!r} is not one of {', '.join(DocumentationStatus)}")
        return MissingReport(
            [
                a
                for a in self.activities
                if (activity is None or a.activity_id == activity)
                and (level is None or a.level == level)
                and (status is None or a.status == status)
            ]
        )


LEVELS = ("group", "individual")


_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")
_R = TypeVar("_R", bound=NamedTuple)
_AnyResult = Result[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _Scope:
    """The report's filters, applied to a query over attestations."""

    tin: str | None
    year: int | None
    npi: str | None
    group: bool = False  # only group attestations (no NPI)

    def apply(self, query: _Q) -> _Q:
        if self.tin is not None:
            query = query.where(
                Attestation.practice_id == select(Practice.id).where(Practice.tin == self.tin).scalar_subquery()
            )
        if self.year is not None:
            query = query.where(Attestation.performance_year == self.year)
        if self.npi is not None:
            query = query.where(
                Attestation.clinician_id == select(Clinician.id).where(Clinician.npi == self.npi).scalar_subquery()
            )
        if self.group:
            query = query.where(Attestation.clinician_id.is_(None))
        return query

    @property
    def filters(self) -> bool:
        return (self.tin, self.year, self.npi, self.group) != (None, None, None, False)

    def attestation_ids(self) -> ScalarSelect[int]:
        return self.apply(select(Attestation.id)).scalar_subquery()


# One row type per query, filled by name from the SELECT list (the fields are the labels).
# Plain columns through the Core connection, not ORM entities or ORM results: a large
# practice has 100,000 evidence links, and building that many tracked objects costs seconds.


class _AttestationRow(NamedTuple):
    id: int
    practice_id: int
    clinician_id: int | None
    year: int
    start: date
    end: date
    activity_id: str
    title: str
    weight: str | None
    subcategory: str | None
    tin: str
    practice_name: str
    npi: str | None
    clinician_name: str | None
    allowed_programs: str | None  # CMS allowedPrograms of the activity-year, space-separated


class _ItemRow(NamedTuple):
    activity_id: str
    rule: str
    generic: bool
    id: int
    key: int
    label: str
    description: str


@dataclass(frozen=True, slots=True)
class _Requirement:
    rule: str
    generic: bool
    items: list[_ItemRow]


class _ParticipationRow(NamedTuple):
    attestation_id: int
    clinician_id: int
    start: date
    end: date
    npi: str
    name: str
    membership_id: int | None  # None: the clinician does not bill under the TIN that year


@dataclass(frozen=True, slots=True)
class _Links:
    """The evidence of every (attestation, item), oldest first, and the distinct files linked
    with each participant's NPI per (attestation, clinician)."""

    evidence: dict[tuple[int, int], list[EvidenceRef]]
    per_clinician: dict[tuple[int, int], set[int]]


def _checked(result: _AnyResult, columns: tuple[str, ...], what: str) -> _AnyResult:
    """`result`, once its labels are checked against `columns`: a column never lands in the wrong field."""
    if tuple(result.keys()) != columns:
        raise AssertionError(f"{what}: columns {tuple(result.keys())} do not match {columns}")
    return result


def _rows(session: Session, row_type: type[_R], query: Select[*tuple[Any, ...]]) -> list[_R]:
    """Run `query`, whose columns are labelled with `row_type`'s field names, into `row_type` rows."""
    result = _checked(session.connection().execute(query), row_type._fields, row_type.__name__)
    make = row_type._make
    return [make(row) for row in result]


def _check_practice(session: Session, tin: str | None) -> None:
    if tin is not None and session.scalar(select(Practice.id).where(Practice.tin == tin)) is None:
        raise NotFoundError(f"no practice with TIN {tin}")


def _load_attestations(session: Session, scope: _Scope) -> list[_AttestationRow]:
    attesting = aliased(Clinician)
    query = (
        select(
            Attestation.id.label("id"),
            Attestation.practice_id.label("practice_id"),
            Attestation.clinician_id.label("clinician_id"),
            Attestation.performance_year.label("year"),
            Attestation.start_date.label("start"),
            Attestation.end_date.label("end"),
            Activity.activity_id.label("activity_id"),
            Activity.title.label("title"),
            Activity.weight.label("weight"),
            Activity.subcategory.label("subcategory"),
            Practice.tin.label("tin"),
            Practice.name.label("practice_name"),
            attesting.npi.label("npi"),
            attesting.name.label("clinician_name"),
            Activity.allowed_programs.label("allowed_programs"),
        )
        .join(Activity, Activity.id == Attestation.activity_pk)
        .join(Practice, Practice.id == Attestation.practice_id)
        .outerjoin(attesting, attesting.id == Attestation.clinician_id)
    )
    return _rows(session, _AttestationRow, scope.apply(query))


def _load_requirements(session: Session, scope: _Scope) -> dict[str, _Requirement]:
    """The documentation items of the activities involved, in key order."""
    activities = (
        select(Activity.activity_id)
        .join(Attestation, Attestation.activity_pk == Activity.id)
        .where(Attestation.id.in_(scope.attestation_ids()))
    )
    query = (
        select(
            DocumentationRequirement.activity_id.label("activity_id"),
            DocumentationRequirement.rule.label("rule"),
            DocumentationRequirement.generic.label("generic"),
            DocumentationItem.id.label("id"),
            DocumentationItem.key.label("key"),
            DocumentationItem.label.label("label"),
            DocumentationItem.description.label("description"),
        )
        .join(DocumentationItem, DocumentationItem.activity_id == DocumentationRequirement.activity_id)
        .where(DocumentationRequirement.activity_id.in_(activities))
        .order_by(DocumentationItem.activity_id, DocumentationItem.key)
    )
    requirements: dict[str, _Requirement] = {}
    for item in _rows(session, _ItemRow, query):
        requirement = requirements.get(item.activity_id)
        if requirement is None:
            requirement = requirements[item.activity_id] = _Requirement(item.rule, item.generic, [])
        requirement.items.append(item)
    return requirements


def _load_participations(session: Session, scope: _Scope) -> dict[int, list[_ParticipationRow]]:
    """Participation in group attestations, per attestation, in NPI order."""
    query = (
        select(
            Participation.attestation_id.label("attestation_id"),
            Participation.clinician_id.label("clinician_id"),
            Participation.start_date.label("start"),
            Participation.end_date.label("end"),
            Clinician.npi.label("npi"),
            Clinician.name.label("name"),
            Membership.id.label("membership_id"),
        )
        .join(Clinician, Clinician.id == Participation.clinician_id)
        .join(Attestation, Attestation.id == Participation.attestation_id)
        .outerjoin(
            Membership,
            (Membership.practice_id == Attestation.practice_id)
            & (Membership.clinician_id == Participation.clinician_id)
            & (Membership.performance_year == Attestation.performance_year),
        )
        .where(Participation.attestation_id.in_(scope.attestation_ids()))
        .order_by(Clinician.npi)
    )
    by_attestation: dict[int, list[_ParticipationRow]] = defaultdict(list)
    for row in _rows(session, _ParticipationRow, query):
        by_attestation[row.attestation_id].append(row)
    return by_attestation


def _load_links(
    session: Session,
    scope: _Scope,
    attestations: list[_AttestationRow],
    participations: dict[int, list[_ParticipationRow]],
    details: bool,
) -> _Links:
    """The evidence linked to each item (withdrawn evidence never counts), each checked against
    its period: the linked participant's own period, else the attestation's.

    The check is coverage.covers in Python, on periods the earlier queries loaded: doing it in
    SQL meant joining attestations and participations to every link, which cost more.
    """
    linked = aliased(Clinician)
    columns: list[Any] = [
        EvidenceLink.attestation_id,
        EvidenceLink.item_id,
        EvidenceLink.clinician_id,
        Evidence.id,
        Evidence.original_name,
        Evidence.effective_date,
        Evidence.effective_until,
        Blob.digest,
        linked.npi,
    ]
    if details:
        columns += [Evidence.description, Blob.size, Evidence.registered_by, Evidence.registered_at]
    query = (
        select(*columns)
        .join(Evidence, Evidence.id == EvidenceLink.evidence_id)
        .join(Blob, Blob.id == Evidence.blob_id)
        .outerjoin(linked, linked.id == EvidenceLink.clinician_id)
        .where(Evidence.withdrawn_at.is_(None))
    )
    if scope.filters:
        query = query.where(EvidenceLink.attestation_id.in_(scope.attestation_ids()))
    periods = {a.id: (a.start, a.end) for a in attestations}
    own = {(p.attestation_id, p.clinician_id): (p.start, p.end) for rows in participations.values() for p in rows}
    covers = coverage.covers
    make_details = EvidenceDetails._make
    evidence: dict[tuple[int, int], list[EvidenceRef]] = defaultdict(list)
    per_clinician: dict[tuple[int, int], set[int]] = defaultdict(set)
    for row in session.connection().execute(query).fetchall():
        attestation_id, item_id, clinician_id, evidence_id, name, effective_date, effective_until, digest, npi = row[:9]
        period = periods.get(attestation_id)
        if period is None:  # not in the report (PostgreSQL: attested after the first query)
            continue
        if clinician_id is not None:
            per_clinician[attestation_id, clinician_id].add(evidence_id)
            period = own.get((attestation_id, clinician_id), period)
        start, end = period
        in_period = covers(effective_date, effective_until, start, end)
        ref = EvidenceRef(evidence_id, name, effective_date, effective_until, digest, npi, start, end, in_period,
                          make_details(row[9:]) if details else None)  # fmt: skip
        evidence[attestation_id, item_id].append(ref)
    for refs in evidence.values():
        if len(refs) > 1:
            refs.sort(key=_oldest_first)  # sorted here: ORDER BY made SQLite sort 100,000 wide rows
    return _Links(evidence, per_clinician)


def _oldest_first(ref: EvidenceRef) -> tuple[date, int]:
    return ref.effective_date, ref.id


def _load_member_counts(session: Session) -> dict[tuple[int, int], int]:
    """Clinicians per (practice, year): the 50% rule's denominator."""
    query = select(Membership.practice_id, Membership.performance_year, func.count()).group_by(
        Membership.practice_id, Membership.performance_year
    )
    return {(practice_id, year): count for practice_id, year, count in session.connection().execute(query)}


class _Verdicts:
    """credit.verdict, judged once per distinct set of facts: verdicts are pure, and in a large
    practice many clinicians attest the same activity for the same period. A new fact in
    credit.CreditFacts must therefore be hashable (a tuple, not a list)."""

    def __init__(self) -> None:
        self._known: dict[credit.CreditFacts, credit.Verdict] = {}

    def __call__(self, facts: credit.CreditFacts) -> credit.Verdict:
        known = self._known.get(facts)
        if known is None:
            known = self._known[facts] = credit.verdict(facts)
        return known


def _credit_facts(
    attestation: _AttestationRow,
    requirement: _Requirement,
    items: list[ItemStatus],
    participants: tuple[credit.ParticipantFacts, ...],
    clinicians: int,
    reporting: YearFacts,
) -> credit.CreditFacts:
    """THE one place the report gathers what the credit checks judge (evidence.rules.credit)."""
    allowed = attestation.allowed_programs
    return credit.CreditFacts(
        year=attestation.year,
        activity_id=attestation.activity_id,
        start=attestation.start,
        end=attestation.end,
        group=attestation.clinician_id is None,
        rule=requirement.rule,
        items=_item_facts(items),
        participants=participants,
        clinicians=clinicians,
        program=reporting.program,
        mvp_id=reporting.mvp_id,
        allowed_programs=None if allowed is None else tuple(allowed.split()),
    )


def _assemble(
    attestation: _AttestationRow,
    requirement: _Requirement,
    participations: list[_ParticipationRow],
    links: _Links,
    member_counts: dict[tuple[int, int], int],
    verdict: _Verdicts,
    reporting: YearFacts,
) -> ActivityStatus:
    """One attested activity's status from the rows that concern it; no database access."""
    items = [
        ItemStatus(item.key, item.label, item.description, links.evidence.get((attestation.id, item.id), []))
        for item in requirement.items  # already in key order
    ]
    check = None
    facts = tuple(credit.ParticipantFacts(p.npi, p.start, p.end, p.membership_id is not None) for p in participations)
    clinicians = 0
    if attestation.clinician_id is None:
        participants = tuple(
            Participant(
                npi=p.npi,
                name=p.name,
                start=p.start,
                end=p.end,
                valid=credit.participant_problem(attestation.year, fact) is None,
                evidence_count=len(links.per_clinician.get((attestation.id, p.clinician_id), ())),
                bills_under_tin=fact.bills_under_tin,
            )
            for p, fact in zip(participations, facts, strict=True)
        )
        clinicians = member_counts.get((attestation.practice_id, attestation.year), 0)
        check = ParticipationCheck(attestation.year, clinicians, participants)
    return ActivityStatus(
        attestation_id=attestation.id,
        tin=attestation.tin,
        practice_name=attestation.practice_name,
        year=attestation.year,
        activity_id=attestation.activity_id,
        title=attestation.title,
        weight=attestation.weight,
        subcategory=attestation.subcategory,
        npi=attestation.npi,
        clinician_name=attestation.clinician_name,
        start=attestation.start,
        end=attestation.end,
        rule=requirement.rule,
        generic=requirement.generic,
        items=items,
        participation=check,
        verdict=verdict(_credit_facts(attestation, requirement, items, facts, clinicians, reporting)),
        reporting=reporting,
    )


def missing_report(
    session: Session,
    *,
    tin: str | None = None,
    year: int | None = None,
    npi: str | None = None,
    group: bool = False,
    details: bool = False,
) -> MissingReport:
    """The report for the attestations matching the filters, in a fixed number of queries.

    `group=True` keeps only group attestations (a group score leaves out the individual ones).
    `details=True` adds what only the packet shows of each file (EvidenceDetails).
    """
    _check_practice(session, tin)
    if group and npi is not None:
        raise InputError("a group report has no NPI")
    with collection_paused():  # nothing it builds is garbage (evidence.support.collection)
        return _build_report(session, _Scope(tin, year, npi, group), details)


def _build_report(session: Session, scope: _Scope, details: bool) -> MissingReport:
    from evidence.catalog.store import activity_sort_key

    attestations = _load_attestations(session, scope)
    requirements = _load_requirements(session, scope)
    participations = _load_participations(session, scope)
    links = _load_links(session, scope, attestations, participations, details)
    member_counts = _load_member_counts(session)
    recorded = recorded_years(session, tin=scope.tin, year=scope.year)
    verdicts = _Verdicts()
    no_participations: list[_ParticipationRow] = []
    activities = [
        _assemble(
            attestation,
            requirements[attestation.activity_id],
            participations.get(attestation.id, no_participations),
            links,
            member_counts,
            verdicts,
            facts_in(recorded, attestation.tin, attestation.year, attestation.npi),
        )
        for attestation in attestations
    ]
    order = {a: activity_sort_key(a) for a in {a.activity_id for a in activities}}
    activities.sort(key=lambda a: (a.tin, a.year, a.npi is not None, a.npi or "", order[a.activity_id]))
    return MissingReport(activities)
