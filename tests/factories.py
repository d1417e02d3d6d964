"""Rows for tests, made directly with the ORM inside `with app.write() as session:`.

They bypass evidence.records.practices on purpose: scoring tests must be able to build states
(an invalid period, a non-member's participation) that the entry commands would refuse.
Large groups are inserted in bulk so a 1000-clinician TIN stays fast.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from evidence.catalog.store import require_activity
from evidence.db.models import Attestation, Clinician, Membership, Participation, Practice, ReportingYear
from evidence.rules.identifiers import luhn_check_digit

TIN = "000123456"


def npi_for(number: int) -> str:
    """A valid NPI (Luhn over 80840 + 9 digits) for any number below 10**8."""
    body = f"1{number:08d}"
    return body + str(luhn_check_digit("80840" + body))


def practice(
    session: Session, tin: str = TIN, *, pcmh: bool = False, apm: str = "none", year: int | None = None
) -> Practice:
    """A practice; with PCMH or an APM, the TIN's reporting year `year` says so (APP: program app)."""
    row = Practice(tin=tin, name=f"Practice {tin}")
    session.add(row)
    session.flush()
    if pcmh or apm != "none":
        assert year is not None, "PCMH and APM are facts of a year"
        reporting_year(session, row, year, pcmh=pcmh, apm=apm, program="app" if apm == "app" else "mips")
    return row


def reporting_year(session: Session, practice: Practice, year: int, **facts: Any) -> ReportingYear:
    """How the TIN (or, with clinician_id, an NPI) reports `year`: program, mvp_id, pcmh, sites, apm."""
    row = ReportingYear(practice_id=practice.id, performance_year=year, **facts)
    session.add(row)
    session.flush()
    return row


def clinicians(session: Session, practice: Practice, year: int, count: int, **inputs: Any) -> list[int]:
    """`count` new clinicians billing under `practice` in `year`, all with the same status inputs
    (rural, hpsa, patient_facing_encounters, hospital_pos_pct, asc_pos_pct); their ids."""
    if count == 0:
        return []
    first = session.scalar(select(func.count(Clinician.id))) or 0
    ids = list(
        session.scalars(
            insert(Clinician).returning(Clinician.id, sort_by_parameter_order=True),
            [{"npi": npi_for(first + i), "name": f"Clinician {first + i}"} for i in range(count)],
        )
    )
    session.execute(
        insert(Membership),
        [{"practice_id": practice.id, "clinician_id": i, "performance_year": year, **inputs} for i in ids],
    )
    return ids


def clinician(session: Session, practice: Practice, year: int, **inputs: Any) -> Clinician:
    """One clinician billing under `practice` in `year`."""
    (clinician_id,) = clinicians(session, practice, year, 1, **inputs)
    return session.get_one(Clinician, clinician_id)


def attestation(
    session: Session,
    practice: Practice,
    activity_id: str,
    year: int,
    start: date | None = None,
    end: date | None = None,
    *,
    clinician: Clinician | None = None,
) -> Attestation:
    """A group attestation (no clinician) or an individual one; the whole year by default."""
    row = Attestation(
        practice_id=practice.id,
        clinician_id=clinician.id if clinician else None,
        performance_year=year,
        activity_pk=require_activity(session, activity_id, year).id,
        start_date=start or date(year, 1, 1),
        end_date=end or date(year, 12, 31),
        created_by="tester",
    )
    session.add(row)
    session.flush()
    return row


def participations(
    session: Session,
    attestation: Attestation,
    clinician_ids: list[int],
    start: date | None = None,
    end: date | None = None,
) -> None:
    """Each clinician performs the group-attested activity for the same period (whole year by default)."""
    year = attestation.performance_year
    session.execute(
        insert(Participation),
        [
            {
                "attestation_id": attestation.id,
                "clinician_id": clinician_id,
                "start_date": start or date(year, 1, 1),
                "end_date": end or date(year, 12, 31),
                "created_by": "tester",
            }
            for clinician_id in clinician_ids
        ],
    )
