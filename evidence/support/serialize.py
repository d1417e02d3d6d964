"""The one way listings and reports become JSON and CSV text, for every front end.

The CLI prints this text and the web app sends it, so a download is byte for byte what
`--format json|csv` prints for the same arguments.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from fractions import Fraction
from typing import Any

JSON_INDENT = 2

# Spreadsheet programs run cells starting with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _json_default(value: Any) -> Any:
    """What json cannot write itself: dates as ISO text, exact fractions as numbers, enums as values."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    return str(value)


def json_text(document: Any) -> str:
    """A JSON document in the project's one style (no trailing newline)."""
    return json.dumps(document, indent=JSON_INDENT, ensure_ascii=False, default=_json_default)


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A header row and one row per item; formulas defused.

    RFC 4180 line ends: with "\\n" alone the csv module leaves a lone "\\r" unquoted, which a
    spreadsheet reads as a new row, so "x\\r=HYPERLINK(...)" would start a cell with a formula.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_safe(plain(row.get(k))) for k in columns])
    return out.getvalue()


def select_columns(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None) -> list[str]:
    return list(columns or (rows[0].keys() if rows else []))


def json_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    return [{k: r.get(k) for k in columns} for r in rows]
