"""The QPP submission shape per year (evidence.rules.cms, "QPP submission shape"), one table row per
rule per year, and the shipped JSON Schema: valid Draft 2020-12, and agreeing with those rules."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from evidence.rules import cms as rules
from evidence.rules.qpp_export import _validator, schema_problem

ALL_TYPES = ("individual", "group", "virtualGroup", "apm", "subgroup")

# (year, the entityType values the Submissions API takes that year)
ENTITY_TYPES_BY_YEAR = [
    (2017, ("individual", "group")),
    (2018, ("individual", "group", "virtualGroup")),
    (2019, ("individual", "group", "virtualGroup")),
    (2020, ("individual", "group", "virtualGroup", "apm")),
    (2021, ("individual", "group", "virtualGroup", "apm")),
    (2022, ("individual", "group", "virtualGroup", "apm")),
    (2023, ALL_TYPES),
    (2024, ALL_TYPES),
    (2025, ALL_TYPES),
    (2026, ALL_TYPES),
    (2027, ALL_TYPES),
]


@pytest.mark.parametrize(("year", "expected"), ENTITY_TYPES_BY_YEAR)
def test_entity_types_by_year(year: int, expected: tuple[str, ...]) -> None:
    assert rules.qpp_entity_types(year) == expected


# (year, programName values other than MVP ids, whether MVP ids exist)
PROGRAMS_BY_YEAR = [
    (2017, ("mips", "cpcPlus"), False),
    (2020, ("mips", "cpcPlus"), False),
    (2021, ("mips", "app1", "cpcPlus", "pcf"), False),
    (2022, ("mips", "app1", "pcf"), False),
    (2023, ("mips", "app1", "pcf"), True),
    (2024, ("mips", "app1", "pcf"), True),
    (2025, ("mips", "app1", "appPlus"), True),
    (2027, ("mips", "app1", "appPlus"), True),
]


@pytest.mark.parametrize(("year", "names", "mvps"), PROGRAMS_BY_YEAR)
def test_program_names_by_year(year: int, names: tuple[str, ...], mvps: bool) -> None:
    assert rules.qpp_program_names(year) == names
    assert (rules.qpp_program_name_problem(year, "M0001") is None) is mvps


# (year, IA submission methods, whether cmsWebInterface still exists)
METHODS_BY_YEAR = [
    (2017, ("registry", "electronicHealthRecord"), True),
    (2020, ("registry", "electronicHealthRecord"), True),
    (2024, ("registry", "electronicHealthRecord"), True),
    (2025, ("registry", "electronicHealthRecord"), False),
    (2027, ("registry", "electronicHealthRecord"), False),
]


@pytest.mark.parametrize(("year", "ia_methods", "web_interface"), METHODS_BY_YEAR)
def test_submission_methods_by_year(year: int, ia_methods: tuple[str, ...], web_interface: bool) -> None:
    assert rules.qpp_ia_submission_methods(year) == ia_methods
    assert ("cmsWebInterface" in rules.qpp_submission_methods(year)) is web_interface


SUBMISSION_METHOD_PROBLEMS = [
    (2020, "registry", None),
    (2026, "electronicHealthRecord", None),
    (2020, "claims", "submission method claims is not accepted for improvement activities"),
    (2020, "cmsWebInterface", "submission method cmsWebInterface is not accepted for improvement activities"),
    (2025, "cmsWebInterface", "submission method cmsWebInterface does not exist in PY2025"),
    (2020, "Registry", "unknown submission method 'Registry'"),
    (2020, "", "unknown submission method ''"),
]


@pytest.mark.parametrize(("year", "method", "problem"), SUBMISSION_METHOD_PROBLEMS)
def test_submission_method_problem(year: int, method: str, problem: str | None) -> None:
    found = rules.qpp_submission_method_problem(year, method)
    assert found == problem if problem is None else found is not None and found.startswith(problem)


# (year, entityType, programName, the problem or None): which entity may submit to which program
ENTITY_PROGRAM = [
    (2020, "virtualGroup", "mips", None),
    (2020, "apm", "mips", None),
    (2019, "apm", "mips", "APM entity submissions begin with PY2020, not PY2019"),
    (2017, "virtualGroup", "mips", "virtual group submissions begin with PY2018, not PY2017"),
    (2022, "subgroup", "M0001", "subgroup submissions begin with PY2023, not PY2022"),
    (2023, "subgroup", "G0053", None),
    (2024, "subgroup", "mips", "program mips does not take subgroup submissions"),
    (2021, "group", "app1", None),
    (2021, "apm", "app1", None),
    (2020, "group", "app1", "program app1 exists PY2021 on, not PY2020"),
    (2021, "virtualGroup", "app1", "program app1 does not take virtual group submissions"),
    (2025, "individual", "appPlus", None),
    (2024, "individual", "appPlus", "program appPlus exists PY2025 on, not PY2024"),
    (2023, "virtualGroup", "M0001", "MVP M0001 does not take virtual group submissions"),
    (2022, "group", "M0001", "MVPs begin with PY2023, not PY2022"),
    (2023, "apm", "M0001", None),
    (2022, "apm", "pcf", None),
    (2022, "group", "pcf", "program pcf does not take group submissions"),
    (2025, "apm", "pcf", "program pcf exists PY2021-2024, not PY2025"),
    (2022, "apm", "cpcPlus", "program cpcPlus exists PY2017-2021, not PY2022"),
    (2024, "group", "M00001", "unknown program name 'M00001'"),
    (2024, "team", "mips", "unknown entity type 'team'"),
]


@pytest.mark.parametrize(("year", "entity_type", "program", "problem"), ENTITY_PROGRAM)
def test_entity_and_program(year: int, entity_type: str, program: str, problem: str | None) -> None:
    found = rules.qpp_entity_problem(year, entity_type, program)
    assert found == problem if problem is None else found is not None and found.startswith(problem)


ENTITY_IDS = [
    ("subgroup", "SG-00000001", None),
    ("subgroup", "SG-0001", "subgroup id 'SG-0001' is malformed: expected SG- and 8 digits"),
    ("subgroup", "sg-00000001", "subgroup id 'sg-00000001' is malformed"),
    ("subgroup", "SG-00000001\n", "subgroup id 'SG-00000001\\n' is malformed"),
    ("subgroup", None, "a subgroup submission needs its entity id"),
    ("apm", "", "an APM entity submission needs its entity id"),
    ("apm", "A1234", None),
    ("apm", "AR2386", None),
    ("virtualGroup", "VG-000123", None),
    ("virtualGroup", "VG 1", "virtual group id 'VG 1' is malformed"),
    ("virtualGroup", "x" * 41, "virtual group id"),
    ("virtualGroup", "\u202eVG1", "virtual group id"),
    ("group", "VG1", "an entity id belongs to a virtual group, APM entity or subgroup, not a group"),
    ("individual", "VG1", "an entity id belongs to a virtual group, APM entity or subgroup, not an individual"),
    ("group", None, None),
]


@pytest.mark.parametrize(("entity_type", "entity_id", "problem"), ENTITY_IDS)
def test_entity_id_formats(entity_type: str, entity_id: str | None, problem: str | None) -> None:
    found = rules.qpp_entity_id_problem(entity_type, entity_id)
    assert found == problem if problem is None else found is not None and found.startswith(problem)


@given(st.integers(rules.FIRST_PERFORMANCE_YEAR, rules.LAST_PERFORMANCE_YEAR - 1))
@example(2017)
@example(2019)  # the year before APM entities
@example(2022)  # the year before subgroups and MVPs
@example(2024)  # the last year of the CMS Web Interface and PCF
def test_a_later_year_never_loses_an_entity_type(year: int) -> None:
    assert set(rules.qpp_entity_types(year)) <= set(rules.qpp_entity_types(year + 1))


# --- the shipped schema ---------------------------------------------------------------------------


def test_the_schema_is_draft_2020_12_and_cites_cms() -> None:
    schema = _validator().schema
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "qpp-submissions-docs" in schema["$comment"]


def document(year: int, entity_type: str, program: str = "mips", method: str = "registry") -> dict[str, Any]:
    """A minimal submission for the schema, with well-formed ids for the entity type."""
    head: dict[str, Any] = {"entityType": entity_type}
    if entity_type in rules.QPP_ENTITY_ID_TYPES:
        head["entityId"] = "SG-00000001" if entity_type == "subgroup" else "E1234"
    else:
        head["taxpayerIdentificationNumber"] = "000123456"
    if entity_type == "individual":
        head["nationalProviderIdentifier"] = "1234567893"
    measurement_set = {
        "category": "ia",
        "submissionMethod": method,
        "programName": program,
        "performanceStart": f"{year}-01-01",
        "performanceEnd": f"{year}-12-31",
        "measurements": [{"measureId": "IA_EPA_1", "value": True}],
    }
    return {**head, "performanceYear": year, "measurementSets": [measurement_set]}


PROGRAMS = ("mips", "app1", "appPlus", "pcf", "cpcPlus", "M0001", "G0053")


@pytest.mark.parametrize("year", range(2017, 2031))
def test_schema_and_rules_agree_for_every_entity_program_and_method(year: int) -> None:
    """Two statements of CMS's rules (cms.py for the messages, the schema for the shape) never drift."""
    for entity_type in ALL_TYPES:
        for program in PROGRAMS:
            for method in (*rules.QPP_SUBMISSION_METHODS, "bogus"):
                rules_ok = (
                    rules.qpp_entity_problem(year, entity_type, program) is None
                    and rules.qpp_submission_method_problem(year, method) is None
                )
                problem = schema_problem(document(year, entity_type, program, method))
                assert (problem is None) is rules_ok, (year, entity_type, program, method, problem)


SCHEMA_REFUSES = [
    ("NPI on a group", {"nationalProviderIdentifier": "1234567893"}, "group"),
    ("TIN on a subgroup", {"taxpayerIdentificationNumber": "000123456"}, "subgroup"),
    ("a subgroup id CMS would not issue", {"entityId": "SG-1"}, "subgroup"),
    ("a TIN of 8 digits", {"taxpayerIdentificationNumber": "00012345"}, "group"),
    ("a field CMS does not define", {"practiceId": "X"}, "group"),
    ("a performance year as text", {"performanceYear": "2024"}, "group"),
]


@pytest.mark.parametrize(("what", "change", "entity_type"), SCHEMA_REFUSES, ids=[row[0] for row in SCHEMA_REFUSES])
def test_schema_refuses_and_names_the_field(what: str, change: dict[str, Any], entity_type: str) -> None:
    bad = {**document(2024, entity_type, "M0001" if entity_type == "subgroup" else "mips"), **change}
    problem = schema_problem(bad)
    assert problem is not None and "\n" not in problem, what


def test_schema_names_a_field_the_entity_type_does_not_take() -> None:
    bad = {**document(2024, "group"), "nationalProviderIdentifier": "1234567893"}
    assert schema_problem(bad) == "nationalProviderIdentifier: not allowed for entityType 'group'"
    bad = {**document(2024, "apm"), "taxpayerIdentificationNumber": "000123456"}
    assert schema_problem(bad) == "taxpayerIdentificationNumber: not allowed for entityType 'apm'"


def test_schema_names_the_measurement_field() -> None:
    bad = document(2024, "group")
    bad["measurementSets"][0]["measurements"][0]["value"] = "true"
    assert schema_problem(bad) == "measurementSets[0].measurements[0].value: 'true' is not of type 'boolean'"
    bad = document(2024, "group", method="claims")
    assert str(schema_problem(bad)).startswith("measurementSets[0].submissionMethod: 'claims' is not one of")
