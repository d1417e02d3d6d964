"""How a TIN, or one NPI under it, reports each performance year: program, medical home, APM.

These are facts of a year, not of the practice: a practice recognised as a medical home in 2020
is not one in 2021 unless a row says so. No row for a year means traditional MIPS, no medical
home, no APM. An NPI reports as its TIN's row says unless it has a row of its own: CMS lets a
clinician report individually through another program (an MVP, the APP), and a medical home is
recognised per practice site, which the TIN's row pins down for an NPI only when every site is.
Which values each year allows lives in evidence.rules.cms.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from evidence.catalog.store import year_mvp_ids
from evidence.db.models import Clinician, Practice, ReportingYear
from evidence.errors import InputError
from evidence.records.practices import Lookup
from evidence.retention import audit
from evidence.rules import cms as rules
from evidence.rules.identifiers import parse_npi, parse_tin, parse_year

YEAR_ACTION = "practice.year"


@dataclass(frozen=True)
class YearStatus:
    """What the export and the score need to know about a reporting entity's year."""

    program: str  # "mips" | "mvp" | "app"
    mvp_id: str | None
    pcmh: bool  # recognised for the year, the group's practice-site rule applied
    apm: str  # "none" | "mips" | "other" | "app"

    @property
    def program_name(self) -> str:
        """The QPP Submissions API `programName`: mips, app1 or the MVP id."""
        return rules.program_name(self.program, self.mvp_id)


@dataclass(frozen=True)
class YearFacts:
    """A year's recorded facts, where they come from, and what CMS makes of them."""

    tin: str
    year: int
    npi: str | None
    source: str  # "npi" (its own row), "tin" (the TIN's row), "default" (nothing recorded)
    program: str
    mvp_id: str | None
    pcmh_attested: bool
    pcmh_sites: int | None
    recognized_sites: int | None
    apm: str

    @property
    def pcmh(self) -> bool:
        """Recognised for the year: attested, and the sites recorded meet the rule that applies."""
        if not self.pcmh_attested or self.pcmh_sites is None or self.recognized_sites is None:
            return self.pcmh_attested
        if self.npi is not None and self.source == "tin":
            return self.recognized_sites == self.pcmh_sites  # the NPI's own site is surely recognised
        return rules.pcmh_sites_met(self.year, self.pcmh_sites, self.recognized_sites)

    @property
    def status(self) -> YearStatus:
        return YearStatus(self.program, self.mvp_id, self.pcmh, self.apm)

    def problems(self) -> list[str]:
        """What CMS does not allow in these facts (rows carried from before 0006 may hold such)."""
        found = [rules.program_problem(self.year, self.program), rules.apm_problem(self.year, self.apm)]
        return [problem for problem in found if problem]

    def pcmh_reason(self) -> str:
        where = f"for PY{self.year}" + (" (recorded for the TIN)" if self.npi and self.source == "tin" else "")
        if not self.pcmh_attested:
            return f"not recorded as a recognised medical home {where}"
        if self.pcmh_sites is None or self.recognized_sites is None:
            return f"recognised patient-centered medical home {where} (attested)"
        sites = f"{self.recognized_sites} of {self.pcmh_sites} practice sites recognised"
        if self.pcmh:
            return f"recognised patient-centered medical home {where}: {sites}"
        if self.npi is not None and self.source == "tin":
            return f"{sites} {where}: record the NPI's own year to say whether its site is one"
        return f"{sites} {where}; a group needs {rules.pcmh_sites_rule(self.year)}"


def year_facts(session: Session, tin: str, year: int | str, npi: str | None = None) -> YearFacts:
    """The facts that govern `year` for the TIN, or for one NPI under it."""
    tin, year = parse_tin(tin), parse_year(year)
    npi = parse_npi(npi) if npi is not None else None
    lookup = Lookup(session)
    practice = lookup.require_practice(tin)
    clinician = lookup.clinician(npi) if npi else None
    row = None
    source = "default"
    if clinician is not None:
        row = _row(session, practice, year, clinician)
        source = "npi" if row else source
    if row is None:
        row = _row(session, practice, year, None)
        source = "tin" if row else source
    if row is None:
        return YearFacts(tin, year, npi, "default", rules.Program.MIPS.value, None, False, None, None, "none")
    return _facts(tin, year, npi, source, row)


def _facts(tin: str, year: int, npi: str | None, source: str, row: ReportingYear) -> YearFacts:
    return YearFacts(
        tin, year, npi, source, row.program, row.mvp_id, row.pcmh, row.pcmh_sites, row.recognized_sites, row.apm
    )


def recorded_years(
    session: Session, *, tin: str | None = None, year: int | None = None
) -> dict[tuple[str, int, str | None], YearFacts]:
    """Every recorded row matching the filters in one query, by (TIN, year, NPI or None)."""
    query = (
        select(ReportingYear, Practice.tin, Clinician.npi)
        .join(Practice, Practice.id == ReportingYear.practice_id)
        .outerjoin(Clinician, Clinician.id == ReportingYear.clinician_id)
    )
    if tin is not None:
        query = query.where(Practice.tin == tin)
    if year is not None:
        query = query.where(ReportingYear.performance_year == year)
    return {
        (row_tin, row.performance_year, npi): _facts(row_tin, row.performance_year, npi, "npi" if npi else "tin", row)
        for row, row_tin, npi in session.execute(query)
    }


def facts_in(recorded: dict[tuple[str, int, str | None], YearFacts], tin: str, year: int, npi: str | None) -> YearFacts:
    """The facts that govern an entity, from `recorded_years`: the NPI's row, else the TIN's, else the defaults."""
    own = recorded.get((tin, year, npi)) if npi else None
    if own is not None:
        return own
    group = recorded.get((tin, year, None))
    if group is None:
        return YearFacts(tin, year, npi, "default", rules.Program.MIPS.value, None, False, None, None, "none")
    return replace(group, npi=npi)


def year_status(session: Session, tin: str, year: int | str, npi: str | None = None) -> YearStatus:
    """How the TIN (or the NPI under it) reports `year`; mips, no PCMH, no APM when nothing is recorded."""
    return year_facts(session, tin, year, npi).status


def program_refusal(
    session: Session, tin: str, year: int, npi: str | None, activity_id: str, allowed_programs: tuple[str, ...] | None
) -> str | None:
    """Why the entity cannot attest `activity_id` in `year` through the program it reports, or None.

    `allowed_programs` is the catalog's CMS allowedPrograms for the activity-year (None: every program).
    """
    facts = year_facts(session, tin, year, npi)
    problem = rules.activity_program_problem(year, activity_id, allowed_programs, facts.program, facts.mvp_id)
    if problem is None:
        return None
    who = f"NPI {npi} under TIN {tin}" if npi else f"TIN {tin}"
    how = (
        f"MVP {facts.mvp_id}"
        if facts.program == rules.Program.MVP
        else {"mips": "traditional MIPS", "app": "the APP"}[facts.program]
    )
    return f"{problem}; {who} reports PY{year} through {how} (`evidence practice set --year` records another program)"


def _row(session: Session, practice: Practice, year: int, clinician: Clinician | None) -> ReportingYear | None:
    query = select(ReportingYear).where(
        ReportingYear.practice_id == practice.id, ReportingYear.performance_year == year
    )
    if clinician is None:
        query = query.where(ReportingYear.clinician_id.is_(None))
    else:
        query = query.where(ReportingYear.clinician_id == clinician.id)
    return session.scalar(query)


# --- Recording a year -------------------------------------------------------------------------


@dataclass(frozen=True)
class YearChanges:
    """The year's facts to set; None leaves one as it is (or at its default for a new year)."""

    program: str | None = None
    mvp_id: str | None = None
    pcmh: bool | None = None
    pcmh_sites: int | None = None
    recognized_sites: int | None = None
    apm: str | None = None

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


_FIELDS = ("program", "mvp_id", "pcmh", "pcmh_sites", "recognized_sites", "apm")
DEFAULTS: dict[str, Any] = {
    "program": "mips",
    "mvp_id": None,
    "pcmh": False,
    "pcmh_sites": None,
    "recognized_sites": None,
    "apm": "none",
}


def resolve(year: int, current: dict[str, Any], changes: YearChanges) -> dict[str, Any]:
    """The year's facts after `changes`, checked against what CMS allows in `year`."""
    wanted = changes.given()
    new = {**current, **wanted}
    # The APP is both a program and an APM participation: naming one names the other.
    if wanted.get("program") == "app" and "apm" not in wanted:
        new["apm"] = "app"
    if wanted.get("apm") == "app" and "program" not in wanted:
        new["program"] = "app"
    if "program" in wanted and wanted["program"] != "app" and "apm" not in wanted and new["apm"] == "app":
        new["apm"] = "none"
    if "apm" in wanted and wanted["apm"] != "app" and "program" not in wanted and new["program"] == "app":
        new["program"] = "mips"
    if "program" in wanted and wanted["program"] != "mvp" and "mvp_id" not in wanted:
        new["mvp_id"] = None
    if "mvp_id" in wanted and "program" not in wanted:
        new["program"] = "mvp"
    for problem in (rules.program_problem(year, new["program"]), rules.apm_problem(year, new["apm"])):
        if problem:
            raise InputError(problem)
    if (new["program"] == "app") != (new["apm"] == "app"):
        raise InputError("the APP is both the program and the APM participation: give --program app with --apm app")
    if new["program"] == "mvp":
        if new["mvp_id"] is None:
            raise InputError("an MVP reporter needs its MVP id: give --mvp ID (e.g. M0001)")
        new["mvp_id"] = new["mvp_id"].strip().upper()
        problem = rules.mvp_id_problem(new["mvp_id"])
        if problem:
            raise InputError(problem)
    elif new["mvp_id"] is not None:
        raise InputError(f"--mvp names an MVP, but the program is {new['program']}: give --program mvp")
    _check_sites(new)
    return new


def _check_sites(new: dict[str, Any]) -> None:
    sites, recognized = new["pcmh_sites"], new["recognized_sites"]
    if (sites is None) != (recognized is None):
        raise InputError("give --pcmh-sites and --recognized-sites together (the group rule compares them)")
    if sites is None:
        return
    if sites < 1:
        raise InputError(f"--pcmh-sites {sites}: a practice has at least one site")
    if not 0 <= recognized <= sites:
        raise InputError(f"--recognized-sites {recognized} is not between 0 and the {sites} practice sites")
    if recognized and not new["pcmh"]:
        raise InputError(
            f"{recognized} recognised sites are recorded: give --pcmh with them, or --recognized-sites 0 with --no-pcmh"
        )


def set_year(
    session: Session,
    tin: str,
    year: int | str,
    changes: YearChanges,
    *,
    npi: str | None = None,
    reason: str,
    actor: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Record or correct how the TIN (or an NPI under it) reports `year`; (old, new) of what changed.

    One `practice.year` event with the reason and the old values beside the new; a change that
    changes nothing is refused without an event.
    """
    from evidence.records.corrections import correction_reason  # corrections builds on this module

    reason = correction_reason(reason)
    tin, year = parse_tin(tin), parse_year(year)
    if not changes.given():
        raise InputError("give at least one of --program, --mvp, --pcmh/--no-pcmh, --pcmh-sites, --apm")
    lookup = Lookup(session)
    practice = lookup.require_practice(tin)
    clinician = lookup.require_member(practice, parse_npi(npi), year) if npi else None
    row = _row(session, practice, year, clinician)
    current = {name: getattr(row, name) for name in _FIELDS} if row else dict(DEFAULTS)
    new = resolve(year, current, changes)
    if new["mvp_id"] is not None and new["mvp_id"] != current["mvp_id"]:
        problem = rules.mvp_id_problem(new["mvp_id"], year, year_mvp_ids(session, year))
        if problem:
            raise InputError(problem)
    who = f"NPI {clinician.npi} under {tin}" if clinician else f"TIN {tin}"
    changed = {name: value for name, value in new.items() if current[name] != value}
    if not changed and row is not None:
        raise InputError(f"nothing to change: {who} already has {_text(changes.given())} for PY{year}")
    old = {name: current[name] for name in changed} if row is not None else {}
    if row is None:
        row = ReportingYear(
            practice_id=practice.id, clinician_id=clinician.id if clinician else None, performance_year=year, **new
        )
        session.add(row)
    else:
        for name, value in changed.items():
            setattr(row, name, value)
    session.flush()
    if not old:  # a new year: what it records beyond the defaults, and what was asked for
        given = changes.given()
        shown = {name: value for name, value in new.items() if name in given or value != DEFAULTS[name]}
    else:
        shown = changed
    audit.record(session, actor, YEAR_ACTION,
                 f"{who} PY{year}: {_text(old) or 'nothing recorded'} -> {_text(shown)}: {reason}", tin=tin,
                 year=year, details={"reporting_year": row.id, "practice": practice.id,
                                     "npi": clinician.npi if clinician else None, "old": old, "new": shown,
                                     "reason": reason})  # fmt: skip
    return old, shown


def first_year(session: Session, practice: Practice, year: int, changes: YearChanges) -> ReportingYear:
    """The row `practice add --year` records with the new practice (its event is practice.add's)."""
    new = resolve(year, dict(DEFAULTS), changes)
    row = ReportingYear(practice_id=practice.id, clinician_id=None, performance_year=year, **new)
    session.add(row)
    session.flush()
    return row


def _text(values: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in values.items())


# --- Listing ------------------------------------------------------------------------------------


def list_years(session: Session, tin: str, year: int | None = None) -> list[YearFacts]:
    """Every recorded year of the TIN and of NPIs under it, TIN first, by year."""
    practice = Lookup(session).require_practice(parse_tin(tin))
    query = (
        select(ReportingYear)
        .options(joinedload(ReportingYear.clinician))
        .where(ReportingYear.practice_id == practice.id)
        .order_by(ReportingYear.performance_year, ReportingYear.clinician_id.is_not(None), ReportingYear.id)
    )
    if year is not None:
        query = query.where(ReportingYear.performance_year == year)
    facts = []
    for row in session.scalars(query):
        npi = row.clinician.npi if row.clinician else None
        source = "npi" if npi else "tin"
        facts.append(_facts(practice.tin, row.performance_year, npi, source, row))
    return facts


def year_row(facts: YearFacts) -> dict[str, Any]:
    """One listing row: the recorded facts, what CMS makes of them, and what it does not allow."""
    return {
        "year": facts.year,
        "npi": facts.npi,
        "program": facts.program,
        "program_name": facts.status.program_name,
        "pcmh": facts.pcmh,
        "pcmh_attested": facts.pcmh_attested,
        "pcmh_sites": facts.pcmh_sites,
        "recognized_sites": facts.recognized_sites,
        "apm": facts.apm,
        "problems": "; ".join(facts.problems()),
    }


def describe(facts: YearFacts) -> str:
    """One line for `practice show`."""
    program = facts.status.program_name if facts.program == "mvp" else facts.program
    parts = [f"program {program}", f"PCMH {'yes' if facts.pcmh else 'no'}", f"APM {facts.apm}"]
    if facts.pcmh_sites is not None:
        parts[1] += f" ({facts.recognized_sites} of {facts.pcmh_sites} sites)"
    problems = facts.problems()
    return ", ".join(parts) + (f"; NOT ALLOWED: {'; '.join(problems)}" if problems else "")
