"""The guarded entry points of the practice records (issue #15): practices, clinicians, attestations,
participation, their corrections and the CSV import, for a principal. Each checks the permission
(and the practice grant) first, then calls the same service the CLI's command calls, with the
principal as the actor.

A record named by id (an attestation, a participation) belongs to a practice: one not granted is
answered exactly like an id that does not exist. An officer or viewer limited to granted practices
cannot add a new one (they would not see it, and a grant is an admin's to give): an admin adds it
and grants it, or the officer has no grants (a one-practice install sees every practice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from evidence.access.policy import Permission, Principal, require
from evidence.db.models import Attestation, Participation
from evidence.errors import ForbiddenError, InputError, NotFoundError
from evidence.records import corrections, importer, practices, reporting
from evidence.records.corrections import DeletedAttestation, PracticeChanges, StatusChanges
from evidence.records.importer import ImportSummary
from evidence.records.practices import AttestationRow, ParticipationRow, StatusInputs
from evidence.records.views import clinician_rows
from evidence.rules.identifiers import parse_tin, parse_year


@dataclass(frozen=True)
class PracticeRecords:
    """What `evidence practice show`, `practice years`, `clinician list` and `participation list` show."""

    tin: str
    name: str
    year: int | None  # the year asked for; None: every year
    years: list[int]  # every year with a clinician, attestation or reporting row
    reporting: list[dict[str, Any]]  # reporting.year_row of each recorded year
    clinicians: list[dict[str, Any]]
    attestations: list[AttestationRow]
    participations: list[ParticipationRow]


def _granted(session: Session, principal: Principal, permission: Permission, tin: str) -> str:
    tin = parse_tin(tin)
    require(principal, permission, tin=tin)
    practices.require_known_tin(session, tin)
    return tin


def records(session: Session, principal: Principal, tin: str, year: int | str | None = None) -> PracticeRecords:
    tin = _granted(session, principal, Permission.READ, tin)
    year = None if year is None else parse_year(year)
    practice = practices.get_practice(session, tin)
    members = practices.list_clinicians(session, tin)
    attested = practices.list_attestations(session, tin)
    years_recorded = reporting.list_years(session, tin)
    joined = practices.list_participations(session, tin)
    years = sorted(
        {m.performance_year for m in members} | {a.year for a in attested} | {r.year for r in years_recorded}
    )

    def wanted(y: int) -> bool:
        return year is None or y == year

    clinicians = clinician_rows(m for m in members if wanted(m.performance_year))
    return PracticeRecords(
        tin=practice.tin,
        name=practice.name,
        year=year,
        years=years,
        reporting=[reporting.year_row(f) for f in years_recorded if wanted(f.year)],
        clinicians=clinicians,
        attestations=[a for a in attested if wanted(a.year)],
        participations=[p for p in joined if wanted(p.year)],
    )


# --- Adding (RECORDS) ---------------------------------------------------------------------------


def _may_add_practice(principal: Principal) -> None:
    require(principal, Permission.RECORDS)
    if principal.tins is not None:
        raise ForbiddenError(
            f"{principal.name} sees only the practices granted to them, and would not see a new one: "
            "an admin adds the practice and grants it"
        )


def add_practice(
    session: Session, principal: Principal, tin: str, name: str, *, pcmh: bool, apm: str, year: int | str | None
) -> str:
    """`evidence practice add TIN --name [--pcmh --apm --year]`; the TIN added."""
    _may_add_practice(principal)
    year = None if year is None else parse_year(year)
    row, _ = practices.add_practice(session, tin, name, pcmh=pcmh, apm=apm, year=year, actor=principal.actor)
    return row.tin


def add_clinician(
    session: Session, principal: Principal, tin: str, npi: str, name: str, year: int | str, inputs: StatusInputs
) -> None:
    """`evidence clinician add NPI --tin --name --year [status inputs]`."""
    tin = _granted(session, principal, Permission.RECORDS, tin)
    practices.add_clinician(session, tin, npi, name, parse_year(year), inputs, actor=principal.actor,
                            show_names=principal.tins is None)  # fmt: skip


def attest(
    session: Session,
    principal: Principal,
    tin: str,
    activity: str,
    year: int | str,
    start: date,
    end: date,
    *,
    npi: str | None,
) -> Attestation:
    """`evidence attest --tin --activity --year --start --end [--npi]`."""
    tin = _granted(session, principal, Permission.RECORDS, tin)
    row, _ = practices.attest(session, tin, activity, parse_year(year), start, end, actor=principal.actor, npi=npi)
    return row


def participate(
    session: Session, principal: Principal, tin: str, npi: str, activity: str, year: int | str, start: date, end: date
) -> None:
    """`evidence participate --tin --npi --activity --year --start --end`."""
    tin = _granted(session, principal, Permission.RECORDS, tin)
    practices.participate(session, tin, npi, activity, parse_year(year), start, end, actor=principal.actor)


# --- Corrections (CORRECT) ----------------------------------------------------------------------


def _attestation_tin(session: Session, principal: Principal, attestation_id: int) -> str | None:
    """The TIN of a visible attestation; an id of a practice not granted reads as no such id."""
    row = session.get(Attestation, attestation_id)
    if row is not None and not principal.sees(row.practice.tin):
        raise NotFoundError(f"no attestation with id {attestation_id}")
    return row.practice.tin if row is not None else None


def _participation_tin(session: Session, principal: Principal, participation_id: int) -> str | None:
    row = session.get(Participation, participation_id)
    if row is not None and not principal.sees(row.attestation.practice.tin):
        raise NotFoundError(f"no participation with id {participation_id}")
    return row.attestation.practice.tin if row is not None else None


def _limited(principal: Principal, kind: str, row_id: int) -> None:
    """A purged id tells when it was purged (corrections.require_row): only to who sees every practice."""
    if principal.tins is not None:
        raise NotFoundError(f"no {kind} with id {row_id}")


def edit_attestation(
    session: Session, principal: Principal, attestation_id: int, *, start: date | None, end: date | None, reason: str
) -> tuple[str, str]:
    """`evidence attestation edit ID [--start] [--end] --reason`; (its TIN, what it now says)."""
    require(principal, Permission.CORRECT)
    if _attestation_tin(session, principal, attestation_id) is None:
        _limited(principal, "attestation", attestation_id)
    row = corrections.edit_attestation(
        session, attestation_id, start=start, end=end, reason=reason, actor=principal.actor
    )
    return row.practice.tin, f"{corrections.describe_attestation(row)} now covers {row.start_date} to {row.end_date}"


def delete_attestation(
    session: Session, principal: Principal, attestation_id: int, *, reason: str, unlink: bool
) -> tuple[str, DeletedAttestation]:
    """`evidence attestation delete ID [--unlink] --reason`; (its TIN, what was deleted)."""
    require(principal, Permission.CORRECT)
    tin = _attestation_tin(session, principal, attestation_id)
    if tin is None:
        _limited(principal, "attestation", attestation_id)
    done = corrections.delete_attestation(session, attestation_id, reason=reason, actor=principal.actor, unlink=unlink)
    assert tin is not None  # the library found it
    return tin, done


def edit_participation(
    session: Session, principal: Principal, participation_id: int, *, start: date | None, end: date | None, reason: str
) -> tuple[str, str]:
    """`evidence participation edit ID [--start] [--end] --reason`; (its TIN, what it now says)."""
    require(principal, Permission.CORRECT)
    if _participation_tin(session, principal, participation_id) is None:
        _limited(principal, "participation", participation_id)
    row = corrections.edit_participation(
        session, participation_id, start=start, end=end, reason=reason, actor=principal.actor
    )
    tin = row.attestation.practice.tin
    return tin, f"participation {row.id} (NPI {row.clinician.npi}) now covers {row.start_date} to {row.end_date}"


def delete_participation(
    session: Session, principal: Principal, participation_id: int, *, reason: str
) -> tuple[str, str]:
    """`evidence participation delete ID --reason`; (its TIN, what was deleted)."""
    require(principal, Permission.CORRECT)
    tin = _participation_tin(session, principal, participation_id)
    if tin is None:
        _limited(principal, "participation", participation_id)
    name = corrections.delete_participation(session, participation_id, reason=reason, actor=principal.actor)
    assert tin is not None  # the library found it
    return tin, name


def update_clinician(
    session: Session,
    principal: Principal,
    tin: str,
    npi: str,
    year: int | str,
    changes: StatusChanges,
    *,
    reason: str,
) -> str:
    """`evidence clinician update NPI --tin --year [inputs] --reason`; what changed."""
    tin = _granted(session, principal, Permission.CORRECT, tin)
    changed = corrections.update_clinician(
        session, tin, npi, parse_year(year), changes, reason=reason, actor=principal.actor
    )
    return changed.describe()


def set_practice(session: Session, principal: Principal, tin: str, changes: PracticeChanges, *, reason: str) -> str:
    """`evidence practice set TIN [--name | --year ...] --reason`; what changed."""
    tin = _granted(session, principal, Permission.CORRECT, tin)
    return corrections.set_practice(session, tin, changes, reason=reason, actor=principal.actor).describe()


# --- CSV import (RECORDS) -----------------------------------------------------------------------


def import_csv(
    session: Session, principal: Principal, raw: bytes, name: str, *, dry_run: bool = False
) -> tuple[ImportSummary, list[str]]:
    """`evidence import FILE` of an uploaded file (all or nothing); (summary, the TINs it names).

    With `dry_run` the same checks run and nothing is written. A principal limited to granted
    practices gets a row error for every row naming another TIN, whether it exists or not.
    """
    require(principal, Permission.RECORDS)
    rows = importer.read_uploaded(raw, name)
    if principal.tins is not None:
        refused = [
            f"line {row.line}, column tin: TIN {row.text('tin')} is not a practice granted to {principal.name}"
            for row in rows
            if row.text("tin") and not principal.sees(row.text("tin"))
        ]
        if refused:
            raise InputError.listing(name, refused)
    summary = importer.import_rows(
        session, rows, name, actor=principal.actor, dry_run=dry_run, show_names=principal.tins is None
    )
    return summary, sorted({row.text("tin") for row in rows})
