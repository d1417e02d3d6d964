"""One output layer for every listing: --format table|json|csv."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import click

FORMATS = ("table", "json", "csv")
F = TypeVar("F", bound=Callable[..., Any])

# Spreadsheet programs run cells starting with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="table for people; json or csv for other tools.",
    )(func)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def printable(text: str) -> str:
    """User text as one inert line: control, line-breaking and bidi characters shown escaped (\\n, \\x1b)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def emit(
    rows: Sequence[dict[str, Any]], fmt: str, *, columns: Sequence[str] | None = None, max_width: int = 70
) -> None:
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        click.echo(json.dumps([{k: _plain(r.get(k)) for k in columns} for r in rows], indent=2, ensure_ascii=False))
    elif fmt == "csv":
        # RFC 4180 line ends: with "\n" alone the csv module leaves a lone "\r" unquoted, which a
        # spreadsheet reads as a new row, so "x\r=HYPERLINK(...)" would start a cell with a formula.
        writer = csv.writer(sys.stdout, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_safe(_plain(row.get(k))) for k in columns])
    else:
        click.echo(render_table(rows, columns, max_width=max_width))


def _cell(value: Any, max_width: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = printable(" ".join(str(_plain(value)).split()))
    return text if len(text) <= max_width else text[: max_width - 1] + "…"


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, max_width: int = 70) -> str:
    if not rows:
        return "(none)"
    cells = [[_cell(row.get(c), max_width) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
