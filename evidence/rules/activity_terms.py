"""What an activity's own CMS text demands beyond the 90-day floor, and CMS's suspensions.

One table per kind of fact, keyed by (performance year, activity id) once expanded:

- TERMS: a minimum longer than 90 days (IA_ERP_1: "registered for a minimum of 6 months"),
  enforced at `attest` and in the credit verdict;
- SCHEDULES: a schedule the text sets that is not a period length (monthly activities, "once
  every 4 years"), shown with the activity but not enforced: the tool cannot see whether an
  activity was done monthly, or attested in an earlier year under another TIN;
- NOT_DURATIONS: descriptions whose wording looks like a duration but sets none for the
  attested period (patient-level look-backs, training hours, periods of 90 days or fewer);
- SUSPENSIONS: activities CMS suspended from a date, with the credit rule it announced.

Every sentence is CMS's own, verbatim, from the activity's `description` in CMSgov/qpp-measures-data
`measures/<year>/measures-data.json` (the files in ../shared/reference/qpp-measures-data/).
tests/test_activity_terms.py reads those files and fails when a description with a duration
phrase is in none of the tables, so a new year's file cannot slip through unread.

Months are calendar months (docs/DATES.md): a period from Jan 15 covers 6 months when it runs
through Jul 14; where the day does not exist in the later month (Aug 31 + 6 months) the period
must run to that month's last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

SOURCE_FILES = "CMSgov/qpp-measures-data measures/{years}/measures-data.json, activity description"


@dataclass(frozen=True, slots=True)
class Term:
    """A minimum the activity's own text sets for the attested period."""

    activity_id: str
    first_year: int
    last_year: int
    minimum_months: int | None
    minimum_days: int | None
    sentence: str  # CMS's words, verbatim

    @property
    def source(self) -> str:
        return SOURCE_FILES.format(years=f"{self.first_year}-{self.last_year}")

    @property
    def words(self) -> str:
        if self.minimum_months is not None:
            return f"{self.minimum_months} months"
        return f"{self.minimum_days} days"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule the text sets that the tool shows but cannot check."""

    activity_id: str
    first_year: int
    last_year: int
    schedule: str  # in our words
    sentence: str  # CMS's words, verbatim

    @property
    def source(self) -> str:
        return SOURCE_FILES.format(years=f"{self.first_year}-{self.last_year}")


@dataclass(frozen=True, slots=True)
class Suspension:
    """CMS suspended the activity from `since`: periods started before keep credit, later ones are refused."""

    activity_id: str
    year: int
    since: date
    rule: str
    sentence: str  # CMS's words, verbatim
    source: str


_Row = TypeVar("_Row", "Term", "Schedule")

TERMS: tuple[Term, ...] = (
    Term("IA_ERP_1", 2017, 2027, 6, None,
         "MIPS eligible clinicians and MIPS eligible clinician groups must be registered for a minimum of "
         "6 months as a volunteer for disaster or emergency response."),
    Term("IA_PSPA_5", 2017, 2017, 6, None,
         "MIPS eligible clinicians and  groups must participate for a minimum of 6 months."),
    Term("IA_PSPA_5", 2018, 2019, 6, None,
         "MIPS eligible clinicians and groups must participate for a minimum of 6 months."),
)  # fmt: skip

_EVERY_4_YEARS = (
    "This activity may be selected once every 4 years, to avoid duplicative information given that some of "
    "the modules may change on a year by year basis{comma} but over 4 years there would be a reasonable "
    "expectation for the set of modules to have undergone substantive change, for the improvement "
    "activities performance category score."
)
ONCE_EVERY_4_YEARS = "may be selected once every 4 years"
MONTHLY = "monthly activities across the practice"

SCHEDULES: tuple[Schedule, ...] = (
    Schedule("IA_PSPA_2", 2017, 2018, MONTHLY,
             "Performance of monthly activities across practice to regularly assess performance in practice, "
             "by reviewing outcomes addressing identified areas for improvement and evaluating the results."),
    Schedule("IA_PSPA_2", 2019, 2027, MONTHLY,
             "Maintenance of Certification (MOC) Part IV requires clinicians to perform monthly activities "
             "across practice to regularly assess performance by reviewing outcomes addressing identified "
             "areas for improvement and evaluating the results."),
    Schedule("IA_PSPA_4", 2018, 2027, ONCE_EVERY_4_YEARS, _EVERY_4_YEARS.format(comma="")),
    Schedule("IA_PSPA_22", 2018, 2027, ONCE_EVERY_4_YEARS, _EVERY_4_YEARS.format(comma="")),
    Schedule("IA_PSPA_23", 2018, 2027, ONCE_EVERY_4_YEARS, _EVERY_4_YEARS.format(comma="")),
    Schedule("IA_PSPA_24", 2018, 2019, ONCE_EVERY_4_YEARS, _EVERY_4_YEARS.format(comma=",")),
)  # fmt: skip

# Read and judged: the duration-like words set no minimum for the attested period.
# activity id -> (first year, last year, why not).
NOT_DURATIONS: dict[str, tuple[int, int, str]] = {
    "IA_AHE_8": (2022, 2024, "'ongoing training' is what the plan may include"),
    "IA_AHE_12": (2023, 2024, "'at least one of the following' actions"),
    "IA_AHW_1": (2026, 2027, "patients offered a care plan 'annually': a patient-level action"),
    "IA_BE_5": (2017, 2027, "'ongoing regular updates' of websites: no length"),
    "IA_BE_14": (2018, 2027, "'ongoing guidance' by digital tools; 'at a minimum, endorsed' devices"),
    "IA_BMH_1": (2026, 2027, "'at least one process improvement'"),
    "IA_BMH_11": (2022, 2027, "'annual refreshers' for staff among the plan's possible actions"),
    "IA_CC_3": (2017, 2019, "'at least one additional recommended activity'"),
    "IA_CC_10": (2017, 2027, "'the first 30 days following a discharge': per patient"),
    "IA_CC_14": (2022, 2022, "'at least one of the following' actions"),
    "IA_CC_18": (2019, 2027, "'a minimum of eight hours of training': hours, not a period"),
    "IA_CC_19": (2020, 2027, "'a minimum of a continuous 90-day period': the 90-day floor itself"),
    "IA_ERP_2": (2017, 2027, "'a continuous 60 days or greater': shorter than the 90-day floor, which stands"),
    "IA_ERP_3": (2020, 2024, "'for the duration of their study', 'ongoing or future research': no length"),
    "IA_MVP": (2024, 2027, "'a minimum of three of the measures'"),
    "IA_PM_2": (2017, 2017, "patients in anticoagulation management 'for at least 90 days': per patient, 90 days"),
    "IA_PM_3": (2017, 2027, "'ongoing engagement activities', 'continuous clinical practice improvement'"),
    "IA_PM_4": (2017, 2027, "goals 'reassessed at least annually', patients treated 'at least 90 days': per patient"),
    "IA_PM_12": (2017, 2025, "'active patients' seen 'within the last 24 to 36 months': a definition"),
    "IA_PM_13": (2017, 2025, "patients offered a care plan 'annually': a patient-level action"),
    "IA_PM_19": (2018, 2027, "'at least 60 percent' of records: a share, not a period"),
    "IA_PM_20": (2018, 2027, "'at least 60 percent' of records: a share, not a period"),
    "IA_PM_22": (2024, 2027, "'at least one educational opportunity'"),
    "IA_PM_25": (2025, 2027, "'every patient care plan'"),
    "IA_PM_27": (2026, 2027, "the 'Annual Wellness Visit' by name"),
    "IA_PSPA_6": (2017, 2022, "a prescription 'longer than 3 days'"),
    "IA_PSPA_7": (2017, 2027, "'ongoing practice assessment': no length"),
    "IA_PSPA_13": (2017, 2027, "the 'Ongoing Professional Practice Evaluation' initiative by name"),
    "IA_PSPA_31": (2019, 2027, "'greater than 6 months of co-prescribing': per patient"),
}

# CMS, May 6, 2025 (QPP notice; each activity's PY2025 description in qpp-measures-data says it);
# CMS then removed the eight from the inventory in the CY2026 PFS final rule (absent from PY2026 on).
SUSPENDED_2025 = date(2025, 5, 6)
SUSPENSION_2025_RULE = "started before 2025-05-06: credit; started on or after: not creditable"
SUSPENSION_2025_SENTENCE = (
    "This activity has been suspended for the 2025 performance period as of May 6, 2025. Clinicians should "
    "select other improvement activities to complete. However, if you have already completed or were in the "
    "process of completing this activity, you’ll still be able to attest to completing it and receive credit."
)
SUSPENSION_2025_SOURCE = (
    "CMS QPP notice of May 6, 2025 (eight improvement activities suspended); the PY2025 description of each in "
    "CMSgov/qpp-measures-data measures/2025/measures-data.json"
)
SUSPENDED_IN_2025 = ("IA_AHE_5", "IA_AHE_8", "IA_AHE_9", "IA_AHE_11", "IA_AHE_12", "IA_ERP_3", "IA_PM_6", "IA_PM_26")
SUSPENSIONS: tuple[Suspension, ...] = tuple(
    Suspension(a, 2025, SUSPENDED_2025, SUSPENSION_2025_RULE, SUSPENSION_2025_SENTENCE, SUSPENSION_2025_SOURCE)
    for a in SUSPENDED_IN_2025
)


def _expand(rows: tuple[_Row, ...]) -> dict[tuple[int, str], _Row]:
    table: dict[tuple[int, str], _Row] = {}
    for row in rows:
        for year in range(row.first_year, row.last_year + 1):
            key = (year, row.activity_id)
            if key in table:
                raise ValueError(f"{row.activity_id} PY{year} is in the table twice")
            table[key] = row
    return table


TERMS_BY_YEAR = _expand(TERMS)
SCHEDULES_BY_YEAR = _expand(SCHEDULES)
SUSPENSIONS_BY_YEAR = {(s.year, s.activity_id): s for s in SUSPENSIONS}


def term(year: int, activity_id: str) -> Term | None:
    """The activity's own minimum in `year`, or None where the 90-day floor is all there is."""
    return TERMS_BY_YEAR.get((year, activity_id))


def schedule(year: int, activity_id: str) -> Schedule | None:
    return SCHEDULES_BY_YEAR.get((year, activity_id))


def suspension(year: int, activity_id: str) -> Suspension | None:
    return SUSPENSIONS_BY_YEAR.get((year, activity_id))


# --- Calendar months ------------------------------------------------------------------------------


def months_later(start: date, months: int) -> date:
    """The same day `months` calendar months later; a day the month lacks rolls to the next month's 1st.

    Jan 15 + 6 -> Jul 15; Aug 31 + 6 -> Mar 1 (no Feb 31); Jan 31 + 1 -> Mar 1.
    """
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    try:
        return date(year, month + 1, start.day)
    except ValueError:  # Feb 30, Apr 31, ...: the month is over
        return date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)


def earliest_end(start: date, found: Term) -> date:
    """The first end date (inclusive) at which a period from `start` meets the term."""
    if found.minimum_months is not None:
        return months_later(start, found.minimum_months) - timedelta(days=1)
    assert found.minimum_days is not None
    return start + timedelta(days=found.minimum_days - 1)


def latest_term_start(year_end: date, found: Term) -> date:
    """The last start whose earliest end is still on or before `year_end` (6 months in a year: Jul 1)."""
    if found.minimum_days is not None:
        return year_end - timedelta(days=found.minimum_days - 1)
    assert found.minimum_months is not None
    # earliest_end is non-decreasing in start: step back from the start that ends exactly then.
    candidate = months_later(year_end + timedelta(days=1), -found.minimum_months)
    while earliest_end(candidate, found) > year_end:
        candidate -= timedelta(days=1)
    while earliest_end(candidate + timedelta(days=1), found) <= year_end:
        candidate += timedelta(days=1)
    return candidate
