"""Correcting a mistake in place: attestation and participation periods, deletions, status inputs,
a practice's name and how it reports a year.

Each correction is one chained audit event with the actor, a mandatory reason and the old value
next to the new one, so the record of what was believed before is never lost. A correction
that would change nothing is refused without an event. Deleting is refused while a legal hold
covers the practice and year (a hold freezes what exists). Retention's chain replay
(`retention.policy.chained_attestations`) reads the attestation events written here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.db.models import (
    Attestation,
    Clinician,
    EvidenceLink,
    Participation,
    Tombstone,
)
from evidence.errors import ConflictError, InputError, NotFoundError
from evidence.records.practices import Lookup, StatusInputs, check_period, person_or_practice_name
from evidence.records.reporting import YearChanges, set_year
from evidence.retention import audit
from evidence.retention.policy import active_holds, open_audits
from evidence.rules.identifiers import parse_npi, parse_tin, parse_year
from evidence.support.text import plural

# --- Shared by every correction -----------------------------------------------------------------


def correction_reason(reason: str | None) -> str:
    """The reason, whitespace folded; an empty one is refused (every correction says why)."""
    text = " ".join((reason or "").split())
    if not text:
        raise InputError("a correction needs a --reason (why the record was wrong)")
    return text


def nothing_to_change(what: str) -> InputError:
    return InputError(f"nothing to change: {what}")


def require_row(session: Session, model: Any, row_id: int, kind: str, label: str) -> Any:
    """The row, or one line saying it never existed or when a purge removed it."""
    row = session.get(model, row_id)
    if row is not None:
        return row
    stone = session.scalar(
        select(Tombstone).where(Tombstone.kind == kind, Tombstone.record_id == row_id).order_by(Tombstone.id).limit(1)
    )
    if stone is not None:
        raise NotFoundError(f"{label} {row_id} was purged on {stone.purged_at:%Y-%m-%d} after its retention window")
    raise NotFoundError(f"no {label} with id {row_id}")


def refuse_if_held(session: Session, attestation: Attestation, doing: str) -> None:
    """A legal hold, or an open audit request (which CMS is reviewing), freezes what was attested."""
    where = f"{attestation.practice.tin} PY{attestation.performance_year}"
    holds = active_holds(session, attestation.practice_id, attestation.performance_year)
    if holds:
        ids = ", ".join(f"#{h.id}" for h in holds)
        raise ConflictError(
            f"cannot {doing}: {where} is under legal hold {ids}; release the hold first (`evidence hold release`)"
        )
    audits = open_audits(session, attestation.practice_id, attestation.performance_year)
    if audits:
        ids = ", ".join(f"#{a.id}" for a in audits)
        raise ConflictError(
            f"cannot {doing}: {where} is under open audit {ids}; what CMS is reviewing stays as attested until "
            "the audit is closed (`evidence audit close`)"
        )


def describe_attestation(attestation: Attestation) -> str:
    who = f"NPI {attestation.clinician.npi}" if attestation.clinician else "group"
    return (
        f"attestation {attestation.id} ({attestation.practice.tin} PY{attestation.performance_year} "
        f"{attestation.activity.activity_id}, {who})"
    )


def _period(start: date, end: date) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def _new_period(old_start: date, old_end: date, start: date | None, end: date | None) -> tuple[date, date]:
    if start is None and end is None:
        raise InputError("give --start, --end or both: the period is the only thing to edit")
    return start or old_start, end or old_end


# --- Attestations -------------------------------------------------------------------------------


def edit_attestation(
    session: Session, attestation_id: int, *, start: date | None, end: date | None, reason: str, actor: str
) -> Attestation:
    """Correct an attestation's period (its year, activity and TIN are fixed: delete and attest again)."""
    reason = correction_reason(reason)
    row: Attestation = require_row(session, Attestation, attestation_id, "attestation", "attestation")
    new_start, new_end = _new_period(row.start_date, row.end_date, start, end)
    name = describe_attestation(row)
    if (new_start, new_end) == (row.start_date, row.end_date):
        raise nothing_to_change(f"{name} already covers {new_start} to {new_end}")
    check_period(row.performance_year, new_start, new_end, row.activity.activity_id)
    old = _period(row.start_date, row.end_date)
    row.start_date, row.end_date = new_start, new_end
    session.flush()
    audit.record(session, actor, "attestation.edit",
                 f"{name} period {old['start']} to {old['end']} -> {new_start} to {new_end}: {reason}",
                 tin=row.practice.tin, year=row.performance_year,
                 details={"attestation": row.id, "old": old, "new": _period(new_start, new_end),
                          "reason": reason})  # fmt: skip
    return row


@dataclass(frozen=True)
class DeletedAttestation:
    description: str
    links: int
    participations: int


def delete_attestation(
    session: Session, attestation_id: int, *, reason: str, actor: str, unlink: bool = False
) -> DeletedAttestation:
    """Delete a mistaken attestation and its participations; its evidence links only with `unlink`.

    The event keeps the attestation, each participation and each removed link as they were.
    The evidence itself stays (a file whose last link goes is kept, and listed without links).
    """
    reason = correction_reason(reason)
    row: Attestation = require_row(session, Attestation, attestation_id, "attestation", "attestation")
    name = describe_attestation(row)
    links = list(session.scalars(select(EvidenceLink).where(EvidenceLink.attestation_id == row.id)))
    if links and not unlink:
        ids = sorted({link.evidence_id for link in links})
        evidence = ", ".join(map(str, ids[:5])) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        raise ConflictError(
            f"{name} has {plural(len(links), 'evidence link')} (evidence {evidence}); remove them with "
            "`evidence unlink LINK_ID`, or delete with --unlink to remove them in the same change"
        )
    refuse_if_held(session, row, f"delete {name}")
    participations = [
        {"participation": p.id, "npi": p.clinician.npi, **_period(p.start_date, p.end_date)} for p in row.participations
    ]
    old = {
        "tin": row.practice.tin,
        "year": row.performance_year,
        "activity": row.activity.activity_id,
        "npi": row.clinician.npi if row.clinician else None,
        **_period(row.start_date, row.end_date),
    }
    removed = [link_facts(link) for link in links]
    for link in links:
        session.delete(link)
    for participation in list(row.participations):
        session.delete(participation)
    session.flush()
    tin, year = row.practice.tin, row.performance_year
    session.expire(row, ["participations"])  # reloaded empty: nothing left for the ORM to detach
    session.delete(row)
    session.flush()
    audit.record(session, actor, "attestation.delete", f"{name} deleted: {reason}", tin=tin, year=year,
                 details={"attestation": attestation_id, "old": old, "new": None,
                          "links": [link["link"] for link in removed], "removed_links": removed,
                          "participations": participations, "reason": reason})  # fmt: skip
    return DeletedAttestation(name, len(links), len(participations))


def link_facts(link: EvidenceLink) -> dict[str, Any]:
    """What a link tied together, for the event that removes it."""
    return {
        "link": link.id,
        "evidence": link.evidence_id,
        "attestation": link.attestation_id,
        "activity": link.item.activity_id,
        "item": link.item.key,
        "npi": link.clinician.npi if link.clinician else None,
    }


# --- Participation ------------------------------------------------------------------------------


def _participation(session: Session, participation_id: int) -> tuple[Participation, str]:
    row: Participation = require_row(session, Participation, participation_id, "participation", "participation")
    a = row.attestation
    name = (
        f"participation {row.id} (NPI {row.clinician.npi} in {a.practice.tin} PY{a.performance_year} "
        f"{a.activity.activity_id})"
    )
    return row, name


def edit_participation(
    session: Session, participation_id: int, *, start: date | None, end: date | None, reason: str, actor: str
) -> Participation:
    """Correct one clinician's own period for a group attestation."""
    reason = correction_reason(reason)
    row, name = _participation(session, participation_id)
    new_start, new_end = _new_period(row.start_date, row.end_date, start, end)
    if (new_start, new_end) == (row.start_date, row.end_date):
        raise nothing_to_change(f"{name} already covers {new_start} to {new_end}")
    year = row.attestation.performance_year
    check_period(year, new_start, new_end, row.attestation.activity.activity_id)
    old = _period(row.start_date, row.end_date)
    row.start_date, row.end_date = new_start, new_end
    session.flush()
    audit.record(session, actor, "participation.edit",
                 f"{name} period {old['start']} to {old['end']} -> {new_start} to {new_end}: {reason}",
                 tin=row.attestation.practice.tin, year=year,
                 details={"participation": row.id, "attestation": row.attestation_id, "npi": row.clinician.npi,
                          "old": old, "new": _period(new_start, new_end), "reason": reason})  # fmt: skip
    return row


def delete_participation(session: Session, participation_id: int, *, reason: str, actor: str) -> str:
    """Delete a mistaken participation; returns what it was."""
    reason = correction_reason(reason)
    row, name = _participation(session, participation_id)
    attestation = row.attestation
    refuse_if_held(session, attestation, f"delete {name}")
    # Evidence about this clinician is judged against their own period; without it, it would
    # silently count against the group's period instead. The links go first, each with its reason.
    links = list(
        session.scalars(
            select(EvidenceLink).where(
                EvidenceLink.attestation_id == attestation.id, EvidenceLink.clinician_id == row.clinician_id
            )
        )
    )
    if links:
        ids = ", ".join(str(link.id) for link in links)
        raise ConflictError(
            f"{name} has {plural(len(links), 'evidence link')} about NPI {row.clinician.npi} (link {ids}); "
            "remove them with `evidence unlink LINK_ID` first"
        )
    old = {"npi": row.clinician.npi, **_period(row.start_date, row.end_date)}
    session.delete(row)
    session.flush()
    audit.record(session, actor, "participation.delete", f"{name} deleted: {reason}", tin=attestation.practice.tin,
                 year=attestation.performance_year,
                 details={"participation": participation_id, "attestation": attestation.id, "old": old, "new": None,
                          "reason": reason})  # fmt: skip
    return name


# --- Clinicians' status inputs ------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChanges:
    """The status inputs to change; None leaves one as it is."""

    rural: bool | None = None
    hpsa: bool | None = None
    patient_facing_encounters: int | None = None
    hospital_pos_pct: float | None = None
    asc_pos_pct: float | None = None

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Changed:
    """The fields a correction changed: what they were and what they are now."""

    old: dict[str, Any]
    new: dict[str, Any]

    def describe(self) -> str:
        return f"{_inputs_text(self.old) or 'nothing recorded'} -> {_inputs_text(self.new)}"


def update_clinician(
    session: Session, tin: str, npi: str, year: int, changes: StatusChanges, *, reason: str, actor: str
) -> Changed:
    """Correct a clinician's special-status inputs for one year under one TIN."""
    reason = correction_reason(reason)
    tin, npi, year = parse_tin(tin), parse_npi(npi), parse_year(year)
    wanted = changes.given()
    if not wanted:
        raise InputError("give at least one input to change (--rural/--no-rural, --hpsa/--no-hpsa, ...)")
    lookup = Lookup(session)
    practice = lookup.require_practice(tin)
    clinician: Clinician = lookup.require_member(practice, npi, year)
    membership = lookup.membership(practice, clinician, year)
    assert membership is not None  # require_member found it
    current = {name: getattr(membership, name) for name in (f.name for f in fields(StatusInputs))}
    StatusInputs(**{**current, **wanted}).check()
    changed = {name: value for name, value in wanted.items() if current[name] != value}
    if not changed:
        raise nothing_to_change(f"NPI {npi} under {tin} in {year} already has {_inputs_text(wanted)}")
    old = {name: current[name] for name in changed}
    for name, value in changed.items():
        setattr(membership, name, value)
    session.flush()
    audit.record(session, actor, "clinician.update",
                 f"NPI {npi} under {tin} in {year}: {Changed(old, changed).describe()}: {reason}",
                 tin=tin, year=year, details={"membership": membership.id, "clinician": clinician.id, "npi": npi,
                                              "old": old, "new": changed, "reason": reason})  # fmt: skip
    return Changed(old, changed)


def _inputs_text(values: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in values.items())


# --- Practices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PracticeChanges:
    """The practice facts to change; None leaves one as it is.

    The name is the practice's; the rest are facts of one performance year (`year`), of the TIN
    or, with `npi`, of one NPI reporting individually under it (evidence.records.reporting).
    """

    name: str | None = None
    year: int | None = None
    npi: str | None = None
    program: str | None = None
    mvp_id: str | None = None
    pcmh: bool | None = None
    pcmh_sites: int | None = None
    recognized_sites: int | None = None
    apm: str | None = None

    def year_changes(self) -> YearChanges:
        return YearChanges(self.program, self.mvp_id, self.pcmh, self.pcmh_sites, self.recognized_sites, self.apm)


def set_practice(session: Session, tin: str, changes: PracticeChanges, *, reason: str, actor: str) -> Changed:
    """Correct a practice's name, or record how it (or an NPI under it) reports one year."""
    reason = correction_reason(reason)
    year_given = changes.year_changes().given()
    if changes.year is None and (year_given or changes.npi):
        raise InputError(
            "program, PCMH recognition and APM participation are facts of one performance year: give --year"
        )
    if changes.year is not None:
        if changes.name is not None:
            raise InputError("--name is the practice's, --year facts are one year's: set them in two commands")
        old, new = set_year(session, tin, changes.year, changes.year_changes(), npi=changes.npi, reason=reason,
                            actor=actor)  # fmt: skip
        return Changed(old, new)
    practice = Lookup(session).require_practice(parse_tin(tin))
    if changes.name is None:
        raise InputError("give --name, or --year with the year's --program, --pcmh/--no-pcmh or --apm")
    name = person_or_practice_name(changes.name, "practice name")
    if practice.name == name:
        raise nothing_to_change(f"practice {practice.tin} already has name={name}")
    old, changed = {"name": practice.name}, {"name": name}
    practice.name = name
    session.flush()
    audit.record(session, actor, "practice.set",
                 f"practice {practice.tin}: {Changed(old, changed).describe()}: {reason}",
                 tin=practice.tin, details={"practice": practice.id, "old": old, "new": changed,
                                            "reason": reason})  # fmt: skip
    return Changed(old, changed)
