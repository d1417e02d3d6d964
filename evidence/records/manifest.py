"""Evidence manifests: many files and what each documents, in YAML or CSV.

YAML:

    evidence:
      - path: files/2020/qcdr-report.pdf     # relative to the manifest's folder
        tin: "000123456"
        year: 2020
        activity: IA_PM_7
        items: [1]                           # optional where the activity has one item
        npi: "1234567893"                    # optional: an individual's attestation or participation
        effective_date: 2020-10-05           # optional: defaults to the file's modification date
        description: QCDR feedback report    # optional
      - path: files/privacy-policy.pdf       # a document in force for a time: a range instead
        ...
        effective_from: 2019-12-01
        effective_until: 2020-12-31

CSV: the same fields as columns (path, tin, year, activity, items, npi, effective_date,
effective_from, effective_until, description), with several items separated by ";" (e.g. `1;2`).

A path may name a folder (every file in it). Paths must stay inside the manifest's folder
unless --allow-outside is given. An entry with a bad field fails on its own, naming its
line; the other entries still register.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from evidence.errors import InputError
from evidence.rules.coverage import normalized_range
from evidence.rules.identifiers import (
    parse_activity_id,
    parse_iso_date,
    parse_npi,
    parse_tin,
    parse_whole_number,
    parse_year,
)
from evidence.store.registration import FileToRegister, LinkRequest, expand_paths
from evidence.support.csvio import read_csv
from evidence.support.yamlio import load_yaml

FIELDS = (
    "path",
    "tin",
    "year",
    "activity",
    "items",
    "npi",
    "effective_date",
    "effective_from",
    "effective_until",
    "description",
)
REQUIRED = ("path", "tin", "year", "activity")


@dataclass(frozen=True)
class ManifestProblem:
    source: str
    message: str
    path: Path


def _entries(path: Path) -> list[tuple[int | None, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        rows = read_csv(path, header_problem=_csv_header_problem, require_rows=False)
        # Cells are text: strip them as the attestation CSV does, but for a path and a description.
        return [
            (row.line, {k: v if k in ("path", "description") else v.strip() for k, v in row.cells.items() if v})
            for row in rows
        ]
    document = load_yaml(path)
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("evidence"), list):
        raise InputError(f"{path}: expected a mapping with an 'evidence:' list")
    entries: list[tuple[int | None, dict[str, Any]]] = []
    for index, entry in enumerate(data["evidence"]):
        line = document.line_of(["evidence", index])
        entries.append((line, entry if isinstance(entry, dict) else {"__invalid__": entry}))
    return entries


def _csv_header_problem(header: Sequence[str]) -> str | None:
    if any(h not in FIELDS for h in header) or "path" not in header:
        return f"columns must be among {', '.join(FIELDS)} and include 'path'"
    return None


MAX_ITEM = 1000  # far beyond any activity's documentation items


def item_keys(value: Any) -> tuple[int, ...]:
    """`[1, 2]` or `1` in YAML; `1;2` (or `1,2`) as text. Whole numbers only: not True, 1.0 or "１"."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        raw: list[Any] = [part.strip() for part in value.replace(",", ";").split(";")]
    else:
        raw = value if isinstance(value, list) else [value]
    keys = []
    for part in raw:
        try:
            keys.append(parse_whole_number(part, low=1, high=MAX_ITEM))
        except InputError:
            raise InputError(f"item {part!r} is not a documentation item number (1, 2, ...)") from None
    return tuple(keys)


def _dates(entry: dict[str, Any]) -> tuple[date | None, date | None]:
    """effective_date (one day) or effective_from and effective_until (a range); neither: the file's date."""
    day, start, until = (
        parse_iso_date(_text(entry[name]), field=name) if entry.get(name) not in (None, "") else None
        for name in ("effective_date", "effective_from", "effective_until")
    )
    if day is not None and (start or until):
        raise InputError("give effective_date (one day) or effective_from and effective_until (a range), not both")
    if day is not None:
        return day, None
    if start is None and until is None:
        return None, None
    if start is None or until is None:
        given, absent = ("effective_from", "effective_until") if start else ("effective_until", "effective_from")
        raise InputError(f"{given} needs {absent} (a single day is effective_date)")
    return normalized_range(start, until)


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _resolve(base: Path, raw: str, allow_outside: bool) -> Path:
    if "\x00" in raw:
        raise InputError(f"path {raw!r} contains a NUL character")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in raw):  # "\r" would break the one-line error
        raise InputError(f"path {raw!r} contains a control character")
    candidate = Path(raw)
    full = candidate if candidate.is_absolute() else base / candidate
    if not allow_outside:
        resolved = Path(os.path.normpath(full.absolute()))
        if not resolved.is_relative_to(Path(os.path.normpath(base.absolute()))):
            raise InputError(f"path {raw!r} is outside the manifest's folder (use --allow-outside)")
        try:  # a symlinked folder inside may still point out
            if not full.resolve().is_relative_to(base.resolve()) and not full.is_symlink():
                raise InputError(f"path {raw!r} leads outside the manifest's folder (use --allow-outside)")
        except (OSError, RuntimeError):  # a name too long, a loop of links: check_source reports it
            pass
    return full


def _inside(base: Path, file: Path) -> bool:
    """Where a followed symbolic link really leads must stay inside the manifest's folder too."""
    try:
        return file.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError):  # a loop: check_source reports it
        return True


def read_manifest(
    path: Path, *, allow_outside: bool = False, follow_symlinks: bool = False
) -> tuple[list[FileToRegister], list[ManifestProblem]]:
    """Files to register, and the entries that could not even be read (with their line)."""
    path = Path(path)
    base = path.parent
    files: list[FileToRegister] = []
    problems: list[ManifestProblem] = []
    for line, entry in _entries(path):
        source = f"{path.name} line {line}" if line else path.name
        raw_path = entry.get("path")
        shown = Path(str(raw_path)) if raw_path else path
        try:
            if "__invalid__" in entry:
                raise InputError("entry is not a mapping of fields")
            unknown = sorted(set(entry) - set(FIELDS))
            if unknown:
                raise InputError(f"unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
            missing = [f for f in REQUIRED if entry.get(f) in (None, "")]
            if missing:
                raise InputError(f"missing field {missing[0]!r}")
            request = LinkRequest(
                tin=parse_tin(_text(entry["tin"]), field="tin"),
                year=parse_year(entry["year"]),
                activity_id=parse_activity_id(_text(entry["activity"])),
                item_keys=item_keys(entry.get("items")),
                npi=parse_npi(_text(entry["npi"]), field="npi") if entry.get("npi") else None,
            )
            effective_date, effective_until = _dates(entry)
            description = entry.get("description")
            if description is not None and "\x00" in str(description):  # no database can store it (PostgreSQL)
                raise InputError("description contains a NUL character")
            full = _resolve(base, str(raw_path), allow_outside)
        except InputError as exc:
            problems.append(ManifestProblem(source, exc.message, shown))
            continue
        for file in expand_paths([full], follow_symlinks=follow_symlinks):
            if follow_symlinks and not allow_outside and not _inside(base, file):
                message = f"path {os.fsdecode(file)!r} leads outside the manifest's folder through a symbolic link"
                problems.append(ManifestProblem(source, f"{message} (use --allow-outside)", file))
                continue
            files.append(
                FileToRegister(
                    file,
                    request,
                    effective_date,
                    str(description) if description else None,
                    source,
                    effective_until=effective_until,
                    date_source="the manifest",
                )
            )
    return files, problems
