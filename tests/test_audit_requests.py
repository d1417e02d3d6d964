"""Recording a CMS audit request: its clock and its scope (evidence.records.audits)."""

from __future__ import annotations

from datetime import date

import pytest

from evidence.app import App
from evidence.errors import ConflictError, InputError
from evidence.records.audits import get_audit, list_audits, open_audit
from tests import factories


def test_open_defaults_the_due_date_and_the_scope_to_every_attested_activity(app: App) -> None:
    with app.write() as session:
        practice = factories.practice(session)
        for activity in ("IA_PSPA_8", "IA_BE_4"):
            factories.attestation(session, practice, activity, 2023)
        view = open_audit(session, practice.tin, 2023, date(2024, 11, 20), reference="DVA-1", actor="tester")
    assert view.due == date(2025, 1, 4)  # 45 calendar days, across the year end
    assert sorted(view.activity_ids) == ["IA_BE_4", "IA_PSPA_8"] and view.npis == ()
    with app.read() as session:
        assert get_audit(session, view.id).reference == "DVA-1"
        assert [a.id for a in list_audits(session, open_only=True)] == [view.id]


def test_an_activity_not_attested_that_year_is_refused_with_nothing_written(app: App) -> None:
    with app.write() as session:
        practice = factories.practice(session)
        factories.attestation(session, practice, "IA_PSPA_8", 2023)
        tin = practice.tin
    with pytest.raises(InputError, match="IA_BE_4 is not attested"), app.write() as session:
        open_audit(session, tin, 2023, date(2024, 11, 20), activities=["IA_BE_4"], actor="tester")
    with app.read() as session:
        assert list_audits(session) == []


def test_the_same_notice_entered_twice_is_refused_naming_the_open_audit(app: App) -> None:
    """Two open audits of one TIN-year are allowed (CMS may send a second request); the same
    reference again is the same notice typed twice: two clocks and two rows in `deadlines`."""
    with app.write() as session:
        practice = factories.practice(session)
        factories.attestation(session, practice, "IA_PSPA_8", 2023)
        tin = practice.tin
        first = open_audit(session, tin, 2023, date(2024, 11, 20), reference="DVA-2023-7", actor="tester")
    same = rf"audit #{first.id} \(DVA-2023-7\) is already open for {tin} PY2023"
    with pytest.raises(ConflictError, match=same), app.write() as session:
        open_audit(session, tin, 2023, date(2024, 11, 21), reference="  dva-2023-7 ", actor="tester")
    with app.read() as session:
        assert [a.id for a in list_audits(session)] == [first.id]
    with app.write() as session:  # another reference, or none, is another request
        second = open_audit(session, tin, 2023, date(2024, 11, 21), reference="DVA-2023-8", actor="tester")
        third = open_audit(session, tin, 2023, date(2024, 11, 21), actor="tester")
    with app.read() as session:
        assert [a.id for a in list_audits(session)] == [first.id, second.id, third.id]


def test_a_notice_dated_before_its_performance_year_ended_is_refused_with_nothing_written(app: App) -> None:
    with app.write() as session:
        practice = factories.practice(session)
        factories.attestation(session, practice, "IA_PSPA_8", 2023)
        tin = practice.tin
    for received in (date(2023, 12, 31), date(1900, 1, 1)):
        refused = rf"--received {received} is not after performance year 2023 ended"
        with pytest.raises(InputError, match=refused), app.write() as session:
            open_audit(session, tin, 2023, received, actor="tester")
    with app.read() as session:
        assert list_audits(session) == []
    with app.write() as session:
        assert open_audit(session, tin, 2023, date(2024, 1, 1), actor="tester").due == date(2024, 2, 15)
