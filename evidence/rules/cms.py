"""IA rules that depend on the performance year (../shared/RULES.md).

Each rule is one function keyed by performance year, so a change in CMS policy is a change
in one place, with one table-driven test row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction

import evidence.rules.activity_terms as activity_terms  # full path: see tests/test_layers.py
from evidence.support.text import plural

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


class Program(StrEnum):
    """How a reporting entity reports a year: traditional MIPS, an MVP, or the APM Performance Pathway."""

    MIPS = "mips"
    MVP = "mvp"
    APP = "app"


# CMS's inventory lists allowedPrograms per activity from its PY2023 file (qpp-measures-data
# measures/2023/measures-data.json; ../shared/RULES.md says 2024) and allowedRegistrationTypes from
# PY2025 (measures-schema.yaml: "Programs to which the measure can be submitted", "Entity types which
# the measure is eligible for registration"). Before that, every activity was open to every program.
FIRST_ALLOWED_PROGRAMS_YEAR = 2023
FIRST_MVP_YEAR = 2023  # MVPs began with PY2023 (CY2022 PFS final rule)
FIRST_APP_YEAR = 2021  # the APP began with PY2021 (CY2021 PFS final rule)
FIRST_APP_PLUS_YEAR = 2025  # APP Plus, CMS program name appPlus (CY2025 PFS final rule)


def cms_program_names(year: int, program: str) -> tuple[str, ...]:
    """The allowedPrograms names a reporter of `program` answers to: app -> app1 (and appPlus from PY2025)."""
    if program == Program.MIPS:
        return ("mips",)
    if program == Program.APP:
        return ("app1", "appPlus") if year >= FIRST_APP_PLUS_YEAR else ("app1",)
    raise ValueError(f"program {program!r} has no fixed CMS name (an MVP is named by its id)")


def program_problem(
    year: int, activity_id: str, allowed_programs: Iterable[str] | None, program: str, mvp_id: str | None
) -> str | None:
    """Why a reporter of `program` (mips | mvp | app, with `mvp_id` for an MVP) cannot claim the activity.

    `allowed_programs` is CMS's allowedPrograms for the activity-year; None (a year CMS lists none
    for) allows every program. IA_MVP (PY2024 on) is for MVP reporters only.
    """
    if program not in set(Program):
        return f"program {program!r} is not one of {', '.join(Program)}"
    if program == Program.APP and year < FIRST_APP_YEAR:
        return f"the APP exists from PY{FIRST_APP_YEAR}; PY{year} has no APP reporting"
    if program == Program.MVP:
        if year < FIRST_MVP_YEAR:
            return f"MVPs exist from PY{FIRST_MVP_YEAR}; PY{year} has no MVP reporting"
        if not mvp_id:
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
# Group rural, HPSA, non-patient facing and hospital-based need MORE than this share of NPIs.
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


def group_share_met(year: int, count: int, clinicians: int) -> bool:
    """More than 75% of the TIN's NPIs (exact: 3 of 4 is not more than 75%)."""
    return clinicians > 0 and Fraction(count, clinicians) > GROUP_STATUS_SHARE


def group_all_met(year: int, count: int, clinicians: int) -> bool:
    """Every clinician billing under the TIN (group ASC-based)."""
    return clinicians > 0 and count == clinicians


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
    """MIPS APM (APM scoring standard) and APP: full credit; any other APM: half; none: nothing."""
    full = full_credit_points(year)
    credits = {"mips": full, "app": full, "other": full // 2, "none": 0}
    if apm_kind not in credits:
        raise ValueError(f"unknown APM participation {apm_kind!r}")
    return credits[apm_kind]


def capped_points(year: int, raw_points: int) -> int:
    return min(raw_points, full_credit_points(year))


def category_score(year: int, raw_points: int) -> Fraction:
    """min(points, 40) / 40, exact."""
    return Fraction(capped_points(year, raw_points), full_credit_points(year))


def final_score_weight(year: int, apm_kind: str) -> int:
    """IA is 15 of the 100 final-score points, 20 for APP reporters."""
    return IA_FINAL_SCORE_WEIGHT_APP if apm_kind == "app" else IA_FINAL_SCORE_WEIGHT


def final_score_points(year: int, raw_points: int, apm_kind: str) -> Fraction:
    return category_score(year, raw_points) * final_score_weight(year, apm_kind)


# --- Retention ---------------------------------------------------------------------------------

MINIMUM_RETENTION_YEARS = 6


def minimum_retention_years() -> int:
    """CMS may audit documentation for 6 years after the end of the performance period."""
    return MINIMUM_RETENTION_YEARS


def retain_until(year: int, retention_years: int) -> date:
    """Last day records of `year` must be kept: PY2020 with 6 years -> 2026-12-31."""
    return date(year + retention_years, 12, 31)


def purgeable_on(year: int, retention_years: int, as_of: date) -> bool:
    """True from the day after retain_until (PY2020: from 2027-01-01)."""
    return as_of > retain_until(year, retention_years)
