"""One verdict per attested activity: is it creditable, and if not, why not.

`missing`, `score`, `export-qpp` and the packet all read this verdict (through
evidence.records.missing), so they can never disagree about an activity. It is pure: the
caller gathers the facts (from the database) and `verdict` only judges them, check by check.

Each check is one function in CHECKS. A check that fails because of the *claim itself* (the
attested period, the 50% group rule) keeps the activity out of the score and the submission;
one that fails for want of *documentation* lets the activity be claimed but puts its points
at risk in an audit (CMS validates attestations against documentation dated inside the
attested period, RULES.md "Performance period"). The activity's own minimum duration and a CMS
suspension decide the claim too (rules.activity_terms); its programs are the next check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import evidence.rules.activity_terms as activity_terms
import evidence.rules.cms as rules  # full path: tests/test_layers.py reads `evidence.rules` as above this layer
from evidence.support.text import percent, plural

# Participations that do not count, listed one by one; past this many, only counted.
MAX_LISTED_PARTICIPATION_PROBLEMS = 5


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """One suggested-documentation item: covered by evidence inside its period, or only outside it."""

    key: int
    covered: bool
    outside_only: bool = False


@dataclass(frozen=True, slots=True)
class ParticipantFacts:
    """A clinician's participation in a group attestation, for their own period."""

    npi: str
    start: date
    end: date
    bills_under_tin: bool


@dataclass(frozen=True, slots=True)
class CreditFacts:
    """What the checks judge; `clinicians` is the number billing under the TIN that year (groups)."""

    year: int
    activity_id: str
    start: date
    end: date
    group: bool
    rule: str
    items: tuple[ItemFacts, ...]
    participants: tuple[ParticipantFacts, ...] = ()
    clinicians: int = 0
    # How the entity reports the year (records.reporting) and CMS's allowedPrograms for the
    # activity-year (None: CMS lists none, every program may claim it).
    program: str = "mips"
    mvp_id: str | None = None
    allowed_programs: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One rule's result. `reasons[0]` says what was found; any further lines are its details."""

    name: str
    passed: bool
    reasons: tuple[str, ...]
    decides_claim: bool  # False: a documentation check, whose failure puts the points at risk


@dataclass(frozen=True, slots=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def creditable(self) -> bool:
        """Every rule that decides the activity's credit holds, documentation included."""
        return all(c.passed for c in self.checks)

    @property
    def claimable(self) -> bool:
        """The claim itself holds (period, group rule): the activity can be scored and submitted."""
        return all(c.passed for c in self.checks if c.decides_claim)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def reasons(self) -> list[str]:
        """Each failed check in words; empty when creditable."""
        return [reason for check in self.failed for reason in check.reasons]

    @property
    def problems(self) -> list[str]:
        """The failed claim checks: why the activity earns nothing."""
        return [r for c in self.failed if c.decides_claim for r in c.reasons]

    @property
    def risks(self) -> list[str]:
        """The failed documentation checks: why points claimed are at risk."""
        return [r for c in self.failed if not c.decides_claim for r in c.reasons]

    @property
    def summary(self) -> str:
        return "creditable" if self.creditable else "not creditable: " + "; ".join(self.reasons)


# --- Documentation --------------------------------------------------------------------------------


def documentation_met(rule: str, covered: int, items: int) -> bool:
    """'any': one covered item is enough; 'all' (and 'single'): every item is needed (seed 004)."""
    if rule == rules.DocumentationRule.ANY:
        return covered >= 1
    return covered == items


def documentation_gap(rule: str, items: Sequence[ItemFacts]) -> str:
    """What is still needed, in words; empty when the rule is met."""
    if documentation_met(rule, sum(1 for i in items if i.covered), len(items)):
        return ""
    outside = [str(i.key) for i in items if i.outside_only]
    note = f" (item {', '.join(outside)}: evidence only outside the attested period)" if outside else ""
    uncovered = ", ".join(str(i.key) for i in items if not i.covered)
    if rule == rules.DocumentationRule.ANY:
        return f"needs one of items {uncovered}{note}"
    return f"missing item {uncovered}{note}"


def check_documentation(facts: CreditFacts) -> Check:
    gap = documentation_gap(facts.rule, facts.items)
    if gap:
        return Check("documentation", False, (f"documentation incomplete: {gap}",), decides_claim=False)
    covered = ", ".join(str(i.key) for i in facts.items if i.covered)
    return Check(
        "documentation",
        True,
        (f"documented: item {covered} covered inside the attested period (rule '{facts.rule}')",),
        decides_claim=False,
    )


# --- The attested period --------------------------------------------------------------------------


def check_period(facts: CreditFacts) -> Check:
    """Inside the performance year and at least the minimum days (rules.cms.period_problem)."""
    problem = rules.period_problem(facts.year, facts.start, facts.end)
    if problem:
        return Check("period", False, (problem,), decides_claim=True)
    days = rules.period_days(facts.start, facts.end)
    reason = (
        f"period {facts.start} to {facts.end} ({days} days) is inside PY{facts.year} "
        f"and at least {rules.minimum_days(facts.year)} days"
    )
    return Check("period", True, (reason,), decides_claim=True)


def check_duration(facts: CreditFacts) -> Check | None:
    """The activity's own minimum, where its CMS text demands more than 90 days (rules.activity_terms)."""
    found = activity_terms.term(facts.year, facts.activity_id)
    if found is None:
        return None
    problem = rules.activity_term_problem(facts.year, facts.activity_id, facts.start, facts.end)
    if problem:
        return Check("duration", False, (problem,), decides_claim=True)
    reason = f"period {facts.start} to {facts.end} meets {facts.activity_id}'s own minimum of {found.words}"
    return Check("duration", True, (reason,), decides_claim=True)


def check_suspension(facts: CreditFacts) -> Check | None:
    """CMS suspended the activity from a date: a period started on or after it earns nothing."""
    found = activity_terms.suspension(facts.year, facts.activity_id)
    if found is None:
        return None
    problem = rules.suspension_problem(facts.year, facts.activity_id, facts.start)
    if problem:
        return Check("suspension", False, (problem,), decides_claim=True)
    reason = f"started {facts.start}, before CMS suspended {facts.activity_id} on {found.since}: credit kept"
    return Check("suspension", True, (reason,), decides_claim=True)


def check_program(facts: CreditFacts) -> Check | None:
    """The activity is open to the program the entity reports the year through (IA_MVP: MVPs only).

    `attest` refuses such an activity; an attestation made before its program changed, or before
    the catalog knew the programs, is judged here.
    """
    if facts.allowed_programs is None:
        return None
    problem = rules.activity_program_problem(
        facts.year, facts.activity_id, facts.allowed_programs, facts.program, facts.mvp_id
    )
    if problem:
        return Check("program", False, (problem,), decides_claim=True)
    return None


# --- Group attestations ---------------------------------------------------------------------------


def participant_problem(year: int, participant: ParticipantFacts, activity_id: str | None = None) -> str | None:
    """Why a participation does not count toward the group rule, or None if it does.

    With `activity_id`, the participant's own period must also meet the activity's own minimum
    (IA_ERP_1: 6 months) and start before any CMS suspension of it.
    """
    if not participant.bills_under_tin:
        return f"NPI {participant.npi} does not bill under the TIN in PY{year}"
    problem = rules.period_problem(year, participant.start, participant.end, activity_id)
    if problem is None and activity_id is not None:
        problem = rules.suspension_problem(year, activity_id, participant.start)
    return f"NPI {participant.npi}: {problem}" if problem else None


def _applies_to_participants(facts: CreditFacts) -> bool:
    # A group's medical-home credit is about practice sites, not clinician participation.
    return facts.group and not rules.earns_full_credit(facts.year, facts.activity_id)


def check_participants(facts: CreditFacts) -> Check | None:
    """Each listed participant bills under the TIN and has an own period that is valid for the year.

    A participation that does not hold is an attestation record an auditor would reject, even
    where the others reach 50%: it puts the activity at risk (the 50% check counts only valid ones).
    """
    if not _applies_to_participants(facts) or not facts.participants:
        return None
    rejected = [p for p in (participant_problem(facts.year, p, facts.activity_id) for p in facts.participants) if p]
    if not rejected:
        reason = f"every participant bills under the TIN with an own period valid for PY{facts.year}"
        return Check("participants", True, (reason,), decides_claim=False)
    listed = rejected[:MAX_LISTED_PARTICIPATION_PROBLEMS]
    reasons = [f"participation not counted: {r}" for r in listed]
    if len(rejected) > len(listed):
        reasons.append(f"{plural(len(rejected) - len(listed), 'more participation')} not counted")
    return Check("participants", False, tuple(reasons), decides_claim=False)


def check_group_participation(facts: CreditFacts) -> Check | None:
    """PY2020 on, at least 50% of the TIN's clinicians, each for their own period (rules.cms)."""
    if not facts.group:
        return None
    year = facts.year
    if rules.earns_full_credit(year, facts.activity_id):
        reason = "group medical-home credit: at least 50% of practice sites recognized (attested)"
        return Check("group participation", True, (reason,), decides_claim=True)
    if not rules.group_needs_half_of_clinicians(year):
        reason = f"PY{year}: one clinician completing it lets the TIN claim it (participation optional)"
        return Check("group participation", True, (reason,), decides_claim=True)
    valid = sum(1 for p in facts.participants if participant_problem(year, p, facts.activity_id) is None)
    total = facts.clinicians
    met = rules.group_participation_met(year, valid, total)
    if total == 0:
        summary = f"no clinicians are recorded as billing under the TIN in PY{year}"
    else:
        own = activity_terms.term(year, facts.activity_id)  # IA_ERP_1: 6 months, not 90 days
        length = f"at least {own.words}" if own else f"{rules.minimum_days(year)}+ days"
        summary = (
            f"{valid} of {total} clinicians ({percent(valid, total)}) have their own period of "
            f"{length}; at least 50% needed from PY{rules.FIRST_HALF_OF_CLINICIANS_YEAR}"
        )
    reason = f"group requirement {'met' if met else 'not met'}: {summary}"
    return Check("group participation", met, (reason,), decides_claim=True)


# The rules that decide an activity's credit, in the order their reasons are shown.
# Each returns None where it does not apply (an individual attestation has no group rule).
CHECKS: tuple[Callable[[CreditFacts], Check | None], ...] = (
    check_period,
    check_duration,
    check_suspension,
    check_program,
    check_group_participation,
    check_participants,
    check_documentation,
)


def verdict(facts: CreditFacts) -> Verdict:
    return Verdict(tuple(check for check in (run(facts) for run in CHECKS) if check is not None))
