"""One output layer for every listing: --format table|json|csv, and one JSON emitter for documents."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from enum import Enum
from fractions import Fraction
from typing import Any, TypeVar

import click

from evidence.support.inert import neutralise

FORMATS = ("table", "json", "csv")
JSON_INDENT = 2
F = TypeVar("F", bound=Callable[..., Any])

# Spreadsheet programs run cells starting with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def format_option(func: F) -> F:
    """`--format table|json|csv` on every listing and report."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="table for people; json or csv for other tools.",
    )(func)


def document_format_option(func: F) -> F:
    """`--format text|json` for a single record's details (no rows to put in a CSV)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(("text", "json")),
        default="text",
        show_default=True,
        help="text for people; json for other tools.",
    )(func)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _json_default(value: Any) -> Any:
    """What json cannot write itself: dates as ISO text, exact fractions as numbers, enums as values."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    return str(value)


def emit_json(document: Any) -> None:
    """Every JSON document the commands print (listings, score, status, missing): one style."""
    click.echo(json.dumps(document, indent=JSON_INDENT, ensure_ascii=False, default=_json_default))


def printable(text: str) -> str:
    """User text as one inert line: control, line-breaking and bidi characters shown escaped (\\n, \\x1b)."""
    return neutralise(text)


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def emit(
    rows: Sequence[dict[str, Any]], fmt: str, *, columns: Sequence[str] | None = None, max_width: int = 70
) -> None:
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        emit_json([{k: r.get(k) for k in columns} for r in rows])
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
