"""Issue #14: the programs and registration types CMS allows per activity-year, from the shipped
catalog and from import-qpp into the database, and the pure rules that judge a reporter against them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from evidence.catalog.model import load_catalog_file, normal_programs
from evidence.catalog.store import allowed_programs, allowed_registration_types
from evidence.db import migrate
from evidence.db.engine import make_engine
from evidence.errors import InputError
from evidence.rules import cms
from evidence.support.resources import shipped_catalog_path
from tests.conftest import reference_file
from tests.test_catalog import GOOD_HEAD

YEARS = range(2017, 2028)


@pytest.fixture(scope="module")
def shipped():
    return load_catalog_file(shipped_catalog_path())


@pytest.mark.parametrize("year", YEARS)
def test_shipped_programs_equal_cms(shipped, year: int) -> None:
    """Each activity-year's programs and registration types, as CMS's file lists them (None where it lists none)."""
    cms_entries = {e["measureId"]: e for e in json.loads(reference_file(year).read_text(encoding="utf-8"))}
    for facts in shipped.years[year].activities:
        entry = cms_entries[facts.activity_id]
        expected = normal_programs(entry["allowedPrograms"]) if "allowedPrograms" in entry else None
        assert facts.programs == expected, facts.activity_id
        assert set(facts.programs or ()) == set(entry.get("allowedPrograms", ()))
        types = tuple(entry["allowedRegistrationTypes"]) if "allowedRegistrationTypes" in entry else None
        assert facts.registration_types == types, facts.activity_id
    assert (shipped.years[year].activities[0].programs is not None) == (year >= cms.FIRST_ALLOWED_PROGRAMS_YEAR)


def test_the_database_holds_them_and_the_service_reads_them(app) -> None:
    with app.read() as session:
        assert allowed_programs(session, "IA_EPA_1", 2022) is None
        assert allowed_programs(session, "IA_EPA_1", 2023)[:2] == ("mips", "app1")
        mvp = allowed_programs(session, "IA_MVP", 2024)
        assert mvp is not None and "mips" not in mvp and "M0001" in mvp
        assert allowed_programs(session, "IA_AHE_1", 2025)[:3] == ("mips", "app1", "appPlus")
        assert allowed_registration_types(session, "IA_AHE_1", 2024) is None
        assert allowed_registration_types(session, "IA_AHE_1", 2025) == ("apm", "group", "subgroup", "individual")
        with pytest.raises(InputError, match="not in the PY2020 inventory"):
            allowed_programs(session, "IA_MVP", 2020)


def test_import_qpp_reads_them(tmp_path: Path, run, app) -> None:
    entries = json.loads(reference_file(2025).read_text(encoding="utf-8"))
    for entry in entries:
        if entry["measureId"] == "IA_AHE_1":
            entry["allowedPrograms"] = ["mips", "M1366"]
            entry["allowedRegistrationTypes"] = ["individual"]
    path = tmp_path / "ia-2025.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    preview = json.loads(run("catalog", "import-qpp", path, "--year", "2025", "--format", "json").stdout)
    changed = {c["activity"]: c["fields"] for c in preview["changed"]}
    assert set(changed["IA_AHE_1"]) >= {"allowed_programs", "allowed_registration_types"}
    with app.read() as session:
        assert allowed_programs(session, "IA_AHE_1", 2025) == ("mips", "M1366")
        assert allowed_registration_types(session, "IA_AHE_1", 2025) == ("individual",)


def test_import_qpp_refuses_a_list_on_some_entries_only(tmp_path: Path, run, dump) -> None:
    entries = json.loads(reference_file(2025).read_text(encoding="utf-8"))
    del entries[3]["allowedPrograms"]
    path = tmp_path / "ia-2025.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    before = dump()
    out = run("catalog", "import-qpp", path, "--year", "2025", expect=1).output
    assert f"({entries[3]['measureId']}), field 'allowedPrograms': missing while other entries have one" in out
    assert dump() == before


def test_catalog_show_lists_them(run) -> None:
    shown = run("catalog", "show", "IA_MVP", "--year", "2025").output
    assert "    programs: MVP reporters only; MVPs: G0053, G0054" in shown
    assert "    registration types: apm, group, subgroup, individual" in shown
    assert "programs:" not in run("catalog", "show", "IA_EPA_1", "--year", "2020").output
    document = json.loads(run("catalog", "show", "IA_AHE_1", "--year", "2025", "--format", "json").output)
    assert document["years"][0]["allowed_programs"] == ["mips", "app1", "appPlus", "M1366", "M1368", "M1369",
                                                        "M1420", "M1421"]  # fmt: skip
    assert document["years"][0]["allowed_registration_types"] == ["apm", "group", "subgroup", "individual"]


PROGRAM_YAML = (
    GOOD_HEAD.replace("2020:", "2023:")
    .replace("    weighted: true\n", "    weighted: true\n    programs: [mips, app1]\n")
    .replace("weight: high}", "weight: high, mvps: [M0001]}")
)


def test_a_year_default_and_an_activitys_mvps_make_its_programs(tmp_path: Path) -> None:
    path = tmp_path / "programs.yaml"
    path.write_text(PROGRAM_YAML.replace("weight: medium}", "weight: medium, programs: []}"), encoding="utf-8")
    catalog = load_catalog_file(path)
    programs = {a.activity_id: a.programs for a in catalog.years[2023].activities}
    assert programs == {"IA_PM_15": (), "IA_PM_7": ("mips", "app1", "M0001")}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("    programs: [mips, app1]\n", ""), "activity IA_PM_7, field 'mvps': the year lists no programs"),
        (("mvps: [M0001]", "mvps: [X1]"), "'X1' is not a valid value"),
        (("weight: high, ", "weight: high, registration_types: [group], "), "field 'registration_types': the year"),
    ],
)
def test_a_bad_program_list_is_refused_with_its_line(tmp_path: Path, run, change: tuple[str, str], message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(PROGRAM_YAML.replace(*change), encoding="utf-8")
    assert message in run("catalog", "validate", path, expect=1).output


# --- The rules, one row each ---------------------------------------------------------------------

MVP_ONLY = ("G0053", "M0001", "M0002")
OPEN_2024 = ("mips", "pcf", "app1", "M0001")
OPEN_2025 = ("mips", "app1", "appPlus", "M1366")
PROGRAM_ROWS = {
    # name: (year, activity, allowed, program, mvp id, expected problem or None)
    "IA_MVP in traditional MIPS 2024": (2024, "IA_MVP", MVP_ONLY, "mips", None,
                                        "IA_MVP is for MVP reporters only (allowed: G0053, M0001, M0002)"),
    "IA_MVP in the APP 2025": (2025, "IA_MVP", MVP_ONLY, "app", None, "IA_MVP is for MVP reporters only"),
    "IA_MVP in its MVP": (2024, "IA_MVP", MVP_ONLY, "mvp", "M0001", None),
    "IA_MVP in another MVP": (2024, "IA_MVP", MVP_ONLY, "mvp", "M1370", "IA_MVP is for MVP reporters only"),
    "traditional MIPS, open activity": (2024, "IA_EPA_1", OPEN_2024, "mips", None, None),
    "APP is app1": (2024, "IA_EPA_1", OPEN_2024, "app", None, None),
    "APP is appPlus too from 2025": (2025, "IA_X_1", ("mips", "appPlus"), "app", None, None),
    "appPlus alone before 2025": (2024, "IA_X_1", ("mips", "appPlus"), "app", None,
                                  "IA_X_1 is not open to APP reporters in PY2024 (allowed: mips, appPlus)"),
    "MVP not listed for the activity": (2025, "IA_EPA_1", OPEN_2025, "mvp", "M0001",
                                        "IA_EPA_1 is not open to MVP M0001 reporters in PY2025"),
    "MVP listed": (2025, "IA_EPA_1", OPEN_2025, "mvp", "M1366", None),
    "MVP without its id": (2025, "IA_EPA_1", OPEN_2025, "mvp", None, "an MVP reporter names its MVP id"),
    "no list (PY2022): every program": (2022, "IA_EPA_1", None, "mips", None, None),
    "no list (PY2022): an MVP": (2022, "IA_EPA_1", None, "mvp", "M0001", "MIPS Value Pathways (MVPs) began with PY2023"),
    "APP before PY2021": (2020, "IA_EPA_1", None, "app", None, "the APM Performance Pathway (APP) began with PY2021"),
    "APP in PY2021": (2021, "IA_EPA_1", None, "app", None, None),
    "unknown program": (2024, "IA_EPA_1", OPEN_2024, "pcf", None, "program 'pcf' is not one of mips, mvp, app"),
}  # fmt: skip


@pytest.mark.parametrize("name", PROGRAM_ROWS)
def test_program_problem(name: str) -> None:
    year, activity_id, allowed, program, mvp_id, expected = PROGRAM_ROWS[name]
    problem = cms.activity_program_problem(year, activity_id, allowed, program, mvp_id)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(expected), problem


REGISTRATION_ROWS = {
    "no list before PY2025": (2024, None, "subgroup", None),
    "listed": (2025, ("apm", "group", "subgroup", "individual"), "subgroup", None),
    "not listed": (2025, ("individual", "group"), "apm", "PY2025: the activity is not open to apm reporting"),
}


@pytest.mark.parametrize("name", REGISTRATION_ROWS)
def test_registration_type_problem(name: str) -> None:
    year, allowed, entity_type, expected = REGISTRATION_ROWS[name]
    problem = cms.registration_type_problem(year, allowed, entity_type)
    assert problem == expected if expected is None else (problem or "").startswith(expected)


# --- Migration 0007 ------------------------------------------------------------------------------


def test_0007_adds_the_program_columns_keeping_every_activity_and_attestation(tmp_path: Path) -> None:
    """A store at 0005 with an attestation: after 0007 every row and id stays, the new columns NULL."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO catalog_years (performance_year, weighted, source, source_name, "
                                "source_sha256, loaded_at) VALUES (2024, 1, 'shipped', 'x.yaml', 'ab', "
                                "'2026-01-01 00:00:00')"))  # fmt: skip
        connection.execute(text("INSERT INTO activities (id, performance_year, activity_id, title, subcategory, "
                                "weight) VALUES (41, 2024, 'IA_MVP', 'MVP QI', NULL, 'high')"))  # fmt: skip
        connection.execute(text("INSERT INTO practices (id, tin, name, pcmh, apm, created_at) VALUES "
                                "(7, '000123456', 'P', 0, 'none', '2026-01-01 00:00:00')"))  # fmt: skip
        connection.execute(text("INSERT INTO attestations (id, practice_id, performance_year, activity_pk, "
                                "start_date, end_date, created_by, created_at) VALUES (3, 7, 2024, 41, "
                                "'2024-01-01', '2024-12-31', 'x', '2026-01-01 00:00:00')"))  # fmt: skip
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.HEAD_REVISION
    with engine.begin() as connection:
        activity = connection.execute(text("SELECT id, activity_id, weight, allowed_programs, "
                                           "allowed_registration_types FROM activities")).all()  # fmt: skip
        assert [tuple(r) for r in activity] == [(41, "IA_MVP", "high", None, None)]
        attestation = connection.execute(text("SELECT id, activity_pk, start_date FROM attestations")).all()
        assert [(r[0], r[1], str(r[2])) for r in attestation] == [(3, 41, "2024-01-01")]
    migrate.downgrade(engine, "0005")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT id, activity_id FROM activities")).all() == [(41, "IA_MVP")]
    engine.dispose()


def test_an_upgraded_store_gets_the_shipped_programs_on_its_next_start(app, run) -> None:
    run("init")
    with app.engine.begin() as connection:  # as a store from before 0007 holds them, with its old fingerprint
        connection.execute(text("UPDATE activities SET allowed_programs = NULL, allowed_registration_types = NULL"))
        connection.execute(text("UPDATE settings SET value = 'old' WHERE key = 'shipped_catalog_sha256'"))
    shown = run("catalog", "show", "IA_MVP", "--year", "2024", "--format", "json").output
    assert "M0001" in json.loads(shown)["years"][0]["allowed_programs"]
