"""User text made inert for people to read: nothing in a name or description can move the cursor,
clear a screen, break a line or reorder what follows it (bidi overrides: "exe.jpg" shown as "gpj.exe").

One rule for the terminal (escapes like \\x1b, \\u202e) and the PDF packet (visible markers like [U+202E]).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

# Not "printable" to Python (format characters, spaces other than ASCII's) yet inert and needed by some
# scripts: joiners inside emoji and Persian words, and the spaces of CJK and French typography.
_KEPT = frozenset("\u200c\u200d")


def is_inert(ch: str) -> bool:
    """False for controls (C0, C1, DEL), line and paragraph separators, bidi embeddings, overrides,
    isolates and marks (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C), other format characters
    (category Cf: U+FEFF, U+2060...), surrogates and unassigned or private-use code points."""
    return ch.isprintable() or ch in _KEPT or unicodedata.category(ch) == "Zs"


def terminal_escape(ch: str) -> str:
    return ch.encode("unicode_escape", "backslashreplace").decode("ascii")


def marker(ch: str) -> str:
    return f"[U+{ord(ch):04X}]"


def neutralise(text: str, escape: Callable[[str], str] = terminal_escape) -> str:
    """`text` with every character that is not inert replaced by `escape(ch)`."""
    if text.isprintable():
        return text
    return "".join(ch if is_inert(ch) else escape(ch) for ch in text)
