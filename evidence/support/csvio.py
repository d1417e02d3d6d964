"""The one CSV reader for the files we import (the attestation CSV and evidence manifests).

UTF-8 with or without the byte-order mark Excel writes; a header row (names lower-cased and
stripped); strict quoting, so an unclosed quote is an error instead of swallowing the rows
after it; every problem names the file and the line. Rows with nothing but empty cells are
skipped. Cells are returned as written (callers strip them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evidence.errors import InputError


@dataclass(frozen=True)
class CsvRow:
    line: int  # 1-based, the header being line 1 (a quoted cell over several lines: the row's last)
    cells: dict[str, str]  # every header column; "" where the row has fewer cells


def read_csv(
    path: Path,
    *,
    header_problem: Callable[[Sequence[str]], str | None],
    empty: str | None = None,
    require_rows: bool = True,
) -> list[CsvRow]:
    """Rows of `path`; raise InputError naming the file and line of the first problem.

    `header_problem(header)` returns what is wrong with the (lower-cased) header, or None;
    `empty` is the message for a file without even a header row (else header_problem([]) is).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return read_csv_bytes(raw, path, header_problem=header_problem, empty=empty, require_rows=require_rows)


def read_csv_bytes(
    raw: bytes,
    source: object,
    *,
    header_problem: Callable[[Sequence[str]], str | None],
    empty: str | None = None,
    require_rows: bool = True,
) -> list[CsvRow]:
    """The rows of CSV bytes already in hand (a web upload); problems are named by `source`."""
    path = source  # what every message starts with: the file's path, or the uploaded file's name
    try:
        text = raw.decode("utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)  # an unclosed quote would swallow rows
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.reader.line_num}: {exc}") from None
    if not header and empty is not None:
        raise InputError(f"{path}: {empty}")
    problem = header_problem(header)
    if problem:
        raise InputError(f"{path}: line 1: {problem}")
    reader.fieldnames = header
    rows: list[CsvRow] = []
    try:
        for cells in reader:
            line = reader.line_num
            if None in cells:
                raise InputError(f"{path}: line {line}: more cells than header columns")
            values = {column: value or "" for column, value in cells.items()}
            if any("\x00" in value for value in values.values()):  # no database can store it (PostgreSQL)
                raise InputError(f"{path}: line {line}: a cell contains a NUL character")
            if any(value.strip() for value in values.values()):
                rows.append(CsvRow(line, values))
    except csv.Error as exc:  # the line the csv module stopped at (DictReader's own lags behind)
        raise InputError(f"{path}: line {reader.reader.line_num}: {exc}") from None
    if require_rows and not rows:
        raise InputError(f"{path}: no data rows")
    return rows
