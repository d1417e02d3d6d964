"""Words shown to people: counts with the right plural, URLs without their passwords, text fitted to a width."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
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
    if text.isascii():
        return _wrap_ascii(text, width) if len(text) > width else [text]
    return wrap_words(text, width, display_width)


def wrap_words(text: str, width: int, measure: Callable[[str], int]) -> list[str]:
    """The wrapping, word by word, each measured by `measure` (display columns); the definition
    that `_wrap_ascii` must give the same lines as for ASCII text (tests/test_terminal_width.py)."""
    width = max(width, 1)
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


def _wrap_ascii(text: str, width: int) -> list[str]:
    """wrap_words for ASCII text (one column a character), a line at a time instead of a word at a time:
    the `missing` table of a large practice wraps 50,000 lines, and this takes a third of the time.

    A line of words joined by their single spaces is a slice of the text that ends at a space (or the
    end), so each line is the longest such slice that fits, found with rfind."""
    lines: list[str] = []
    size = len(text)
    start = 0
    while True:
        while start < size and text[start] == " ":  # spaces where a line broke start no line
            start += 1
        if start >= size:
            break
        word_end = text.find(" ", start)
        if word_end < 0:
            word_end = size
        while word_end - start > width:  # a word wider than the column: split it by characters
            lines.append(text[start : start + width])
            start += width
        limit = start + width
        if limit >= size:
            lines.append(text[start:])
            break
        end = text.rfind(" ", word_end, limit + 1)  # at least word_end, which is a space here
        lines.append(text[start:end])
        start = end + 1
    return lines or [""]


def _take(word: str, width: int) -> tuple[str, int]:
    """The longest start of `word` that fits `width` columns (at least one character), and its width."""
    used = 0
    for index, ch in enumerate(word):
        size = char_width(ch)
        if used + size > width and index > 0:
            return word[:index], used
        used += size
    return word, used
