"""Bulk load of practices, clinicians, attestations and participation from one CSV file.

Columns (header row required; column order free; unknown columns refused):

    record                      practice | clinician | attestation | participation
    tin                         9 digits, leading zeros kept (all records)
    npi                         10 digits, Luhn-valid (clinician, participation; attestation: individual)
    name                        practice or clinician name
    year                        performance year (clinician, attestation, participation)
    activity                    IA id, e.g. IA_PM_7 (attestation, participation)
    start, end                  ISO dates YYYY-MM-DD (attestation, participation)
    pcmh                        yes/no (practice)
    apm                         none | mips | other | app (practice)
    rural, hpsa                 yes/no (clinician)
    patient_facing_encounters   whole number (clinician)
    hospital_pos_pct            0-100 (clinician)
    asc_pos_pct                 0-100 (clinician)

Every row is checked and applied inside one transaction; if any row is bad, every bad row is
reported by line number and column and nothing is written. Rows identical to what is
already stored are counted as unchanged, so the same file can be loaded twice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from evidence.errors import EvidenceError, InputError
from evidence.records.practices import Lookup, StatusInputs, add_clinician, add_practice, attest, participate
from evidence.retention import audit
from evidence.rules.identifiers import parse_iso_date, parse_whole_number, parse_year
from evidence.support.csvio import read_csv, read_csv_bytes

COLUMNS = (
    "record",
    "tin",
    "npi",
    "name",
    "year",
    "activity",
    "start",
    "end",
    "pcmh",
    "apm",
    "rural",
    "hpsa",
    "patient_facing_encounters",
    "hospital_pos_pct",
    "asc_pos_pct",
)
RECORD_ORDER = ("practice", "clinician", "attestation", "participation")
REQUIRED = {
    "practice": ("tin", "name"),
    "clinician": ("tin", "npi", "name", "year"),
    "attestation": ("tin", "year", "activity", "start", "end"),
    "participation": ("tin", "npi", "year", "activity", "start", "end"),
}
_TRUE, _FALSE = {"yes", "y", "true", "1"}, {"no", "n", "false", "0", ""}
_DECIMAL = re.compile(r"-?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})")


class CellError(Exception):
    def __init__(self, column: str, message: str):
        self.column, self.message = column, message


@dataclass(frozen=True)
class ImportSummary:
    created: Counter[str]
    unchanged: Counter[str]

    @property
    def rows(self) -> int:
        return sum(self.created.values()) + sum(self.unchanged.values())


class ImportRow:
    def __init__(self, line: int, cells: dict[str, str]):
        self.line, self.cells = line, cells
        self.record = cells.get("record", "").strip().lower()

    def text(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()

    def parsed(self, column: str, parse: Callable[[str], Any]) -> Any:
        try:
            return parse(self.text(column))
        except InputError as exc:
            raise CellError(column, exc.message) from None

    def flag(self, column: str) -> bool:
        value = self.text(column).lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise CellError(column, f"{self.text(column)!r} is not yes or no")

    def whole_number(self, column: str) -> int | None:
        """Not negative, and what the database can store: ASCII digits only (int() takes "１２０")."""
        value = self.text(column)
        return self.parsed(column, lambda v: parse_whole_number(v, low=0, high=2**63 - 1)) if value else None

    def decimal(self, column: str) -> float | None:
        """Plain decimal notation: float() also takes "nan", "1e2", "1_0" and full-width digits."""
        value = self.text(column)
        if not value:
            return None
        if not _DECIMAL.fullmatch(value):
            raise CellError(column, f"{value!r} is not a number (like 12 or 12.5)")
        return float(value)


def _header_problem(header: Sequence[str]) -> str | None:
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        return f"unknown column(s) {', '.join(map(repr, unknown))}; known: {', '.join(COLUMNS)}"
    missing = [needed for needed in ("record", "tin") if needed not in header]
    return f"missing column {missing[0]!r}" if missing else None


_EMPTY = "empty file; expected a header row starting with 'record,tin,...'"


def read_rows(path: Path) -> list[ImportRow]:
    return [ImportRow(row.line, row.cells) for row in read_csv(path, header_problem=_header_problem, empty=_EMPTY)]


def read_uploaded(raw: bytes, name: str) -> list[ImportRow]:
    """The rows of an uploaded file (the web's import), its problems named by the file's name."""
    return [
        ImportRow(row.line, row.cells)
        for row in read_csv_bytes(raw, name, header_problem=_header_problem, empty=_EMPTY)
    ]


def _apply(session: Session, row: ImportRow, lookup: Lookup, actor: str, show_names: bool) -> bool:
    """Apply one row; True if it created something, False if identical data was already there."""
    missing = [c for c in REQUIRED[row.record] if not row.text(c)]
    if missing:
        raise CellError(missing[0], "required for a " + row.record + " row")
    tin = row.text("tin")
    if row.record == "practice":
        apm = row.text("apm").lower() or "none"
        # PCMH and APM are facts of the row's year (a practice row without them needs no year).
        year = row.parsed("year", parse_year) if row.text("year") else None
        _, created = add_practice(
            session, tin, row.text("name"), pcmh=row.flag("pcmh"), apm=apm, year=year, lookup=lookup, exist_ok=True
        )
        return created
    year = row.parsed("year", parse_year)
    if row.record == "clinician":
        inputs = StatusInputs(
            rural=row.flag("rural"),
            hpsa=row.flag("hpsa"),
            patient_facing_encounters=row.whole_number("patient_facing_encounters"),
            hospital_pos_pct=row.decimal("hospital_pos_pct"),
            asc_pos_pct=row.decimal("asc_pos_pct"),
        )
        _, created = add_clinician(
            session,
            tin,
            row.text("npi"),
            row.text("name"),
            year,
            inputs,
            lookup=lookup,
            exist_ok=True,
            show_names=show_names,
        )
        return created
    start = row.parsed("start", lambda v: parse_iso_date(v, field="start"))
    end = row.parsed("end", lambda v: parse_iso_date(v, field="end"))
    if row.record == "attestation":
        _, created = attest(
            session, tin, row.text("activity"), year, start, end,
            actor=actor, npi=row.text("npi") or None, lookup=lookup, exist_ok=True, audited=False,
        )  # fmt: skip
        return created
    _, created = participate(
        session, tin, row.text("npi"), row.text("activity"), year, start, end,
        actor=actor, lookup=lookup, exist_ok=True, audited=False,
    )  # fmt: skip
    return created


def import_csv(session: Session, path: Path, *, actor: str) -> ImportSummary:
    """Load the file in the caller's transaction; raise InputError naming every bad row."""
    return import_rows(session, read_rows(path), Path(path).name, source=path, actor=actor)


def import_rows(
    session: Session,
    rows: list[ImportRow],
    name: str,
    *,
    source: object = None,
    actor: str,
    dry_run: bool = False,
    show_names: bool = True,
) -> ImportSummary:
    """Apply read rows (all or nothing); `name` is the file's in the audit event, `source` opens each problem.

    With `dry_run` every row is checked and applied exactly as an import would, then rolled back:
    nothing is written and no event recorded, and the summary says what the import would do.
    `show_names`: as add_clinician's (False for a principal limited to some practices).
    """
    preview = session.begin_nested() if dry_run else None
    try:
        origin = source if source is not None else name
        return _import_rows(session, rows, name, origin, actor, recorded=not dry_run, show_names=show_names)
    finally:
        if preview is not None:
            preview.rollback()


def _import_rows(
    session: Session, rows: list[ImportRow], name: str, source: object, actor: str, *, recorded: bool, show_names: bool
) -> ImportSummary:
    problems: list[tuple[int, str]] = []
    for row in rows:
        if row.record not in RECORD_ORDER:
            kinds = ", ".join(RECORD_ORDER)
            problems.append((row.line, f"line {row.line}, column record: {row.text('record')!r} is not one of {kinds}"))
    lookup = Lookup(session)
    created: Counter[str] = Counter()
    unchanged: Counter[str] = Counter()
    ordered = sorted(
        (r for r in rows if r.record in RECORD_ORDER), key=lambda r: (RECORD_ORDER.index(r.record), r.line)
    )
    for row in ordered:
        try:
            with session.begin_nested():
                if _apply(session, row, lookup, actor, show_names):
                    created[row.record] += 1
                else:
                    unchanged[row.record] += 1
        except CellError as exc:
            problems.append((row.line, f"line {row.line}, column {exc.column}: {exc.message}"))
        except EvidenceError as exc:
            problems.append((row.line, f"line {row.line} ({row.record}): {exc.message}"))
    if problems:
        raise InputError.listing(source, [text for _, text in sorted(problems)])
    summary = ImportSummary(created, unchanged)
    tins = sorted({row.text("tin") for row in rows})
    if recorded:
        audit.record(
            session,
            actor,
            "import",
            f"imported {name}: {dict(created) or 'nothing new'}; {sum(unchanged.values())} unchanged",
            tin=tins[0] if len(tins) == 1 else None,
            details={"file": name, "created": dict(created), "unchanged": dict(unchanged), "tins": tins},
        )
    return summary
