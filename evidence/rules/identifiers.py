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


def parse_year(value: int | str, *, field: str = "year") -> int:
    """The one check of every performance year typed or read: four digits, 2017 to 2100."""
    text = str(value).strip()
    if not (len(text) == 4 and text.isascii() and text.isdigit()):
        raise InputError(f"{field} {value!r} is not a four-digit performance year")
    year = int(text)
    problem = performance_year_problem(year)
    if problem is not None:
        raise InputError(problem)
    return year
