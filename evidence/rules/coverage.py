"""When evidence counts for a period: the tool's own rule, not CMS's (CMS only asks for evidence
"during the performance period"; docs/DATES.md says why the tool reads it this way).

Evidence carries an effective range: a policy in force from one day until another, or a single
day (a meeting, a report), which is a range of one day. It covers a period when the two
overlap, both ends included: a policy adopted in December 2019 and in force through 2020 covers
a 2020 period; a report dated the day after the period ends does not.
"""

from __future__ import annotations

from datetime import date

from evidence.errors import InputError


def overlaps(start: date | None, end: date | None, period_start: date | None, period_end: date | None) -> bool:
    """Whether [start, end] and [period_start, period_end] share at least one day (ends included).

    None is an open end (no bound on that side). Symmetric: swapping the two ranges gives the
    same answer.
    """
    return (start is None or period_end is None or start <= period_end) and (
        end is None or period_start is None or period_start <= end
    )


def covers(effective_from: date, effective_until: date | None, period_start: date, period_end: date) -> bool:
    """THE coverage rule: evidence counts for [period_start, period_end] when its effective range
    overlaps it (ends included). No until is a single day, which must fall inside the period."""
    return overlaps(effective_from, effective_until or effective_from, period_start, period_end)


def range_problem(effective_from: date, effective_until: date | None) -> str | None:
    """Why a range cannot be kept, or None: it cannot end before it starts."""
    if effective_until is not None and effective_until < effective_from:
        return f"the effective range ends ({effective_until}) before it starts ({effective_from})"
    return None


def normalized_range(
    effective_from: date | None, effective_until: date | None, *, what: str = "--effective-until"
) -> tuple[date, date | None]:
    """A range as it is stored: a start, and an until only when it is a later day (one day is a date)."""
    if effective_from is None:
        raise InputError(f"{what} needs a start (--effective-from)")
    problem = range_problem(effective_from, effective_until)
    if problem:
        raise InputError(problem)
    return effective_from, effective_until if effective_until != effective_from else None


def describe(effective_from: date, effective_until: date | None) -> str:
    """ "2020-10-05", or "2019-12-01 to 2020-12-31" for a range."""
    if effective_until is None or effective_until == effective_from:
        return effective_from.isoformat()
    return f"{effective_from} to {effective_until}"


def placement_problem(
    effective_from: date, effective_until: date | None, period_start: date, period_end: date, year: int
) -> str | None:
    """Why a date is suspicious for evidence of `year`'s period, or None: after the year, or
    wholly outside the attested period (registration warns, or refuses with --strict-dates)."""
    shown = describe(effective_from, effective_until)
    if effective_from > date(year, 12, 31):
        return f"effective {shown} is after performance year {year}"
    if not covers(effective_from, effective_until, period_start, period_end):
        return f"effective {shown} lies wholly outside the attested period {period_start} to {period_end}"
    return None
