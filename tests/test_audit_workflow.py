"""The audit request workflow in the library: the journal, moving the due date, closing, the report
behind `audit show`, and an open audit as a hold (evidence.records.audits, records.audit_report)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from evidence.app import App
from evidence.db.models import Event
from evidence.errors import ConflictError, InputError, NotFoundError
from evidence.records.audit_report import NO_LONGER_ATTESTED, audit_report
from evidence.records.audits import close_audit, get_audit, note_audit, open_audit, store_hold_digests
from evidence.records.corrections import delete_attestation
from evidence.records.missing import missing_report
from evidence.retention.policy import add_hold, held_attestations, hold_digests, release_hold
from evidence.retention.policy import digests_to_release as hold_release_digests
from tests import factories
from tests.stores import use_sample_practice

RECEIVED = date(2024, 11, 20)


@pytest.fixture
def group(app: App) -> str:
    """A TIN with two group attestations in PY2023 and one NPI's own in PY2023."""
    with app.write() as session:
        practice = factories.practice(session)
        for activity in ("IA_PSPA_8", "IA_BE_4"):
            factories.attestation(session, practice, activity, 2023)
        clinician = factories.clinician(session, practice, 2023)
        factories.attestation(session, practice, "IA_EPA_1", 2023, clinician=clinician)
        return practice.tin


def _open(app: App, tin: str, **kwargs: object) -> int:
    with app.write() as session:
        return open_audit(session, tin, 2023, RECEIVED, actor="tester", **kwargs).id  # type: ignore[arg-type]


def _events(app: App, action: str) -> list[dict[str, object]]:
    with app.read() as session:
        return [json.loads(d) for d in session.scalars(select(Event.details).where(Event.action == action))]


def test_a_note_moves_the_due_date_with_its_reason_in_one_event(app: App, group: str) -> None:
    audit_id = _open(app, group)
    with app.write() as session:
        note_audit(session, audit_id, "Called Guidehouse: 10 more days", due=date(2025, 1, 14), actor="officer")
        view = note_audit(session, audit_id, "  E-mail\nreceived  ", actor="officer")
    assert view.due == date(2025, 1, 14)
    moved, plain = view.journal
    assert (moved.due_before, moved.due_after, moved.noted_by) == (date(2025, 1, 4), date(2025, 1, 14), "officer")
    assert (plain.text, plain.due_before, plain.due_after) == ("E-mail received", None, None)  # one line
    events = _events(app, "audit.note")
    assert [(e["due_before"], e["due_after"]) for e in events] == [("2025-01-04", "2025-01-14"), (None, None)]


@pytest.mark.parametrize(
    ("text", "due", "message"),
    [
        ("", None, "the note is empty"),
        (" \n\t", date(2025, 2, 1), "the note is empty"),
        ("moved back", date(2024, 11, 19), "--due 2024-11-19 is before the notice was received (2024-11-20)"),
        ("same day", date(2025, 1, 4), "audit #1 is already due 2025-01-04: nothing to move"),
        ("x" * 2001, None, "the note is 2001 characters long; at most 2000 are kept"),
    ],
)
def test_a_bad_note_is_refused_with_nothing_written(app: App, group: str, text: str, due: date, message: str) -> None:
    audit_id = _open(app, group)
    with pytest.raises(InputError, match=re.escape(message)), app.write() as session:
        note_audit(session, audit_id, text, due=due, actor="tester")
    with app.read() as session:
        assert get_audit(session, audit_id).journal == () and get_audit(session, audit_id).due == date(2025, 1, 4)
    assert _events(app, "audit.note") == []


def test_closing_records_the_outcome_once(app: App, group: str) -> None:
    audit_id = _open(app, group, reference="DVA-7")
    with app.write() as session:
        view = close_audit(session, audit_id, "passed", note="CMS letter: no findings", actor="officer")
    assert (view.is_open, view.outcome, view.close_note, view.closed_by) == (False, "passed", "CMS letter: no findings",
                                                                           "officer")  # fmt: skip
    closed_on = f"{view.closed_at:%Y-%m-%d}"
    refusal = rf"^audit #{audit_id} was already closed on {closed_on} \(passed\)$"
    with pytest.raises(ConflictError, match=refusal), app.write() as session:
        close_audit(session, audit_id, "failed", actor="tester")
    assert _events(app, "audit.close") == [{"audit": audit_id, "outcome": "passed", "note": "CMS letter: no findings"}]


def test_a_closed_audit_takes_notes_but_its_due_date_no_longer_moves(app: App, group: str) -> None:
    audit_id = _open(app, group)
    with app.write() as session:
        close_audit(session, audit_id, "withdrawn", actor="tester")
        note_audit(session, audit_id, "CMS confirmed the withdrawal in writing", actor="tester")
    refusal = r"already closed on .* \(withdrawn\): its due date no longer moves"
    with pytest.raises(ConflictError, match=refusal), app.write() as session:
        note_audit(session, audit_id, "extension", due=date(2025, 3, 1), actor="tester")
    with app.read() as session:
        assert [e.text for e in get_audit(session, audit_id).journal] == ["CMS confirmed the withdrawal in writing"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: close_audit(s, 99, "passed", actor="t"), NotFoundError, "no audit request #99"),
        (lambda s: note_audit(s, 99, "x", actor="t"), NotFoundError, "no audit request #99"),
        (lambda s: audit_report(s, 99, as_of=RECEIVED), NotFoundError, "no audit request #99"),
        (lambda s: close_audit(s, 1, "won", actor="t"), InputError, "outcome 'won' is not one of passed, failed"),
        (lambda s: close_audit(s, 1, "passed", actor="a" * 201), InputError, "--actor is 201 characters long"),
        (lambda s: note_audit(s, 1, "x", actor=" "), InputError, "who is acting is empty"),
    ],
)
def test_unknown_ids_and_bad_values_are_refused(app: App, group: str, call, error, message: str) -> None:  # type: ignore[no-untyped-def]
    _open(app, group)
    with pytest.raises(error, match=message), app.write() as session:
        call(session)
    with app.read() as session:
        assert get_audit(session, 1).is_open and get_audit(session, 1).journal == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reference": "R" * 201}, "the reference is 201 characters long; at most 200 are kept"),
        ({"contact": "C" * 201}, "the contact is 201 characters long; at most 200 are kept"),
        ({"reason": "W" * 2001}, "the reason is 2001 characters long; at most 2000 are kept"),
        ({"activities": ["IA_NOPE_1"]}, "activity IA_NOPE_1 is not in the PY2023 inventory"),
        ({"npis": [factories.npi_for(99)]}, "attested no activity in PY2023"),
    ],
)
def test_open_refuses_bad_text_and_scope(app: App, group: str, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _open(app, group, **kwargs)
    assert _events(app, "audit.open") == []


def test_hostile_text_is_stored_on_one_line(app: App, group: str) -> None:
    audit_id = _open(app, group, reference="DVA\n-1\x1b[2J", contact="  J.\tDoe\r\n")
    with app.read() as session:
        view = get_audit(session, audit_id)
    assert (view.reference, view.contact) == ("DVA -1\x1b[2J", "J. Doe")  # escaped on output, not here


def test_the_report_takes_each_verdict_from_the_missing_report(app: App, group: str) -> None:
    audit_id = _open(app, group)
    npi_audit = _open(app, group, npis=[_npi(app)])
    with app.read() as session:
        report = audit_report(session, audit_id, as_of=date(2025, 1, 1))
        individual = audit_report(session, npi_audit, as_of=date(2025, 1, 10))
        truth = {(a.activity_id, a.npi): a for a in missing_report(session, tin=group, year=2023).activities}
    assert [s.entry.activity_id for s in report.scope] == ["IA_BE_4", "IA_PSPA_8"]
    for status in (*report.scope, *individual.scope):
        activity = truth[(status.entry.activity_id, status.entry.npi)]
        assert status.verdict == activity.verdict.summary and status.missing == activity.missing_text
        assert not status.creditable  # nothing is documented yet
    assert report.problems[0].startswith("group IA_BE_4: not creditable: ") and not report.ready
    assert [s.entry.activity_id for s in individual.scope] == ["IA_EPA_1"]
    assert (report.days_left, report.overdue) == (3, False)
    assert (individual.days_left, individual.overdue) == (-6, True)


def _npi(app: App) -> str:
    with app.read() as session:
        return next(a.npi for a in missing_report(session, year=2023).activities if a.npi)


def test_a_requested_activity_deleted_since_shows_as_no_longer_attested(app: App, group: str) -> None:
    audit_id = _open(app, group)
    with app.read() as session:
        attestation_id = next(
            a.attestation_id for a in missing_report(session).activities if a.activity_id == "IA_BE_4"
        )
    with pytest.raises(ConflictError, match=f"under open audit #{audit_id}"), app.write() as session:
        delete_attestation(session, attestation_id, reason="attested by mistake", actor="tester")
    with app.write() as session:  # closed, the audit no longer freezes it; its report still names what went
        close_audit(session, audit_id, "withdrawn", actor="tester")
        delete_attestation(session, attestation_id, reason="attested by mistake", actor="tester")
    with app.read() as session:
        report = audit_report(session, audit_id, as_of=RECEIVED)
    gone = next(s for s in report.scope if s.entry.activity_id == "IA_BE_4")
    assert (gone.attested, gone.creditable, gone.verdict) == (False, False, NO_LONGER_ATTESTED)
    assert "deleted after the request" in gone.missing
    assert f"group IA_BE_4: {NO_LONGER_ATTESTED}" in report.problems


# --- An open audit as a hold on its files ---------------------------------------------------------


@pytest.fixture
def registered(app: App) -> None:
    use_sample_practice(app)  # tests/stores.py: a copy of one built once


def test_the_store_hold_follows_the_audit_and_spares_what_others_still_hold(app: App, registered: None) -> None:
    tin = factories.TIN
    with app.write() as session:
        first = open_audit(session, tin, 2019, RECEIVED, actor="tester").id
        second = open_audit(session, tin, 2019, RECEIVED, activities=["IA_PM_7"], actor="tester").id
        py2019 = hold_digests(session, session.scalar(_practice_id(tin)), 2019)
        assert len(py2019) == 3 and store_hold_digests(session, first) == py2019
        close_audit(session, first, "passed", actor="tester")
        assert store_hold_digests(session, first) == set()  # the second audit still holds PY2019
        hold = add_hold(session, tin, None, "litigation", actor="tester")
        close_audit(session, second, "passed", actor="tester")
        assert store_hold_digests(session, second) == set()  # and so does the all-years hold
        reopened = open_audit(session, tin, 2019, RECEIVED, actor="tester").id
        release_hold(session, hold.id, "settled", actor="tester")
        released = hold_release_digests(session, hold)
        assert released and not released & py2019  # the open audit keeps PY2019's files held
        close_audit(session, reopened, "failed", actor="tester")
        assert store_hold_digests(session, reopened) == py2019


def _practice_id(tin: str):  # type: ignore[no-untyped-def]
    from evidence.db.models import Practice

    return select(Practice.id).where(Practice.tin == tin)


def test_evidence_registered_into_an_audited_year_is_held(app: App, registered: None) -> None:
    with app.write() as session:
        audit_id = open_audit(session, factories.TIN, 2020, RECEIVED, actor="tester").id
        attestations = {a.attestation_id: a.year for a in missing_report(session).activities}
        assert {attestations[i] for i in held_attestations(session, attestations)} == {2020}
        close_audit(session, audit_id, "passed", actor="tester")
        assert held_attestations(session, attestations) == set()


def test_the_received_date_may_be_today_but_not_tomorrow(app: App, group: str) -> None:
    today = date.today()
    with app.write() as session:
        assert open_audit(session, group, 2023, today, actor="tester").due == today + timedelta(days=45)
    with pytest.raises(InputError, match="is in the future"), app.write() as session:
        open_audit(session, group, 2023, today + timedelta(days=1), actor="tester")
