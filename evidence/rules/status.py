"""Special statuses of a TIN (group) or of an NPI within it (individual), with their reasons.

The thresholds live in evidence.rules.cms; this module gathers the counts and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from evidence.catalog.store import require_year
from evidence.db.models import Clinician, Membership, Practice
from evidence.records.practices import Lookup
from evidence.rules import cms as rules
from evidence.rules.identifiers import parse_npi, parse_tin, parse_year
from evidence.support.text import percent

LABELS = {
    "small_practice": "small practice",
    "rural": "rural",
    "hpsa": "HPSA",
    "non_patient_facing": "non-patient facing",
    "hospital_based": "hospital-based",
    "asc_based": "ASC-based",
}


@dataclass(frozen=True)
class ReportingEntity:
    """Who is scored: the TIN (group) or one NPI billing under it (individual), in one year."""

    practice: Practice
    year: int
    members: list[Membership]
    # The NPI's own membership when reporting as an individual, else None.
    member: Membership | None = None

    @property
    def level(self) -> str:
        return "group" if self.member is None else "individual"

    @property
    def clinician(self) -> Clinician | None:
        return self.member.clinician if self.member else None

    def describe(self) -> str:
        who = f"NPI {self.member.clinician.npi} under TIN" if self.member else "TIN"
        return f"{who} {self.practice.tin}, PY{self.year}"


def reporting_entity(session: Session, tin: str, year: int | str, npi: str | None = None) -> ReportingEntity:
    """Validate TIN, year and NPI; the NPI must bill under the TIN that year."""
    tin, year = parse_tin(tin), parse_year(year)
    require_year(session, year)
    lookup = Lookup(session)
    practice = lookup.require_practice(tin)
    members = list(
        session.scalars(
            select(Membership)
            .options(selectinload(Membership.clinician))
            .where(Membership.practice_id == practice.id, Membership.performance_year == year)
        )
    )
    member = None
    if npi is not None:
        clinician = lookup.require_member(practice, parse_npi(npi), year)
        member = next(m for m in members if m.clinician_id == clinician.id)
    return ReportingEntity(practice, year, members, member)


@dataclass(frozen=True)
class SpecialStatus:
    status: str  # a key of rules.SPECIAL_STATUSES
    level: str  # "individual" or "group"
    applies: bool
    doubles_ia_points: bool  # whether this status counts for IA at all
    reason: str

    @property
    def label(self) -> str:
        return LABELS[self.status]


@dataclass(frozen=True)
class StatusReport:
    tin: str
    year: int
    npi: str | None
    clinicians: int
    individual: list[SpecialStatus]  # empty for a group
    group: list[SpecialStatus]

    def at_level(self) -> list[SpecialStatus]:
        """The statuses that govern scoring: the NPI's own for an individual, else the TIN's."""
        return self.individual if self.npi else self.group

    def doubling(self) -> list[SpecialStatus]:
        return [s for s in self.at_level() if s.applies and s.doubles_ia_points]


def special_statuses(session: Session, tin: str, year: int | str, npi: str | None = None) -> StatusReport:
    return statuses_of(reporting_entity(session, tin, year, npi))


def statuses_of(entity: ReportingEntity) -> StatusReport:
    individual = _individual_statuses(entity) if entity.member else []
    return StatusReport(
        tin=entity.practice.tin,
        year=entity.year,
        npi=entity.clinician.npi if entity.clinician else None,
        clinicians=len(entity.members),
        individual=individual,
        group=_group_statuses(entity),
    )


def _status(year: int, status: str, level: str, applies: bool, reason: str) -> SpecialStatus:
    return SpecialStatus(status, level, applies, rules.status_doubles_ia_points(year, status), reason)


def _small_practice(entity: ReportingEntity, level: str) -> SpecialStatus:
    count, limit = len(entity.members), rules.SMALL_PRACTICE_MAX_CLINICIANS
    small = rules.is_small_practice(entity.year, count)
    where = f"under TIN {entity.practice.tin} in PY{entity.year}"
    if count == 0:
        reason = f"no clinicians are recorded as billing {where}"
    elif small:
        reason = f"{count} clinicians bill {where} ({limit} or fewer)"
    else:
        reason = f"{count} clinicians bill {where} (more than {limit})"
    return _status(entity.year, "small_practice", level, small, reason)


def _individual_statuses(entity: ReportingEntity) -> list[SpecialStatus]:
    year, member, level = entity.year, entity.member, "individual"
    assert member is not None
    encounters, limit = member.patient_facing_encounters, rules.NON_PATIENT_FACING_MAX_ENCOUNTERS
    npf = rules.is_non_patient_facing(year, encounters)
    if encounters is None:
        npf_reason = "patient-facing encounters unknown: not treated as non-patient facing"
    elif npf:
        npf_reason = f"{encounters} patient-facing encounters ({limit} or fewer)"
    else:
        npf_reason = f"{encounters} patient-facing encounters (more than {limit})"
    return [
        _small_practice(entity, level),
        _status(year, "rural", level, member.rural, _flag_reason(member.rural, "in a rural ZIP code")),
        _status(year, "hpsa", level, member.hpsa, _flag_reason(member.hpsa, "in a HPSA")),
        _status(year, "non_patient_facing", level, npf, npf_reason),
        _pos_status(year, "hospital_based", member.hospital_pos_pct, "POS 19, 21, 22, 23"),
        _pos_status(year, "asc_based", member.asc_pos_pct, "POS 24"),
    ]


def _flag_reason(flag: bool, where: str) -> str:
    return f"practices {where}" if flag else f"not recorded as practicing {where}"


def _pos_status(year: int, status: str, pct: float | None, places: str) -> SpecialStatus:
    applies = rules.is_pos_based(year, pct)
    if pct is None:
        reason = f"share of covered services in {places} unknown: not treated as {LABELS[status]}"
    else:
        threshold = rules.BASED_MIN_POS_PCT
        comparison = f"{threshold}% or more" if applies else f"less than {threshold}%"
        reason = f"{pct:g}% of covered services in {places} ({comparison})"
    return _status(year, status, "individual", applies, reason)


# Per group status: does a clinician count, and how the reason says so. How many are needed is
# the year's rule (rules.cms.group_threshold).
_GROUP_RULES: dict[str, tuple[Callable[[int, Membership], bool], str]] = {
    "rural": (lambda year, m: m.rural, "practice in a rural ZIP code"),
    "hpsa": (lambda year, m: m.hpsa, "practice in a HPSA"),
    "non_patient_facing": (
        lambda year, m: rules.is_non_patient_facing(year, m.patient_facing_encounters),
        "are non-patient facing",
    ),
    "hospital_based": (lambda year, m: rules.is_pos_based(year, m.hospital_pos_pct), "are hospital-based"),
    "asc_based": (lambda year, m: rules.is_pos_based(year, m.asc_pos_pct), "are ASC-based"),
}

_NEEDED = {
    rules.GroupThreshold.AT_LEAST_ONE: "at least one (one practice site in the area)",
    rules.GroupThreshold.MORE_THAN_SHARE: "more than "
    + percent(rules.GROUP_STATUS_SHARE.numerator, rules.GROUP_STATUS_SHARE.denominator),
    rules.GroupThreshold.ALL: "all of them",
}


def _group_statuses(entity: ReportingEntity) -> list[SpecialStatus]:
    year, members = entity.year, entity.members
    total = len(members)
    statuses = [_small_practice(entity, "group")]
    for status, (counts, phrase) in _GROUP_RULES.items():
        count = sum(1 for m in members if counts(year, m))
        if total == 0:
            reason = f"no clinicians are recorded as billing under the TIN in PY{year}"
        else:
            needed = _NEEDED[rules.group_threshold(year, status)]
            reason = (
                f"{count} of {total} clinicians ({percent(count, total)}) {phrase}; a group in PY{year} needs {needed}"
            )
        if status == "non_patient_facing":
            unknown = sum(1 for m in members if m.patient_facing_encounters is None)
            if unknown:
                reason += f" ({unknown} with unknown encounters counted as patient facing)"
        statuses.append(_status(year, status, "group", rules.group_status_met(year, status, count, total), reason))
    return statuses
