"""Import CMS's own IA inventory (qpp-measures-data `measures-data.json`, or just its IA entries).

So a practice can load next year's inventory the day CMS publishes it. The whole file is
checked before anything is written; our suggested-documentation items stay attached by id.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from evidence.catalog.model import ActivityFacts, normal_programs
from evidence.catalog.store import (
    YearChange,
    YearDiff,
    apply_year_activities,
    diff_year_activities,
    ensure_requirements,
)
from evidence.db.models import CatalogYear
from evidence.db.types import utcnow
from evidence.errors import CatalogError, ConflictError, InputError
from evidence.retention import audit
from evidence.rules import cms as rules
from evidence.rules.identifiers import is_activity_id, parse_year

if TYPE_CHECKING:  # at run time jsonschema is imported where the validator is first built
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

# The fields we take from each IA entry; everything else CMS adds is ignored.
IA_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["measureId", "title", "subcategoryId"],
    "properties": {
        "category": {"const": "ia"},
        "measureId": {"type": "string", "pattern": "^IA_[A-Z0-9]+(_[A-Z0-9]+)*$"},
        "title": {"type": "string", "minLength": 1, "maxLength": 1000},
        "description": {"type": ["string", "null"]},
        "subcategoryId": {"type": ["string", "null"], "pattern": "^[a-zA-Z]+$"},
        "weight": {"enum": [rules.Weight.HIGH, rules.Weight.MEDIUM, None]},  # CMS writes IA_PCMH's "none" as null
        "firstPerformanceYear": {"type": "integer"},
        "lastPerformanceYear": {"type": ["integer", "null"]},
        # From PY2023 (programs) and PY2025 (registration types): who may report the activity.
        "allowedPrograms": {"type": "array", "items": {"type": "string", "pattern": "^[a-zA-Z][a-zA-Z0-9]*$"}},
        "allowedRegistrationTypes": {"type": "array", "items": {"type": "string", "pattern": "^[a-zA-Z]+$"}},
    },
}
LISTS = ("allowedPrograms", "allowedRegistrationTypes")


@cache
def _validator() -> Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(IA_ENTRY_SCHEMA)


@dataclass(frozen=True)
class ImportResult:
    year: int
    activities: int
    weighted: bool
    change: YearChange


@dataclass(frozen=True)
class QppPreview:
    """What importing the file would change, shown before (or instead of) applying it."""

    year: int
    file_name: str
    activities: int
    weighted: bool
    diff: YearDiff

    def refusal(self, *, confirm_removal: bool) -> str | None:
        """Why applying it is refused, or None: attested activities never go; others only when confirmed."""
        return _refusal(self.diff, confirm_removal=confirm_removal)


_NAMED = 5  # removed ids named in the refusal line; the preview lists them all


def _refusal(diff: YearDiff, *, confirm_removal: bool) -> str | None:
    if diff.attested_removed:
        return (
            f"PY{diff.year}: cannot drop {', '.join(diff.attested_removed)} from the inventory: "
            "attestations refer to it; nothing changed"
        )
    if diff.removed and not confirm_removal:
        shown = ", ".join(diff.removed[:_NAMED])
        more = f" and {len(diff.removed) - _NAMED} more" if len(diff.removed) > _NAMED else ""
        return (
            f"PY{diff.year}: the file would remove {len(diff.removed)} "
            f"{'activity' if len(diff.removed) == 1 else 'activities'} ({shown}{more}, all in the preview); "
            "nothing changed: check the preview, then confirm the removal with --yes"
        )
    return None


def preview_qpp(session: Session, path: Path, year: int) -> QppPreview:
    """Check the file and compare it with the stored PY`year` inventory; writes nothing."""
    path = Path(path)
    facts, descriptions = read_qpp_file(path, year)
    diff = diff_year_activities(session, year, facts, descriptions=descriptions)
    return QppPreview(year, path.name, len(facts), rules.uses_weights(year), diff)


def read_qpp_file(path: Path, year: int) -> tuple[list[ActivityFacts], dict[str, str | None]]:
    """Parse and check the file; raise CatalogError listing every bad entry."""
    path = Path(path)
    if year < rules.FIRST_PERFORMANCE_YEAR:
        raise CatalogError(f"--year {year}: MIPS performance years start in {rules.FIRST_PERFORMANCE_YEAR}")
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise CatalogError(f"{path}: not accepted: arrays or objects nested too deeply") from None
    if isinstance(data, dict) and isinstance(data.get("measures"), list):
        data = data["measures"]
    if not isinstance(data, list):
        raise CatalogError(f"{path}: expected a JSON array of measures (qpp-measures-data format)")

    problems: list[str] = []
    entries: list[tuple[int, dict[str, Any]]] = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            problems.append(f"entry {index}: not an object")
            continue
        category = entry.get("category")
        if category is not None and category != "ia":
            continue  # quality, PI and cost measures share the file
        if category is None and not str(entry.get("measureId", "")).startswith("IA_"):
            problems.append(f"entry {index}: no 'category' and not an IA measure id")
            continue
        entries.append((index, entry))

    weighted = any("weight" in entry for _, entry in entries)
    listed = {field for field in LISTS for _, entry in entries if field in entry}
    seen: dict[str, int] = {}
    for index, entry in entries:
        measure = str(entry.get("measureId", "?"))
        label = f"entry {index} ({measure if measure.isprintable() else repr(measure)})"  # a newline: still one line
        bad_fields: set[str] = set()
        for error in sorted(_validator().iter_errors(entry), key=lambda e: list(e.path)):
            field = ".".join(str(p) for p in error.path) or (
                error.message.split("'")[1] if error.validator == "required" else "entry"
            )
            bad_fields.add(field)
            message = "missing" if error.validator == "required" else _short(error)
            problems.append(f"{label}, field {field!r}: {message}")
        problems += [f"{label}, {problem}" for problem in _strict_problems(entry, year, bad_fields)]
        measure_id = entry.get("measureId")
        if isinstance(measure_id, str):
            if measure_id in seen:
                problems.append(f"{label}: duplicate measureId (first at entry {seen[measure_id]})")
            seen.setdefault(measure_id, index)
        if weighted and "weight" not in entry:
            problems.append(f"{label}, field 'weight': missing while other entries have one")
        for field in LISTS:
            if field in listed and field not in entry:
                problems.append(f"{label}, field {field!r}: missing while other entries have one")

    if not entries and not problems:
        problems.append("no improvement activities (category 'ia') in the file")
    if entries and weighted != rules.uses_weights(year):
        state = "has weights" if weighted else "has no weights"
        expected = "weighted" if rules.uses_weights(year) else "scored without weights"
        problems.append(f"the file {state}, but PY{year} is {expected}; check --year")
    if problems:
        raise CatalogError.listing(path, problems)

    facts = [
        ActivityFacts(
            entry["measureId"],
            " ".join(entry["title"].split()),
            entry["subcategoryId"],
            (entry.get("weight") or rules.Weight.NONE) if weighted else None,
            normal_programs(entry["allowedPrograms"]) if "allowedPrograms" in entry else None,
            tuple(dict.fromkeys(entry["allowedRegistrationTypes"])) if "allowedRegistrationTypes" in entry else None,
        )
        for _, entry in entries
    ]
    descriptions = {entry["measureId"]: entry.get("description") for _, entry in entries}
    return facts, descriptions


def _strict_problems(entry: dict[str, Any], year: int, checked: set[str]) -> list[str]:
    """What the schema lets through: 2028.0 as an "integer", a newline before the end of a pattern, a blank title.

    A performance year must be a JSON integer of four digits, and every entry must apply to
    --year: the file replaces that year's inventory, so an entry that slipped past these
    checks would make the import remove every activity the file does not list.
    """
    problems: list[str] = []
    for field, pattern_ok in (("measureId", is_activity_id), ("subcategoryId", _is_subcategory)):
        value = entry.get(field)
        if field not in checked and isinstance(value, str) and not pattern_ok(value):
            problems.append(f"field {field!r}: {value!r} is not a valid value")
    title = entry.get("title")
    if "title" not in checked and isinstance(title, str) and not title.split():  # stored as "" otherwise
        problems.append(f"field 'title': {title!r} is blank")
    for field in ("firstPerformanceYear", "lastPerformanceYear"):
        value = entry.get(field)
        if field in checked or value is None:
            continue
        try:
            performance_year = parse_year(value)
        except InputError as exc:
            four_digits = type(value) is int and 1000 <= value <= 9999  # then outside the years MIPS can have
            shown = exc.message if four_digits else f"{value!r} is not a four-digit year (a JSON integer like 2017)"
            problems.append(f"field {field!r}: {shown}")
            continue
        if field == "firstPerformanceYear" and performance_year > year:
            problems.append(f"field {field!r}: {performance_year} is after --year {year}; is this another year's file?")
        elif field == "lastPerformanceYear" and performance_year < year:
            problems.append(
                f"field {field!r}: {performance_year} is before --year {year}; is this another year's file?"
            )
    return problems


def _is_subcategory(value: str) -> bool:
    return re.fullmatch(r"[a-zA-Z]+", value) is not None


def _short(error: ValidationError) -> str:
    expected: Any = error.validator_value  # set on every error that iter_errors yields (not Unset)
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, expected))}"
    if error.validator == "type":
        return f"{error.instance!r} is not of type {expected}"
    return error.message


def import_qpp(
    session: Session,
    path: Path,
    year: int,
    *,
    actor: str = "system",
    confirm_removal: bool = False,
    previewed: YearDiff | None = None,
) -> ImportResult:
    """Replace PY`year`'s inventory with the file's IA entries, in the caller's transaction.

    Refused before any write (ConflictError) when it would drop an attested activity, or any
    activity unless `confirm_removal`: a short or wrong-year file must not empty a year silently.
    With `previewed`, also when the change is no longer the one shown (the file or the inventory
    changed in between): what was confirmed is what is applied.
    """
    path = Path(path)
    facts, descriptions = read_qpp_file(path, year)
    diff = diff_year_activities(session, year, facts, descriptions=descriptions)
    if previewed is not None and diff != previewed:
        raise ConflictError(
            f"PY{year}: {path.name} or the inventory changed since the preview; nothing changed: run it again"
        )
    refusal = _refusal(diff, confirm_removal=confirm_removal)
    if refusal is not None:
        raise ConflictError(refusal)
    weighted = rules.uses_weights(year)
    row = session.get(CatalogYear, year)
    if row is None:
        row = CatalogYear(performance_year=year)
        session.add(row)
    row.weighted = weighted
    row.source = "imported"
    row.source_name = path.name
    row.source_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    row.loaded_at = utcnow()
    session.flush()
    change = apply_year_activities(session, year, facts, descriptions=descriptions)
    ensure_requirements(session, [f.activity_id for f in facts])
    summary = f"PY{year} inventory loaded from {path.name}: {len(facts)} activities"
    details = {"file": path.name, "sha256": row.source_sha256, "added": change.added, "updated": change.updated}
    removed = {"removed": change.removed, "removed_ids": list(diff.removed)}  # which activities went, for the record
    audit.record(session, actor, "catalog.import", summary, year=year, details={**details, **removed})
    return ImportResult(year, len(facts), weighted, change)
