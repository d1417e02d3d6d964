"""Retention: the 6-year window (or longer), legal holds, and purging what has expired.

Nothing inside its window can be deleted: a (TIN, year) becomes purgeable the day after
December 31 of year + retention period, and only if no active legal hold and no open audit
request (evidence.records.audits) covers it. An
evidence file linked from several years stays until its last link goes. A purge deletes
rows in one transaction, leaves a tombstone per record, then removes the files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from evidence.db.models import (
    Attestation,
    AuditRequest,
    Blob,
    Event,
    Evidence,
    EvidenceLink,
    LegalHold,
    Membership,
    Participation,
    Practice,
    Setting,
    Tombstone,
)
from evidence.db.types import utcnow
from evidence.errors import ConflictError, InputError, NotFoundError, StoreError
from evidence.retention import audit
from evidence.rules import cms as rules
from evidence.rules.identifiers import parse_tin
from evidence.support import clock
from evidence.support.text import plural

if TYPE_CHECKING:
    from evidence.store.blobstore import BlobStore

RETENTION_SETTING = "retention_years"
# Retention dates (year + period) must stay within the calendar Python can represent.
MAXIMUM_RETENTION_YEARS = 100
# Id lists go to the database in slices: SQLite caps the number of bound parameters.
SLICE = 5000


def _slices(ids: Iterable[Any]) -> list[list[Any]]:
    items = sorted(ids)
    return [items[i : i + SLICE] for i in range(0, len(items), SLICE)]


def _rows_in(session: Session, make_query: Callable[[list[Any]], Any], ids: Iterable[Any]) -> list[Any]:
    """Run `make_query(slice)` for every slice of `ids` and join the rows."""
    return [row for part in _slices(ids) for row in session.execute(make_query(part))]


def _delete_in(session: Session, column: Any, ids: Iterable[Any]) -> None:
    for part in _slices(ids):
        session.execute(delete(column.class_).where(column.in_(part)))


# --- The retention period ---------------------------------------------------------------------


def retention_years(session: Session) -> int:
    """The retention period in force, refused when the settings table disagrees with the audit trail.

    Every change of the period is a chained `retention.set` event, so the settings row must be
    a whole number of years, at least the CMS minimum, and equal to the latest such event.
    """
    minimum = rules.minimum_retention_years()
    row = session.get(Setting, RETENTION_SETTING)
    chained = _chained_retention_years(session)
    if row is None:
        if chained is not None:
            raise ConflictError(
                f"the retention period is missing from the settings table, but the audit trail set it to "
                f"{chained} years; restore the settings row ({RETENTION_SETTING} = {chained})"
            )
        return minimum
    text = row.value.strip()
    if not (text.isascii() and text.isdigit()):
        raise ConflictError(
            f"the retention period in the settings table is {row.value!r}, not a whole number of years; "
            f"nothing relies on it until it is repaired"
        )
    years = int(text)
    if years < minimum:
        raise ConflictError(
            f"the retention period in the settings table is {plural(years, 'year')}, shorter than the {minimum} years "
            "CMS requires: it was edited outside `evidence retention set`"
        )
    if years != (chained if chained is not None else minimum):
        recorded = plural(chained, "year") if chained is not None else f"no change from the default {minimum} years"
        raise ConflictError(
            f"the retention period in the settings table is {plural(years, 'year')}, but the audit trail records "
            f"{recorded}: it was edited outside `evidence retention set`"
        )
    return years


def _chained_retention_years(session: Session) -> int | None:
    """The period the latest `retention.set` event recorded (None: never changed)."""
    details = session.scalar(
        select(Event.details).where(Event.action == "retention.set").order_by(Event.seq.desc()).limit(1)
    )
    if details is None:
        return None
    try:
        value = json.loads(details)["to"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConflictError("the latest retention event of the audit trail is damaged: it names no period")
    return value


def set_retention_years(session: Session, years: int, *, actor: str) -> int:
    """Lengthen the retention period (a chained event); a shorter or equal one is refused."""
    minimum = rules.minimum_retention_years()
    if years < minimum:
        raise InputError(f"a retention period of {years} years is shorter than the {minimum} years CMS requires")
    if years > MAXIMUM_RETENTION_YEARS:
        raise InputError(
            f"a retention period of {years} years is longer than {MAXIMUM_RETENTION_YEARS}; "
            "keep records indefinitely with a legal hold (`evidence hold add`)"
        )
    previous = retention_years(session)
    if years <= previous:
        raise InputError(
            f"the retention period is {previous} years and can only be lengthened: "
            f"{years} years would {'change nothing' if years == previous else 'shorten it'}"
        )
    row = session.get(Setting, RETENTION_SETTING)
    if row is None:
        session.add(Setting(key=RETENTION_SETTING, value=str(years)))
    else:
        row.value = str(years)
    audit.record(session, actor, "retention.set", f"retention period {previous} -> {years} years",
                 details={"from": previous, "to": years})  # fmt: skip
    return previous


def retain_until(session: Session, year: int) -> date:
    return rules.retain_until(year, retention_years(session))


def stored_retention_dates(session: Session) -> dict[str, date]:
    """Each stored file's last day to keep: that of the latest performance year linking to it."""
    years = retention_years(session)
    query = (
        select(Blob.digest, func.max(Attestation.performance_year))
        .join(Evidence, Evidence.blob_id == Blob.id)
        .join(EvidenceLink, EvidenceLink.evidence_id == Evidence.id)
        .join(Attestation, Attestation.id == EvidenceLink.attestation_id)
        .group_by(Blob.digest)
    )
    return {digest: rules.retain_until(year, years) for digest, year in session.execute(query)}


# --- Legal holds --------------------------------------------------------------------------------


def _one_line(reason: str | None) -> str:
    """A hold's reason on one line; a NUL (which a web form can send, and PostgreSQL refuses) is refused."""
    if reason and "\x00" in reason:
        raise InputError("the reason contains a NUL character")
    return " ".join((reason or "").split())


def _review_problem(review_on: date, today: date) -> str | None:
    if review_on < today:
        return f"the review date {review_on} is in the past (today is {today})"
    return None


def add_hold(
    session: Session, tin: str, year: int | None, reason: str, *, review_on: date | None = None, actor: str
) -> LegalHold:
    """Place a hold; `review_on` is the day someone must look at it again (`evidence deadlines` lists it)."""
    tin = parse_tin(tin)
    reason = _one_line(reason)
    if not reason:
        raise InputError("a legal hold needs a --reason")
    if review_on is not None and (problem := _review_problem(review_on, clock.today())):
        raise InputError(f"--review-by: {problem}")
    practice = session.scalar(select(Practice).where(Practice.tin == tin))
    if practice is None:
        raise NotFoundError(f"no practice with TIN {tin}")
    hold = LegalHold(
        practice_id=practice.id, performance_year=year, reason=reason, created_by=actor, review_on=review_on
    )
    session.add(hold)
    session.flush()
    scope = f"PY{year}" if year else "all years"
    review = f" (review by {review_on})" if review_on else ""
    details = {"hold": hold.id, "review_on": review_on.isoformat() if review_on else None}
    audit.record(session, actor, "hold.add", f"legal hold #{hold.id} on {tin} {scope}: {reason}{review}", tin=tin,
                 year=year, details=details)  # fmt: skip
    return hold


HOLD_REVIEW_ACTION = "hold.review"


def review_hold(session: Session, hold_id: int, review_on: date, reason: str, *, actor: str) -> date | None:
    """Set or move an active hold's review date (a chained `hold.review` event); returns the previous one."""
    reason = _one_line(reason)
    if not reason:
        raise InputError("setting a hold's review date needs a --reason")
    if problem := _review_problem(review_on, clock.today()):
        raise InputError(f"--on: {problem}")
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise NotFoundError(f"no legal hold with id {hold_id}; `evidence hold list` shows them")
    if hold.released_at is not None:
        raise ConflictError(f"legal hold #{hold_id} was released on {hold.released_at:%Y-%m-%d}: nothing to review")
    previous = hold.review_on
    if previous == review_on:
        raise InputError(f"legal hold #{hold_id} is already to be reviewed on {review_on}")
    hold.review_on = review_on
    tin = hold.practice.tin
    moved = f"{previous} -> {review_on}" if previous else f"set to {review_on}"
    audit.record(session, actor, HOLD_REVIEW_ACTION, f"legal hold #{hold.id} on {tin}: review date {moved}: {reason}",
                 tin=tin, year=hold.performance_year,
                 details={"hold": hold.id, "from": previous.isoformat() if previous else None,
                          "to": review_on.isoformat(), "reason": reason})  # fmt: skip
    return previous


def release_hold(session: Session, hold_id: int, reason: str, *, actor: str) -> LegalHold:
    reason = _one_line(reason)
    if not reason:
        raise InputError("releasing a legal hold needs a --reason")
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise NotFoundError(f"no legal hold with id {hold_id}")
    if hold.released_at is not None:
        raise ConflictError(f"legal hold #{hold_id} was already released on {hold.released_at:%Y-%m-%d}")
    hold.released_at, hold.released_by, hold.release_reason = utcnow(), actor, reason
    tin = hold.practice.tin
    audit.record(session, actor, "hold.release", f"legal hold #{hold.id} on {tin} released: {reason}", tin=tin,
                 year=hold.performance_year, details={"hold": hold.id})  # fmt: skip
    return hold


def list_holds(session: Session, *, include_released: bool = True) -> list[LegalHold]:
    query = select(LegalHold).join(Practice).order_by(LegalHold.id)
    if not include_released:
        query = query.where(LegalHold.released_at.is_(None))
    return list(session.scalars(query))


def active_holds(session: Session, practice_id: int, year: int) -> list[LegalHold]:
    return list(
        session.scalars(
            select(LegalHold).where(
                LegalHold.practice_id == practice_id,
                LegalHold.released_at.is_(None),
                or_(LegalHold.performance_year.is_(None), LegalHold.performance_year == year),
            )
        )
    )


def what_keeps(session: Session, year: int) -> list[str]:
    """What keeps a year's records past their window, TIN by TIN: its active legal holds (of that
    year or every year) and open audit requests, in words (`retention show`)."""
    tins = {practice_id: tin for practice_id, tin in session.execute(select(Practice.id, Practice.tin))}
    holds = session.scalars(
        select(LegalHold)
        .where(
            LegalHold.released_at.is_(None),
            or_(LegalHold.performance_year.is_(None), LegalHold.performance_year == year),
        )
        .order_by(LegalHold.id)
    )
    lines = [f"{tins[h.practice_id]}: legal hold #{h.id}" for h in holds]
    lines += [
        f"{tins[a.practice_id]}: {AuditHold(a.id, a.reference).describe()}" for a in open_audits(session, year=year)
    ]
    return lines


def hold_digests(session: Session, practice_id: int, year: int | None) -> set[str]:
    """SHA-256 of every stored file linked from a practice's attestations (of `year`, or of every year)."""
    query = (
        select(Blob.digest)
        .join(Evidence, Evidence.blob_id == Blob.id)
        .join(EvidenceLink, EvidenceLink.evidence_id == Evidence.id)
        .join(Attestation, Attestation.id == EvidenceLink.attestation_id)
        .where(Attestation.practice_id == practice_id)
    )
    if year is not None:
        query = query.where(Attestation.performance_year == year)
    return set(session.scalars(query.distinct()))


def digests_to_release(session: Session, hold: LegalHold) -> set[str]:
    """The files of a released hold that no other active hold and no open audit still covers."""
    return _no_longer_held(session, hold_digests(session, hold.practice_id, hold.performance_year))


def audit_digests_to_release(session: Session, request: AuditRequest) -> set[str]:
    """The files of a closed audit's TIN-year that no active hold and no other open audit still covers."""
    return _no_longer_held(session, hold_digests(session, request.practice_id, request.performance_year))


def _no_longer_held(session: Session, digests: set[str]) -> set[str]:
    """Those of `digests` that nothing still holding (active holds, open audits) covers; the caller has
    already released or closed its own, so it is not among them."""
    keepers = [(h.practice_id, h.performance_year) for h in list_holds(session, include_released=False)]
    keepers += [(a.practice_id, a.performance_year) for a in open_audits(session)]
    for practice_id, year in keepers:
        if not digests:
            break
        digests -= hold_digests(session, practice_id, year)
    return digests


def open_audits(session: Session, practice_id: int | None = None, year: int | None = None) -> list[AuditRequest]:
    """Open audit requests (of a practice's year, when given): each keeps its TIN-year as a hold does."""
    query = select(AuditRequest).where(AuditRequest.closed_at.is_(None)).order_by(AuditRequest.id)
    if practice_id is not None:
        query = query.where(AuditRequest.practice_id == practice_id)
    if year is not None:
        query = query.where(AuditRequest.performance_year == year)
    return list(session.scalars(query))


def mirror_store_hold(store: BlobStore, holder: str, digests: set[str], *, on: bool) -> None:
    """After the commit, the store's own legal hold on `digests` (S3 Object Lock; nothing for the local
    folder). `holder` names what holds them ("legal hold 3", "audit #2") in the one error line."""
    failed: list[str] = []
    for digest in sorted(digests):
        try:
            store.set_legal_hold(digest, on)
        except StoreError as exc:  # one missing file must not leave the others unheld
            failed.append(exc.message)
    if failed:
        raise StoreError(
            f"{holder} is recorded, but the file store could not "
            f"{'place' if on else 'release'} its own hold on {len(failed)} of {plural(len(digests), 'file')}: "
            f"{failed[0]}"
        )


def held_attestations(session: Session, attestation_ids: Iterable[int]) -> set[int]:
    """Those of the attestations whose practice and year an active legal hold or an open audit covers."""
    ids = set(attestation_ids)
    by_hold = _rows_in(
        session,
        lambda part: (
            select(Attestation.id)
            .join(LegalHold, LegalHold.practice_id == Attestation.practice_id)
            .where(
                Attestation.id.in_(part),
                LegalHold.released_at.is_(None),
                or_(LegalHold.performance_year.is_(None), LegalHold.performance_year == Attestation.performance_year),
            )
        ),
        ids,
    )
    by_audit = _rows_in(
        session,
        lambda part: (
            select(Attestation.id)
            .join(AuditRequest, AuditRequest.practice_id == Attestation.practice_id)
            .where(
                Attestation.id.in_(part),
                AuditRequest.closed_at.is_(None),
                AuditRequest.performance_year == Attestation.performance_year,
            )
        ),
        ids,
    )
    return {row.id for row in [*by_hold, *by_audit]}


# --- Purge ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditHold:
    """An open audit request keeping a TIN-year until it is closed."""

    id: int
    reference: str | None

    def describe(self) -> str:
        return f"open audit #{self.id}" + (f" ({self.reference})" if self.reference else "") + " until closed"


@dataclass
class PurgeUnit:
    """Everything of one TIN and performance year."""

    practice_id: int
    tin: str
    year: int
    retain_until: date
    held_by: list[int] = field(default_factory=list)  # active legal holds
    audits: list[AuditHold] = field(default_factory=list)  # open audit requests
    attestations: list[int] = field(default_factory=list)
    participations: list[int] = field(default_factory=list)
    links: list[int] = field(default_factory=list)
    memberships: list[int] = field(default_factory=list)
    evidence: list[int] = field(default_factory=list)
    blobs: dict[str, int] = field(default_factory=dict)  # digest -> size

    @property
    def records(self) -> int:
        return (
            len(self.attestations)
            + len(self.participations)
            + len(self.links)
            + len(self.memberships)
            + len(self.evidence)
        )

    @property
    def bytes(self) -> int:
        return sum(self.blobs.values())


@dataclass
class PurgePlan:
    as_of: date
    retention_years: int
    units: list[PurgeUnit]  # expired and not held: these go
    held: list[PurgeUnit]  # expired but under a legal hold or an open audit: kept

    @property
    def digests(self) -> dict[str, int]:
        return {d: s for unit in self.units for d, s in unit.blobs.items()}

    @property
    def empty(self) -> bool:
        return not any(u.records or u.blobs for u in self.units)

    def fingerprint(self) -> str:
        """SHA-256 of every id and file the plan would delete: a confirmation given for one plan
        (the web app's preview) is refused for another (a hold placed, a record added meanwhile)."""
        deleted = [
            [u.tin, u.year, u.attestations, u.participations, u.links, u.memberships, u.evidence, sorted(u.blobs)]
            for u in self.units
        ]
        return hashlib.sha256(json.dumps(deleted, sort_keys=True).encode("ascii")).hexdigest()


def retained_years(session: Session) -> list[tuple[int, int]]:
    """Every (practice id, performance year) holding records, in order: what purge and `deadlines` go through."""
    pairs = set(session.execute(select(Attestation.practice_id, Attestation.performance_year).distinct()))
    pairs |= set(session.execute(select(Membership.practice_id, Membership.performance_year).distinct()))
    return sorted(pairs)


def plan_purge(session: Session, as_of: date, *, home: Path | None = None, tin: str | None = None) -> PurgePlan:
    """Exactly what a purge on `as_of` would delete (and what holds keep). Changes nothing.

    With `tin`, only that practice's years: evidence another practice still links to stays,
    as it does for a year still kept (the web app purges one practice at a time).

    Refused (ConflictError) unless the audit trail is intact and every row the plan would
    delete agrees with what the trail recorded when it was created: its year, its period,
    its retain-until date and, for an evidence link, its attestation. `home` is the folder
    holding the mirrored chain head.
    """
    check = audit.verify_chain(session, home)
    if not check.ok:
        raise ConflictError(
            f"the audit trail is not intact ({check.problem}); purge deletes nothing until `evidence log verify` passes"
        )
    years = retention_years(session)
    tins = {practice_id: tin for practice_id, tin in session.execute(select(Practice.id, Practice.tin))}
    expired = [(p, y) for p, y in retained_years(session) if rules.purgeable_on(y, years, as_of)]
    if tin is not None:
        tin = parse_tin(tin)
        expired = [(p, y) for p, y in expired if tins[p] == tin]
    units: list[PurgeUnit] = []
    held: list[PurgeUnit] = []
    for practice_id, year in expired:
        unit = PurgeUnit(practice_id, tins[practice_id], year, rules.retain_until(year, years))
        unit.held_by = [h.id for h in active_holds(session, practice_id, year)]
        unit.audits = [AuditHold(a.id, a.reference) for a in open_audits(session, practice_id, year)]
        (held if unit.held_by or unit.audits else units).append(unit)
    for unit in units:
        unit.attestations = list(
            session.scalars(
                select(Attestation.id).where(
                    Attestation.practice_id == unit.practice_id, Attestation.performance_year == unit.year
                )
            )
        )
        unit.participations = [
            r.id
            for r in _rows_in(
                session,
                lambda part: select(Participation.id).where(Participation.attestation_id.in_(part)),
                unit.attestations,
            )
        ]
        unit.links = [
            r.id
            for r in _rows_in(
                session,
                lambda part: select(EvidenceLink.id).where(EvidenceLink.attestation_id.in_(part)),
                unit.attestations,
            )
        ]
        unit.memberships = list(
            session.scalars(
                select(Membership.id).where(
                    Membership.practice_id == unit.practice_id, Membership.performance_year == unit.year
                )
            )
        )
    _check_against_chain(session, units)
    _assign_evidence_and_blobs(session, units)
    return PurgePlan(as_of, years, units, held)


@dataclass
class ChainedAttestation:
    """What the audit trail recorded about one attestation (its `attest`, `register` and correction events)."""

    tin: str | None = None
    year: int | None = None
    period: tuple[str, str] | None = None  # ISO dates, from the `attest` event or the latest `attestation.edit`
    retain_until: date | None = None  # the latest recorded at a registration or a `link`


# The events whose details say which attestation a row belongs to and what it covers.
CHAINED_ACTIONS = ("attest", "register", "link", "unlink", "attestation.edit", "attestation.delete", "purge")


def chained_attestations(session: Session) -> tuple[dict[int, ChainedAttestation], dict[int, int]]:
    """Per attestation id what its events recorded, and per evidence link id its attestation.

    A `purge` event forgets the ids it names, so a database that handed out an id again
    (SQLite before revision 0003) is not held to the facts of the purged record. The
    corrections of evidence.records (`attestation.edit`, `attestation.delete`, `link`,
    `unlink`) move the recorded facts with them: only an edit made outside the tool disagrees.
    """
    facts: dict[int, ChainedAttestation] = {}
    owner: dict[int, int] = {}
    query = (
        select(Event.action, Event.tin, Event.performance_year, Event.details)
        .where(Event.action.in_(CHAINED_ACTIONS))
        .order_by(Event.seq)
    )
    for action, tin, year, details in session.execute(query):
        try:
            data = json.loads(details)
        except ValueError:
            continue  # verify_chain has vouched for the text; an old event with other details names nothing
        if not isinstance(data, dict):
            continue
        if action in ("purge", "attestation.delete"):
            gone = data.get("attestations") or [data.get("attestation")]
            for attestation_id in _ids(gone):
                facts.pop(attestation_id, None)
            for link_id in _ids(data.get("links")):
                owner.pop(link_id, None)
            continue
        if action == "unlink":
            for link_id in _ids([data.get("link")]):
                owner.pop(link_id, None)
            continue
        owned = data.get("attestation")
        if not isinstance(owned, int):
            continue
        attestation_id = owned
        fact = facts.setdefault(attestation_id, ChainedAttestation())
        fact.tin, fact.year = tin if tin is not None else fact.tin, year if year is not None else fact.year
        period = data.get("new") if action == "attestation.edit" else data  # an edit's new period
        if action in ("attest", "attestation.edit") and _is_period(period):
            fact.period = (period["start"], period["end"])
        if action in ("register", "link"):
            with contextlib.suppress(TypeError, ValueError):
                until = date.fromisoformat(data["retain_until"])
                fact.retain_until = max(until, fact.retain_until or until)
            for link_id in data.get("links") or []:
                owner[link_id] = attestation_id
    return facts, owner


def _is_period(value: Any) -> TypeGuard[dict[str, str]]:
    return isinstance(value, dict) and isinstance(value.get("start"), str) and isinstance(value.get("end"), str)


def _ids(values: Any) -> list[int]:
    """The integer ids of an event's list (anything else names no record)."""
    return [v for v in values or [] if isinstance(v, int) and not isinstance(v, bool)]


def _check_against_chain(session: Session, units: list[PurgeUnit]) -> None:
    """Refuse a plan whose rows say something else than the audit trail recorded (edited outside)."""
    if not any(unit.attestations or unit.links for unit in units):
        return
    facts, owner = chained_attestations(session)
    for unit in units:
        for row in _rows_in(
            session,
            lambda part: select(Attestation.id, Attestation.start_date, Attestation.end_date).where(
                Attestation.id.in_(part)
            ),
            unit.attestations,
        ):
            fact = facts.get(row.id)
            if fact is None:
                continue  # created by a bulk import with no evidence registered: the trail names no id
            name = f"attestation {row.id} ({unit.tin} PY{unit.year})"
            if fact.year is not None and fact.year != unit.year:
                _disagree(f"{name} is PY{unit.year} in the database, but the audit trail recorded PY{fact.year}")
            if fact.tin is not None and fact.tin != unit.tin:
                _disagree(f"{name} is under TIN {unit.tin} in the database, but the audit trail recorded {fact.tin}")
            period = (row.start_date.isoformat(), row.end_date.isoformat())
            if fact.period is not None and fact.period != period:
                _disagree(
                    f"{name} covers {period[0]} to {period[1]} in the database, but the audit trail recorded "
                    f"{fact.period[0]} to {fact.period[1]}"
                )
            if fact.retain_until is not None and fact.retain_until > unit.retain_until:
                _disagree(
                    f"{name} would be kept through {unit.retain_until}, but the audit trail recorded its evidence "
                    f"as kept through {fact.retain_until}"
                )
        for link_id, attestation_id in _rows_in(
            session,
            lambda part: select(EvidenceLink.id, EvidenceLink.attestation_id).where(EvidenceLink.id.in_(part)),
            unit.links,
        ):
            chained = owner.get(link_id)
            if chained is not None and chained != attestation_id:
                _disagree(
                    f"evidence link {link_id} belongs to attestation {attestation_id} in the database, "
                    f"but the audit trail recorded attestation {chained}"
                )


def _disagree(problem: str) -> None:
    raise ConflictError(f"{problem}: the database was edited outside evidence; purge deletes nothing")


def _assign_evidence_and_blobs(session: Session, units: list[PurgeUnit]) -> None:
    """Evidence goes when all its links go; a file goes when no evidence remains for it."""
    purged_links = {link for unit in units for link in unit.links}
    if not purged_links:
        return
    unit_of_link = {link: unit for unit in units for link in unit.links}
    touched = {
        r.evidence_id
        for r in _rows_in(
            session, lambda part: select(EvidenceLink.evidence_id).where(EvidenceLink.id.in_(part)), purged_links
        )
    }
    links_by_evidence: dict[int, list[int]] = defaultdict(list)
    for link_id, evidence_id in _rows_in(
        session,
        lambda part: select(EvidenceLink.id, EvidenceLink.evidence_id).where(EvidenceLink.evidence_id.in_(part)),
        touched,
    ):
        links_by_evidence[evidence_id].append(link_id)
    gone_evidence = {e for e, links in links_by_evidence.items() if all(link in purged_links for link in links)}
    blob_of = dict(
        _rows_in(
            session, lambda part: select(Evidence.id, Evidence.blob_id).where(Evidence.id.in_(part)), gone_evidence
        )
    )
    evidence_by_blob: dict[int, list[int]] = defaultdict(list)
    for evidence_id, blob_id in _rows_in(
        session,
        lambda part: select(Evidence.id, Evidence.blob_id).where(Evidence.blob_id.in_(part)),
        set(blob_of.values()),
    ):
        evidence_by_blob[blob_id].append(evidence_id)
    blobs = {
        blob_id: (digest, size)
        for blob_id, digest, size in _rows_in(
            session,
            lambda part: select(Blob.id, Blob.digest, Blob.size).where(Blob.id.in_(part)),
            set(blob_of.values()),
        )
    }
    for evidence_id in sorted(gone_evidence):
        unit = unit_of_link[max(links_by_evidence[evidence_id])]  # the latest year that held it
        unit.evidence.append(evidence_id)
        blob_id = blob_of[evidence_id]
        if all(e in gone_evidence for e in evidence_by_blob[blob_id]) and blob_id in blobs:
            digest, size = blobs.pop(blob_id)
            unit.blobs[digest] = size


def check_purge_date(as_of: date, today: date) -> None:
    """A purge plans for any date, but deletes only what has expired by today."""
    if as_of > today:
        raise InputError(
            f"--as-of {as_of} is in the future: a purge can only delete what has expired by today ({today})"
        )


def execute_purge(session: Session, plan: PurgePlan, *, actor: str, today: date) -> list[str]:
    """Delete the plan's rows, with tombstones and audit events; returns the digests to remove.

    The caller commits, then removes the files: a crash in between leaves only orphaned
    files, which `evidence verify --repair` removes.
    """
    check_purge_date(plan.as_of, today)
    now = utcnow()
    digests: list[str] = []
    for unit in plan.units:
        if not unit.records and not unit.blobs:
            continue
        _tombstones(session, unit, actor, now)
        _delete_in(session, EvidenceLink.id, unit.links)
        _delete_in(session, Participation.id, unit.participations)
        _delete_in(session, Attestation.id, unit.attestations)
        _delete_in(session, Membership.id, unit.memberships)
        _delete_in(session, Evidence.id, unit.evidence)
        _delete_in(session, Blob.digest, unit.blobs)
        digests.extend(unit.blobs)
        audit.record(
            session,
            actor,
            "purge",
            f"purged {unit.tin} PY{unit.year} (kept until {unit.retain_until}): {plural(unit.records, 'record')}, "
            f"{plural(len(unit.blobs), 'file')}, {plural(unit.bytes, 'byte')}",
            tin=unit.tin,
            year=unit.year,
            details={
                "attestations": unit.attestations,
                "participations": unit.participations,
                "links": unit.links,
                "memberships": unit.memberships,
                "evidence": unit.evidence,
                "files": sorted(unit.blobs),
            },
        )
    session.flush()
    return digests


def remove_purged_files(store: BlobStore, digests: list[str]) -> tuple[int, list[str]]:
    """After the purge's commit, its files: how many went, and why each that stayed could not go."""
    removed, kept = 0, []
    for digest in digests:
        try:
            removed += store.delete(digest)
        except StoreError as exc:  # an Object Lock set under a longer retention period than today's
            kept.append(exc.message)
    return removed, kept


def _tombstones(session: Session, unit: PurgeUnit, actor: str, now: datetime) -> None:
    def stone(kind: str, record_id: int, description: str, sha256: str | None = None) -> dict[str, Any]:
        return {
            "kind": kind,
            "record_id": record_id,
            "tin": unit.tin,
            "performance_year": unit.year,
            "description": description,
            "sha256": sha256,
            "retain_until": unit.retain_until,
            "purged_at": now,
            "purged_by": actor,
        }

    rows = [stone("attestation", i, f"attestation of {unit.tin} PY{unit.year}") for i in unit.attestations]
    rows += [stone("participation", i, f"participation in {unit.tin} PY{unit.year}") for i in unit.participations]
    rows += [stone("membership", i, f"clinician membership in {unit.tin} PY{unit.year}") for i in unit.memberships]
    rows += [stone("evidence_link", i, f"evidence link for {unit.tin} PY{unit.year}") for i in unit.links]
    for evidence, blob in _rows_in(
        session,
        lambda part: select(Evidence, Blob).join(Blob, Blob.id == Evidence.blob_id).where(Evidence.id.in_(part)),
        unit.evidence,
    ):
        rows.append(
            stone(
                "evidence",
                evidence.id,
                f"{evidence.original_name} ({blob.size} bytes, effective {evidence.effective_date}, "
                f"registered by {evidence.registered_by} on {evidence.registered_at:%Y-%m-%d})",
                blob.digest,
            )
        )
    rows += [stone("file", 0, f"stored file, {size} bytes", digest) for digest, size in unit.blobs.items()]
    if rows:
        from sqlalchemy import insert

        session.execute(insert(Tombstone), rows)


def tombstones_for(session: Session, *, record_id: int | None = None, sha256: str | None = None) -> list[Tombstone]:
    query = select(Tombstone).order_by(Tombstone.id)
    if record_id is not None:
        query = query.where(Tombstone.kind == "evidence", Tombstone.record_id == record_id)
    if sha256 is not None:
        query = query.where(Tombstone.sha256 == sha256)
    return list(session.scalars(query))
