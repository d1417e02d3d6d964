"""Every mistake can be corrected (#13, case 3): audited corrections with the old value and a reason."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from evidence.errors import InputError
from tests.stores import use_sample_practice

# Whole report lines are matched: a terminal wide enough that none wraps (tables fit $COLUMNS).
pytestmark = pytest.mark.usefixtures("wide")

TIN = "000123456"
CHEN, OSEI = "1234567893", "1000000004"
ESC, RLO = "\x1b", "\u202e"


@pytest.fixture
def sample(app):
    use_sample_practice(app)  # tests/stores.py: a copy of one built once


def _attestation(app, year: int, activity: str) -> int:
    with app.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT a.id FROM attestations a JOIN activities act ON act.id = a.activity_pk "
                    "WHERE a.performance_year = :year AND act.activity_id = :activity AND a.clinician_id IS NULL"
                ),
                {"year": year, "activity": activity},
            ).scalar_one()
        )


def _links(run, evidence_id: int) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = json.loads(run("show", evidence_id, "--format", "json").output)["links"]
    return links


def _last_event(run) -> tuple[dict[str, Any], dict[str, Any]]:
    event = json.loads(run("log", "--format", "json").output)[-1]
    return event, json.loads(event["details"])


def _missing(run, activity: str, year: int = 2020) -> dict[str, Any]:
    rows = json.loads(run("missing", "--tin", TIN, "--year", year, "--format", "json").output)
    return next(row for row in rows if row["activity"] == activity)


def _intact(run) -> None:
    assert "audit trail intact" in run("log", "verify").output


# --- link / unlink -----------------------------------------------------------------------------


def test_link_adds_a_documentation_item_with_an_audited_event(run, app, sample) -> None:
    assert _missing(run, "IA_CC_9")["status"] == "incomplete"
    out = run("link", "6", "--tin", TIN, "--year", "2020", "--activity", "IA_CC_9", "--item", "2",
              "--reason", "the template is the shared care plan", "--actor", "officer").output  # fmt: skip
    link_ids = [link["link_id"] for link in _links(run, 6) if link["item_key"] == 2]
    assert out == f"evidence 6 linked to {TIN} PY2020 IA_CC_9 item 2 (link {link_ids[0]})\n"
    assert f"link {link_ids[0]}: {TIN} PY2020 IA_CC_9 group: item 2" in run("show", "6").output
    event, details = _last_event(run)
    assert (event["action"], event["actor"], event["tin"], event["year"]) == ("link", "officer", TIN, 2020)
    assert details == {"evidence": 6, "links": link_ids, "attestation": _attestation(app, 2020, "IA_CC_9"),
                       "retain_until": "2026-12-31", "old": None, "new": f"{TIN} PY2020 IA_CC_9 item 2",
                       "reason": "the template is the shared care plan"}  # fmt: skip
    assert _missing(run, "IA_CC_9")["status"] == "complete"
    _intact(run)


LINK = ("--tin", TIN, "--year", "2020", "--activity", "IA_CC_9", "--item", "1")
LINK_REFUSALS = {
    "unknown evidence": (("link", "999", *LINK, "--reason", "x"), "Error: no evidence with id 999\n"),
    "empty reason": (("link", "4", *LINK, "--reason", "  "), "Error: a correction needs a --reason (why the "
                                                              "record was wrong)\n"),
    "already linked": (("link", "6", *LINK, "--reason", "x"),
                       f"Error: nothing to change: evidence 6 is already linked to {TIN} PY2020 IA_CC_9 item 1\n"),
    "unknown item": (("link", "4", "--tin", TIN, "--year", "2020", "--activity", "IA_CC_9", "--item", "9",
                      "--reason", "x"), "Error: IA_CC_9 has no documentation item 9"),
    "no attestation": (("link", "4", "--tin", TIN, "--year", "2019", "--activity", "IA_CC_9", "--reason", "x"),
                       "Error: no attestation of IA_CC_9 by the group under TIN 000123456 for 2019"),
    "unknown unlink": (("unlink", "999", "--reason", "x"), "Error: no evidence link with id 999\n"),
    "empty unlink reason": (("unlink", "1", "--reason", ""), "Error: a correction needs a --reason"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(LINK_REFUSALS))
def test_link_and_unlink_refusals_change_nothing(run, dump, sample, case) -> None:
    args, message = LINK_REFUSALS[case]
    before = dump()
    out = run(*args, expect=1).output
    assert out.startswith(message) and out.count("\n") == 1, out
    assert dump() == before


@pytest.mark.parametrize("command", [("link", "4", *LINK), ("unlink", "1")])
def test_a_correction_without_a_reason_is_a_usage_error(run, dump, sample, command) -> None:
    before = dump()
    assert "Missing option '--reason'" in run(*command, expect=2).output
    assert dump() == before


def test_withdrawn_evidence_is_neither_linked_nor_unlinked(run, dump, sample) -> None:
    run("withdraw", "4", "--reason", "wrong quarter")
    (link,) = _links(run, 4)
    before = dump()
    for args in (("link", "4", *LINK, "--reason", "x"), ("unlink", link["link_id"], "--reason", "x")):
        out = run(*args, expect=1).output
        assert out.startswith("Error: evidence 4 was withdrawn on ") and "keeps its links as they were" in out
    assert dump() == before


def test_unlink_removes_the_link_and_the_event_keeps_it(run, app, sample) -> None:
    (link,) = _links(run, 6)
    out = run("unlink", link["link_id"], "--reason", "belongs to another plan").output
    attestation = _attestation(app, 2020, "IA_CC_9")
    assert out == (
        f"link {link['link_id']} removed: evidence 6 from attestation {attestation} ({TIN} PY2020 IA_CC_9, group) "
        "(no links left: it stays, listed without links)\n"
    )
    assert _links(run, 6) == [] and "links: none" in run("show", "6").output
    event, details = _last_event(run)
    assert (event["action"], event["year"]) == ("unlink", 2020)
    assert details == {"link": link["link_id"], "evidence": 6, "new": None, "reason": "belongs to another plan",
                       "old": {"link": link["link_id"], "evidence": 6, "attestation": attestation,
                               "activity": "IA_CC_9", "item": 1, "npi": None}}  # fmt: skip
    assert _missing(run, "IA_CC_9")["missing"] == "missing item 1, 2"
    again = run("unlink", link["link_id"], "--reason", "again", expect=1).output
    assert again == f"Error: no evidence link with id {link['link_id']}\n"
    _intact(run)


def test_a_legal_hold_freezes_unlink_withdraw_and_deletions(run, app, dump, sample) -> None:
    run("hold", "add", "--tin", TIN, "--year", "2020", "--reason", "CMS audit")
    (link,) = _links(run, 6)
    attestation = _attestation(app, 2020, "IA_CC_9")
    participation = json.loads(run("participation", "list", "--tin", TIN, "--format", "json").output)[0]["id"]
    before = dump()
    for args in (("unlink", link["link_id"]), ("attestation", "delete", attestation, "--unlink"),
                 ("participation", "delete", participation), ("withdraw", 6)):  # fmt: skip
        out = run(*args, "--reason", "x", expect=1).output
        assert f"{TIN} PY2020 is under legal hold #1; release the hold first" in out and out.count("\n") == 1
    assert dump() == before


def test_an_open_audit_freezes_withdraw_until_it_is_closed(run, dump, sample) -> None:
    run("audit", "open", "--tin", TIN, "--year", "2020", "--received", "2024-11-20")
    before = dump()
    out = run("withdraw", 6, "--reason", "wrong file", expect=1).output
    assert (
        out.startswith(f"Error: cannot withdraw evidence 6: {TIN} PY2020 is under open audit #1;")
        and out.count("\n") == 1
    )
    assert dump() == before
    run("audit", "close", "1", "--outcome", "passed")
    assert "withdrawn" in run("withdraw", 6, "--reason", "wrong file").output


# --- attestations ------------------------------------------------------------------------------


def test_attestation_edit_corrects_the_period(run, app, sample) -> None:
    attestation = _attestation(app, 2020, "IA_CC_9")
    assert f"#{attestation:<5} IA_CC_9      2020-04-01 to 2020-09-30" in run("practice", "show", TIN).output
    out = run("attestation", "edit", attestation, "--start", "2020-05-01", "--reason", "care plans began in May").output
    assert out == f"attestation {attestation} ({TIN} PY2020 IA_CC_9, group) now covers 2020-05-01 to 2020-09-30\n"
    event, details = _last_event(run)
    assert (event["action"], event["tin"], event["year"]) == ("attestation.edit", TIN, 2020)
    assert details == {"attestation": attestation, "old": {"start": "2020-04-01", "end": "2020-09-30"},
                       "new": {"start": "2020-05-01", "end": "2020-09-30"}, "reason": "care plans began in May"}  # fmt: skip
    item = _missing(run, "IA_CC_9")["items"][0]  # the template of 2020-04-06 is now before the period
    assert item["status"] == "outside the attested period"
    _intact(run)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.dates(date(2019, 12, 1), date(2021, 1, 31)), days=st.integers(-3, 400))
@example(start=date(2020, 1, 1), days=89)  # 90 days counting both ends: the shortest period accepted
@example(start=date(2020, 10, 3), days=89)  # the latest start, ending on Dec 31
@example(start=date(2020, 10, 4), days=89)  # one day later: ends in 2021
@example(start=date(2020, 3, 1), days=88)  # 89 days
@example(start=date(2019, 12, 31), days=200)  # starts before the year
@example(start=date(2020, 6, 1), days=-1)  # ends before it starts
def test_attestation_edit_accepts_exactly_a_90_day_period_inside_the_year(app, start: date, days: int) -> None:
    from evidence.db.models import Attestation
    from evidence.records.corrections import edit_attestation
    from tests import factories

    def period() -> tuple[date, date]:
        with app.read() as session:
            row = session.get_one(Attestation, 1)
            return row.start_date, row.end_date

    with app.write() as session:  # the first example makes the attestation; the others edit it
        if session.get(Attestation, 1) is None:
            factories.attestation(session, factories.practice(session), "IA_PM_7", 2020)
    old, end = period(), start + timedelta(days=days)
    valid = date(2020, 1, 1) <= start <= end <= date(2020, 12, 31) and days + 1 >= 90
    try:
        with app.write() as session:
            edit_attestation(session, 1, start=start, end=end, reason="property", actor="tester")
    except InputError as exc:
        assert not valid or (start, end) == old, exc.message
        assert period() == old
    else:
        assert valid and period() == (start, end)


ATTESTATION_REFUSALS = {
    "unknown id": (("edit", "999", "--end", "2020-11-30"), "Error: no attestation with id 999\n"),
    "same period": (("edit", "{id}", "--start", "2020-04-01", "--end", "2020-09-30"),
                    "Error: nothing to change: attestation {id} ({tin} PY2020 IA_CC_9, group) already covers "
                    "2020-04-01 to 2020-09-30\n"),
    "no dates": (("edit", "{id}"), "Error: give --start, --end or both: the period is the only thing to edit\n"),
    "too short": (("edit", "{id}", "--end", "2020-05-01"), "Error: the period 2020-04-01 to 2020-05-01 is 31 days"),
    "outside year": (("edit", "{id}", "--end", "2021-01-31"), "not inside performance year 2020"),
    "before start": (("edit", "{id}", "--end", "2020-03-01"), "ends (2020-03-01) before it starts"),
    "empty reason": (("edit", "{id}", "--end", "2020-11-30", "--reason", " "), "Error: a correction needs a --reason"),
    "delete unknown": (("delete", "999"), "Error: no attestation with id 999\n"),
    "delete with links": (("delete", "{id}"),
                          "Error: attestation {id} ({tin} PY2020 IA_CC_9, group) has 1 evidence link (evidence 6); "
                          "remove them with `evidence unlink LINK_ID`, or delete with --unlink"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(ATTESTATION_REFUSALS))
def test_attestation_refusals_change_nothing(run, app, dump, sample, case) -> None:
    args, message = ATTESTATION_REFUSALS[case]
    attestation = str(_attestation(app, 2020, "IA_CC_9"))
    args = tuple(a.replace("{id}", attestation) for a in args)
    if "--reason" not in args:
        args = (*args, "--reason", "x")
    before = dump()
    out = run("attestation", *args, expect=1).output
    assert message.replace("{id}", attestation).replace("{tin}", TIN) in out, out
    assert out.count("\n") == 1 and dump() == before


def test_attestation_delete_with_unlink_removes_links_and_participations_in_one_event(run, app, sample) -> None:
    attestation = _attestation(app, 2020, "IA_CC_9")
    (link,) = _links(run, 6)
    participations = json.loads(
        run("participation", "list", "--tin", TIN, "--activity", "IA_CC_9", "--format", "json").output
    )
    events = len(json.loads(run("log", "--format", "json").output))
    out = run("attestation", "delete", attestation, "--unlink", "--reason", "never attested IA_CC_9").output
    assert out == f"attestation {attestation} ({TIN} PY2020 IA_CC_9, group) deleted, with 2 participations and " \
                  "1 evidence link\n"  # fmt: skip
    logged = json.loads(run("log", "--format", "json").output)
    assert len(logged) == events + 1 and logged[-1]["action"] == "attestation.delete"
    details = json.loads(logged[-1]["details"])
    assert details["old"] == {"tin": TIN, "year": 2020, "activity": "IA_CC_9", "npi": None,
                              "start": "2020-04-01", "end": "2020-09-30"}  # fmt: skip
    assert details["links"] == [link["link_id"]] and details["removed_links"][0]["evidence"] == 6
    assert [p["participation"] for p in details["participations"]] == sorted(p["id"] for p in participations)
    assert details["reason"] == "never attested IA_CC_9" and details["new"] is None
    assert "IA_CC_9" not in run("practice", "show", TIN).output
    assert "IA_CC_9" not in run("score", "--tin", TIN, "--year", "2020").output
    assert _links(run, 6) == []  # the evidence stays, unlinked
    _intact(run)


def test_attestation_delete_without_links_needs_no_unlink(run, app) -> None:
    run("practice", "add", TIN, "--name", "Clinic")
    run("attest", "--tin", TIN, "--activity", "IA_PM_7", "--year", "2020", "--start", "2020-01-01",
        "--end", "2020-12-31")  # fmt: skip
    attestation = _attestation(app, 2020, "IA_PM_7")
    out = run("attestation", "delete", attestation, "--reason", "typed the wrong year").output
    assert "deleted, with 0 participations and 0 evidence links" in out
    again = run("attestation", "delete", attestation, "--reason", "x", expect=1).output
    assert again == f"Error: no attestation with id {attestation}\n"
    run("attest", "--tin", TIN, "--activity", "IA_PM_7", "--year", "2020", "--start", "2020-01-01",
        "--end", "2020-12-31")  # fmt: skip  # attested again: a new id
    assert _attestation(app, 2020, "IA_PM_7") > attestation


# --- participation -----------------------------------------------------------------------------


def _participation(run, npi: str, activity: str) -> int:
    rows = json.loads(run("participation", "list", "--tin", TIN, "--activity", activity, "--format", "json").output)
    return int(next(row["id"] for row in rows if row["npi"] == npi))


def test_participation_edit_and_delete_move_the_50_percent_rule(run, sample) -> None:
    osei = _participation(run, OSEI, "IA_CC_9")
    out = run("participation", "edit", osei, "--start", "2020-06-01", "--reason", "joined in June").output
    assert out == f"participation {osei} (NPI {OSEI}) now covers 2020-06-01 to 2020-09-30\n"
    event, details = _last_event(run)
    assert event["action"] == "participation.edit" and details["npi"] == OSEI
    assert (details["old"], details["new"]) == ({"start": "2020-05-04", "end": "2020-09-30"},
                                                {"start": "2020-06-01", "end": "2020-09-30"})  # fmt: skip
    listed = json.loads(run("participation", "list", "--tin", TIN, "--activity", "IA_CC_9", "--format", "json").output)
    assert {(row["npi"], row["start"]) for row in listed} == {(OSEI, "2020-06-01"), (CHEN, "2020-04-01")}
    assert "IA_CC_9 (medium): 20 points, counted" in run("score", "--tin", TIN, "--year", "2020").output
    chen = _participation(run, CHEN, "IA_CC_9")
    out = run("participation", "delete", chen, "--reason", "Dr. Chen did not take part").output
    assert out == f"participation {chen} (NPI {CHEN} in {TIN} PY2020 IA_CC_9) deleted\n"
    event, details = _last_event(run)
    assert event["action"] == "participation.delete"
    assert details["old"] == {"npi": CHEN, "start": "2020-04-01", "end": "2020-08-31"} and details["new"] is None
    score = run("score", "--tin", TIN, "--year", "2020").output  # below the 50% rule now
    assert "IA_CC_9 (medium): 0 points, NOT counted" in score and "1 of 4 clinicians (25%)" in score
    _intact(run)


def test_participation_delete_is_refused_while_evidence_about_the_clinician_is_linked(run, dump, sample) -> None:
    """Dr. Chen's QCDR statement is linked with her NPI to IA_PM_7: without her participation it would
    silently be judged against the group's period instead, so the link must be removed first."""
    chen = _participation(run, CHEN, "IA_PM_7")
    before = dump()
    out = run("participation", "delete", chen, "--reason", "x", expect=1).output
    assert out.startswith(f"Error: participation {chen} (NPI {CHEN} in {TIN} PY2020 IA_PM_7) has 1 evidence link ")
    assert "`evidence unlink LINK_ID` first" in out and out.count("\n") == 1
    assert dump() == before
    listed = json.loads(run("list", "--format", "json").output)
    statement = next(row["id"] for row in listed if row["name"] == "qcdr-participation-chen.pdf")
    link = next(
        line.split(":")[0].split()[-1]
        for line in run("show", str(statement)).output.splitlines()
        if line.strip().startswith("link ") and "IA_PM_7" in line
    )
    run("unlink", link, "--reason", "statement belongs to no participation")
    run("participation", "delete", chen, "--reason", "Dr. Chen did not take part")
    _intact(run)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("edit", "999", "--end", "2020-09-01"), "Error: no participation with id 999\n"),
        (("delete", "999"), "Error: no participation with id 999\n"),
        (("edit", "{id}", "--end", "2020-09-30"), "Error: nothing to change: participation {id} (NPI 1000000004 in "
                                                  "000123456 PY2020 IA_CC_9) already covers 2020-05-04 to 2020-09-30\n"),
        (("edit", "{id}", "--end", "2020-06-01"), "is 29 days; an activity needs at least 90"),
        (("edit", "{id}"), "Error: give --start, --end or both"),
        (("edit", "{id}", "--end", "2020-09-01", "--reason", "\t"), "Error: a correction needs a --reason"),
    ],
)  # fmt: skip
def test_participation_refusals_change_nothing(run, dump, sample, args, message) -> None:
    participation = str(_participation(run, OSEI, "IA_CC_9"))
    args = tuple(a.replace("{id}", participation) for a in args)
    if "--reason" not in args:
        args = (*args, "--reason", "x")
    before = dump()
    out = run("participation", *args, expect=1).output
    assert message.replace("{id}", participation) in out and out.count("\n") == 1, out
    assert dump() == before


# --- clinicians and practices ------------------------------------------------------------------


def test_clinician_update_corrects_status_inputs(run, sample) -> None:
    assert "0 of 4 clinicians (0%) practice in a rural ZIP code" in run("status", "--tin", TIN, "--year", "2020").output
    out = run("clinician", "update", CHEN, "--tin", TIN, "--year", "2020", "--rural", "--encounters", "150",
              "--reason", "corrected claims file").output  # fmt: skip
    assert out == f"clinician {CHEN} under {TIN} in 2020: rural=False, patient_facing_encounters=1810 -> " \
                  "rural=True, patient_facing_encounters=150\n"  # fmt: skip
    event, details = _last_event(run)
    assert (event["action"], event["tin"], event["year"]) == ("clinician.update", TIN, 2020)
    assert details["old"] == {"rural": False, "patient_facing_encounters": 1810}
    assert details["new"] == {"rural": True, "patient_facing_encounters": 150}
    assert details["npi"] == CHEN and details["reason"] == "corrected claims file"
    status = run("status", "--tin", TIN, "--year", "2020").output
    assert "1 of 4 clinicians (25%) practice in a rural ZIP code" in status
    listed = json.loads(run("clinician", "list", "--tin", TIN, "--year", "2020", "--format", "json").output)
    chen = next(row for row in listed if row["npi"] == CHEN)
    assert (chen["rural"], chen["patient_facing_encounters"], chen["hpsa"]) == (True, 150, False)  # the rest stays
    _intact(run)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((CHEN, "--year", "2020", "--no-rural"), f"Error: nothing to change: NPI {CHEN} under {TIN} in 2020 already "
                                                 "has rural=False\n"),
        ((CHEN, "--year", "2020"), "Error: give at least one input to change"),
        ((CHEN, "--year", "2021", "--rural"), f"Error: NPI {CHEN} does not bill under TIN {TIN} in 2021"),
        (("1000000038", "--year", "2020", "--rural"), f"Error: NPI 1000000038 does not bill under TIN {TIN} in 2020"),
        ((CHEN, "--year", "2020", "--rural", "--reason", " "), "Error: a correction needs a --reason"),
    ],
)  # fmt: skip
def test_clinician_update_refusals_change_nothing(run, dump, sample, args, message) -> None:
    if "--reason" not in args:
        args = (*args, "--reason", "x")
    before = dump()
    out = run("clinician", "update", *args[:1], "--tin", TIN, *args[1:], expect=1).output
    assert out.startswith(message) and out.count("\n") == 1, out
    assert dump() == before


def test_clinician_update_checks_values_like_add(run, dump, sample) -> None:
    before = dump()
    out = run("clinician", "update", CHEN, "--tin", TIN, "--year", "2020", "--hospital-pos-pct", "101",
              "--reason", "x", expect=2).output  # fmt: skip
    assert "101" in out and "0<=x<=100" in out.replace(" ", "")
    assert dump() == before


def test_practice_set_corrects_a_years_pcmh_and_apm_and_the_name(run, sample) -> None:
    assert "PCMH: 0 points" in run("score", "--tin", TIN, "--year", "2020").output
    out = run("practice", "set", TIN, "--year", "2020", "--pcmh", "--apm", "other", "--reason",
              "NCQA letter of 2020-03-02").output  # fmt: skip
    assert out == f"practice {TIN} PY2020: nothing recorded -> pcmh=True, apm=other\n"
    event, details = _last_event(run)
    assert (event["action"], event["tin"], event["year"]) == ("practice.year", TIN, 2020)
    assert (details["old"], details["new"]) == ({}, {"pcmh": True, "apm": "other"})
    out = run("practice", "set", TIN, "--year", "2020", "--apm", "none", "--reason", "left the APM in 2019").output
    assert out == f"practice {TIN} PY2020: apm=other -> apm=none\n"  # correctable, the old value kept
    shown = run("practice", "show", TIN).output
    assert "reports: program mips, PCMH yes, APM none" in shown
    assert "PCMH: 0 points" not in run("score", "--tin", TIN, "--year", "2020").output
    run("practice", "set", TIN, "--name", "Riverbend  Clinic ", "--reason", "renamed")
    assert json.loads(run("practice", "list", "--format", "json").output)[0]["name"] == "Riverbend Clinic"
    event, details = _last_event(run)
    assert event["action"] == "practice.set" and details["new"] == {"name": "Riverbend Clinic"}
    _intact(run)


@pytest.mark.parametrize(
    ("tin", "args", "message"),
    [
        (TIN, ("--name", "Riverbend Family Medicine (synthetic)"),
         f"Error: nothing to change: practice {TIN} already has name=Riverbend Family Medicine (synthetic)\n"),
        (TIN, (), "Error: give --name, or --year with the year's --program, --pcmh/--no-pcmh or --apm\n"),
        (TIN, ("--pcmh",), "Error: program, PCMH recognition and APM participation are facts of one performance "
                           "year: give --year\n"),
        (TIN, ("--year", "2020"), "Error: give at least one of --program, --mvp, --pcmh/--no-pcmh, --pcmh-sites, "
                                  "--apm\n"),
        (TIN, ("--name", "x", "--year", "2020", "--pcmh"), "Error: --name is the practice's, --year facts are one "
                                                           "year's: set them in two commands\n"),
        (TIN, ("--name", "   "), "Error: practice name is empty\n"),
        (TIN, ("--name", "x" * 301), "Error: practice name has 301 characters; at most 300 are kept\n"),
        (TIN, ("--year", "2020", "--pcmh", "--reason", ""), "Error: a correction needs a --reason"),
        ("999999999", ("--year", "2020", "--pcmh"), "Error: no practice with TIN 999999999"),
    ],
)  # fmt: skip
def test_practice_set_refusals_change_nothing(run, dump, sample, tin, args, message) -> None:
    if "--reason" not in args:
        args = (*args, "--reason", "x")
    before = dump()
    out = run("practice", "set", tin, *args, expect=1).output
    assert out.startswith(message) and out.count("\n") == 1, out
    assert dump() == before


# --- hostile text in a reason ------------------------------------------------------------------


def test_a_hostile_reason_is_kept_as_given_and_shown_escaped(run, app, sample) -> None:
    reason = f"typo{ESC}[2J{RLO}evil"
    out = run("practice", "set", TIN, "--name", f"Clinic{ESC}]0;pwn{RLO}", "--reason", reason).output
    assert ESC not in out and RLO not in out and "Clinic\\x1b]0;pwn\\u202e" in out
    assert _last_event(run)[1]["reason"] == reason  # kept exactly, escaped only where it is shown
    listed = run("log").output  # the table cuts long summaries; the CSV below has them whole
    assert ESC not in listed and RLO not in listed and "name=Clinic\\x1b]0;pwn" in listed
    attestation = _attestation(app, 2020, "IA_PM_7")
    for args in (("attestation", "edit", attestation, "--end", "2020-11-30"), ("unlink", _links(run, 6)[0]["link_id"]),
                 ("clinician", "update", CHEN, "--tin", TIN, "--year", "2020", "--hpsa")):  # fmt: skip
        out = run(*args, "--reason", reason).output
        assert ESC not in out and RLO not in out
        event, details = _last_event(run)
        assert details["reason"] == reason and event["summary"].endswith(f": {reason}")  # data keeps it exact
    listed = run("log").output
    assert ESC not in listed and RLO not in listed


# --- retention: purge trusts corrections made with the tool, not the same change made in SQL --------


def _sql(app, statement: str) -> None:
    with app.engine.begin() as connection:
        connection.execute(text(statement))


@pytest.mark.parametrize("how", ["tool", "tool, then sql"])
def test_purge_follows_a_corrected_period_but_not_one_edited_in_sql(run, app, dump, how) -> None:
    run("practice", "add", TIN, "--name", "Clinic")
    run("attest", "--tin", TIN, "--activity", "IA_PM_7", "--year", "2019", "--start", "2019-01-01",
        "--end", "2019-06-30")  # fmt: skip
    attestation = _attestation(app, 2019, "IA_PM_7")
    run("attestation", "edit", attestation, "--end", "2019-09-30", "--reason", "contract ran to September")
    _intact(run)
    if how == "tool":
        out = run("purge", "--yes").output  # PY2019 was kept through 2025-12-31
        assert f"{TIN} PY2019 (kept through 2025-12-31)" in out and "purged 1 record" in out
        _intact(run)
        return
    _sql(app, "UPDATE attestations SET end_date = '2019-12-31'")
    before = dump()
    out = run("purge", "--yes", expect=1).output
    assert out == (
        f"Error: attestation {attestation} ({TIN} PY2019) covers 2019-01-01 to 2019-12-31 in the database, but the "
        "audit trail recorded 2019-01-01 to 2019-09-30: the database was edited outside evidence; purge deletes "
        "nothing\n"
    )
    assert dump() == before


@pytest.mark.parametrize("how", ["tool", "sql", "tool, then sql"])
def test_purge_follows_a_link_moved_with_the_tool_but_not_one_moved_in_sql(run, app, dump, sample, how) -> None:
    (link,) = _links(run, 9)  # PY2024 IA_BE_4, Dr. Chen's individual attestation
    old = _attestation(app, 2019, "IA_PM_7")
    if how == "sql":
        _sql(app, f"UPDATE evidence_links SET attestation_id = {old}, clinician_id = NULL WHERE id = {link['link_id']}")
        before = dump()
        out = run("purge", "--yes", expect=1).output
        assert out.startswith(f"Error: evidence link {link['link_id']} belongs to attestation {old} in the database")
        assert dump() == before
        return
    run("unlink", link["link_id"], "--reason", "not PY2024 evidence")
    run("link", "9", "--tin", TIN, "--year", "2019", "--activity", "IA_PM_7", "--reason", "belongs to PY2019")
    (moved,) = _links(run, 9)
    assert (moved["year"], moved["activity_id"], moved["attestation_id"]) == (2019, "IA_PM_7", old)
    if how == "tool, then sql":  # the `link` event recorded its owner: a move in SQL is caught again
        other = _attestation(app, 2019, "IA_PSPA_20")
        _sql(app, f"UPDATE evidence_links SET attestation_id = {other} WHERE id = {moved['link_id']}")
        out = run("purge", "--yes", expect=1).output
        assert out.startswith(f"Error: evidence link {moved['link_id']} belongs to attestation {other} in the database")
        assert f"but the audit trail recorded attestation {old}" in out
        return
    out = run("purge", "--yes").output
    assert f"{TIN} PY2019 (kept through 2025-12-31)" in out
    shown = run("show", "9", expect=1).output  # it went with PY2019, its only year now
    assert shown.startswith("Error: evidence 9 was purged on ")
    _intact(run)


def test_purge_after_an_attestation_was_deleted_with_the_tool(run, app, sample) -> None:
    attestation = _attestation(app, 2019, "IA_PM_7")
    run("attestation", "delete", attestation, "--unlink", "--reason", "IA_PM_7 was not attested in 2019")
    out = run("purge", "--yes").output
    assert f"{TIN} PY2019 (kept through 2025-12-31)" in out
    assert "links: none" in run("show", "1").output  # unlinked evidence belongs to no year: it is kept
    assert {row["year"] for row in json.loads(run("missing", "--tin", TIN, "--format", "json").output)} == {2020, 2024}
    _intact(run)
