"""The IA score a TIN (group) or one NPI under it (individual) earns in a performance year.

Every point rule lives in evidence.rules.cms; this module applies them to the stored
attestations and records, activity by activity, what was earned and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from evidence.catalog.store import activity_sort_key
from evidence.db.models import Attestation, Participation
from evidence.rules import cms as rules
from evidence.rules.status import ReportingEntity, SpecialStatus, percent, reporting_entity, statuses_of
from evidence.support.text import plural

# Invalid participations listed one by one; past this many, only counted.
MAX_LISTED_PARTICIPATION_PROBLEMS = 5


@dataclass(frozen=True)
class ActivityScore:
    activity_id: str
    title: str
    weight: str | None  # None in unweighted years
    base_points: int
    doubled: bool
    points: int  # 0 when not counted
    counted: bool
    reasons: tuple[str, ...]  # everything that decided the points, in the order applied
    problems: tuple[str, ...]  # the subset that keeps it from counting


@dataclass(frozen=True)
class Credit:
    kind: str  # "pcmh" or the practice's APM participation
    points: int
    reason: str


@dataclass(frozen=True)
class ScoreReport:
    tin: str
    year: int
    npi: str | None
    level: str
    special_statuses: list[SpecialStatus]  # the ones that apply at this level
    activities: list[ActivityScore]
    pcmh: Credit
    apm: Credit
    raw_points: int
    points: int
    category_score: Fraction
    final_score_weight: int
    final_score_points: Fraction
    notes: list[str]


def score(session: Session, tin: str, year: int | str, npi: str | None = None) -> ScoreReport:
    entity = reporting_entity(session, tin, year, npi)
    year = entity.year
    applying = [s for s in statuses_of(entity).at_level() if s.applies]
    special = rules.has_ia_special_status(year, (s.status for s in applying))
    activities = sorted(
        (_score_activity(entity, a, applying, special) for a in _attestations(session, entity)),
        key=lambda a: activity_sort_key(a.activity_id),
    )
    practice = entity.practice
    pcmh = _pcmh_credit(year, practice.pcmh)
    apm = Credit(practice.apm, rules.apm_credit(year, practice.apm), _APM_REASONS[practice.apm])
    raw = sum(a.points for a in activities) + pcmh.points + apm.points
    return ScoreReport(
        tin=practice.tin,
        year=year,
        npi=entity.clinician.npi if entity.clinician else None,
        level=entity.level,
        special_statuses=applying,
        activities=activities,
        pcmh=pcmh,
        apm=apm,
        raw_points=raw,
        points=rules.capped_points(year, raw),
        category_score=rules.category_score(year, raw),
        final_score_weight=rules.final_score_weight(year, practice.apm),
        final_score_points=rules.final_score_points(year, raw, practice.apm),
        notes=_notes(entity, activities, raw),
    )


def _attestations(session: Session, entity: ReportingEntity) -> list[Attestation]:
    """The group's attestations for a group score; the NPI's own for an individual score."""
    query = (
        select(Attestation)
        .options(
            selectinload(Attestation.activity),
            selectinload(Attestation.participations).selectinload(Participation.clinician),
        )
        .where(
            Attestation.practice_id == entity.practice.id,
            Attestation.performance_year == entity.year,
        )
    )
    if entity.member is None:
        query = query.where(Attestation.clinician_id.is_(None))
    else:
        query = query.where(Attestation.clinician_id == entity.member.clinician_id)
    return list(session.scalars(query))


def _score_activity(
    entity: ReportingEntity, attestation: Attestation, applying: list[SpecialStatus], special: bool
) -> ActivityScore:
    year, activity = entity.year, attestation.activity
    reasons: list[str] = []
    problems: list[str] = []
    if rules.earns_full_credit(year, activity.activity_id):
        base = points = rules.full_credit_points(year)
        doubled = False
        reasons.append(f"medical-home recognition: full credit ({points} points)")
    else:
        base = rules.activity_base_points(year, activity.weight)
        points = rules.activity_points(year, activity.weight, special)
        doubled = special
        reasons.append(_base_reason(year, activity.weight, base))
        reasons.append(_doubling_reason(applying, special, points))

    period_problem = rules.period_problem(year, attestation.start_date, attestation.end_date)
    if period_problem:
        reasons.append(period_problem)
        problems.append(period_problem)
    else:
        days = rules.period_days(attestation.start_date, attestation.end_date)
        reasons.append(
            f"period {attestation.start_date} to {attestation.end_date} ({days} days) "
            f"is inside PY{year} and at least {rules.minimum_days(year)} days"
        )

    if entity.member is None:
        met, group_reasons = _group_requirement(entity, attestation)
        reasons.extend(group_reasons)
        if not met:
            problems.extend(group_reasons)

    counted = not problems
    return ActivityScore(
        activity_id=activity.activity_id,
        title=activity.title,
        weight=activity.weight,
        base_points=base,
        doubled=doubled,
        points=points if counted else 0,
        counted=counted,
        reasons=tuple(reasons),
        problems=tuple(problems),
    )


def _base_reason(year: int, weight: str | None, base: int) -> str:
    if rules.uses_weights(year):
        return f"{weight} weight: {base} points"
    return f"PY{year} activities are unweighted: {base} points each"


def _doubling_reason(applying: list[SpecialStatus], special: bool, points: int) -> str:
    if special:
        labels = ", ".join(s.label for s in applying if s.doubles_ia_points)
        return f"doubled to {points} points: special status {labels}"
    ignored = [s.label for s in applying if not s.doubles_ia_points]
    reason = "not doubled: no special status that counts for IA"
    if ignored:
        reason += f" ({', '.join(ignored)} does not change IA points)"
    return reason


def _group_requirement(entity: ReportingEntity, attestation: Attestation) -> tuple[bool, list[str]]:
    """Can the TIN claim a group attestation? (met, reasons)"""
    year = entity.year
    activity_id = attestation.activity.activity_id
    if rules.earns_full_credit(year, activity_id):
        # A group's medical-home test is about practice sites (50% recognized), which the
        # attestation asserts; the clinician participation rule is for ordinary activities.
        return True, ["group medical-home credit: at least 50% of practice sites recognized (attested)"]
    if not rules.group_needs_half_of_clinicians(year):
        return True, [f"PY{year}: one clinician completing it lets the TIN claim it (participation optional)"]

    members = {m.clinician_id for m in entity.members}
    valid = 0
    rejected: list[str] = []
    for participation in attestation.participations:
        npi = participation.clinician.npi
        problem = rules.period_problem(year, participation.start_date, participation.end_date)
        if participation.clinician_id not in members:
            rejected.append(f"NPI {npi} does not bill under the TIN in PY{year}")
        elif problem:
            rejected.append(f"NPI {npi}: {problem}")
        else:
            valid += 1
    total = len(members)
    met = rules.group_participation_met(year, valid, total)
    if total == 0:
        summary = f"no clinicians are recorded as billing under the TIN in PY{year}"
    else:
        summary = (
            f"{valid} of {total} clinicians ({percent(valid, total)}) have their own period of "
            f"{rules.minimum_days(year)}+ days; at least 50% needed "
            f"from PY{rules.FIRST_HALF_OF_CLINICIANS_YEAR}"
        )
    reasons = [f"group requirement {'met' if met else 'not met'}: {summary}"]
    listed = rejected[:MAX_LISTED_PARTICIPATION_PROBLEMS]
    reasons += [f"participation not counted: {r}" for r in listed]
    if len(rejected) > len(listed):
        reasons.append(f"{plural(len(rejected) - len(listed), 'more participation')} not counted")
    return met, reasons


def _pcmh_credit(year: int, recognized: bool) -> Credit:
    if recognized:
        points = rules.full_credit_points(year)
        reason = (
            "recognized patient-centered medical home (for a group: at least 50% of practice sites): "
            f"full credit ({points} points)"
        )
        return Credit("pcmh", points, reason)
    return Credit("pcmh", 0, "the practice is not recorded as a recognized medical home")


_APM_REASONS = {
    "mips": "MIPS APM scored under the APM scoring standard: full credit",
    "app": "APM Performance Pathway (APP) reporter: full credit",
    "other": "participant in another APM: half credit, activities add to it",
    "none": "no APM participation",
}


def _notes(entity: ReportingEntity, activities: list[ActivityScore], raw: int) -> list[str]:
    year, notes = entity.year, []
    if not activities:
        notes.append(f"no {entity.level} attestations for {entity.describe()}")
    full = rules.full_credit_points(year)
    if raw > full:
        notes.append(f"{raw} points capped at the category maximum of {full}")
    elif raw == full:
        notes.append(f"full credit: {full} points")
    else:
        notes.append(f"{full - raw} more points needed for full credit ({full})")
    return notes
