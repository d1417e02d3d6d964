"""Words shown to people: counts with the right plural, URLs without their passwords, text fitted to a width."""

from __future__ import annotations

import unicodedata
from fractions import Fraction
from urllib.parse import urlsplit


def percent(part: int, whole: int) -> str:
    """75%, 75.1%, 66.67%: for reading only; the threshold tests compare exact fractions."""
    value = Fraction(part, whole) * 100
    return f"{float(value):.2f}".rstrip("0").rstrip(".") + "%"


def clipped_repr(value: str, limit: int = 40) -> str:
    """`value`'s repr, cut to its first `limit` characters with its length when longer.

    An error line names the bad value; a pasted 10 KB blob would bury the problem.
    """
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


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


def char_width(ch: str) -> int:
    """Columns a character takes in a terminal: 2 for wide East Asian characters, 0 for combining marks."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def wrap_to_width(text: str, width: int) -> list[str]:
    """`text` as lines of at most `width` columns, broken at spaces; a longer word is split, never cut off.

    Joining the lines (with a space where a space was broken) gives the text back: nothing is lost.
    """
    width = max(width, 1)
    measure = len if text.isascii() else display_width  # the same count for ASCII, without a call per word
    if measure(text) <= width:
        return [text]
    lines: list[str] = []
    line, used = "", 0
    for word in text.split(" "):
        size = measure(word)
        if line and used + 1 + size <= width:
            line, used = f"{line} {word}", used + 1 + size
            continue
        if line:
            lines.append(line)
        line, used = "", 0
        if not word:
            continue  # a doubled space where the line breaks: no empty line
        while size > width:  # a word wider than the column: split it by characters
            head, taken = _take(word, width)
            lines.append(head)
            word, size = word[len(head) :], size - taken
        line, used = word, size
    if line or not lines:
        lines.append(line)
    return lines


def _take(word: str, width: int) -> tuple[str, int]:
    """The longest start of `word` that fits `width` columns (at least one character), and its width."""
    used = 0
    for index, ch in enumerate(word):
        size = char_width(ch)
        if used + size > width and index > 0:
            return word[:index], used
        used += size
    return word, used
