"""The shipped catalog: every year's inventory as RULES.md counts it, and the seed's documentation."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from evidence.catalog.model import load_catalog_file
from evidence.errors import CatalogError
from evidence.support.resources import shipped_catalog_path
from tests.conftest import SHARED, reference_file, shared_file

# ../shared/RULES.md, "Inventory (per performance year)": total, high, medium, unweighted.
INVENTORY = {
    2017: (93, 14, 78, 1),
    2018: (113, 22, 90, 1),
    2019: (118, 24, 93, 1),
    2020: (106, 26, 79, 1),
    2021: (105, 26, 78, 1),
    2022: (105, 28, 76, 1),
    2023: (103, 28, 74, 1),
    2024: (106, 30, 75, 1),
    2025: (104, None, None, None),
    2026: (95, None, None, None),
    2027: (95, None, None, None),
}

# Seed 004 (2020 IA guide): the combining rule and number of suggested-documentation items.
SEED_DOCUMENTATION = {
    "IA_PM_7": ("single", 1),
    "IA_PM_15": ("any", 2),  # "1) ... or 2) ..."
    "IA_PM_16": ("any", 4),
    "IA_PM_17": ("all", 3),  # "1) and 2) and 3)"
    "IA_CC_1": ("any", 2),
    "IA_CC_2": ("single", 1),
    "IA_CC_8": ("single", 1),
    "IA_CC_9": ("all", 2),
    "IA_CC_15": ("all", 4),
    "IA_CC_18": ("all", 2),
    "IA_CC_19": ("single", 1),
    "IA_BE_4": ("single", 1),
    "IA_BE_6": ("all", 2),
    "IA_BE_13": ("single", 1),
    "IA_BE_15": ("single", 1),
    "IA_BE_16": ("all", 2),  # techniques "; and evidence of the use of the techniques"
    "IA_BE_25": ("any", 2),  # "and/or"
    "IA_PSPA_2": ("all", 2),
    "IA_PSPA_6": ("all", 2),
    "IA_PSPA_19": ("all", 2),
    "IA_PSPA_20": ("any", 3),  # "1) or 2) or 3)"
    "IA_PSPA_21": ("all", 2),
    "IA_PSPA_28": ("all", 5),  # needs assessment plus four criteria joined with "and"
    "IA_PSPA_31": ("any", 2),
    "IA_PSPA_32": ("all", 2),
    "IA_BMH_2": ("single", 1),
    "IA_BMH_4": ("single", 1),
}


@pytest.fixture(scope="module")
def shipped():
    return load_catalog_file(shipped_catalog_path())


@pytest.mark.parametrize("year", sorted(INVENTORY))
def test_inventory_counts_match_rules(shipped, year: int) -> None:
    total, high, medium, unweighted = INVENTORY[year]
    facts = shipped.years[year]
    weights = Counter(a.weight for a in facts.activities)
    assert len(facts.activities) == total
    if high is None:
        assert not facts.weighted and set(weights) == {None}
    else:
        assert facts.weighted
        assert (weights["high"], weights["medium"], weights["none"]) == (high, medium, unweighted)


def test_pcmh_is_the_unweighted_activity(shipped) -> None:
    for year in range(2017, 2025):
        assert [a.activity_id for a in shipped.years[year].activities if a.weight == "none"] == ["IA_PCMH"]


def test_same_id_can_weigh_differently_per_year(shipped) -> None:
    weight = {y: {a.activity_id: a.weight for a in shipped.years[y].activities} for y in (2021, 2022)}
    assert (weight[2021]["IA_CC_15"], weight[2022]["IA_CC_15"]) == ("medium", "high")
    assert "IA_ERP_3" not in {a.activity_id for a in shipped.years[2019].activities}
    assert "IA_ERP_3" in {a.activity_id for a in shipped.years[2020].activities}


@pytest.mark.parametrize("year", sorted(INVENTORY))
def test_inventory_facts_equal_cms_reference(shipped, year: int) -> None:
    entries = json.loads(reference_file(year).read_text(encoding="utf-8"))
    cms = {e["measureId"]: e for e in entries if e["category"] == "ia"}
    ours = {a.activity_id: a for a in shipped.years[year].activities}
    assert set(ours) == set(cms)
    for activity_id, facts in ours.items():
        entry = cms[activity_id]
        assert facts.title == entry["title"].strip()
        assert facts.subcategory == entry["subcategoryId"]
        expected_weight = (entry["weight"] or "none") if "weight" in entry else None
        assert facts.weight == expected_weight, activity_id


def test_no_cms_descriptions_shipped() -> None:
    text = shipped_catalog_path().read_text(encoding="utf-8")
    assert "description: " in text  # our own item sentences
    cms = json.loads(reference_file(2020).read_text(encoding="utf-8"))  # skips loudly without ../shared
    long_descriptions = [e["description"] for e in cms if len(e["description"] or "") > 200]
    assert not any(d[:120] in text for d in long_descriptions)


@pytest.mark.parametrize(("activity_id", "expected"), sorted(SEED_DOCUMENTATION.items()))
def test_seed_documentation_rule_and_items(shipped, activity_id: str, expected: tuple[str, int]) -> None:
    doc = shipped.documentation[activity_id]
    assert (doc.rule, len(doc.items)) == expected
    assert [i.key for i in doc.items] == list(range(1, expected[1] + 1))
    assert not doc.generic
    for item in doc.items:
        assert 0 < len(item.label) <= 60
        assert item.description.endswith(".")


def test_every_seed_activity_is_covered(shipped) -> None:
    seed = shared_file(SHARED / "seeds", "004_*.txt")
    ids = set(re.findall(r"^(IA_[A-Z]+_\d+)", seed.read_text(encoding="utf-8"), flags=re.M))
    assert ids == set(SEED_DOCUMENTATION) == set(shipped.documentation)


def test_other_activities_get_the_generic_item(shipped) -> None:
    doc = shipped.documentation_for("IA_EPA_1")
    assert doc.generic and doc.rule == "single" and len(doc.items) == 1
    assert "during the attested period" in doc.items[0].description


# --- Broken catalog files: each refused with a message naming the problem -------------------

GOOD_HEAD = """\
format: 1
subcategories:
  populationManagement: Population Management
generic_documentation:
  label: Activity performed
  description: Documentation that the activity was performed.
documentation:
  IA_PM_15:
    rule: any
    items:
      1: {label: One, description: First way.}
      2: {label: Two, description: Second way.}
years:
  2020:
    weighted: true
    activities:
      IA_PM_15: {title: Episodic care, subcategory: populationManagement, weight: medium}
      IA_PM_7: {title: QCDR feedback, subcategory: populationManagement, weight: high}
"""

BROKEN = {
    "missing field": (
        GOOD_HEAD.replace("title: QCDR feedback, ", ""),
        r"line 18: year 2020, activity IA_PM_7: missing field 'title'",
    ),
    "unknown weight": (
        GOOD_HEAD.replace("weight: high", "weight: heavy"),
        r"line 18: year 2020, activity IA_PM_7, field 'weight': 'heavy' is not one of high, medium, none",
    ),
    "duplicate activity id": (
        GOOD_HEAD + "      IA_PM_15: {title: Again, subcategory: populationManagement, weight: medium}\n",
        r"line 19: duplicate key 'IA_PM_15' \(first at line 17\)",
    ),
    "duplicate item key": (
        GOOD_HEAD.replace("      2: {label: Two", "      1: {label: Two"),
        r"line 12: duplicate key 1 \(first at line 11\)",
    ),
    "not yaml at all": ("years: [2020\n  weighted: {", r"not valid YAML"),
    "not a mapping": ("- just\n- a list\n", r"not a catalog"),
    "rule single with two items": (
        GOOD_HEAD.replace("rule: any", "rule: single"),
        r"activity IA_PM_15, field 'items': rule 'single' takes exactly one item",
    ),
    "weight in an unweighted year": (
        GOOD_HEAD.replace("2020:", "2025:").replace("weighted: true", "weighted: false"),
        r"year 2025, activity IA_PM_15: has a weight, but this year is marked weighted: false",
    ),
    "weighted flag against the year rule": (
        GOOD_HEAD.replace("2020:", "2025:"),
        r"year 2025, field 'weighted': must be false for PY2025",
    ),
    "unknown subcategory": (
        GOOD_HEAD.replace(
            "subcategory: populationManagement, weight: high", "subcategory: careCoordination, weight: high"
        ),
        r"year 2020, activity IA_PM_7, field 'subcategory': unknown subcategory 'careCoordination'",
    ),
    "bad activity id": (
        GOOD_HEAD.replace("IA_PM_7:", "PM-7:"),
        r"'PM-7' is not a valid key here",
    ),
    "item keys with a gap": (
        GOOD_HEAD.replace("      2: {label: Two", "      3: {label: Two"),
        r"activity IA_PM_15, field 'items': keys must be 1, 2, ... in order",
    ),
    "unknown field": (
        GOOD_HEAD.replace("rule: any", "rule: any\n    colour: blue"),
        r"activity IA_PM_15: unknown field\(s\)",
    ),
    "documentation for an unknown activity": (
        GOOD_HEAD.replace(
            "\ndocumentation:\n",
            "\ndocumentation:\n  IA_XX_1:\n    rule: single\n    items:\n      1: {label: X, description: Y.}\n",
        ),
        r"activity IA_XX_1: documentation for an activity in no year's inventory",
    ),
}


def test_good_head_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD_HEAD, encoding="utf-8")
    assert load_catalog_file(path).documentation["IA_PM_15"].rule == "any"


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_catalog_is_refused_with_a_named_problem(tmp_path: Path, run, case: str) -> None:
    text, expected = BROKEN[case]
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog_file(path)
    everything = "\n".join([info.value.message, *info.value.details])
    assert re.search(expected, everything), everything
    assert str(path) in info.value.message
    result = run("catalog", "validate", path, expect=1)
    assert re.search(expected, result.output)
    assert result.output.startswith("Error: ")


def test_validate_reports_every_problem(tmp_path: Path, run) -> None:
    text = GOOD_HEAD.replace("weight: high", "weight: heavy").replace("title: Episodic care, ", "")
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("catalog", "validate", path, expect=1)
    assert "2 problems" in result.output
    assert "missing field 'title'" in result.output and "'heavy'" in result.output


def test_validate_shipped_catalog_cli(run) -> None:
    result = run("catalog", "validate", shipped_catalog_path())
    assert "valid: 11 performance years (2017-2027)" in result.output
    assert "suggested documentation for 27 activities" in result.output


# --- Weights: one list (rules.cms.Weight) for the schema, the database and the command line ---------


def test_weight_and_rule_enums_are_the_schema_and_the_check_constraints() -> None:
    from evidence.db.models import Activity, DocumentationRequirement
    from evidence.rules.cms import DocumentationRule, Weight

    schema = json.loads(shipped_catalog_path().with_name("suggested_documentation.schema.json").read_text())
    assert schema["$defs"]["activity"]["properties"]["weight"]["enum"] == list(Weight)
    assert schema["$defs"]["requirement"]["properties"]["rule"]["enum"] == list(DocumentationRule)
    checks = {
        c.name: str(c.sqltext)
        for table in (Activity.__table__, DocumentationRequirement.__table__)
        for c in table.constraints
        if c.name and c.name.startswith("ck_")
    }
    # Exactly the text of migration 0001: building it from the enum changes no schema.
    assert checks["ck_activities_weight"] == "weight IS NULL OR weight IN ('high', 'medium', 'none')"
    assert checks["ck_documentation_requirements_rule"] == "rule IN ('all', 'any', 'single')"


@pytest.mark.usefixtures("wide")
@pytest.mark.parametrize(
    ("year", "weight", "activities"),
    [(2020, "high", 26), (2020, "medium", 79), (2020, "none", 1), (2025, "unweighted", 104)],
)
def test_weight_filter_matches_the_weight_column(run, year: int, weight: str, activities: int) -> None:
    rows = json.loads(run("catalog", "list", "--year", year, "--weight", weight, "--format", "json").output)
    assert len(rows) == activities
    assert {row["weight"] for row in rows} == {weight}  # what --weight selects is what the table shows
    table = run("catalog", "list", "--year", year, "--weight", weight).output
    rows = [line for line in table.splitlines() if line.startswith(f"{year} ")]  # a long title wraps below its row
    assert len(rows) == activities and "(no rows)" not in table


@pytest.mark.parametrize(
    ("year", "weight", "message"),
    [
        (2025, "none", "PY2025 scores activities without weights: every activity is unweighted"),
        (2025, "high", "PY2025 scores activities without weights"),
        (2020, "unweighted", "PY2020 weights its activities: use --weight high, medium, none"),
    ],
)
def test_a_weight_the_year_cannot_have_is_an_error(run, year: int, weight: str, message: str) -> None:
    assert message in run("catalog", "list", "--year", year, "--weight", weight, expect=1).output
