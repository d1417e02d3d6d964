"""CMS data-validation and audit requests: what was asked, by when, and the journal of the answer.

A request names a TIN and a performance year, the activities audited (each for the group, or
for an NPI audited individually) and the day the notice arrived; the response is due 45
calendar days later unless the notice says otherwise (evidence.rules.cms.audit_due_date). While
open, a request keeps its TIN's year from a purge as a legal hold does (evidence.retention.policy
`open_audits`), and its files under the store's own legal hold (`store_hold_digests`).

Every step is a chained event: `audit.open`, `audit.note` (a due-date move is a note whose event
carries the dates before and after), `audit.close`. A closed audit still takes notes (a letter
after the close belongs in its journal), but its due date no longer moves and it is not closed twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.base import ExecutableOption

from evidence.catalog.store import activity_sort_key, require_activity
from evidence.db.models import Activity, Attestation, AuditNote, AuditRequest, AuditScopeEntry, Clinician, Practice
from evidence.db.types import utcnow
from evidence.errors import ConflictError, InputError, NotFoundError
from evidence.retention import audit
from evidence.retention.policy import audit_digests_to_release, hold_digests, open_audits
from evidence.rules import cms as rules
from evidence.rules.identifiers import parse_activity_id, parse_npi, parse_tin, parse_year
from evidence.support import clock

OPEN_ACTION = "audit.open"
NOTE_ACTION = "audit.note"
CLOSE_ACTION = "audit.close"
# A reference or a contact is a line (a request number, a name and an e-mail); a reason or a note
# is a few sentences, not the pasted letter (the letter itself is evidence: `evidence register`).
LABEL_LIMIT = 200
TEXT_LIMIT = 2000
ACTOR_LIMIT = 200  # the width of opened_by, noted_by and closed_by


@dataclass(frozen=True)
class ScopeEntry:
    """One requested activity: for the group (npi None) or for one NPI audited individually."""

    activity_id: str
    npi: str | None


@dataclass(frozen=True)
class JournalEntry:
    noted_at: datetime
    noted_by: str
    text: str
    due_before: date | None
    due_after: date | None


@dataclass(frozen=True)
class AuditView:
    """An audit request as every front end shows it (plain values; no session needed)."""

    id: int
    tin: str
    practice_name: str
    year: int
    received: date
    due: date
    reference: str | None
    contact: str | None
    reason: str | None
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    closed_by: str | None
    outcome: str | None
    close_note: str | None
    scope: tuple[ScopeEntry, ...]
    journal: tuple[JournalEntry, ...]

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def activity_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(entry.activity_id for entry in self.scope))

    @property
    def npis(self) -> tuple[str, ...]:
        """The NPIs audited individually, in request order; empty for a group audit."""
        return tuple(dict.fromkeys(entry.npi for entry in self.scope if entry.npi))

    def days_left(self, as_of: date) -> int:
        """Calendar days from `as_of` to the due date: 0 on the day, negative once overdue."""
        return (self.due - as_of).days

    def overdue(self, as_of: date) -> bool:
        return self.is_open and as_of > self.due


def _view(request: AuditRequest) -> AuditView:
    return AuditView(
        id=request.id,
        tin=request.practice.tin,
        practice_name=request.practice.name,
        year=request.performance_year,
        received=request.received_on,
        due=request.due_on,
        reference=request.reference,
        contact=request.contact,
        reason=request.reason,
        opened_at=request.opened_at,
        opened_by=request.opened_by,
        closed_at=request.closed_at,
        closed_by=request.closed_by,
        outcome=request.outcome,
        close_note=request.close_note,
        scope=tuple(ScopeEntry(entry.activity_id, entry.npi) for entry in request.scope),
        journal=tuple(
            JournalEntry(note.noted_at, note.noted_by, note.text, note.due_before, note.due_after)
            for note in request.journal
        ),
    )


def _loaded() -> tuple[ExecutableOption, ...]:
    return (
        selectinload(AuditRequest.practice),
        selectinload(AuditRequest.scope),
        selectinload(AuditRequest.journal),
    )


def require_audit(session: Session, audit_id: int) -> AuditRequest:
    """The request row (for a change), or NotFoundError naming the id."""
    request = session.scalar(select(AuditRequest).where(AuditRequest.id == audit_id).options(*_loaded()))
    if request is None:
        raise NotFoundError(f"no audit request #{audit_id}; `evidence audit list` shows them")
    return request


def get_audit(session: Session, audit_id: int) -> AuditView:
    return _view(require_audit(session, audit_id))


def list_audits(session: Session, *, open_only: bool = False, tin: str | None = None) -> list[AuditView]:
    """Requests by due date (soonest first), then id."""
    query = select(AuditRequest).options(*_loaded()).order_by(AuditRequest.due_on, AuditRequest.id)
    if open_only:
        query = query.where(AuditRequest.closed_at.is_(None))
    if tin is not None:
        tin = parse_tin(tin)
        if session.scalar(select(Practice.id).where(Practice.tin == tin)) is None:
            raise NotFoundError(f"no practice with TIN {tin}")
        query = query.join(Practice, Practice.id == AuditRequest.practice_id).where(Practice.tin == tin)
    return [_view(request) for request in session.scalars(query)]


def _clean(value: str | None, what: str = "the text", limit: int = TEXT_LIMIT) -> str | None:
    """Free text on one line (a pasted e-mail subject keeps no newlines), None when empty; refused
    in one line when longer than `limit` characters."""
    text = " ".join((value or "").split())
    if len(text) > limit:
        raise InputError(f"{what} is {len(text)} characters long; at most {limit} are kept")
    return text or None


def _actor(actor: str) -> str:
    if not actor.strip():
        raise InputError("who is acting is empty: give --actor NAME")
    if len(actor) > ACTOR_LIMIT:
        raise InputError(f"--actor is {len(actor)} characters long; at most {ACTOR_LIMIT} are kept")
    return actor


def _attested(session: Session, practice_id: int, year: int) -> dict[str | None, list[str]]:
    """Activity ids attested in `year`, keyed by NPI (None: the group's own attestations)."""
    rows = session.execute(
        select(Clinician.npi, Activity.activity_id)
        .select_from(Attestation)
        .join(Activity, Activity.id == Attestation.activity_pk)
        .outerjoin(Clinician, Clinician.id == Attestation.clinician_id)
        .where(Attestation.practice_id == practice_id, Attestation.performance_year == year)
    )
    attested: dict[str | None, list[str]] = {}
    for npi, activity_id in rows:
        attested.setdefault(npi, []).append(activity_id)
    return {npi: sorted(ids, key=activity_sort_key) for npi, ids in attested.items()}


def _scope(
    attested: dict[str | None, list[str]], activities: list[str], npis: list[str | None], tin: str, year: int
) -> list[ScopeEntry]:
    entries: list[ScopeEntry] = []
    for npi in npis:
        who = f"NPI {npi} under TIN {tin}" if npi else f"TIN {tin} (group reporting)"
        held = attested.get(npi, [])
        if not held:
            others = sorted(n for n in attested if n)
            hint = f"; individually attested: {', '.join(others)} (name them with --npi)" if not npi and others else ""
            raise InputError(f"{who} attested no activity in PY{year}: there is nothing to audit{hint}")
        for activity_id in activities or held:
            if activity_id not in held:
                raise InputError(f"{activity_id} is not attested by {who} in PY{year} (attested: {', '.join(held)})")
            entries.append(ScopeEntry(activity_id, npi))
    return entries


def open_audit(
    session: Session,
    tin: str,
    year: int,
    received: date,
    *,
    due: date | None = None,
    activities: Iterable[str] = (),
    npis: Iterable[str] = (),
    reference: str | None = None,
    contact: str | None = None,
    reason: str | None = None,
    actor: str,
) -> AuditView:
    """Record a request. Scope: the listed activities (default: every one attested that year), for
    the group, or for each listed NPI's individual attestations. Nothing is written on a refusal."""
    tin, year, actor = parse_tin(tin), parse_year(year), _actor(actor)
    reference = _clean(reference, "the reference", LABEL_LIMIT)
    contact = _clean(contact, "the contact", LABEL_LIMIT)
    reason = _clean(reason, "the reason")
    practice = session.scalar(select(Practice).where(Practice.tin == tin))
    if practice is None:
        raise NotFoundError(f"no practice with TIN {tin}")
    today = clock.today()
    if received > today:
        raise InputError(f"--received {received} is in the future (today is {today}): give the notice's date")
    problem = rules.audit_notice_problem(year, received)
    if problem:
        raise InputError(problem)
    due = due or rules.audit_due_date(received)
    if due < received:
        raise InputError(f"--due {due} is before --received {received}")
    activity_ids = list(dict.fromkeys(parse_activity_id(value) for value in activities))
    for activity_id in activity_ids:
        require_activity(session, activity_id, year)  # a typo is named as one, not as "not attested"
    npi_list: list[str | None] = list(dict.fromkeys(parse_npi(value) for value in npis)) or [None]
    entries = _scope(_attested(session, practice.id, year), activity_ids, npi_list, tin, year)
    _refuse_same_notice(session, practice.id, tin, year, reference)
    request = AuditRequest(
        practice_id=practice.id,
        performance_year=year,
        received_on=received,
        due_on=due,
        reference=reference,
        contact=contact,
        reason=reason,
        opened_by=actor,
    )
    session.add(request)
    session.flush()
    session.add_all(AuditScopeEntry(audit_id=request.id, activity_id=e.activity_id, npi=e.npi) for e in entries)
    session.flush()
    view = get_audit(session, request.id)
    label = f" ({view.reference})" if view.reference else ""
    audit.record(
        session,
        actor,
        OPEN_ACTION,
        f"audit #{view.id}{label} of {tin} PY{year} opened: received {received}, due {due}, "
        f"{len(view.activity_ids)} activit{'y' if len(view.activity_ids) == 1 else 'ies'}",
        tin=tin,
        year=year,
        details={
            "audit": view.id,
            "received": received.isoformat(),
            "due": due.isoformat(),
            "reference": view.reference,
            "contact": view.contact,
            "reason": view.reason,
            "scope": [[e.activity_id, e.npi] for e in view.scope],
        },
    )
    return view


def _refuse_same_notice(session: Session, practice_id: int, tin: str, year: int, reference: str | None) -> None:
    """A second request for one TIN-year may come (another phase, other activities); the reference of
    one still open is the same notice typed twice, which would run two clocks for one answer."""
    if reference is None:
        return
    for request in open_audits(session, practice_id, year):
        if request.reference is not None and request.reference.casefold() == reference.casefold():
            raise ConflictError(
                f"{_label(request)} is already open for {tin} PY{year}: the same notice; add to its journal "
                f"(`evidence audit note {request.id}`) instead"
            )


def _label(request: AuditRequest) -> str:
    return f"audit #{request.id}" + (f" ({request.reference})" if request.reference else "")


def _refuse_closed(request: AuditRequest, doing: str) -> None:
    if request.closed_at is not None:
        raise ConflictError(
            f"audit #{request.id} was already closed on {request.closed_at:%Y-%m-%d} ({request.outcome}){doing}"
        )


def note_audit(session: Session, audit_id: int, text: str, *, due: date | None = None, actor: str) -> AuditView:
    """A dated journal entry (a call, an e-mail, an extension). With `due`, the entry is the reason the
    due date moves: refused before the notice was received, to the same date, or once closed."""
    actor = _actor(actor)
    note = _clean(text, "the note")
    if note is None:
        raise InputError("the note is empty: say what happened (a call, an e-mail, an extension granted)")
    request = require_audit(session, audit_id)
    before: date | None = None
    if due is not None:
        _refuse_closed(request, ": its due date no longer moves")
        if due < request.received_on:
            raise InputError(f"--due {due} is before the notice was received ({request.received_on})")
        if due == request.due_on:
            raise InputError(f"audit #{audit_id} is already due {due}: nothing to move")
        before, request.due_on = request.due_on, due
    row = AuditNote(audit_id=request.id, noted_by=actor, text=note, due_before=before, due_after=due)
    session.add(row)
    session.flush()
    moved = f"; due {before} -> {due}" if before else ""
    audit.record(
        session,
        actor,
        NOTE_ACTION,
        f"{_label(request)} note{moved}: {note}",
        tin=request.practice.tin,
        year=request.performance_year,
        details={
            "audit": request.id,
            "note": row.id,
            "text": note,
            "due_before": before.isoformat() if before else None,
            "due_after": due.isoformat() if due else None,
        },
    )
    session.expire(request, ["journal"])
    return get_audit(session, request.id)


def close_audit(session: Session, audit_id: int, outcome: str, *, note: str | None = None, actor: str) -> AuditView:
    """Close a request with CMS's outcome (passed, failed, withdrawn); its TIN-year is then no longer
    kept by it (a legal hold or another open audit may still keep it). Closing twice is refused."""
    actor = _actor(actor)
    if outcome not in rules.AUDIT_OUTCOMES:
        raise InputError(f"outcome {outcome!r} is not one of {', '.join(rules.AUDIT_OUTCOMES)}")
    close_note = _clean(note, "the note")
    request = require_audit(session, audit_id)
    _refuse_closed(request, "")
    request.closed_at, request.closed_by, request.outcome, request.close_note = utcnow(), actor, outcome, close_note
    session.flush()
    audit.record(
        session,
        actor,
        CLOSE_ACTION,
        f"{_label(request)} closed: {outcome}" + (f": {close_note}" if close_note else ""),
        tin=request.practice.tin,
        year=request.performance_year,
        details={"audit": request.id, "outcome": outcome, "note": close_note},
    )
    return get_audit(session, request.id)


def store_hold_digests(session: Session, audit_id: int) -> set[str]:
    """The files whose own store hold (S3 Object Lock) follows the audit: while it is open, every file
    of its TIN-year; once closed, those of them no legal hold and no other open audit still keeps."""
    request = require_audit(session, audit_id)
    if request.closed_at is None:
        return hold_digests(session, request.practice_id, request.performance_year)
    return audit_digests_to_release(session, request)
