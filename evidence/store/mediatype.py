"""Media type from the content, not the file name.

Binary formats are recognised by their signature (the `filetype` library, pure Python).
Text has no signature; UTF-8 text is told apart as CSV (consistent delimiters) or plain.
"""

from __future__ import annotations

import csv

import filetype

OCTET_STREAM = "application/octet-stream"


def sniff_media_type(head: bytes) -> str:
    if not head:
        return "application/x-empty"
    kind = filetype.guess(head)
    if kind is not None:
        mime: str = kind.mime  # filetype has no type hints
        return mime
    if head.startswith(b"%PDF"):
        return "application/pdf"
    text = _as_text(head)
    if text is None:
        return OCTET_STREAM
    if _looks_like_csv(text):
        return "text/csv"
    return "text/plain"


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The 8 KiB sample may cut a multi-byte character in two at its very end.
        if exc.start >= len(head) - 3:
            return head[: exc.start].decode("utf-8", errors="strict")
        return None


def _looks_like_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        return False
    counts = {line.count(dialect.delimiter) for line in lines[:-1]}
    return len(counts) == 1 and counts.pop() >= 1
