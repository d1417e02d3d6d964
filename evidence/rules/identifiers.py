"""NPI, TIN, IA activity id and ISO date parsing: one place, one clear error each."""

from __future__ import annotations

import re
from datetime import date

from evidence.errors import InputError
from evidence.rules.cms import performance_year_problem

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ACTIVITY_ID = re.compile(r"^IA_[A-Z0-9]+(_[A-Z0-9]+)*$")
# The NPI check digit is a Luhn digit over "80840" + the first nine digits (CMS NPI standard).
_NPI_PREFIX = "80840"


def luhn_check_digit(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: the rightmost digit before the check digit
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    return (
        len(npi) == 10
        and npi.isascii()
        and npi.isdigit()
        and npi[0] in "12"
        and luhn_check_digit(_NPI_PREFIX + npi[:9]) == int(npi[9])
    )


def parse_npi(value: str, *, field: str = "NPI") -> str:
    npi = (value or "").strip()
    if not (len(npi) == 10 and npi.isascii() and npi.isdigit()):
        raise InputError(f"{field} {value!r} is not 10 digits")
    if npi[0] not in "12":
        raise InputError(f"{field} {value!r} must start with 1 or 2")
    if not npi_is_valid(npi):
        raise InputError(f"{field} {value!r} fails the NPI check digit (Luhn)")
    return npi


def parse_tin(value: str, *, field: str = "TIN") -> str:
    """A TIN is exactly 9 digits, kept as text so leading zeros survive."""
    tin = (value or "").strip()
    if not (len(tin) == 9 and tin.isascii() and tin.isdigit()):
        raise InputError(f"{field} {value!r} is not 9 digits (keep leading zeros, no dashes)")
    return tin


def is_activity_id(value: object) -> bool:
    """Exactly an activity id: no spaces, no lower case, no newline (a JSON Schema `$` allows one at the end)."""
    return isinstance(value, str) and _ACTIVITY_ID.fullmatch(value) is not None


def parse_activity_id(value: str, *, field: str = "activity") -> str:
    activity_id = (value or "").strip().upper()
    if not _ACTIVITY_ID.match(activity_id):
        raise InputError(f"{field} {value!r} is not an IA activity id (like IA_PM_7)")
    return activity_id


def parse_iso_date(value: str | date, *, field: str = "date") -> date:
    """Only ISO YYYY-MM-DD: 03/04/2020 means different days to different people."""
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    if not _ISO_DATE.match(text):
        raise InputError(f"{field} {value!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{field} {value!r} is not a real calendar date") from None


_WHOLE_NUMBER = re.compile(r"-?[0-9]+")  # ASCII only: int() also takes "２０２０", "١٢", "1_000", " 7 " and "+7"
_LARGEST_DIGITS = 40  # int() of a longer run of digits costs time and is beyond any bound below anyway


def parse_whole_number(value: object, *, field: str = "", low: int | None = None, high: int | None = None) -> int:
    """A whole number, strictly: a JSON/YAML integer (not a boolean, not 2028.0) or plain ASCII digits.

    JSON Schema's "integer" accepts 2028.0 and Python's bool is an int; `int()` accepts
    full-width digits, underscores and surrounding spaces. None of that is a whole number in
    a file we import. Text (a CSV cell) must be the digits alone, an optional minus first;
    callers strip a CSV cell before, as they do every cell.
    """
    shown = f"{field} {value!r}" if field else repr(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(f"{shown} is not a whole number")
    if isinstance(value, str):
        if not _WHOLE_NUMBER.fullmatch(value):
            raise InputError(f"{shown} is not a whole number")
        if len(value.lstrip("-")) > _LARGEST_DIGITS:
            raise InputError(f"{shown} is too large")
        number = int(value)
    else:
        number = value
    if low is not None and number < low:
        raise InputError(f"{shown} is negative" if low == 0 else f"{shown} is below {low}")
    if high is not None and number > high:
        raise InputError(f"{shown} is too large" if high >= 2**31 - 1 else f"{shown} is above {high}")
    return number


def parse_year(value: object, *, field: str = "year") -> int:
    """The one check of every performance year typed or read: an integer (not a boolean or a
    float) or exactly four ASCII digits, within the years MIPS can have."""
    text = value if isinstance(value, str) else str(value) if type(value) is int else ""
    if not (len(text) == 4 and text.isascii() and text.isdigit()):
        raise InputError(f"{field} {value!r} is not a four-digit performance year")
    year = int(text)
    problem = performance_year_problem(year)
    if problem is not None:
        raise InputError(problem)
    return year
