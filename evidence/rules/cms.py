"""IA rules that depend on the performance year (../shared/RULES.md).

Each rule is one function keyed by performance year, so a change in CMS policy is a change
in one place, with one table-driven test row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction

import evidence.rules.activity_terms as activity_terms  # full path: see tests/test_layers.py
from evidence.support.text import clipped_repr, plural

# The performance years a user may name. MIPS began with PY2017. The rules below are open-ended
# from PY2025 on, so a later year's CMS inventory can be imported (`catalog import-qpp --year 2028`)
# without a code change; whether a year has activities is the catalog's answer, not the parser's.
# The upper bound only catches typos and keeps every retention date (year + up to 100 years) a date.
FIRST_PERFORMANCE_YEAR = 2017
LAST_PERFORMANCE_YEAR = 2100
LAST_WEIGHTED_YEAR = 2024
# The 50% group rule starts with PY2020; before it, one clinician let the whole TIN claim.
FIRST_HALF_OF_CLINICIANS_YEAR = 2020
MINIMUM_CONSECUTIVE_DAYS = 90


def performance_year_problem(year: int) -> str | None:
    """Why `year` cannot be a performance year, or None if it can."""
    if year < FIRST_PERFORMANCE_YEAR:
        return f"performance year {year} is before MIPS began ({FIRST_PERFORMANCE_YEAR})"
    if year > LAST_PERFORMANCE_YEAR:
        return f"performance year {year} is after {LAST_PERFORMANCE_YEAR}"
    return None


def uses_weights(year: int) -> bool:
    """PY2017-2024 score activities by weight (medium/high); from PY2025 on they are unweighted."""
    return year <= LAST_WEIGHTED_YEAR


class Weight(StrEnum):
    """An activity's weight in PY2017-2024 (IA_PCMH: none); years without weights store NULL."""

    HIGH = "high"
    MEDIUM = "medium"
    NONE = "none"


# How an activity without a weight (a year scored without weights) is shown and filtered.
UNWEIGHTED = "unweighted"


def weight_label(weight: str | None) -> str:
    """high, medium, none, or `unweighted` for a year scored without weights."""
    return UNWEIGHTED if weight is None else str(weight)


class DocumentationRule(StrEnum):
    """How an activity's suggested-documentation items combine."""

    ALL = "all"  # every item is needed
    ANY = "any"  # any one item is enough
    SINGLE = "single"  # the activity has one item


# --- Performance period ----------------------------------------------------------------------


def performance_period(year: int) -> tuple[date, date]:
    """The performance year: January 1 to December 31."""
    return date(year, 1, 1), date(year, 12, 31)


def minimum_days(year: int) -> int:
    """Each activity runs at least 90 consecutive days inside the performance year."""
    return MINIMUM_CONSECUTIVE_DAYS


def period_days(start: date, end: date) -> int:
    """Days in a period, both ends included (Oct 3 - Dec 31 is 90 days)."""
    return (end - start).days + 1


def latest_start(year: int, activity_id: str | None = None) -> date:
    """The last start date that still leaves the minimum before December 31.

    The 90-day floor: October 3. An activity whose own text demands longer (activity_terms.TERMS,
    IA_ERP_1's 6 months) starts later than that at its peril: July 1 for 6 calendar months.
    """
    year_end = performance_period(year)[1]
    found = activity_terms.term(year, activity_id) if activity_id else None
    if found is not None:
        return min(activity_terms.latest_term_start(year_end, found), year_end - timedelta(days=minimum_days(year) - 1))
    return year_end - timedelta(days=minimum_days(year) - 1)


def period_problem(year: int, start: date, end: date, activity_id: str | None = None) -> str | None:
    """Why a period cannot support an attestation for `year` (of `activity_id`, if named), or None if it can."""
    first, last = performance_period(year)
    if end < start:
        return f"the period ends ({end}) before it starts ({start})"
    if start < first or end > last:
        return f"the period {start} to {end} is not inside performance year {year} ({first} to {last})"
    days = period_days(start, end)
    if days < minimum_days(year):
        return (
            f"the period {start} to {end} is {plural(days, 'day')}; an activity needs at least "
            f"{minimum_days(year)} consecutive days (latest start for PY{year}: {latest_start(year)})"
        )
    return activity_term_problem(year, activity_id, start, end) if activity_id else None


def activity_term_problem(year: int, activity_id: str, start: date, end: date) -> str | None:
    """The activity's own minimum (CMS's description, activity_terms.TERMS): IA_ERP_1 needs 6 months."""
    found = activity_terms.term(year, activity_id)
    if found is None or end >= activity_terms.earliest_end(start, found):
        return None
    return (
        f'{activity_id} needs at least {found.words} (CMS: "{found.sentence}"); the period {start} to {end} '
        f"is {plural(period_days(start, end), 'day')} (it would have to run through "
        f"{activity_terms.earliest_end(start, found)}); latest start for PY{year}: {latest_start(year, activity_id)}"
    )


def suspension_problem(year: int, activity_id: str, start: date) -> str | None:
    """A period that starts on or after CMS suspended the activity earns nothing (activity_terms.SUSPENSIONS)."""
    found = activity_terms.suspension(year, activity_id)
    if found is None or start < found.since:
        return None
    return (
        f"{activity_id} is suspended for PY{year} from {found.since} ({found.rule}); the period starts {start} "
        f"(source: {found.source})"
    )


# --- Programs (who may report an activity) -----------------------------------------------------


# CMS's inventory lists allowedPrograms per activity from its PY2023 file (qpp-measures-data
# measures/2023/measures-data.json; ../shared/RULES.md says 2024) and allowedRegistrationTypes from
# PY2025 (measures-schema.yaml: "Programs to which the measure can be submitted", "Entity types which
# the measure is eligible for registration"). Before that, every activity was open to every program.
FIRST_ALLOWED_PROGRAMS_YEAR = 2023
FIRST_APP_PLUS_YEAR = 2025  # APP Plus, CMS program name appPlus (CY2025 PFS final rule)


def cms_program_names(year: int, program: str) -> tuple[str, ...]:
    """The allowedPrograms names a reporter of `program` answers to: app -> app1 (and appPlus from PY2025)."""
    if program == Program.MIPS:
        return ("mips",)
    if program == Program.APP:
        return ("app1", "appPlus") if year >= FIRST_APP_PLUS_YEAR else ("app1",)
    raise ValueError(f"program {program!r} has no fixed CMS name (an MVP is named by its id)")


def activity_program_problem(
    year: int, activity_id: str, allowed_programs: Iterable[str] | None, program: str, mvp_id: str | None
) -> str | None:
    """Why a reporter of `program` (mips | mvp | app, with `mvp_id` for an MVP) cannot claim the activity.

    `allowed_programs` is CMS's allowedPrograms for the activity-year; None (a year CMS lists none
    for) allows every program. IA_MVP (PY2024 on) is for MVP reporters only.
    """
    year_problem = program_problem(year, program)
    if year_problem:
        return year_problem
    if program == Program.MVP and not mvp_id:
        return "an MVP reporter names its MVP id (e.g. M0001)"
    if allowed_programs is None:
        return None
    allowed = tuple(allowed_programs)
    names = (mvp_id,) if program == Program.MVP else cms_program_names(year, program)
    if any(name in allowed for name in names):
        return None
    listed = f"allowed: {', '.join(allowed)}" if allowed else "CMS lists no program for it"
    mvps = [p for p in allowed if p[:1] in ("G", "M") and p[1:].isdigit()]
    if mvps and len(mvps) == len(allowed):
        return f"{activity_id} is for MVP reporters only ({listed})"
    reporter = f"MVP {mvp_id}" if program == Program.MVP else {"mips": "traditional MIPS", "app": "APP"}[program]
    return f"{activity_id} is not open to {reporter} reporters in PY{year} ({listed})"


def registration_type_problem(
    year: int, allowed_registration_types: Iterable[str] | None, entity_type: str
) -> str | None:
    """Why an entity of `entity_type` (individual, group, subgroup, apm) cannot report the activity.

    None where CMS lists no registration types for the year (before PY2025): every type may.
    """
    if allowed_registration_types is None:
        return None
    allowed = tuple(allowed_registration_types)
    if entity_type in allowed:
        return None
    return f"PY{year}: the activity is not open to {entity_type} reporting (allowed: {', '.join(allowed) or 'none'})"


# --- Group reporting ---------------------------------------------------------------------------


def group_needs_half_of_clinicians(year: int) -> bool:
    """PY2020 on: at least 50% of the TIN's clinicians must each perform the activity."""
    return year >= FIRST_HALF_OF_CLINICIANS_YEAR


def group_participation_met(year: int, participating: int, clinicians: int) -> bool:
    """Does the documented participation let the group claim the activity?"""
    if participating <= 0 or clinicians <= 0:
        return False
    if not group_needs_half_of_clinicians(year):
        return True  # one clinician is enough before 2020
    return Fraction(participating, clinicians) >= Fraction(1, 2)


# --- Special statuses (RULES.md "Special status definitions") ---------------------------------

SMALL_PRACTICE_MAX_CLINICIANS = 15
NON_PATIENT_FACING_MAX_ENCOUNTERS = 100
# Hospital-based and ASC-based: 75% or more of covered services in those places of service.
BASED_MIN_POS_PCT = 75
# Group rural, HPSA, non-patient facing and (from PY2019) hospital-based need MORE than this share of NPIs.
GROUP_STATUS_SHARE = Fraction(3, 4)

SPECIAL_STATUSES = ("small_practice", "rural", "hpsa", "non_patient_facing", "hospital_based", "asc_based")
# Hospital-based and ASC-based are real statuses but change nothing in IA scoring.
IA_DOUBLING_STATUSES = frozenset({"small_practice", "rural", "hpsa", "non_patient_facing"})


def is_small_practice(year: int, clinicians: int) -> bool:
    """15 or fewer clinicians bill under the TIN; a TIN with none recorded cannot be judged."""
    return 0 < clinicians <= SMALL_PRACTICE_MAX_CLINICIANS


def is_non_patient_facing(year: int, encounters: int | None) -> bool:
    """100 or fewer patient-facing encounters; unknown (None) is not non-patient facing."""
    return encounters is not None and encounters <= NON_PATIENT_FACING_MAX_ENCOUNTERS


def is_pos_based(year: int, pos_pct: float | None) -> bool:
    """Hospital-based (POS 19, 21, 22, 23) or ASC-based (POS 24): 75% or more of covered services."""
    return pos_pct is not None and pos_pct >= BASED_MIN_POS_PCT


class GroupThreshold(StrEnum):
    """How many of a TIN's clinicians must hold an individual status for the group to hold it."""

    AT_LEAST_ONE = "at least one"
    MORE_THAN_SHARE = "more than 75%"
    ALL = "all"


# (status, first year, threshold): each row holds from its first year until the next row of the
# same status. Sources: docs/RULES-SOURCES.md, "Group special statuses".
#  - rural, HPSA: the CY2017 QPP final rule (81 FR 77008) let a group claim the status when at
#    least one of its practice sites was in a rural area or HPSA; the CY2018 QPP final rule
#    (82 FR 53568) requires, from PY2018, more than 75% of the NPIs billing under the TIN.
#  - non-patient facing: more than 75% of the NPIs since PY2017 (CY2017 QPP final rule).
#  - hospital-based: every clinician through PY2018; more than 75% from PY2019 (CY2019 PFS final
#    rule, 83 FR 59452).  - ASC-based: every clinician (CY2018 QPP final rule).
GROUP_THRESHOLDS: tuple[tuple[str, int, GroupThreshold], ...] = (
    ("rural", FIRST_PERFORMANCE_YEAR, GroupThreshold.AT_LEAST_ONE),
    ("rural", 2018, GroupThreshold.MORE_THAN_SHARE),
    ("hpsa", FIRST_PERFORMANCE_YEAR, GroupThreshold.AT_LEAST_ONE),
    ("hpsa", 2018, GroupThreshold.MORE_THAN_SHARE),
    ("non_patient_facing", FIRST_PERFORMANCE_YEAR, GroupThreshold.MORE_THAN_SHARE),
    ("hospital_based", FIRST_PERFORMANCE_YEAR, GroupThreshold.ALL),
    ("hospital_based", 2019, GroupThreshold.MORE_THAN_SHARE),
    ("asc_based", FIRST_PERFORMANCE_YEAR, GroupThreshold.ALL),
)


def group_threshold(year: int, status: str) -> GroupThreshold:
    """The group test for `status` in `year` (the latest row of GROUP_THRESHOLDS that has begun)."""
    rows = [(first, test) for name, first, test in GROUP_THRESHOLDS if name == status and first <= year]
    if not rows:
        raise ValueError(f"no group rule for status {status!r} in PY{year}")
    return max(rows)[1]


def group_status_met(year: int, status: str, count: int, clinicians: int) -> bool:
    """Do `count` of the TIN's `clinicians` give the group `status` in `year`? Exact fractions."""
    if clinicians <= 0 or count <= 0:
        return False
    test = group_threshold(year, status)
    if test is GroupThreshold.AT_LEAST_ONE:
        return True
    if test is GroupThreshold.ALL:
        return count == clinicians
    return Fraction(count, clinicians) > GROUP_STATUS_SHARE


def status_doubles_ia_points(year: int, status: str) -> bool:
    return status in IA_DOUBLING_STATUSES


def has_ia_special_status(year: int, statuses: Iterable[str]) -> bool:
    """Does any of the statuses that apply double IA points?"""
    return any(status_doubles_ia_points(year, status) for status in statuses)


# --- Points and full credit (RULES.md "Points and full credit") -------------------------------

FULL_CREDIT_POINTS = 40
WEIGHTED_ACTIVITY_POINTS = {Weight.MEDIUM: 10, Weight.HIGH: 20, Weight.NONE: 0}
UNWEIGHTED_ACTIVITY_POINTS = 20
# Medical-home recognition earns full credit on its own, whatever the year's weights.
FULL_CREDIT_ACTIVITIES = frozenset({"IA_PCMH"})
SPECIAL_STATUS_MULTIPLIER = 2
IA_FINAL_SCORE_WEIGHT = 15
IA_FINAL_SCORE_WEIGHT_APP = 20


def full_credit_points(year: int) -> int:
    """The IA category maximum."""
    return FULL_CREDIT_POINTS


def activity_base_points(year: int, weight: str | None) -> int:
    """Points before doubling: by weight through PY2024, the same for every activity from PY2025."""
    if not uses_weights(year):
        return UNWEIGHTED_ACTIVITY_POINTS
    known = weight in set(Weight) and Weight(weight) in WEIGHTED_ACTIVITY_POINTS
    if weight is None or not known:
        raise ValueError(f"PY{year} is weighted but the activity has weight {weight!r}")
    return WEIGHTED_ACTIVITY_POINTS[Weight(weight)]


def activity_points(year: int, weight: str | None, special_status: bool) -> int:
    """A qualifying activity's points; a special status that counts for IA doubles them."""
    base = activity_base_points(year, weight)
    return base * SPECIAL_STATUS_MULTIPLIER if special_status else base


def earns_full_credit(year: int, activity_id: str) -> bool:
    return activity_id in FULL_CREDIT_ACTIVITIES


def apm_credit(year: int, apm_kind: str) -> int:
    """IA credit for APM participation in `year`; nothing where the kind does not exist that year.

    MIPS APM under the APM scoring standard (PY2017-2020): CMS assigned every MIPS APM full IA
    credit in its yearly "Scores for Improvement Activities in MIPS APMs" lists; the statute's
    floor is half (SSA 1848(q)(5)(C)(ii)). APP (PY2021 on): full credit, CY2021 PFS final rule,
    85 FR 84472, 42 CFR 414.1367(c)(3). Any other APM: at least half credit, SSA
    1848(q)(5)(C)(ii), 42 CFR 414.1380(b)(3)(ix).
    """
    if apm_kind not in APM_KINDS:
        raise ValueError(f"unknown APM participation {apm_kind!r}")
    if apm_problem(year, apm_kind):
        return 0
    full = full_credit_points(year)
    credits = {"mips": full, "app": full, "other": full // 2, "none": 0}
    return credits[apm_kind]


def capped_points(year: int, raw_points: int) -> int:
    return min(raw_points, full_credit_points(year))


def category_score(year: int, raw_points: int) -> Fraction:
    """min(points, 40) / 40, exact."""
    return Fraction(capped_points(year, raw_points), full_credit_points(year))


def final_score_weight(year: int, apm_kind: str, program: str = "mips") -> int:
    """IA's share of the 100-point final score.

    Traditional MIPS and MVPs: 15 (42 CFR 414.1380(c)(1)). APM scoring standard, PY2017-2020: 20
    (42 CFR 414.1370(h); CY2017 QPP final rule, 81 FR 77008, for the Shared Savings Program and
    Next Generation ACO, whose PY2017 weight is the one kept here; CY2018 QPP final rule,
    82 FR 53568, for every MIPS APM from PY2018). APP, PY2021 on: 20 (CY2021 PFS final rule,
    85 FR 84472; 42 CFR 414.1367(c)).
    """
    if program == Program.APP or apm_kind == "app":
        return IA_FINAL_SCORE_WEIGHT_APP if not program_problem(year, Program.APP) else IA_FINAL_SCORE_WEIGHT
    if apm_kind == "mips" and not apm_problem(year, "mips"):
        return IA_FINAL_SCORE_WEIGHT_APM_SCORING_STANDARD
    return IA_FINAL_SCORE_WEIGHT


def final_score_points(year: int, raw_points: int, apm_kind: str, program: str = "mips") -> Fraction:
    return category_score(year, raw_points) * final_score_weight(year, apm_kind, program)


# --- Programs, APM participation and medical homes per year -------------------------------------


class Program(StrEnum):
    """How a reporting entity reports a performance year (QPP Submissions API `programName`)."""

    MIPS = "mips"  # traditional MIPS
    MVP = "mvp"  # a MIPS Value Pathway, named by its MVP id
    APP = "app"  # the APM Performance Pathway


# The APP replaced the APM scoring standard: CY2021 PFS final rule, 85 FR 84472 (Dec 28, 2020),
# 42 CFR 414.1367, from the 2021 performance period.
FIRST_APP_YEAR = 2021
# The APM scoring standard, 42 CFR 414.1370: PY2017 (CY2017 QPP final rule, 81 FR 77008) to
# PY2020; the CY2021 PFS final rule (85 FR 84472) ended it with the 2020 performance period.
APM_SCORING_STANDARD_YEARS = (FIRST_PERFORMANCE_YEAR, 2020)
# MVPs: CY2022 PFS final rule, 86 FR 64996 (Nov 19, 2021), 42 CFR 414.1365, from the 2023
# performance period; CMS's inventory lists MVP ids in allowedPrograms from PY2023 (ia-2023.json).
FIRST_MVP_YEAR = 2023
# CMS's MVP ids (qpp-measures-data measures-schema `programs`): M0001, M1366, G0053 ...
MVP_ID_PATTERN = re.compile(r"[MG][0-9]{4}")
# QPP Submissions API programName of the APP (qpp-measures-data `programs`: mips, app1, appPlus, MVP ids).
APP_PROGRAM_NAME = "app1"
APM_KINDS = ("none", "mips", "other", "app")
APM_LABELS = {
    "none": "no APM participation",
    "mips": "MIPS APM under the APM scoring standard",
    "other": "participant in another APM",
    "app": "APM Performance Pathway (APP) reporter",
}
IA_FINAL_SCORE_WEIGHT_APM_SCORING_STANDARD = 20
# A group's medical-home credit needs at least 50% of its practice sites recognised from PY2018
# (CY2018 QPP final rule, 82 FR 53568, 42 CFR 414.1380(b)(3)(ii); seed 004, 2020 IA guide); in
# PY2017 the CY2017 QPP final rule (81 FR 77008) gave the credit to a recognised TIN, which the
# CY2018 rule relaxed to half of its sites: here PY2017 needs every site.
FIRST_PCMH_HALF_OF_SITES_YEAR = 2018
PCMH_SITES_SHARE = Fraction(1, 2)


def programs(year: int) -> tuple[Program, ...]:
    """The programs a reporting entity can report `year` through."""
    return tuple(p for p in Program if program_problem(year, p) is None)


def program_problem(year: int, program: str) -> str | None:
    """Why `program` cannot be reported in `year`, or None if it can."""
    if program not in set(Program):
        return f"program {program!r} is not one of {', '.join(Program)}"
    if program == Program.APP and year < FIRST_APP_YEAR:
        return f"the APM Performance Pathway (APP) began with PY{FIRST_APP_YEAR}; PY{year} has no APP"
    if program == Program.MVP and year < FIRST_MVP_YEAR:
        return f"MIPS Value Pathways (MVPs) began with PY{FIRST_MVP_YEAR}; PY{year} has no MVPs"
    return None


def apm_problem(year: int, apm_kind: str) -> str | None:
    """Why this APM participation cannot be a fact of `year`, or None if it can."""
    if apm_kind not in APM_KINDS:
        return f"APM participation {apm_kind!r} is not one of {', '.join(APM_KINDS)}"
    first, last = APM_SCORING_STANDARD_YEARS
    if apm_kind == "mips" and not first <= year <= last:
        return (
            f"the APM scoring standard (--apm mips) applied PY{first}-{last} only; from PY{FIRST_APP_YEAR} "
            "a MIPS APM participant reports through the APP (--apm app) or as another APM (--apm other)"
        )
    if apm_kind == "app":
        return program_problem(year, Program.APP)
    return None


def mvp_id_problem(mvp_id: str, year: int | None = None, year_mvps: frozenset[str] | None = None) -> str | None:
    """Why `mvp_id` is not one of CMS's MVP ids (M0001, G0053), or None.

    `year_mvps` are the MVPs CMS's inventory names for `year` (qpp-measures-data allowedPrograms,
    e.g. ia-2025.json has no M0003): an id of the right shape outside them is no MVP CMS offers.
    """
    if MVP_ID_PATTERN.fullmatch(mvp_id) is None:
        return (
            f"MVP id {clipped_repr(mvp_id)} is not a CMS MVP id (a letter M or G and four digits, e.g. M0001 or G0053)"
        )
    if year_mvps is not None and mvp_id not in year_mvps:
        return f"MVP id {mvp_id} is not one of CMS's PY{year} MVPs ({', '.join(sorted(year_mvps))})"
    return None


def program_name(program: str, mvp_id: str | None) -> str:
    """The QPP Submissions API `programName`: mips, app1, or the MVP id."""
    if program == Program.MVP:
        if mvp_id is None:
            raise ValueError("an MVP reporter needs its MVP id")
        return mvp_id
    return APP_PROGRAM_NAME if program == Program.APP else str(Program.MIPS)


def pcmh_sites_met(year: int, sites: int, recognized: int) -> bool:
    """A group's medical-home credit: all sites in PY2017, at least 50% of them from PY2018."""
    if sites <= 0 or not 0 <= recognized <= sites:
        return False
    if year < FIRST_PCMH_HALF_OF_SITES_YEAR:
        return recognized == sites
    return Fraction(recognized, sites) >= PCMH_SITES_SHARE


def pcmh_sites_rule(year: int) -> str:
    if year < FIRST_PCMH_HALF_OF_SITES_YEAR:
        first = FIRST_PCMH_HALF_OF_SITES_YEAR
        return f"every practice site of the TIN recognised (PY{year}; 50% of sites from PY{first})"
    return "at least 50% of the TIN's practice sites recognised"


# --- MVP improvement-activity requirement ----------------------------------------------------------

# An MVP reporter's activities: 2023-2024, a high-weighted activity earns 40 points and a medium one
# 20 (2 medium, 1 high or IA_PCMH is full credit): CY2022 PFS final rule, 86 FR 64996, 42 CFR
# 414.1380(b)(3). From PY2025 one activity (or IA_PCMH) is full credit, weights removed: CY2025 PFS
# final rule, 89 FR 97710 (Dec 9, 2024). Special statuses change nothing: the MVP points already
# are the reduced requirement.
MVP_WEIGHTED_ACTIVITY_POINTS = {Weight.MEDIUM: 20, Weight.HIGH: 40, Weight.NONE: 0}
MVP_UNWEIGHTED_ACTIVITY_POINTS = 40


def mvp_activity_points(year: int, weight: str | None) -> int:
    """A qualifying activity's points for an MVP reporter."""
    if not uses_weights(year):
        return MVP_UNWEIGHTED_ACTIVITY_POINTS
    if weight is None or weight not in set(Weight):
        raise ValueError(f"PY{year} is weighted but the activity has weight {weight!r}")
    return MVP_WEIGHTED_ACTIVITY_POINTS[Weight(weight)]


def mvp_requirement(year: int) -> str:
    """The MVP IA requirement of `year`, in words."""
    if uses_weights(year):
        return "2 medium-weighted activities, 1 high-weighted activity or IA_PCMH"
    return "1 activity or IA_PCMH"


# --- Retention ---------------------------------------------------------------------------------

MINIMUM_RETENTION_YEARS = 6


def minimum_retention_years() -> int:
    """CMS may audit documentation for 6 years after the end of the performance period."""
    return MINIMUM_RETENTION_YEARS


def retain_until(year: int, retention_years: int) -> date:
    """Last day records of `year` must be kept: PY2020 with 6 years -> 2026-12-31."""
    return date(year + retention_years, 12, 31)


def purgeable_from(year: int, retention_years: int) -> date:
    """The first day a purge may delete the year's records: the day after retain_until (PY2020: 2027-01-01)."""
    return retain_until(year, retention_years) + timedelta(days=1)


def purgeable_on(year: int, retention_years: int, as_of: date) -> bool:
    """True from purgeable_from on."""
    return as_of >= purgeable_from(year, retention_years)


# --- Audits (data validation and audit, DVA) --------------------------------------------------
# 42 CFR 414.1390 (Data validation and auditing) obliges a MIPS clinician or group selected for
# data validation or audit to comply with CMS's requests for data and documentation (and, in (b),
# to keep it 6 years). How long a response may take is CMS guidance, not the regulation: CMS's
# contractor (Guidehouse, from MIPS_DVA_Request@guidehouse.com to the TIN's security official in
# HARP) asks for primary-source documents "within 45 calendar days of the request" (CMS "MIPS Data
# Validation and Audit" fact sheets for PY2017/PY2018, July 2019, and each DVA since, e.g. PY2023's
# notices of Oct 2024 - Apr 2025); CMS's 2017 "MIPS Data Validation Criteria" said an initial
# response within 10 business days. The days are settable per audit (`audit open --due`, and a
# moved due date is a journal note: `audit note --due`).
AUDIT_RESPONSE_DAYS = 45
AUDIT_OUTCOMES = ("passed", "failed", "withdrawn")


def audit_notice_problem(year: int, received: date) -> str | None:
    """Why a DVA notice about `year` cannot have been received on `received` (None: it can).

    42 CFR 414.1390(a) audits the data a clinician or group submitted for a performance year, and
    that data is submitted only after the year ends (the submission window opens in January of the
    next year: evidence/rules/deadlines.py), so no notice about PY2020 precedes January 1, 2021. A
    date before that is a typo in the notice's year, and it would start the clock years too early.
    """
    _, year_end = performance_period(year)
    if received <= year_end:
        return (
            f"--received {received} is not after performance year {year} ended ({year_end}): CMS audits a "
            "year's submitted data, sent only after the year; check the notice's date and year"
        )
    return None


def audit_due_date(received: date, days: int = AUDIT_RESPONSE_DAYS) -> date:
    """The response's due date: `days` calendar days after the notice was received."""
    return received + timedelta(days=days)


# --- QPP submission shape (export-qpp) ---------------------------------------------------------
# Source: QPP Submissions API documentation, CMSgov/qpp-submissions-docs (src/app/components/
# references/data.ts: submissionsFields, measurementSetsFields; topics/change-log.tsx), as of
# 2025-12-23 (commit 485527c), and its history for the years before. docs/RULES-SOURCES.md cites
# each row. The shipped JSON Schema (rules/data/qpp_submission.schema.json) states the same
# rules; tests/test_qpp_shape.py checks both agree for every year.

# entityType -> first performance year the Submissions API takes it. "apm" from PY2020 (change
# log 8/15/20: "Support APM Entity ID submissions"); virtual groups from PY2018 (CY2018 QPP final
# rule, 82 FR 53593); subgroups from PY2023, for MVPs only (CY2023 PFS final rule, 87 FR 70036).
QPP_ENTITY_FIRST_YEAR = {"individual": 2017, "group": 2017, "virtualGroup": 2018, "apm": 2020, "subgroup": 2023}
# Entity types that carry `entityId` (and no TIN/NPI); the others carry the TIN (and NPI).
QPP_ENTITY_ID_TYPES = frozenset({"virtualGroup", "apm", "subgroup"})

# submissionMethod values the API defines (measurementSetsFields). CMS Web Interface was sunset
# after PY2024 (change log 08/28/2025). For the IA category CMS accepts only "registry" (non-QRDA)
# and "electronicHealthRecord" (QRDA III).
QPP_SUBMISSION_METHODS = ("registry", "electronicHealthRecord", "cmsWebInterface", "claims",
                          "certifiedSurveyVendor", "administrativeClaims")  # fmt: skip
LAST_CMS_WEB_INTERFACE_YEAR = 2024
QPP_IA_SUBMISSION_METHODS = ("registry", "electronicHealthRecord")
DEFAULT_SUBMISSION_METHOD = "registry"

# programName values other than MVP ids -> (first, last) performance year. "app1" from PY2021
# (change log 8/15/21), "appPlus" from PY2025 (change log 08/28/2025); "cpcPlus" ended with PY2021
# (change log 08/31/22) and "pcf" with PY2024 (08/28/2025). An MVP id (G0053, M0001, ...; the
# `programs` enum of qpp-measures-data's measures-schema.yaml) is a programName from PY2023.
QPP_PROGRAM_YEARS: dict[str, tuple[int, int | None]] = {
    "mips": (2017, None), "app1": (2021, None), "appPlus": (2025, None), "cpcPlus": (2017, 2021), "pcf": (2021, 2024),
}  # fmt: skip
# Which entity types each program takes: APP "for entityType(s) = apm, group, or individual"
# (8/15/21); PCF (and CPC+) only for APM entities; MVPs for individuals, groups, subgroups and APM
# entities, never virtual groups (qpp-measures-data allowedRegistrationTypes, change log 3/18/25).
_MVP_ENTITY_TYPES = frozenset({"individual", "group", "subgroup", "apm"})
QPP_PROGRAM_ENTITY_TYPES: dict[str, frozenset[str]] = {
    "mips": frozenset({"individual", "group", "virtualGroup", "apm"}),
    "app1": frozenset({"individual", "group", "apm"}),
    "appPlus": frozenset({"individual", "group", "apm"}),
    "cpcPlus": frozenset({"apm"}),
    "pcf": frozenset({"apm"}),
}

# entityId formats. CMS shows subgroup ids as "SG-" and 8 digits (its sample QRDA III files,
# CMSgov/qpp-conversion-tool sample-files/2023-2025/Mvp_Mips-Subgroup-Sample.xml). For virtual
# group and APM entity ids CMS publishes no format (they are assigned at election/participation):
# letters, digits, "-" and "_", at most 40, so a typo with a space or hostile text never goes out.
QPP_ENTITY_ID_PATTERNS = {
    "subgroup": r"^SG-[0-9]{8}$",
    "virtualGroup": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$",
    "apm": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$",
}
QPP_ENTITY_ID_SHAPES = {
    "subgroup": "SG- and 8 digits, e.g. SG-00000001",
    "virtualGroup": "up to 40 letters, digits, '-' or '_'",
    "apm": "up to 40 letters, digits, '-' or '_'",
}


def is_mvp_id(program_name: str) -> bool:
    return MVP_ID_PATTERN.fullmatch(program_name) is not None


def qpp_entity_types(year: int) -> tuple[str, ...]:
    """The entityType values the QPP Submissions API takes for `year`."""
    return tuple(kind for kind, first in QPP_ENTITY_FIRST_YEAR.items() if year >= first)


def qpp_program_names(year: int) -> tuple[str, ...]:
    """The programName values of `year` other than MVP ids (an MVP id is one from PY2023)."""
    return tuple(
        name for name, (first, last) in QPP_PROGRAM_YEARS.items() if first <= year and (last is None or year <= last)
    )


def qpp_submission_methods(year: int) -> tuple[str, ...]:
    """The submissionMethod values of `year` (any category)."""
    return tuple(m for m in QPP_SUBMISSION_METHODS if m != "cmsWebInterface" or year <= LAST_CMS_WEB_INTERFACE_YEAR)


def qpp_ia_submission_methods(year: int) -> tuple[str, ...]:
    """The submissionMethod values CMS accepts for an IA measurement set in `year`."""
    return tuple(m for m in QPP_IA_SUBMISSION_METHODS if m in qpp_submission_methods(year))


def qpp_submission_method_problem(year: int, method: str) -> str | None:
    accepted = qpp_ia_submission_methods(year)
    if method in accepted:
        return None
    if method in qpp_submission_methods(year):
        return f"submission method {method} is not accepted for improvement activities (use {' or '.join(accepted)})"
    if method in QPP_SUBMISSION_METHODS:
        return f"submission method {method} does not exist in PY{year} (use {' or '.join(accepted)})"
    return f"unknown submission method {method!r} (PY{year} IA: {', '.join(accepted)})"


def qpp_program_name_problem(year: int, program_name: str) -> str | None:
    if is_mvp_id(program_name):
        return None if year >= FIRST_MVP_YEAR else f"MVPs begin with PY{FIRST_MVP_YEAR}, not PY{year}"
    if program_name in qpp_program_names(year):
        return None
    if program_name in QPP_PROGRAM_YEARS:
        first, last = QPP_PROGRAM_YEARS[program_name]
        years = f"PY{first}-{last}" if last else f"PY{first} on"
        return f"program {program_name} exists {years}, not PY{year}"
    return f"unknown program name {program_name!r}"


QPP_ENTITY_LABELS = {
    "individual": "individual",
    "group": "group",
    "virtualGroup": "virtual group",
    "apm": "APM entity",
    "subgroup": "subgroup",
}


def qpp_entity_problem(year: int, entity_type: str, program_name: str) -> str | None:
    """Why `entity_type` cannot submit to `program_name` in `year`, or None when it can."""
    first = QPP_ENTITY_FIRST_YEAR.get(entity_type)
    if first is None:
        return f"unknown entity type {entity_type!r}"
    label = QPP_ENTITY_LABELS[entity_type]
    if year < first:
        return f"{label} submissions begin with PY{first}, not PY{year}"
    if problem := qpp_program_name_problem(year, program_name):
        return problem
    allowed = _MVP_ENTITY_TYPES if is_mvp_id(program_name) else QPP_PROGRAM_ENTITY_TYPES[program_name]
    if entity_type not in allowed:
        program = f"MVP {program_name}" if is_mvp_id(program_name) else f"program {program_name}"
        takes = ", ".join(QPP_ENTITY_LABELS[kind] for kind in QPP_ENTITY_FIRST_YEAR if kind in allowed)
        return f"{program} does not take {label} submissions (only {takes})"
    return None


def article(label: str) -> str:
    """'an APM entity', 'a subgroup'."""
    return f"{'an' if label[0] in 'aeiouAEIOU' else 'a'} {label}"


def qpp_entity_id_problem(entity_type: str, entity_id: str | None) -> str | None:
    """Why `entity_id` does not fit `entity_type`: missing, malformed, or given where none belongs."""
    label = QPP_ENTITY_LABELS[entity_type]
    if entity_type not in QPP_ENTITY_ID_TYPES:
        wrong = f"an entity id belongs to a virtual group, APM entity or subgroup, not {article(label)}"
        return None if entity_id is None else wrong
    if not entity_id:
        return f"{article(label)} submission needs its entity id"
    if re.fullmatch(QPP_ENTITY_ID_PATTERNS[entity_type], entity_id) is None:
        return f"{label} id {clipped_repr(entity_id)} is malformed: expected {QPP_ENTITY_ID_SHAPES[entity_type]}"
    return None
