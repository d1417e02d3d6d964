"""Words shown to people: counts with the right plural, and URLs without their passwords."""

from __future__ import annotations

from fractions import Fraction
from urllib.parse import urlsplit


def percent(part: int, whole: int) -> str:
    """75%, 75.1%, 66.67%: for reading only; the threshold tests compare exact fractions."""
    value = Fraction(part, whole) * 100
    return f"{float(value):.2f}".rstrip("0").rstrip(".") + "%"


def plural_of(word: str) -> str:
    """file -> files, activity -> activities (a consonant before the y), day -> days."""
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 file`, `2 files`, `0 activities`: the count and the noun that agrees with it.

    `many` names an irregular plural (plural(2, "analysis", "analyses")).
    """
    return f"{count} {word if count == 1 else many or plural_of(word)}"


def redact_url(url: str) -> str:
    """A URL as it may be shown in a message: a password it carries becomes ***.

    Works for database URLs (postgresql+psycopg://user:pw@host/db) and store URLs alike.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(unparseable URL)"
    if password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}").geturl()
