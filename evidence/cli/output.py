"""One output layer for every listing: --format table|json|csv, and one JSON emitter for documents."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

from evidence.support.inert import neutralise
from evidence.support.serialize import csv_text, json_rows, json_text, plain, select_columns
from evidence.support.text import display_width, wrap_to_width

FORMATS = ("table", "json", "csv")
F = TypeVar("F", bound=Callable[..., Any])


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


def emit_json(document: Any) -> None:
    """Every JSON document the commands print (listings, score, status, missing): one style."""
    click.echo(json_text(document))


def printable(text: str) -> str:
    """User text as one inert line: control, line-breaking and bidi characters shown escaped (\\n, \\x1b)."""
    return neutralise(text)


def emit(
    rows: Sequence[dict[str, Any]],
    fmt: str,
    *,
    columns: Sequence[str] | None = None,
    max_width: int = 70,
    width: int | None = None,
    alert: Callable[[dict[str, Any]], bool] | None = None,
) -> None:
    """A listing: JSON and CSV keep every value as it is; a table is fitted to `width` (the terminal's).
    Rows `alert` picks (an overdue audit or deadline) are red in a table on a terminal, and only there."""
    columns = select_columns(rows, columns)
    if fmt == "json":
        emit_json(json_rows(rows, columns))
    elif fmt == "csv":
        sys.stdout.write(csv_text(rows, columns))
    else:
        red = alert if alert is not None and use_colour() else None
        click.echo(render_table(rows, columns, max_width=max_width, width=width, alert=red))


def use_colour() -> bool:
    """Colour only for a person at a terminal: never in a pipe or a file, nor with $NO_COLOR set (no-color.org)."""
    try:
        return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    except (AttributeError, ValueError):  # a replaced or closed stdout
        return False


# Not "(none)": that reads like the weight `none` (IA_PCMH) in `catalog list --weight none`.
EMPTY_TABLE = "(no rows)"
DEFAULT_WIDTH = 80  # piped output, or a terminal that does not say
GAP = "  "
_NARROWEST = 6  # a column is squeezed to no less than this (or its header's longest word)
_NARROWEST_TEXT = 20  # a report line's text is wrapped to no fewer columns than this
_WORD = 25  # words up to this long (a timestamp, most file names) are split only when nothing else fits


def terminal_width() -> int:
    """$COLUMNS, else the terminal's own width, else 80 (output piped to a file or a program)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isascii() and columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        pass
    return DEFAULT_WIDTH


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return printable(" ".join(str(plain(value)).split()))  # escaped first, so the width is what is shown


def _column_widths(natural: list[int], floors: list[int], available: int) -> list[int]:
    """Squeeze the widest columns first until the row fits, none below its floor."""
    widths = list(natural)
    excess = sum(widths) - available
    while excess > 0:
        candidates = [i for i, w in enumerate(widths) if w > floors[i]]
        if not candidates:
            break  # even the floors do not fit: let the line run long rather than lose text
        widest = max(candidates, key=lambda i: (widths[i], i))
        second = max((widths[i] for i in candidates if i != widest), default=floors[widest])
        step = max(1, min(excess, widths[widest] - max(second, floors[widest])))
        widths[widest] -= step
        excess -= step
    return widths


def render_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    max_width: int = 70,
    width: int | None = None,
    alert: Callable[[dict[str, Any]], bool] | None = None,
) -> str:
    """Rows as aligned columns no wider than `width` (default: the terminal's): long cells wrap
    inside their column, never cut off; no column is wider than `max_width`. The rows `alert` picks
    are coloured after fitting (the escape codes take no width; the cells were escaped before)."""
    if not rows:
        return EMPTY_TABLE
    width = terminal_width() if width is None else width
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    headers = [printable(c).replace("_", " ") for c in columns]  # so a long field name wraps like words
    natural = [
        min(max(display_width(h), *(display_width(r[i]) for r in cells)), max(max_width, display_width(h)))
        for i, h in enumerate(headers)
    ]
    floors = [min(n, max(_NARROWEST, *map(display_width, h.split()))) for n, h in zip(natural, headers, strict=True)]
    # First wrap at spaces only (a column keeps its longest word, up to _WORD), then split words if still needed.
    words = [
        min(n, max(f, min(_WORD, max((display_width(w) for r in cells for w in r[i].split()), default=0))))
        for i, (n, f) in enumerate(zip(natural, floors, strict=True))
    ]
    available = width - len(GAP) * (len(columns) - 1)
    widths = _column_widths(_column_widths(natural, words, available), floors, available)
    lines = _row_lines(headers, widths)
    lines.append(GAP.join("-" * w for w in widths))
    for row, cell_row in zip(rows, cells, strict=True):
        row_lines = _row_lines(cell_row, widths)
        # styled after wrapping and escaping: the escape codes are ours, never the row's text
        lines += [click.style(line, fg="red") for line in row_lines] if alert and alert(row) else row_lines
    return "\n".join(lines)


def _row_lines(values: Sequence[str], widths: Sequence[int]) -> list[str]:
    """One row as lines: each cell wrapped to its column, padded by display width."""
    wrapped = [wrap_to_width(v, w) for v, w in zip(values, widths, strict=True)]
    height = max(len(parts) for parts in wrapped)
    lines = []
    for index in range(height):
        parts = [p[index] if index < len(p) else "" for p in wrapped]
        padded = (part + " " * (w - display_width(part)) for part, w in zip(parts, widths, strict=True))
        lines.append(GAP.join(padded).rstrip())
    return lines


def fit_lines(lines: Iterable[str], width: int | None = None, *, indent: int = 4) -> list[str]:
    """Report lines (already made printable) wrapped to `width`, each continuation indented a little
    more than its line: the text reports like `missing` and `score` print, fitted like a table."""
    width = terminal_width() if width is None else width
    fitted: list[str] = []
    for line in lines:
        if len(line) * 2 <= width or display_width(line) <= width:  # the common case, cheaply
            fitted.append(line)
            continue
        lead = " " * (len(line) - len(line.lstrip(" ")) + indent)
        # On an absurdly narrow terminal keep words readable: lines then run past it instead.
        first, *rest = wrap_to_width(line.lstrip(" "), max(width - len(lead), _NARROWEST_TEXT))
        fitted.append(line[: len(line) - len(line.lstrip(" "))] + first.rstrip(" "))
        fitted += [lead + part.rstrip(" ") for part in rest]
    return fitted
