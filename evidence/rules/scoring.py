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
from evidence.records.missing import ActivityStatus, MissingReport, missing_report
from evidence.records.reporting import YearFacts, year_facts
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
    kind: str  # "pcmh" or the year's APM participation
    points: int
    reason: str


@dataclass(frozen=True)
class ProgramFacts:
    """How the entity reports the year, as the score applied it."""

    program: str  # mips | mvp | app
    program_name: str  # the QPP Submissions API programName: mips, app1 or the MVP id
    source: str  # npi | tin | default: where the year's facts were recorded
    requirement: str  # the IA requirement the points were judged against
    problems: tuple[str, ...] = ()  # what CMS does not allow in the recorded facts


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
    program: ProgramFacts = ProgramFacts("mips", "mips", "default", "")

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
        return rules.final_score_points(self.year, self.documented_raw_points, self.apm.kind, self.program.program)


def score(
    session: Session, tin: str, year: int | str, npi: str | None = None, *, report: MissingReport | None = None
) -> ScoreReport:
    """The score of the TIN (or the NPI) for the year. `report`: the year's whole missing report of
    that TIN, already made (the dashboard shows both), so it is not made again."""
    entity = reporting_entity(session, tin, year, npi)
    year = entity.year
    facts = year_facts(session, entity.practice.tin, year, entity.clinician.npi if entity.clinician else None)
    mvp = facts.program == rules.Program.MVP and not rules.program_problem(year, facts.program)
    applying = [s for s in statuses_of(entity).at_level() if s.applies]
    special = rules.has_ia_special_status(year, (s.status for s in applying))
    activities = sorted(
        (_score_activity(year, a, applying, special, mvp) for a in _attestations(session, entity, report)),
        key=lambda a: activity_sort_key(a.activity_id),
    )
    practice = entity.practice
    pcmh = _pcmh_credit(year, facts, activities)
    apm = _apm_credit(year, facts)
    # Medical-home and APM credit are facts of the year, not documented activities: both totals hold them.
    credits = pcmh.points + apm.points
    raw = sum(a.points for a in activities) + credits
    documented_raw = sum(a.documented_points for a in activities) + credits
    program = _program(year, facts, mvp)
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
        final_score_weight=rules.final_score_weight(year, facts.apm, facts.program),
        final_score_points=rules.final_score_points(year, raw, facts.apm, facts.program),
        notes=_notes(entity, activities, raw, documented_raw) + [f"not allowed: {p}" for p in program.problems],
        documented_raw_points=documented_raw,
        documented_points=rules.capped_points(year, documented_raw),
        program=program,
    )


def _program(year: int, facts: YearFacts, mvp: bool) -> ProgramFacts:
    if mvp:
        requirement = f"MVP {facts.mvp_id}: full credit with {rules.mvp_requirement(year)}"
    elif facts.program == rules.Program.APP:
        requirement = "APM Performance Pathway: full IA credit for the APM's participants"
    else:
        requirement = "traditional MIPS: 40 points of activities for full credit"
    return ProgramFacts(facts.program, facts.status.program_name, facts.source, requirement, tuple(facts.problems()))


def _attestations(session: Session, entity: ReportingEntity, report: MissingReport | None) -> list[ActivityStatus]:
    """The group's attestations for a group score; the NPI's own for an individual score."""
    npi = entity.clinician.npi if entity.clinician else None
    if report is None:
        report = missing_report(session, tin=entity.practice.tin, year=entity.year, npi=npi, group=npi is None)
    elif any(a.tin != entity.practice.tin or a.year != entity.year for a in report.activities):
        raise ValueError("the report given to score() is of another practice or year")
    return [a for a in report.activities if a.npi == npi]


def _score_activity(
    year: int, attestation: ActivityStatus, applying: list[SpecialStatus], special: bool, mvp: bool = False
) -> ActivityScore:
    reasons: list[str] = []
    if rules.earns_full_credit(year, attestation.activity_id):
        base = points = rules.full_credit_points(year)
        doubled = False
        reasons.append(f"medical-home recognition: full credit ({points} points)")
    elif mvp:
        base = points = rules.mvp_activity_points(year, attestation.weight)
        doubled = False
        label = f"{attestation.weight} weight" if rules.uses_weights(year) else f"PY{year} activity"
        reasons.append(f"MVP reporter: {label} earns {points} points ({rules.mvp_requirement(year)} is full credit)")
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


def _pcmh_credit(year: int, facts: YearFacts, activities: list[ActivityScore]) -> Credit:
    if facts.pcmh:
        points = rules.full_credit_points(year)
        return Credit("pcmh", points, f"{facts.pcmh_reason()}: full credit ({points} points)")
    attested = [a for a in activities if rules.earns_full_credit(year, a.activity_id)]
    if attested:  # the recognition was attested as an activity, not recorded with `practice set`
        return Credit(
            "pcmh", 0, f"{facts.pcmh_reason()}; the attested {attested[0].activity_id} is scored as an activity"
        )
    return Credit("pcmh", 0, facts.pcmh_reason())


def _apm_credit(year: int, facts: YearFacts) -> Credit:
    points = rules.apm_credit(year, facts.apm)
    problem = rules.apm_problem(year, facts.apm)
    if problem:
        return Credit(facts.apm, 0, f"no credit: {problem}")
    return Credit(facts.apm, points, f"{_APM_REASONS[facts.apm]} in PY{year}")


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
