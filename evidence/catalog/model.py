"""Read and validate the catalog YAML into plain, immutable facts.

The structure is checked by a JSON Schema (evidence/catalog/data/suggested_documentation.schema.json);
what a schema cannot express (cross-references, the year rules) is checked here. Every
problem is reported, each on one line naming the file, line, activity and field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.errors import CatalogError, InputError
from evidence.rules import cms as rules
from evidence.rules.identifiers import is_activity_id, parse_whole_number
from evidence.support.resources import catalog_schema_path
from evidence.support.yamlio import YamlDocument, load_yaml

if TYPE_CHECKING:  # at run time jsonschema is imported where the validator is first built
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

GENERIC_ITEM_KEY = 1


@dataclass(frozen=True)
class ItemFacts:
    key: int
    label: str
    description: str


@dataclass(frozen=True)
class DocumentationFacts:
    activity_id: str
    rule: str  # all | any | single
    items: tuple[ItemFacts, ...]
    generic: bool


@dataclass(frozen=True)
class ActivityFacts:
    activity_id: str
    title: str
    subcategory: str | None
    weight: str | None  # high | medium | none; None in unweighted years
    # CMS's allowedPrograms (MVP ids sorted, after the others) and allowedRegistrationTypes;
    # None where CMS published no list for the year.
    programs: tuple[str, ...] | None = None
    registration_types: tuple[str, ...] | None = None


@dataclass(frozen=True)
class YearFacts:
    year: int
    weighted: bool
    activities: tuple[ActivityFacts, ...]


@dataclass(frozen=True)
class CatalogFile:
    path: Path
    sha256: str
    source: str
    subcategories: dict[str, str]
    generic: ItemFacts
    documentation: dict[str, DocumentationFacts]
    years: dict[int, YearFacts]

    def documentation_for(self, activity_id: str) -> DocumentationFacts:
        """The seed's suggested documentation, or the generic single item."""
        known = self.documentation.get(activity_id)
        if known is not None:
            return known
        return DocumentationFacts(activity_id, "single", (self.generic,), generic=True)

    def activity_ids(self) -> set[str]:
        return {a.activity_id for year in self.years.values() for a in year.activities}


@cache
def _validator() -> Validator:
    import jsonschema

    schema = json.loads(catalog_schema_path().read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


class _SameKey(Exception):
    def __init__(self, key: str):
        self.key = key


def _stringify_keys(value: Any) -> Any:
    """YAML allows integer keys (2020:, 1:); JSON Schema speaks of string property names."""
    if isinstance(value, dict):
        result = {str(k): _stringify_keys(v) for k, v in value.items()}
        if len(result) < len(value):  # 2020: and "2020": would silently become one
            same = sorted(k for k in result if [str(key) for key in value].count(k) > 1)
            raise _SameKey(same[0])
        return result
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


def _shown(step: Any) -> str:
    """A key as written, or quoted where it holds a line break or another unprintable character."""
    text = str(step)
    return text if text.isprintable() else repr(text)


def describe_location(location: Sequence[Any]) -> str:
    """Path in the file, in words.

    ['years', '2020', 'activities', 'IA_EPA_1', 'weight'] -> year 2020, activity IA_EPA_1, field 'weight'
    """
    parts: list[str] = []
    steps = list(location)
    i = 0
    while i < len(steps):
        step = _shown(steps[i])
        nxt = _shown(steps[i + 1]) if i + 1 < len(steps) else None
        if step == "years" and nxt is not None:
            parts.append(f"year {nxt}")
            i += 2
        elif step in ("activities", "documentation") and nxt is not None:
            parts.append(f"activity {nxt}")
            i += 2
        elif step == "items" and nxt is not None:
            parts.append(f"item {nxt}")
            i += 2
        else:
            parts.append(f"field {step!r}")
            i += 1
    return ", ".join(parts) if parts else "top level"


def _friendly(error: ValidationError) -> str:
    """A schema error in words a compliance officer can act on."""
    # Set on every error that iter_errors yields (the stubs also allow Unset, for errors made by hand).
    validator = error.validator
    expected: Any = error.validator_value
    instance: Any = error.instance
    if validator == "required":
        missing = [name for name in expected if name not in (instance or {})]
        return f"missing field {missing[0]!r}" if missing else error.message
    if validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if validator == "enum":
        return f"{instance!r} is not one of {', '.join(map(str, expected))}"
    if validator == "not" and expected == {"required": ["weight"]}:
        return "has a weight, but this year is marked weighted: false"
    if validator in ("minProperties", "maxProperties") and list(error.absolute_path)[-1:] == ["items"]:
        return (
            "rule 'single' takes exactly one item"
            if validator == "maxProperties"
            else ("rules 'all' and 'any' need at least two items")
        )
    if validator == "pattern" and error.relative_path and isinstance(instance, str):
        return f"{instance!r} is not a valid value"
    return error.message


def _schema_problems(document: YamlDocument, data: Any) -> list[tuple[int | None, str]]:
    problems = []
    for error in _validator().iter_errors(data):
        location = list(error.absolute_path)
        if "propertyNames" in error.absolute_schema_path:
            message = f"{error.instance!r} is not a valid key here"
            # The offending key is the instance; point at it.
            location = [*location, error.instance] if isinstance(error.instance, str) else location
        else:
            message = _friendly(error)
        where = describe_location(location)
        problems.append((document.line_of(location), f"{where}: {message}"))
    return problems


def _semantic_problems(document: YamlDocument, data: dict[str, Any]) -> list[tuple[int | None, str]]:
    """Cross-references and year rules, checked once the structure is known to be right."""
    problems = _strict_problems(document, data)
    if problems:  # a key like "2020\n" would be read as the year 2020 below
        return problems
    subcategories = set(data["subcategories"])
    known_ids: set[str] = set()
    for year_key, year in data["years"].items():
        year_number = int(year_key)  # four digits: checked above
        if year_number < rules.FIRST_PERFORMANCE_YEAR:
            problems.append(
                (
                    document.line_of(["years", year_key]),
                    f"year {year_key}: MIPS starts in {rules.FIRST_PERFORMANCE_YEAR}",
                )
            )
        elif (too_late := rules.performance_year_problem(year_number)) is not None:
            problems.append((document.line_of(["years", year_key]), too_late))
        if year["weighted"] != rules.uses_weights(year_number):
            expected = "true" if rules.uses_weights(year_number) else "false"
            location = ["years", year_key, "weighted"]
            problems.append(
                (
                    document.line_of(location),
                    f"year {year_key}, field 'weighted': must be {expected} for PY{year_key}",
                )
            )
        for activity_id, activity in year["activities"].items():
            known_ids.add(activity_id)
            for field, year_field in (("programs", "programs"), ("mvps", "programs"),
                                      ("registration_types", "registration_types")):  # fmt: skip
                if field in activity and year_field not in year:
                    location = ["years", year_key, "activities", activity_id, field]
                    problems.append(
                        (
                            document.line_of(location),
                            f"{describe_location(location)}: the year lists no {year_field.replace('_', ' ')}",
                        )
                    )
            sub = activity["subcategory"]
            if sub is not None and sub not in subcategories:
                location = ["years", year_key, "activities", activity_id, "subcategory"]
                problems.append(
                    (
                        document.line_of(location),
                        f"{describe_location(location)}: unknown subcategory {sub!r}",
                    )
                )
    for activity_id, requirement in data["documentation"].items():
        if activity_id not in known_ids:
            location = ["documentation", activity_id]
            problems.append(
                (
                    document.line_of(location),
                    f"activity {activity_id}: documentation for an activity in no year's inventory",
                )
            )
        keys = sorted(int(k) for k in requirement["items"])
        if keys != list(range(1, len(keys) + 1)):
            location = ["documentation", activity_id, "items"]
            problems.append(
                (
                    document.line_of(location),
                    f"activity {activity_id}, field 'items': keys must be 1, 2, ... in order, found {keys}",
                )
            )
    return problems


def _strict_problems(document: YamlDocument, data: dict[str, Any]) -> list[tuple[int | None, str]]:
    """What the schema lets through: `format: 1.0` equals 1, and a pattern's `$` allows a final newline."""
    problems: list[tuple[int | None, str]] = []

    def refuse(location: list[Any], message: str) -> None:
        problems.append((document.line_of(location), f"{describe_location(location)}: {message}"))

    if type(data["format"]) is not int:
        refuse(["format"], f"{data['format']!r} is not the whole number 1")
    for key in data["subcategories"]:
        if not re.fullmatch(r"[a-zA-Z]+", key):
            refuse(["subcategories"], f"{key!r} is not a valid key here")
    for activity_id, requirement in data["documentation"].items():
        if not is_activity_id(activity_id):
            refuse(["documentation"], f"{activity_id!r} is not a valid key here")
            continue
        for item_key in requirement["items"]:
            try:
                parse_whole_number(item_key, low=1, high=10_000)
            except InputError:
                refuse(["documentation", activity_id, "items"], f"{item_key!r} is not a valid key here")
    for year_key, year in data["years"].items():
        if not (
            (type(year_key) is int and 1000 <= year_key <= 9999)
            or (isinstance(year_key, str) and re.fullmatch(r"[0-9]{4}", year_key))
        ):
            refuse(["years"], f"{year_key!r} is not a valid key here")  # the range is checked with its line below
            continue
        for activity_id, activity in year["activities"].items():
            if not is_activity_id(activity_id):
                refuse(["years", year_key, "activities"], f"{activity_id!r} is not a valid key here")
                continue
            subcategory = activity["subcategory"]
            if subcategory is not None and not re.fullmatch(r"[a-zA-Z]+", subcategory):
                location = ["years", year_key, "activities", activity_id, "subcategory"]
                refuse(location, f"{subcategory!r} is not a valid value")
    return problems


def _raise(path: Path, problems: Iterable[tuple[int | None, str]]) -> None:
    ordered = sorted(problems, key=lambda p: (p[0] or 0, p[1]))
    if ordered:
        raise CatalogError.listing(path, [f"line {line}: {text}" if line else text for line, text in ordered])


def load_catalog_file(path: Path) -> CatalogFile:
    """Parse and validate a catalog YAML file; raise CatalogError listing every problem."""
    path = Path(path)
    try:
        document = load_yaml(path)
    except InputError as exc:
        raise CatalogError(exc.message) from None
    try:
        data = _stringify_keys(document.data)
    except _SameKey as same:
        raise CatalogError(f"{path}: key {same.key!r} appears twice (once as a number, once as text)") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: not a catalog (expected a mapping with 'years' and 'documentation')")
    _raise(path, _schema_problems(document, data))
    _raise(path, _semantic_problems(document, data))
    return _build(path, data)


def _programs(year: dict[str, Any], activity: dict[str, Any]) -> tuple[str, ...] | None:
    """The activity's own programs (or the year's), then its MVP ids: CMS's allowedPrograms."""
    if "programs" not in year:
        return None
    return normal_programs([*activity.get("programs", year["programs"]), *activity.get("mvps", [])])


def is_mvp_id(program: str) -> bool:
    return re.fullmatch(r"[GM][0-9]{4}", program) is not None


def normal_programs(programs: Iterable[str]) -> tuple[str, ...]:
    """One order for CMS's allowedPrograms, wherever they come from: the others as CMS lists them, then MVPs sorted."""
    listed = list(dict.fromkeys(programs))
    return tuple([p for p in listed if not is_mvp_id(p)] + sorted(p for p in listed if is_mvp_id(p)))


def _build(path: Path, data: dict[str, Any]) -> CatalogFile:
    def items(raw: dict[str, Any]) -> tuple[ItemFacts, ...]:
        return tuple(
            ItemFacts(int(key), value["label"].strip(), value["description"].strip())
            for key, value in sorted(raw.items(), key=lambda kv: int(kv[0]))
        )

    generic = data["generic_documentation"]
    years = {
        int(year_key): YearFacts(
            int(year_key),
            year["weighted"],
            tuple(
                ActivityFacts(
                    activity_id,
                    a["title"],
                    a["subcategory"],
                    a.get("weight"),
                    _programs(year, a),
                    tuple(a.get("registration_types", year["registration_types"]))
                    if "registration_types" in year
                    else None,
                )
                for activity_id, a in sorted(year["activities"].items())
            ),
        )
        for year_key, year in data["years"].items()
    }
    return CatalogFile(
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        source=data.get("documentation_source", ""),
        subcategories=dict(data["subcategories"]),
        generic=ItemFacts(GENERIC_ITEM_KEY, generic["label"].strip(), generic["description"].strip()),
        documentation={
            activity_id: DocumentationFacts(activity_id, req["rule"], items(req["items"]), generic=False)
            for activity_id, req in data["documentation"].items()
        },
        years=years,
    )
