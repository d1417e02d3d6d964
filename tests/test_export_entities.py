"""`evidence export-qpp` for every entity type CMS defines, with programName, submissionMethod and
IA_PCMH (issue #14, "the full submission shape"), end to end through the CLI.

Each document is read back and validated against the shipped schema, loaded here on its own (not
through the code under test). MVP and APP reporters are recorded as users record them, with
`practice set TIN --year Y --program ...`."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from evidence.db.models import Practice
from evidence.rules import qpp_export
from tests import factories
from tests.factories import TIN

SCHEMA = json.loads(files("evidence.rules").joinpath("data/qpp_submission.schema.json").read_text(encoding="utf-8"))


def valid(document: dict[str, Any]) -> dict[str, Any]:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    return document


def practice_with(app, year: int, *, pcmh: bool = False, attest: tuple[str, ...] = ("IA_BE_6",)) -> str:
    """A one-clinician TIN whose group (and the clinician) attest `attest` over the whole year; its NPI."""
    with app.write() as session:
        practice = factories.practice(session, pcmh=pcmh, year=year)
        clinician = factories.clinician(session, practice, year)
        for activity_id in attest:
            factories.participations(
                session, factories.attestation(session, practice, activity_id, year), [clinician.id]
            )
            factories.attestation(session, practice, activity_id, year, clinician=clinician)
        return clinician.npi


def reporting(run, year: int, program: str, mvp_id: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """The TIN reports `year` through `program`, recorded through the CLI as a user would."""
    mvp = ("--mvp", mvp_id) if mvp_id else ()
    run("practice", "set", TIN, "--year", year, "--program", program, *mvp, "--reason", "registered with CMS")


def carried(app, year: int, program: str, mvp_id: str | None = None) -> None:
    """A year row `practice set` would refuse today, as a store upgraded from before 0006 may hold."""
    with app.write() as session:
        practice = session.scalars(select(Practice).where(Practice.tin == TIN)).one()
        factories.reporting_year(session, practice, year, program=program, mvp_id=mvp_id)


def events(run) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    rows: list[dict[str, Any]] = json.loads(run("log", "--format", "json").output)
    return [{**row, "details": json.loads(row["details"])} for row in rows]


# (what, year, program recorded or None, extra arguments, expected head of the document)
ENTITIES = [
    ("individual", 2020, None, ["--npi", "{npi}"],
     {"entityType": "individual", "taxpayerIdentificationNumber": TIN, "nationalProviderIdentifier": "{npi}"}),
    ("individual-explicit", 2020, None, ["--entity-type", "individual", "--npi", "{npi}"],
     {"entityType": "individual", "taxpayerIdentificationNumber": TIN, "nationalProviderIdentifier": "{npi}"}),
    ("group", 2020, None, [], {"entityType": "group", "taxpayerIdentificationNumber": TIN}),
    ("virtual-group", 2020, None, ["--entity-type", "virtual-group", "--entity-id", "VG-000123"],
     {"entityType": "virtualGroup", "entityId": "VG-000123"}),
    ("apm-entity", 2021, None, ["--entity-type", "apm-entity", "--entity-id", "A1234"],
     {"entityType": "apm", "entityId": "A1234"}),
    ("subgroup-mvp", 2024, ("mvp", "G0053"), ["--entity-type", "subgroup", "--entity-id", "SG-00000001"],
     {"entityType": "subgroup", "entityId": "SG-00000001"}),
]  # fmt: skip


@pytest.mark.parametrize(("what", "year", "program", "extra", "head"), ENTITIES, ids=[row[0] for row in ENTITIES])
def test_each_entity_type_validates_and_reads_back(
    run, app, monkeypatch, tmp_path: Path, what: str, year: int, program, extra: list[str], head: dict[str, Any]
) -> None:
    npi = practice_with(app, year)
    if program:
        reporting(run, year, *program)
    target = tmp_path / f"{what}.json"
    run("export-qpp", "--tin", TIN, "--year", year, *[a.format(npi=npi) for a in extra], "-o", target)
    document = valid(json.loads(target.read_text()))
    expected = {key: value.format(npi=npi) if isinstance(value, str) else value for key, value in head.items()}
    assert {key: document[key] for key in document if key not in ("performanceYear", "measurementSets")} == expected
    assert document["performanceYear"] == year
    (measurement_set,) = document["measurementSets"]
    assert measurement_set["programName"] == (program[1] if program else "mips")
    assert measurement_set["submissionMethod"] == "registry"
    assert measurement_set["measurements"] == [{"measureId": "IA_BE_6", "value": True}]


def test_submission_method_is_the_users_and_reaches_the_document(run, app) -> None:
    npi = practice_with(app, 2024)
    result = run(
        "export-qpp", "--tin", TIN, "--year", 2024, "--npi", npi, "--submission-method", "electronicHealthRecord"
    )
    assert valid(json.loads(result.stdout))["measurementSets"][0]["submissionMethod"] == "electronicHealthRecord"


# (what, year, program recorded or None, arguments, the one error line)
REFUSED = [
    ("method-not-for-ia", 2020, None, ["--submission-method", "claims"],
     "Error: not exported: submission method claims is not accepted for improvement activities "
     "(use registry or electronicHealthRecord)"),
    ("web-interface-after-2024", 2025, None, ["--submission-method", "cmsWebInterface"],
     "Error: not exported: submission method cmsWebInterface does not exist in PY2025 "
     "(use registry or electronicHealthRecord)"),
    ("method-typo", 2020, None, ["--submission-method", "regsitry"],
     "Error: not exported: unknown submission method 'regsitry' (PY2020 IA: registry, electronicHealthRecord)"),
    ("virtual-group-id-malformed", 2020, None, ["--entity-type", "virtual-group", "--entity-id", "VG 12"],
     "Error: not exported: virtual group id 'VG 12' is malformed: expected up to 40 letters, digits, '-' or '_'"),
    ("virtual-group-id-hostile", 2020, None, ["--entity-type", "virtual-group", "--entity-id", "VG\u202e1\x1b[2J"],
     "Error: not exported: virtual group id 'VG\\u202e1\\x1b[2J' is malformed: expected up to 40 letters, digits, "
     "'-' or '_'"),
    ("apm-entity-id-10kb", 2021, None, ["--entity-type", "apm-entity", "--entity-id", "A" * 10_000],
     "Error: not exported: APM entity id 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'... (10000 characters) is malformed: "
     "expected up to 40 letters, digits, '-' or '_'"),
    ("virtual-group-before-2018", 2017, None, ["--entity-type", "virtual-group", "--entity-id", "VG1"],
     "Error: not exported: virtual group submissions begin with PY2018, not PY2017"),
    ("subgroup-before-2023", 2022, ("carried", "mvp", "G0053"), ["--entity-type", "subgroup", "--entity-id", "SG-00000001"],
     "Error: not exported: subgroup submissions begin with PY2023, not PY2022"),
    ("subgroup-in-traditional-mips", 2024, None, ["--entity-type", "subgroup", "--entity-id", "SG-00000001"],
     "Error: not exported: program mips does not take subgroup submissions (only individual, group, virtual group, "
     "APM entity)"),
    ("subgroup-id-malformed", 2024, ("mvp", "G0053"), ["--entity-type", "subgroup", "--entity-id", "SG-1"],
     "Error: not exported: subgroup id 'SG-1' is malformed: expected SG- and 8 digits, e.g. SG-00000001"),
    ("apm-entity-before-2020", 2019, None, ["--entity-type", "apm-entity", "--entity-id", "A1234"],
     "Error: not exported: APM entity submissions begin with PY2020, not PY2019"),
    ("apm-entity-without-id", 2021, None, ["--entity-type", "apm-entity"],
     "Error: not exported: an APM entity submission needs its entity id"),
    ("empty-entity-id", 2021, None, ["--entity-type", "apm-entity", "--entity-id", ""],
     "Error: not exported: an APM entity submission needs its entity id"),
    ("entity-id-on-a-group", 2020, None, ["--entity-id", "VG1"],
     "Error: not exported: an entity id belongs to a virtual group, APM entity or subgroup, not a group"),
    ("npi-on-a-virtual-group", 2020, None, ["--entity-type", "virtual-group", "--entity-id", "VG1", "--npi", "{npi}"],
     "Error: not exported: an NPI names an individual, not a virtual group"),
    ("individual-without-npi", 2020, None, ["--entity-type", "individual"],
     "Error: not exported: an individual submission needs the clinician's NPI"),
    ("app-before-2021", 2020, ("carried", "app"), [], "Error: not exported: program app1 exists PY2021 on, not PY2020"),
    ("virtual-group-in-the-app", 2021, ("app",), ["--entity-type", "virtual-group", "--entity-id", "VG1"],
     "Error: not exported: program app1 does not take virtual group submissions (only individual, group, APM entity)"),
    ("mvp-before-2023", 2022, ("carried", "mvp", "M0001"), [], "Error: not exported: MVPs begin with PY2023, not PY2022"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "year", "program", "args", "line"), REFUSED, ids=[row[0] for row in REFUSED])
def test_refused_in_one_line_nothing_written_nothing_recorded(
    run, app, monkeypatch, tmp_path: Path, what: str, year: int, program, args: list[str], line: str
) -> None:
    npi = practice_with(app, year)
    if program and program[0] == "carried":
        carried(app, year, *program[1:])
    elif program:
        reporting(run, year, *program)
    before = events(run)
    target = tmp_path / "out.json"
    result = run("export-qpp", "--tin", TIN, "--year", year, *[a.format(npi=npi) for a in args], "-o", target, expect=1)
    assert result.stdout == ""
    assert result.stderr.splitlines() == [line]
    assert not target.exists() and not list(tmp_path.glob(".*.tmp"))
    assert events(run) == before


def test_what_only_the_schema_refuses_is_refused_naming_the_field(run, app, monkeypatch, tmp_path: Path) -> None:
    """The schema is the last guard: were the year's rules to let a method through, the schema stops it."""
    practice_with(app, 2020)
    monkeypatch.setattr(qpp_export.rules, "qpp_submission_method_problem", lambda year, method: None)
    target = tmp_path / "out.json"
    result = run("export-qpp", "--tin", TIN, "--year", 2020, "--submission-method", "claims", "-o", target, expect=1)
    assert result.stderr.splitlines() == [
        "Error: not exported: the QPP submission schema refuses measurementSets[0].submissionMethod: "
        "'claims' is not one of ['registry', 'electronicHealthRecord']"
    ]
    assert not target.exists()


def test_mvp_reporter_carries_its_mvp_id_as_program_name(run, app, monkeypatch) -> None:
    npi = practice_with(app, 2024)
    reporting(run, 2024, "mvp", "M0001")
    for args in ((), ("--npi", npi)):
        document = valid(json.loads(run("export-qpp", "--tin", TIN, "--year", 2024, *args).stdout))
        assert document["measurementSets"][0]["programName"] == "M0001"


def test_app_reporter_exports_app1(run, app, monkeypatch) -> None:
    practice_with(app, 2021)
    reporting(run, 2021, "app")
    for args in ((), ("--entity-type", "apm-entity", "--entity-id", "A1234")):
        document = valid(json.loads(run("export-qpp", "--tin", TIN, "--year", 2021, *args).stdout))
        assert document["measurementSets"][0]["programName"] == "app1"


# --- PCMH ----------------------------------------------------------------------------------------


def test_pcmh_practice_exports_ia_pcmh_even_with_nothing_attested(run, app) -> None:
    """Before: "nothing to export". CMS's IA_PCMH is the attestation of the recognition itself."""
    npi = practice_with(app, 2020, pcmh=True, attest=())
    for args in ((), ("--npi", npi)):
        document = valid(json.loads(run("export-qpp", "--tin", TIN, "--year", 2020, *args).stdout))
        assert document["measurementSets"][0]["measurements"] == [{"measureId": "IA_PCMH", "value": True}]


def test_pcmh_comes_first_beside_the_attested_activities(run, app) -> None:
    practice_with(app, 2020, pcmh=True, attest=("IA_EPA_1", "IA_BE_6"))
    document = valid(json.loads(run("export-qpp", "--tin", TIN, "--year", 2020).stdout))
    assert [m["measureId"] for m in document["measurementSets"][0]["measurements"]] == [
        "IA_PCMH",
        "IA_BE_6",
        "IA_EPA_1",
    ]


def test_pcmh_attested_as_well_is_submitted_once(run, app) -> None:
    practice_with(app, 2020, pcmh=True, attest=("IA_PCMH",))
    document = valid(json.loads(run("export-qpp", "--tin", TIN, "--year", 2020).stdout))
    assert document["measurementSets"][0]["measurements"] == [{"measureId": "IA_PCMH", "value": True}]


def test_no_ia_pcmh_without_recognition(run, app) -> None:
    practice_with(app, 2020)
    document = json.loads(run("export-qpp", "--tin", TIN, "--year", 2020).stdout)
    assert "IA_PCMH" not in {m["measureId"] for m in document["measurementSets"][0]["measurements"]}


# --- the audit event and --strict ----------------------------------------------------------------


def test_qpp_export_event_carries_entity_program_and_method(run, app, monkeypatch, tmp_path: Path) -> None:
    practice_with(app, 2024, pcmh=True)
    reporting(run, 2024, "mvp", "G0053")
    target = tmp_path / "sub.json"
    args = ("--entity-type", "subgroup", "--entity-id", "SG-00000042", "--submission-method", "electronicHealthRecord")
    run("export-qpp", "--tin", TIN, "--year", 2024, *args, "-o", target)
    event = events(run)[-1]
    assert (event["action"], event["tin"], event["year"]) == ("qpp.export", TIN, 2024)
    details = event["details"]
    assert (details["entity_type"], details["entity_id"], details["npi"]) == ("subgroup", "SG-00000042", None)
    assert (details["program_name"], details["submission_method"]) == ("G0053", "electronicHealthRecord")
    assert details["measurements"] == ["IA_PCMH", "IA_BE_6"] and details["submitted"] == ["IA_BE_6"]
    assert event["summary"].startswith(
        "QPP export of subgroup SG-00000042 (TIN 000123456), PY2024 (G0053): 2 activities"
    )


def test_strict_still_refuses_an_undocumented_activity_for_a_virtual_group(run, app, tmp_path: Path) -> None:
    practice_with(app, 2020)  # attested, nothing registered: not documented
    target = tmp_path / "vg.json"
    args = ("--entity-type", "virtual-group", "--entity-id", "VG1", "-o", target)
    refused = run("export-qpp", "--tin", TIN, "--year", 2020, *args, "--strict", expect=1)
    assert refused.stderr.startswith(
        "Error: not exported (--strict): 1 of 1 submitted activities are not fully documented"
    )
    assert not target.exists()
    run("export-qpp", "--tin", TIN, "--year", 2020, *args)
    assert valid(json.loads(target.read_text()))["entityId"] == "VG1"
