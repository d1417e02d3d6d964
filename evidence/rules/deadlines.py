"""CMS's MIPS data submission windows: the last day each performance year's data can be sent.

One row per performance year, with every extension CMS granted, the time of day and zone CMS
states, and where the date comes from (docs/RULES-SOURCES.md has one row per year). The
regular window runs from early January to March 31 after the performance year; CMS moved the
end several times (COVID-19, the Change Healthcare cyberattack, the IV fluid shortage).

A row CMS has not confirmed in any notice we could find is `verified=False`, says why in
`note`, and every front end shows it as unverified: nobody should trust a guessed deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from evidence.errors import InputError

# CMS states its deadlines as "8 p.m. ET" (Eastern: EST or EDT on the day).
CMS_TIME_ZONE = "America/New_York"
CMS_CLOSING_TIME = time(20, 0)


@dataclass(frozen=True, slots=True)
class SubmissionWindow:
    """When the data of performance year `year` can be submitted to CMS."""

    year: int
    closes: date  # the last day, after every extension
    closes_at: time | None  # the time CMS states (Eastern); None where the source gives none
    regular_close: date  # the end before any extension
    extension: str | None  # why CMS moved the end, in our words
    verified: bool  # a source found states `closes`
    source: str  # title and address of the source
    note: str | None = None

    @property
    def extended(self) -> bool:
        return self.closes != self.regular_close

    @property
    def closing_time(self) -> str:
        """The day and time as CMS states it: "2024-04-15 8 p.m. ET" (or the day alone)."""
        if self.closes_at is None:
            return f"{self.closes} (time not stated)"
        hour = self.closes_at.hour % 12 or 12
        half = "a.m." if self.closes_at.hour < 12 else "p.m."
        return f"{self.closes} {hour} {half} ET"

    def is_open_on(self, day: date) -> bool:
        """True through the closing day: a deadline at 8 p.m. is still ahead that morning."""
        return day <= self.closes


def _w(
    year: int,
    closes: date,
    source: str,
    *,
    regular: date | None = None,
    extension: str | None = None,
    at: time | None = CMS_CLOSING_TIME,
    verified: bool = True,
    note: str | None = None,
) -> SubmissionWindow:
    return SubmissionWindow(year, closes, at, regular or closes, extension, verified, source, note)


SUBMISSION_WINDOWS: dict[int, SubmissionWindow] = {
    w.year: w
    for w in (
        _w(
            2017,
            date(2018, 4, 3),
            'Geneia, "MIPS & MACRA March Madness" (March 22, 2018): "The March 31 now April 3rd deadline", '
            "https://www.geneia.com/blog/2018/march/mips-and-macra-march-madness",
            regular=date(2018, 3, 31),
            extension="CMS moved the March 31, 2018 end to April 3, 2018",
            at=None,
            note="the time of day is not stated in the source found",
        ),
        _w(
            2018,
            date(2019, 4, 2),
            'Qsource (QIN-QIO), "Four tips for 2019 QPP data submission": "must report their data by April 2, '
            '2019", https://www.qsource.org/four-tips-for-2019-qpp-data-submission/',
            regular=date(2019, 3, 31),
            extension="CMS moved the March 31, 2019 end (a Sunday) to April 2, 2019",
            at=None,
            note="the time of day is not stated in the source found",
        ),
        _w(
            2019,
            date(2020, 4, 30),
            'The Rheumatologist, "2019 MIPS Deadline Extension & Policy Update" (CMS announcement of March 22, '
            '2020: "extended to 8 p.m. EDT on April 30, 2020"), '
            "https://the-rheumatologist.org/article/2019-mips-deadline-extension-policy-update",
            regular=date(2020, 3, 31),
            extension="COVID-19 public health emergency (announced March 22, 2020)",
        ),
        _w(
            2020,
            date(2021, 3, 31),
            'CMS QPP listserv, "REMINDER: The MIPS 2020 Data Submission Period Closes Tomorrow": "ends at 8 p.m. '
            'EDT tomorrow, March 31, 2021", https://content.govdelivery.com/accounts/USCMS/bulletins/2ca42eb',
        ),
        _w(
            2021,
            date(2022, 3, 31),
            'CMS QPP listserv as reposted by ACRO, "Reminder: MIPS 2021 Data Submission Period Closes 3/31" (March '
            '24, 2022): "until 8:00 p.m. ET on March 31, 2022", '
            "https://acro.org/news/600077/Reminder-MIPS-2021-Data-Submission-Period-Closes-331-Other-MIPS-Update.htm",
        ),
        _w(
            2022,
            date(2023, 3, 31),
            'CMS QPP listserv as reposted by Health IT Answers, "Reminder: 2022 MIPS Data Submission Period is '
            'Open": "until 8:00 p.m. ET on March 31, 2023", https://www.healthitanswers.net/mips-reminders-and-deadlines/',
        ),
        _w(
            2023,
            date(2024, 4, 15),
            'CMS QPP listserv as reposted by Intellicure, "CMS Announces Reopening of 2023 MIPS EUC Application in '
            'Response to Change Healthcare Cyberattack": "until 8 p.m. ET on April 15, 2024" (announced March 11, '
            '2024), https://www.intellicure.com/?p=10054; AAFP FPM, "CMS offers MIPS reporting relief to physicians '
            'impacted by cyberattack" (March 15, 2024), https://www.aafp.org/fpm/blogs/getting-paid/mips-data-cyberattack',
            regular=date(2024, 3, 31),
            extension="Change Healthcare cyberattack (announced March 11, 2024)",
        ),
        _w(
            2024,
            date(2025, 4, 14),
            'CMS QPP listserv, "Final Reminder: 2024 MIPS EUC Application Reopened; Closing Today": "CMS also '
            'extended the MIPS data submission deadline until today, April 14, 2025, at 8 p.m. ET" (copy at '
            'https://niepodam.pl/viewer.php?id=101542871); MSSNY, "CMS Reopens MIPS Hardship Applications Following '
            'AMA Advocacy on IV Fluid Shortage" (March 28, 2025), https://www.mssny.org/pulse-3-28-2025-cms-reopens-'
            "mips-hardship-applications-following-ama-advocacy-on-iv-fluid-shortage",
            regular=date(2025, 3, 31),
            extension="national IV fluid shortage after Hurricane Helene (announced March 24, 2025); the opt-in and "
            "Partial QP election deadline stayed March 31, 2025",
        ),
        _w(
            2025,
            date(2026, 3, 31),
            "CMS, Quality Payment Program deadlines, https://qpp.cms.gov/about/deadlines (PY 2025); not confirmed "
            "with the search tool",
            verified=False,
            note="no CMS notice of the PY2025 window's end was found; March 31, 2026 is the regular end "
            "(window January 2 - March 31, 2026) and no extension was found",
        ),
        _w(
            2026,
            date(2027, 3, 31),
            "CMS, Quality Payment Program deadlines, https://qpp.cms.gov/about/deadlines (PY 2026); a third-party "
            "guide (https://www.thesorso.com/guides/mips-reporting-guide-2027) gives March 31, 2027",
            verified=False,
            note="CMS has not announced the PY2026 window in any source found; March 31, 2027 is the regular end",
        ),
    )
}


def submission_window(year: int) -> SubmissionWindow:
    """The window of `year`, or InputError naming the years CMS has published."""
    found = SUBMISSION_WINDOWS.get(year)
    if found is None:
        first, last = min(SUBMISSION_WINDOWS), max(SUBMISSION_WINDOWS)
        raise InputError(f"no MIPS submission window is known for PY{year} (the tool knows PY{first}-PY{last})")
    return found


def open_windows(as_of: date) -> list[SubmissionWindow]:
    """The windows whose end is `as_of` or later, soonest first."""
    return sorted((w for w in SUBMISSION_WINDOWS.values() if w.is_open_on(as_of)), key=lambda w: w.closes)


def last_closed_window(as_of: date) -> SubmissionWindow | None:
    """The most recent window that closed before `as_of` (shown once, marked closed)."""
    closed = [w for w in SUBMISSION_WINDOWS.values() if not w.is_open_on(as_of)]
    return max(closed, key=lambda w: w.closes, default=None)
