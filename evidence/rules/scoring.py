"""The IA score a TIN (group) or one NPI under it (individual) earns in a performance year.

Every point rule lives in evidence.rules.cms; this module applies them to the stored
attestations and records, activity by activity, what was earned and why. Whether an activity
counts comes from its credit verdict (evidence.rules.credit, read through the missing report):
points *claimed* are those of the activities whose claim holds (period, group rule), points
*documented* those of the creditable ones; the difference is at risk in an audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy.orm import Session

from evidence.catalog.store import activity_sort_key
from evidence.records.missing import ActivityStatus, missing_report
from evidence.rules import cms as rules
from evidence.rules.status import ReportingEntity, SpecialStatus, reporting_entity, statuses_of


@dataclass(frozen=True)
class ActivityScore:
    activity_id: str
    title: str
    weight: str | None  # None in unweighted years
    base_points: int
    doubled: bool
    points: int  # claimed: 0 when not counted
    counted: bool  # the claim holds (period, group rule): scored and submitted
    reasons: tuple[str, ...]  # everything that decided the points, in the order applied
    problems: tuple[str, ...]  # the subset that keeps it from counting
    creditable: bool = True  # every check holds, documentation included
    risks: tuple[str, ...] = ()  # why counted points are not fully documented

    @property
    def documented_points(self) -> int:
        return self.points if self.creditable else 0

    @property
    def points_at_risk(self) -> int:
        return self.points - self.documented_points


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
    raw_points: int  # claimed, before the cap
    points: int  # claimed, capped
    category_score: Fraction
    final_score_weight: int
    final_score_points: Fraction
    notes: list[str]
    documented_raw_points: int = 0
    documented_points: int = 0  # capped: what the documentation supports

    @property
    def points_at_risk(self) -> int:
        """Claimed points the documentation does not support, after the cap (credits can cover them)."""
        return self.points - self.documented_points

    @property
    def score_maximum(self) -> int:
        return rules.full_credit_points(self.year)

    @property
    def documented_category_score(self) -> Fraction:
        return rules.category_score(self.year, self.documented_raw_points)

    @property
    def documented_final_score_points(self) -> Fraction:
        return rules.final_score_points(self.year, self.documented_raw_points, self.apm.kind)


def score(session: Session, tin: str, year: int | str, npi: str | None = None) -> ScoreReport:
    entity = reporting_entity(session, tin, year, npi)
    year = entity.year
    applying = [s for s in statuses_of(entity).at_level() if s.applies]
    special = rules.has_ia_special_status(year, (s.status for s in applying))
    activities = sorted(
        (_score_activity(year, a, applying, special) for a in _attestations(session, entity)),
        key=lambda a: activity_sort_key(a.activity_id),
    )
    practice = entity.practice
    pcmh = _pcmh_credit(year, practice.pcmh)
    apm = Credit(practice.apm, rules.apm_credit(year, practice.apm), _APM_REASONS[practice.apm])
    # Medical-home and APM credit are facts of the practice, not documented activities: both totals hold them.
    credits = pcmh.points + apm.points
    raw = sum(a.points for a in activities) + credits
    documented_raw = sum(a.documented_points for a in activities) + credits
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
        notes=_notes(entity, activities, raw, documented_raw),
        documented_raw_points=documented_raw,
        documented_points=rules.capped_points(year, documented_raw),
    )


def _attestations(session: Session, entity: ReportingEntity) -> list[ActivityStatus]:
    """The group's attestations for a group score; the NPI's own for an individual score."""
    npi = entity.clinician.npi if entity.clinician else None
    report = missing_report(session, tin=entity.practice.tin, year=entity.year, npi=npi, group=npi is None)
    return [a for a in report.activities if a.npi == npi]


def _score_activity(
    year: int, attestation: ActivityStatus, applying: list[SpecialStatus], special: bool
) -> ActivityScore:
    reasons: list[str] = []
    if rules.earns_full_credit(year, attestation.activity_id):
        base = points = rules.full_credit_points(year)
        doubled = False
        reasons.append(f"medical-home recognition: full credit ({points} points)")
    else:
        base = rules.activity_base_points(year, attestation.weight)
        points = rules.activity_points(year, attestation.weight, special)
        doubled = special
        reasons.append(_base_reason(year, attestation.weight, base))
        reasons.append(_doubling_reason(applying, special, points))
    verdict = attestation.verdict
    reasons += [reason for check in verdict.checks for reason in check.reasons]
    counted = verdict.claimable
    return ActivityScore(
        activity_id=attestation.activity_id,
        title=attestation.title,
        weight=attestation.weight,
        base_points=base,
        doubled=doubled,
        points=points if counted else 0,
        counted=counted,
        reasons=tuple(reasons),
        problems=tuple(verdict.problems),
        creditable=verdict.creditable,
        risks=tuple(verdict.risks),
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


def _notes(entity: ReportingEntity, activities: list[ActivityScore], raw: int, documented_raw: int) -> list[str]:
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
    at_risk = rules.capped_points(year, raw) - rules.capped_points(year, documented_raw)
    undocumented = [a.activity_id for a in activities if a.points_at_risk]
    risky = ", ".join(undocumented)
    if at_risk:
        notes.append(f"{at_risk} of the points claimed are not fully documented ({risky})")
    elif risky:
        without = "it" if len(undocumented) == 1 else "them"
        notes.append(f"not fully documented: {risky}; the documented points reach the cap without {without}")
    return notes
