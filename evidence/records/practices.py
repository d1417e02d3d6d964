"""Practices (TINs), clinicians (NPIs) per year, attestations and participation.

Every function takes a Session, validates everything before writing, and raises the
project's own errors. `Lookup` caches rows by their natural keys so a bulk import of
thousands of rows does not query once per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from evidence.catalog.store import require_activity
from evidence.db.models import (
    Activity,
    Attestation,
    Clinician,
    Membership,
    Participation,
    Practice,
    ReportingYear,
)
from evidence.errors import ConflictError, InputError, NotFoundError
from evidence.retention import audit
from evidence.rules import cms as rules
from evidence.rules.identifiers import parse_activity_id, parse_npi, parse_tin, parse_year


@dataclass
class Lookup:
    """Rows by natural key, cached for the life of one unit of work."""

    session: Session
    _practices: dict[str, Practice | None] = field(default_factory=dict)
    _clinicians: dict[str, Clinician | None] = field(default_factory=dict)
    _activities: dict[tuple[str, int], Activity] = field(default_factory=dict)
    _members: dict[tuple[int, int, int], Membership | None] = field(default_factory=dict)

    def practice(self, tin: str) -> Practice | None:
        if tin not in self._practices:
            self._practices[tin] = self.session.scalar(select(Practice).where(Practice.tin == tin))
        return self._practices[tin]

    def require_practice(self, tin: str) -> Practice:
        practice = self.practice(tin)
        if practice is None:
            raise NotFoundError(f"{no_such_practice(tin)}; add it with `evidence practice add {tin} --name ...`")
        return practice

    def clinician(self, npi: str) -> Clinician | None:
        if npi not in self._clinicians:
            self._clinicians[npi] = self.session.scalar(select(Clinician).where(Clinician.npi == npi))
        return self._clinicians[npi]

    def activity(self, activity_id: str, year: int) -> Activity:
        key = (activity_id, year)
        if key not in self._activities:
            self._activities[key] = require_activity(self.session, activity_id, year)
        return self._activities[key]

    def membership(self, practice: Practice, clinician: Clinician, year: int) -> Membership | None:
        key = (practice.id, clinician.id, year)
        if key not in self._members:
            self._members[key] = self.session.scalar(
                select(Membership).where(
                    Membership.practice_id == practice.id,
                    Membership.clinician_id == clinician.id,
                    Membership.performance_year == year,
                )
            )
        return self._members[key]

    def require_member(self, practice: Practice, npi: str, year: int) -> Clinician:
        clinician = self.clinician(npi)
        if clinician is None or self.membership(practice, clinician, year) is None:
            raise InputError(
                f"NPI {npi} does not bill under TIN {practice.tin} in {year}; "
                f"add it with `evidence clinician add {npi} --tin {practice.tin} --year {year} --name ...`"
            )
        return clinician

    def remember(self, row: object) -> None:
        if isinstance(row, Practice):
            self._practices[row.tin] = row
        elif isinstance(row, Clinician):
            self._clinicians[row.npi] = row
        elif isinstance(row, Membership):
            self._members[(row.practice_id, row.clinician_id, row.performance_year)] = row


# --- Practices --------------------------------------------------------------------------------


# The longest name the database holds (String(300) for practices and clinicians): PostgreSQL
# enforces it, SQLite would not, so the rule is checked here for both.
MAX_NAME_LENGTH = 300


def person_or_practice_name(text: str | None, what: str) -> str:
    name = " ".join((text or "").split())
    if not name:
        raise InputError(f"{what} is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"{what} has {len(name):,} characters; at most {MAX_NAME_LENGTH} are kept")
    return name


def no_such_practice(tin: str) -> NotFoundError:
    """The wording for a TIN that is not there (missing, packet, retention say it too); evidence.access
    answers it for a TIN not granted, so a refusal never tells that the practice exists."""
    return NotFoundError(f"no practice with TIN {tin}")


def add_practice(
    session: Session,
    tin: str,
    name: str,
    *,
    pcmh: bool = False,
    apm: str = "none",
    year: int | None = None,
    lookup: Lookup | None = None,
    exist_ok: bool = False,
    actor: str | None = None,
) -> tuple[Practice, bool]:
    """Create a practice; returns (practice, created). Identical re-adds are fine with exist_ok.

    PCMH recognition and APM participation are facts of one performance year: with either, `year`
    names it and a reporting-year row records them (never "every year"). With `actor`, the change
    is recorded in the audit trail (bulk imports record one event).
    """
    from evidence.records.reporting import DEFAULTS, YearChanges, first_year, resolve, year_facts

    lookup = lookup or Lookup(session)
    tin = parse_tin(tin)
    name = person_or_practice_name(name, "practice name")
    if apm not in rules.APM_KINDS:
        raise InputError(f"APM participation {apm!r} is not one of {', '.join(rules.APM_KINDS)}")
    changes = YearChanges(pcmh=pcmh, apm=apm) if pcmh or apm != "none" else None
    if changes is not None:
        if year is None:
            raise InputError(
                "PCMH recognition and APM participation are facts of one performance year: give its year (--year)"
            )
        year = parse_year(year)
        resolve(year, dict(DEFAULTS), changes)  # APP before PY2021 and the like: refused before any write
    existing = lookup.practice(tin)
    if existing is not None:
        same = existing.name == name
        if same and changes is not None and year is not None:
            recorded = year_facts(session, tin, year)
            same = recorded.source == "tin" and (recorded.pcmh_attested, recorded.apm) == (pcmh, apm)
        if exist_ok and same:
            return existing, False
        raise ConflictError(
            f"practice {tin} already exists ({existing.name!r}); correct it with `evidence practice set {tin} ...`"
        )
    practice = Practice(tin=tin, name=name)
    session.add(practice)
    session.flush()
    lookup.remember(practice)
    row = first_year(session, practice, year, changes) if changes is not None and year is not None else None
    if actor:
        facts = {"reporting_year": row.id, "program": row.program, "pcmh": pcmh, "apm": apm} if row else {}
        audit.record(session, actor, "practice.add", f"practice {tin} added: {name}", tin=tin,
                     year=year if row else None, details={"practice": practice.id, **facts})  # fmt: skip
    return practice, True


def require_known_tin(session: Session, tin: str) -> Practice:
    """The practice, or exactly no_such_practice: the answer evidence.access gives a TIN not granted."""
    tin = parse_tin(tin)
    practice = session.scalar(select(Practice).where(Practice.tin == tin))
    if practice is None:
        raise no_such_practice(tin)
    return practice


def get_practice(session: Session, tin: str) -> Practice:
    return Lookup(session).require_practice(parse_tin(tin))


def list_practices(session: Session, *, tins: Iterable[str] | None = None) -> list[dict[str, object]]:
    """Every practice with its counts; with `tins`, only those (what a user or token is granted)."""
    members = (
        select(Membership.practice_id, func.count(func.distinct(Membership.clinician_id)).label("n"))
        .group_by(Membership.practice_id)
        .subquery()
    )
    attested = select(Attestation.practice_id, func.count().label("n")).group_by(Attestation.practice_id).subquery()
    query = (
        select(Practice, func.coalesce(members.c.n, 0), func.coalesce(attested.c.n, 0))
        .outerjoin(members, members.c.practice_id == Practice.id)
        .outerjoin(attested, attested.c.practice_id == Practice.id)
        .order_by(Practice.tin)
    )
    years = (
        select(ReportingYear.practice_id, func.count().label("n"))
        .where(ReportingYear.clinician_id.is_(None))
        .group_by(ReportingYear.practice_id)
        .subquery()
    )
    query = query.add_columns(func.coalesce(years.c.n, 0)).outerjoin(years, years.c.practice_id == Practice.id)
    if tins is not None:
        query = query.where(Practice.tin.in_(sorted(tins)))
    return [
        {"tin": p.tin, "name": p.name, "clinicians": n, "attestations": a, "reporting_years": y}
        for p, n, a, y in session.execute(query)
    ]


# --- Clinicians ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusInputs:
    """What CMS looks at for a clinician's special statuses in one year."""

    rural: bool = False
    hpsa: bool = False
    patient_facing_encounters: int | None = None
    hospital_pos_pct: float | None = None
    asc_pos_pct: float | None = None

    def check(self) -> None:
        if self.patient_facing_encounters is not None and self.patient_facing_encounters < 0:
            raise InputError(f"patient-facing encounters {self.patient_facing_encounters} is negative")
        for label, value in (("hospital POS", self.hospital_pos_pct), ("ASC POS", self.asc_pos_pct)):
            if value is not None and not 0 <= value <= 100:
                raise InputError(f"{label} percentage {value} is not between 0 and 100")


def add_clinician(
    session: Session,
    tin: str,
    npi: str,
    name: str,
    year: int,
    inputs: StatusInputs = StatusInputs(),
    *,
    lookup: Lookup | None = None,
    exist_ok: bool = False,
    actor: str | None = None,
    show_names: bool = True,
) -> tuple[Membership, bool]:
    """Record that NPI bills under TIN in `year`, with its status inputs; (membership, created).

    `show_names=False` (a principal limited to some practices) keeps the name an NPI is already
    recorded under out of the refusal: it may come from a practice the caller is not granted."""
    lookup = lookup or Lookup(session)
    tin, npi, year = parse_tin(tin), parse_npi(npi), parse_year(year)
    name = person_or_practice_name(name, f"clinician {npi}: name")
    inputs.check()
    practice = lookup.require_practice(tin)
    clinician = lookup.clinician(npi)
    if clinician is None:
        clinician = Clinician(npi=npi, name=name)
        session.add(clinician)
        session.flush()
        lookup.remember(clinician)
    elif clinician.name != name:
        recorded = repr(clinician.name) if show_names else "another name"
        raise ConflictError(f"NPI {npi} is already recorded as {recorded}, not {name!r}")
    existing = lookup.membership(practice, clinician, year)
    values = {
        "rural": inputs.rural,
        "hpsa": inputs.hpsa,
        "patient_facing_encounters": inputs.patient_facing_encounters,
        "hospital_pos_pct": inputs.hospital_pos_pct,
        "asc_pos_pct": inputs.asc_pos_pct,
    }
    if existing is not None:
        if exist_ok and all(getattr(existing, k) == v for k, v in values.items()):
            return existing, False
        raise ConflictError(
            f"NPI {npi} is already recorded under TIN {tin} for {year}; correct its inputs with "
            f"`evidence clinician update {npi} --tin {tin} --year {year} ...`"
        )
    membership = Membership(practice_id=practice.id, clinician_id=clinician.id, performance_year=year, **values)
    session.add(membership)
    session.flush()
    lookup.remember(membership)
    if actor:
        audit.record(session, actor, "clinician.add", f"NPI {npi} ({name}) bills under {tin} in {year}", tin=tin,
                     year=year, details={"membership": membership.id, "clinician": clinician.id, **values})  # fmt: skip
    return membership, True


def list_clinicians(session: Session, tin: str, year: int | None = None) -> list[Membership]:
    practice = get_practice(session, tin)
    query = (
        select(Membership)
        .options(joinedload(Membership.clinician))
        .join(Clinician, Clinician.id == Membership.clinician_id)
        .where(Membership.practice_id == practice.id)
        .order_by(Membership.performance_year, Clinician.npi)
    )
    if year is not None:
        query = query.where(Membership.performance_year == year)
    return list(session.scalars(query))


# --- Attestations and participation ---------------------------------------------------------------


def check_period(year: int, start: date, end: date, activity_id: str) -> None:
    """The period holds for the year, the activity's own minimum, and any CMS suspension of it."""
    problem = rules.period_problem(year, start, end, activity_id) or rules.suspension_problem(year, activity_id, start)
    if problem:
        raise InputError(problem)


def check_program(session: Session, tin: str, year: int, npi: str | None, activity: Activity) -> None:
    """The activity is open to the program the entity reports the year through (CMS allowedPrograms)."""
    from evidence.records.reporting import program_refusal  # reporting builds on this module

    allowed = None if activity.allowed_programs is None else tuple(activity.allowed_programs.split())
    refusal = program_refusal(session, tin, year, npi, activity.activity_id, allowed)
    if refusal:
        raise InputError(refusal)


def find_attestation(
    session: Session, practice: Practice, activity: Activity, clinician: Clinician | None
) -> Attestation | None:
    query = select(Attestation).where(
        Attestation.practice_id == practice.id,
        Attestation.activity_pk == activity.id,
        Attestation.performance_year == activity.performance_year,
    )
    if clinician is None:
        query = query.where(Attestation.clinician_id.is_(None))
    else:
        query = query.where(Attestation.clinician_id == clinician.id)
    return session.scalar(query)


def attest(
    session: Session,
    tin: str,
    activity_id: str,
    year: int,
    start: date,
    end: date,
    *,
    actor: str,
    npi: str | None = None,
    lookup: Lookup | None = None,
    exist_ok: bool = False,
    audited: bool = True,
) -> tuple[Attestation, bool]:
    """A group attestation (no NPI) or an individual one; (attestation, created)."""
    lookup = lookup or Lookup(session)
    tin, activity_id, year = parse_tin(tin), parse_activity_id(activity_id), parse_year(year)
    practice = lookup.require_practice(tin)
    clinician = lookup.require_member(practice, parse_npi(npi), year) if npi else None
    activity = lookup.activity(activity_id, year)
    check_period(year, start, end, activity_id)
    check_program(session, tin, year, clinician.npi if clinician else None, activity)
    existing = find_attestation(session, practice, activity, clinician)
    who = f"NPI {clinician.npi}" if clinician else f"the group (TIN {tin})"
    if existing is not None:
        if exist_ok and (existing.start_date, existing.end_date) == (start, end):
            return existing, False
        raise ConflictError(
            f"{who} already attested {activity_id} for {year} ({existing.start_date} to {existing.end_date}); "
            "`evidence attestation edit` corrects a period"
        )
    attestation = Attestation(
        practice_id=practice.id,
        clinician_id=clinician.id if clinician else None,
        performance_year=year,
        activity_pk=activity.id,
        start_date=start,
        end_date=end,
        created_by=actor,
    )
    session.add(attestation)
    session.flush()
    if audited:
        audit.record(session, actor, "attest", f"{who} attested {activity_id} for {year}: {start} to {end}", tin=tin,
                     year=year, details={"attestation": attestation.id, "start": start.isoformat(),
                     "end": end.isoformat()})  # fmt: skip
    return attestation, True


def participate(
    session: Session,
    tin: str,
    npi: str,
    activity_id: str,
    year: int,
    start: date,
    end: date,
    *,
    actor: str,
    lookup: Lookup | None = None,
    exist_ok: bool = False,
    audited: bool = True,
) -> tuple[Participation, bool]:
    """One clinician's own period for the group's attestation (the 50% rule from PY2020)."""
    lookup = lookup or Lookup(session)
    tin, activity_id, year = parse_tin(tin), parse_activity_id(activity_id), parse_year(year)
    practice = lookup.require_practice(tin)
    clinician = lookup.require_member(practice, parse_npi(npi), year)
    activity = lookup.activity(activity_id, year)
    attestation = find_attestation(session, practice, activity, None)
    if attestation is None:
        raise InputError(
            f"TIN {tin} has no group attestation of {activity_id} for {year}; "
            f"record it first with `evidence attest --tin {tin} --activity {activity_id} --year {year} ...`"
        )
    check_period(year, start, end, activity_id)
    existing = session.scalar(
        select(Participation).where(
            Participation.attestation_id == attestation.id, Participation.clinician_id == clinician.id
        )
    )
    if existing is not None:
        if exist_ok and (existing.start_date, existing.end_date) == (start, end):
            return existing, False
        raise ConflictError(
            f"NPI {clinician.npi} already has a participation in {activity_id} for {year} "
            f"({existing.start_date} to {existing.end_date}); `evidence participation edit` corrects a period"
        )
    participation = Participation(
        attestation_id=attestation.id,
        clinician_id=clinician.id,
        start_date=start,
        end_date=end,
        created_by=actor,
    )
    session.add(participation)
    session.flush()
    if audited:
        audit.record(session, actor, "participate",
                     f"NPI {clinician.npi} participated in {activity_id} ({year}): {start} to {end}", tin=tin,
                     year=year, details={"participation": participation.id, "attestation": attestation.id})  # fmt: skip
    return participation, True


@dataclass(frozen=True)
class AttestationRow:
    id: int
    year: int
    activity_id: str
    title: str
    npi: str | None
    start: date
    end: date
    participants: int


def list_attestations(session: Session, tin: str, year: int | None = None) -> list[AttestationRow]:
    practice = get_practice(session, tin)
    participants = (
        select(Participation.attestation_id, func.count().label("n")).group_by(Participation.attestation_id).subquery()
    )
    query = (
        select(Attestation, Activity, Clinician.npi, func.coalesce(participants.c.n, 0))
        .join(Activity, Activity.id == Attestation.activity_pk)
        .outerjoin(Clinician, Clinician.id == Attestation.clinician_id)
        .outerjoin(participants, participants.c.attestation_id == Attestation.id)
        .where(Attestation.practice_id == practice.id)
        .order_by(Attestation.performance_year, Activity.activity_id, Clinician.npi)
    )
    if year is not None:
        query = query.where(Attestation.performance_year == year)
    return [
        AttestationRow(a.id, a.performance_year, act.activity_id, act.title, npi, a.start_date, a.end_date, n)
        for a, act, npi, n in session.execute(query)
    ]


@dataclass(frozen=True)
class ParticipationRow:
    id: int
    attestation_id: int
    year: int
    activity_id: str
    npi: str
    name: str
    start: date
    end: date


def list_participations(
    session: Session, tin: str, year: int | None = None, activity_id: str | None = None
) -> list[ParticipationRow]:
    """The participations in a practice's group attestations, with the ids corrections name."""
    practice = get_practice(session, tin)
    query = (
        select(Participation, Attestation.performance_year, Activity.activity_id, Clinician.npi, Clinician.name)
        .join(Attestation, Attestation.id == Participation.attestation_id)
        .join(Activity, Activity.id == Attestation.activity_pk)
        .join(Clinician, Clinician.id == Participation.clinician_id)
        .where(Attestation.practice_id == practice.id)
        .order_by(Attestation.performance_year, Activity.activity_id, Clinician.npi)
    )
    if year is not None:
        query = query.where(Attestation.performance_year == year)
    if activity_id is not None:
        query = query.where(Activity.activity_id == parse_activity_id(activity_id))
    return [
        ParticipationRow(p.id, p.attestation_id, y, act, npi, name, p.start_date, p.end_date)
        for p, y, act, npi, name in session.execute(query)
    ]
