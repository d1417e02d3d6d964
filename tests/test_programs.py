"""Programs, medical homes and APMs per performance year, end to end through the CLI.

Expected values come from the CMS rules cited in docs/RULES-SOURCES.md: a medical home earns
full credit (40) in the year it is recognised only; the APP exists from PY2021, the APM scoring
standard PY2017-2020, MVPs from PY2023; an MVP reporter's high activity is 40 points in 2023-2024.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from sqlalchemy import select

from evidence.db.models import Clinician, Practice
from evidence.records.reporting import YearStatus, year_status
from tests import factories
from tests.factories import TIN

ORDINARY = {"patient_facing_encounters": 500, "hospital_pos_pct": 10.0, "asc_pos_pct": 0.0}
LARGE = 20  # more than 15 clinicians: no small-practice doubling


def large_practice(app, *years: int) -> dict[int, list[int]]:
    """A practice of 20 ordinary clinicians in each year; their ids per year."""
    with app.write() as session:
        practice = factories.practice(session)
        return {year: factories.clinicians(session, practice, year, LARGE, **ORDINARY) for year in years}


def attest(app, activity_id: str, year: int, participants: list[int] | None = None, npi_id: int | None = None):
    with app.write() as session:
        practice = session.scalars(select(Practice)).one()
        clinician = session.get(Clinician, npi_id) if npi_id else None
        row = factories.attestation(session, practice, activity_id, year, clinician=clinician)
        if participants:
            factories.participations(session, row, participants)


def score(run, year: int, *extra: str) -> dict[str, Any]:
    return json.loads(run("score", "--tin", TIN, "--year", year, "--format", "json", *extra).output)


def last_event(run) -> dict[str, Any]:
    event = json.loads(run("log", "--format", "json").output)[-1]
    return {**event, "details": json.loads(event["details"])}


def refused(run, dump, *args: str) -> str:
    """The command fails with one line and changes nothing."""
    before = dump()
    out = run(*args, expect=1).output
    assert out.startswith("Error: ") and out.count("\n") == 1, out
    assert dump() == before
    return out


def test_a_medical_home_in_2020_only_scores_40_in_2020_and_its_activities_in_2021(run, app) -> None:
    ids = large_practice(app, 2020, 2021)
    attest(app, "IA_PM_2", 2021, ids[2021][:10])  # high: 20 points, half of the clinicians take part
    run("practice", "set", TIN, "--year", "2020", "--pcmh", "--reason", "NCQA recognition letter of 2020-03-02")
    in_2020, in_2021 = score(run, 2020), score(run, 2021)
    assert (in_2020["credits"]["pcmh"]["points"], in_2020["points"], in_2020["category_score"]) == (40, 40, 1.0)
    assert "recognised patient-centered medical home for PY2020" in in_2020["credits"]["pcmh"]["reason"]
    assert (in_2021["credits"]["pcmh"]["points"], in_2021["points"]) == (0, 20)
    assert in_2021["credits"]["pcmh"]["reason"] == "not recorded as a recognised medical home for PY2021"
    text = run("score", "--tin", TIN, "--year", "2021").output
    assert "PCMH: 0 points - not recorded as a recognised medical home for PY2021" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("--year", "2019", "--program", "app"), "the APM Performance Pathway (APP) began with PY2021; "
                     "PY2019 has no APP", id="app-2019"),
        pytest.param(("--year", "2020", "--apm", "app"), "the APM Performance Pathway (APP) began with PY2021",
                     id="apm-app-2020"),
        pytest.param(("--year", "2021", "--apm", "mips"), "the APM scoring standard (--apm mips) applied "
                     "PY2017-2020 only", id="apm-scoring-standard-2021"),
        pytest.param(("--year", "2022", "--program", "mvp", "--mvp", "M0001"), "MIPS Value Pathways (MVPs) began "
                     "with PY2023; PY2022 has no MVPs", id="mvp-2022"),
        pytest.param(("--year", "2024", "--program", "mvp"), "an MVP reporter needs its MVP id: give --mvp ID",
                     id="mvp-without-id"),
        pytest.param(("--year", "2024", "--mvp", "M01"), "MVP id 'M01' is not a CMS MVP id", id="bad-mvp-id"),
        pytest.param(("--year", "2024", "--mvp", "M0001\x1b[2J"), "is not a CMS MVP id", id="hostile-mvp-id"),
        pytest.param(("--year", "2024", "--mvp", "M" * 10_000), "MVP id 'MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM'... "
                     "(10000 characters) is not a CMS MVP id", id="mvp-id-10kb-shown-clipped"),
        pytest.param(("--year", "2024", "--mvp", "M9999"), "MVP id M9999 is not one of CMS's PY2024 MVPs (G0053, ",
                     id="unknown-mvp-id"),
        pytest.param(("--year", "2025", "--mvp", "M0003"), "MVP id M0003 is not one of CMS's PY2025 MVPs",
                     id="mvp-cms-dropped-in-2025"),
        pytest.param(("--year", "2024", "--mvp", "G0056"), "MVP id G0056 is not one of CMS's PY2024 MVPs",
                     id="mvp-cms-dropped-in-2024"),
        pytest.param(("--year", "2024", "--program", "app", "--mvp", "M0001"), "--mvp names an MVP, but the program "
                     "is app", id="mvp-id-with-app"),
        pytest.param(("--year", "2024", "--program", "app", "--apm", "other"), "the APP is both the program and the "
                     "APM participation", id="app-program-other-apm"),
        pytest.param(("--year", "2020", "--pcmh", "--pcmh-sites", "3"), "give --pcmh-sites and --recognized-sites "
                     "together", id="sites-without-recognised"),
        pytest.param(("--year", "2020", "--pcmh", "--pcmh-sites", "3", "--recognized-sites", "4"),
                     "--recognized-sites 4 is not between 0 and the 3 practice sites", id="more-recognised-than-sites"),
        pytest.param(("--year", "2020", "--pcmh-sites", "3", "--recognized-sites", "2"), "2 recognised sites are recorded: give "
                     "--pcmh with them, or --recognized-sites 0 with --no-pcmh", id="recognised-sites-without-pcmh"),
        pytest.param(("--year", "2020", "--npi", "1234567893", "--pcmh"), "NPI 1234567893 does not bill under TIN",
                     id="npi-not-under-the-tin"),
        pytest.param(("--pcmh",), "facts of one performance year: give --year", id="no-year"),
    ],
)  # fmt: skip
def test_practice_set_refuses_what_the_year_does_not_allow(run, app, dump, args: tuple[str, ...], message: str) -> None:
    large_practice(app, 2019, 2020, 2021, 2022, 2024)
    out = refused(run, dump, "practice", "set", TIN, *args, "--reason", "x")
    assert message in out, out
    assert "\x1b" not in out


def test_an_mvp_cms_dropped_later_is_still_recorded_for_a_year_it_ran(run, app) -> None:
    # M0003 is in ia-2024.json's allowedPrograms and gone from ia-2025.json's.
    large_practice(app, 2024)
    out = run("practice", "set", TIN, "--year", "2024", "--mvp", "M0003", "--reason", "registered for MVP M0003")
    assert out.output == f"practice {TIN} PY2024: nothing recorded -> program=mvp, mvp_id=M0003\n"


@pytest.mark.usefixtures("wide")
def test_an_mvp_reporter_in_2024_with_one_high_activity_gets_full_credit(run, app) -> None:
    ids = large_practice(app, 2024)
    attest(app, "IA_EPA_1", 2024, ids[2024][:10])  # high, and open to MVP M0001 (CMS allowedPrograms)
    assert score(run, 2024)["points"] == 20  # traditional MIPS: a high activity is half of full credit
    out = run("practice", "set", TIN, "--year", "2024", "--mvp", "m0001", "--reason", "registered for MVP M0001")
    assert out.output == f"practice {TIN} PY2024: nothing recorded -> program=mvp, mvp_id=M0001\n"
    document = score(run, 2024)
    assert (document["points"], document["category_score"], document["final_score_points"]) == (40, 1.0, 15.0)
    assert document["program"]["program_name"] == "M0001"
    (row,) = document["activities"]
    assert row["points"] == 40 and not row["doubled"]
    assert "MVP reporter: high weight earns 40 points" in row["reasons"][0]
    text = run("score", "--tin", TIN, "--year", "2024").output
    assert "Program: M0001 - MVP M0001: full credit with 2 medium-weighted activities, 1 high-weighted" in text


def test_an_mvp_reporter_from_2025_needs_one_activity(run, app) -> None:
    ids = large_practice(app, 2025)
    attest(app, "IA_BE_4", 2025, ids[2025][:10])
    assert score(run, 2025)["points"] == 20
    run("practice", "set", TIN, "--year", "2025", "--mvp", "M1366", "--reason", "MVP")
    assert score(run, 2025)["points"] == 40


def test_app_reporter_gets_full_credit_and_weight_20_and_the_apm_scoring_standard_its_years(run, app) -> None:
    large_practice(app, 2020, 2021)
    run("practice", "set", TIN, "--year", "2021", "--program", "app", "--reason", "ACO reports the APP")
    in_2021 = score(run, 2021)
    assert (in_2021["credits"]["apm"]["kind"], in_2021["points"], in_2021["final_score_weight"]) == ("app", 40, 20)
    assert in_2021["program"]["program_name"] == "app1"
    run("practice", "set", TIN, "--year", "2020", "--apm", "mips", "--reason", "MSSP ACO")
    in_2020 = score(run, 2020)
    assert (in_2020["credits"]["apm"]["points"], in_2020["final_score_weight"], in_2020["final_score_points"]) == (
        40,
        20,
        20.0,
    )


def test_a_medical_home_with_recorded_sites_is_withdrawn_with_its_sites(run, app, dump) -> None:
    large_practice(app, 2020)
    run("practice", "set", TIN, "--year", "2020", "--pcmh", "--pcmh-sites", "2", "--recognized-sites", "2",
        "--reason", "both sites")  # fmt: skip
    out = refused(run, dump, "practice", "set", TIN, "--year", "2020", "--no-pcmh", "--reason", "lapsed")
    assert "or --recognized-sites 0 with --no-pcmh" in out
    run("practice", "set", TIN, "--year", "2020", "--no-pcmh", "--recognized-sites", "0", "--reason", "lapsed")
    assert score(run, 2020)["credits"]["pcmh"]["points"] == 0


def test_group_medical_home_needs_half_of_its_sites_from_2018_and_all_in_2017(run, app) -> None:
    large_practice(app, 2017, 2020)
    run("practice", "set", TIN, "--year", "2020", "--pcmh", "--pcmh-sites", "3", "--recognized-sites", "1",
        "--reason", "one site recognised")  # fmt: skip
    in_2020 = score(run, 2020)
    assert in_2020["credits"]["pcmh"]["points"] == 0
    assert (
        "1 of 3 practice sites recognised for PY2020; a group needs at least 50%"
        in in_2020["credits"]["pcmh"]["reason"]
    )
    run("practice", "set", TIN, "--year", "2020", "--recognized-sites", "2", "--reason", "second site recognised")
    assert score(run, 2020)["credits"]["pcmh"]["points"] == 40
    run("practice", "set", TIN, "--year", "2017", "--pcmh", "--pcmh-sites", "4", "--recognized-sites", "3",
        "--reason", "three of four")  # fmt: skip
    assert score(run, 2017)["credits"]["pcmh"]["points"] == 0
    assert "every practice site of the TIN recognised (PY2017" in score(run, 2017)["credits"]["pcmh"]["reason"]


def test_an_npi_reports_through_its_own_program_and_otherwise_as_its_tin(run, app) -> None:
    ids = large_practice(app, 2024)
    with app.write() as session:
        npi = session.get_one(Clinician, ids[2024][0]).npi
    attest(app, "IA_EPA_1", 2024, npi_id=ids[2024][0])  # high, open to MIPS and MVP G0053
    run("practice", "set", TIN, "--year", "2024", "--apm", "other", "--reason", "in an APM")
    inherited = score(run, 2024, "--npi", npi)
    assert inherited["program"]["recorded_for"] == "tin" and inherited["credits"]["apm"]["points"] == 20
    run("practice", "set", TIN, "--year", "2024", "--npi", npi, "--mvp", "G0053", "--reason", "reports an MVP")
    own = score(run, 2024, "--npi", npi)
    assert own["program"] == {"program": "mvp", "program_name": "G0053", "recorded_for": "npi",
                              "requirement": own["program"]["requirement"], "problems": []}  # fmt: skip
    assert own["points"] == 40 and own["credits"]["apm"]["points"] == 0
    assert score(run, 2024)["program"]["program_name"] == "mips"
    with app.read() as session:
        assert year_status(session, TIN, 2024, npi) == YearStatus("mvp", "G0053", False, "none")
        assert year_status(session, TIN, 2024) == YearStatus("mips", None, False, "other")
        assert year_status(session, TIN, 2023) == YearStatus("mips", None, False, "none")  # nothing recorded


def test_an_npi_inherits_the_tins_medical_home_only_when_every_site_is_recognised(run, app) -> None:
    ids = large_practice(app, 2020)
    with app.write() as session:
        npi = session.get_one(Clinician, ids[2020][0]).npi
    run("practice", "set", TIN, "--year", "2020", "--pcmh", "--pcmh-sites", "2", "--recognized-sites", "1",
        "--reason", "one of two sites")  # fmt: skip
    with app.read() as session:
        assert year_status(session, TIN, 2020).pcmh
        assert not year_status(session, TIN, 2020, npi).pcmh
    run("practice", "set", TIN, "--year", "2020", "--recognized-sites", "2", "--reason", "both sites")
    with app.read() as session:
        assert year_status(session, TIN, 2020, npi).pcmh


def test_an_activity_outside_the_mvp_is_not_creditable_after_the_program_changes(run, app) -> None:
    """IA_PM_2 is not among MVP M0001's activities in PY2024: attested under MIPS, it stops counting."""
    ids = large_practice(app, 2024)
    attest(app, "IA_PM_2", 2024, ids[2024][:10])
    assert score(run, 2024)["points"] == 20
    run("practice", "set", TIN, "--year", "2024", "--mvp", "M0001", "--reason", "registered for MVP M0001")
    document = score(run, 2024)
    (row,) = document["activities"]
    assert document["points"] == 0 and row["points"] == 0
    assert any("IA_PM_2 is not open to MVP M0001 reporters in PY2024" in reason for reason in row["reasons"])
    missing = json.loads(run("missing", "--tin", TIN, "--year", "2024", "--format", "json").output)
    assert "IA_PM_2 is not open to MVP M0001 reporters in PY2024" in json.dumps(missing)


def test_attest_refuses_an_activity_outside_the_program_in_one_line(run, app) -> None:
    large_practice(app, 2024)
    args = ("attest", "--tin", TIN, "--activity", "IA_MVP", "--year", "2024", "--start", "2024-01-01", "--end",
            "2024-12-31")  # fmt: skip
    refused = run(*args, expect=1)
    assert refused.stderr.startswith("Error: IA_MVP is for MVP reporters only (allowed: G0053, ")
    assert "TIN 000123456 reports PY2024 through traditional MIPS" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert json.loads(run("missing", "--tin", TIN, "--year", "2024", "--format", "json").output) == []
    run("practice", "set", TIN, "--year", "2024", "--mvp", "M0001", "--reason", "MVP")
    assert "attested IA_MVP" in run(*args).output


def test_year_status_program_name() -> None:
    assert YearStatus("mips", None, False, "none").program_name == "mips"
    assert YearStatus("app", None, False, "app").program_name == "app1"
    assert YearStatus("mvp", "M0001", True, "none").program_name == "M0001"


def test_practice_set_is_audited_correctable_and_refuses_no_change(run, app, dump) -> None:
    large_practice(app, 2021)
    run("practice", "set", TIN, "--year", "2021", "--program", "app", "--reason", "joined the ACO")
    event = last_event(run)
    assert (event["action"], event["tin"], event["year"]) == ("practice.year", TIN, 2021)
    assert event["details"]["new"] == {"program": "app", "apm": "app"} and event["details"]["old"] == {}
    out = run("practice", "set", TIN, "--year", "2021", "--program", "mips", "--reason", "the ACO withdrew").output
    assert out == f"practice {TIN} PY2021: program=app, apm=app -> program=mips, apm=none\n"
    event = last_event(run)
    assert event["details"]["old"] == {"program": "app", "apm": "app"}
    assert event["details"]["reason"] == "the ACO withdrew"
    out = refused(run, dump, "practice", "set", TIN, "--year", "2021", "--program", "mips", "--reason", "again")
    assert "nothing to change: TIN 000123456 already has program=mips for PY2021" in out
    run("log", "verify")  # the chain holds every change


def test_practice_years_lists_through_every_format(run, app) -> None:
    large_practice(app, 2020, 2024)
    run("practice", "set", TIN, "--year", "2020", "--pcmh", "--pcmh-sites", "2", "--recognized-sites", "1",
        "--apm", "mips", "--reason", "x")  # fmt: skip
    run("practice", "set", TIN, "--year", "2024", "--mvp", "M0001", "--reason", "x")
    rows = json.loads(run("practice", "years", TIN, "--format", "json").output)
    assert [(r["year"], r["program_name"], r["pcmh"], r["apm"]) for r in rows] == [
        (2020, "mips", True, "mips"),
        (2024, "M0001", False, "none"),
    ]
    table = list(csv.DictReader(io.StringIO(run("practice", "years", TIN, "--format", "csv").output)))
    assert [(r["year"], r["pcmh_sites"], r["recognized_sites"]) for r in table] == [
        ("2020", "2", "1"),
        ("2024", "", ""),
    ]
    shown = run("practice", "show", TIN).output
    assert "reports: program mips, PCMH yes (1 of 2 sites), APM mips" in shown
    assert "reports: program M0001, PCMH no, APM none" in shown
    only = json.loads(run("practice", "years", TIN, "--year", "2020", "--format", "json").output)
    assert [r["year"] for r in only] == [2020]
    listed = json.loads(run("practice", "list", "--format", "json").output)
    assert listed[0]["reporting_years"] == 2


def test_a_migrated_year_cms_does_not_allow_is_shown_and_earns_nothing(run, app) -> None:
    """Rows carried over by migration 0006 may hold the APM scoring standard after 2020."""
    with app.write() as session:
        practice = factories.practice(session)
        factories.clinicians(session, practice, 2022, LARGE, **ORDINARY)
        factories.reporting_year(session, practice, 2022, apm="mips")
    document = score(run, 2022)
    assert document["credits"]["apm"]["points"] == 0
    assert document["credits"]["apm"]["reason"].startswith("no credit: the APM scoring standard (--apm mips)")
    assert any(note.startswith("not allowed: the APM scoring standard") for note in document["notes"])
    (row,) = json.loads(run("practice", "years", TIN, "--format", "json").output)
    assert row["problems"].startswith("the APM scoring standard")
    run("practice", "set", TIN, "--year", "2022", "--apm", "other", "--reason", "corrected after the migration")
    assert score(run, 2022)["credits"]["apm"]["points"] == 20


def test_practice_add_records_pcmh_and_apm_as_one_years_values(run, dump) -> None:
    out = refused(run, dump, "practice", "add", TIN, "--name", "Clinic", "--pcmh")
    assert "facts of one performance year: give its year (--year)" in out
    refused(run, dump, "practice", "add", TIN, "--name", "Clinic", "--apm", "app", "--year", "2019")
    out = run("practice", "add", TIN, "--name", "Clinic", "--pcmh", "--apm", "other", "--year", "2020").output
    assert out == f"practice {TIN} added: Clinic (PY2020: pcmh=True, apm=other)\n"
    (row,) = json.loads(run("practice", "years", TIN, "--format", "json").output)
    assert (row["year"], row["pcmh"], row["apm"]) == (2020, True, "other")
    event = last_event(run)
    assert (event["action"], event["year"]) == ("practice.add", 2020)
    assert event["details"]["pcmh"] is True and event["details"]["apm"] == "other"


def test_missing_names_how_the_year_is_reported(run, app) -> None:
    ids = large_practice(app, 2020)
    attest(app, "IA_PM_2", 2020, ids[2020][:10])
    assert "reports:" not in run("missing", "--tin", TIN).output  # nothing recorded: nothing said
    run("practice", "set", TIN, "--year", "2020", "--pcmh", "--reason", "recognised")
    assert "reports: program mips, PCMH yes, APM none" in run("missing", "--tin", TIN).output
    (activity,) = json.loads(run("missing", "--tin", TIN, "--format", "json").output)
    assert (activity["program_name"], activity["pcmh_recognized"], activity["apm"]) == ("mips", True, "none")


def test_an_attested_ia_pcmh_without_a_recorded_year_says_where_its_credit_is(run, app) -> None:
    """Points agree everywhere; the Credits line must not read as if the practice earned nothing."""
    ids = large_practice(app, 2021)
    attest(app, "IA_PCMH", 2021, ids[2021][:10])
    document = score(run, 2021)
    assert document["credits"]["pcmh"]["points"] == 0
    assert "the attested IA_PCMH is scored as an activity" in document["credits"]["pcmh"]["reason"]
    (row,) = document["activities"]
    assert row["points"] == 40 and "IA_PCMH" in json.dumps(row)
