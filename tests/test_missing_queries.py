"""The missing report's fixed number of queries, its group-only form, and its coverage check."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, insert, select

from evidence.db.models import Blob, Clinician, DocumentationItem, Evidence, EvidenceLink, Practice
from evidence.db.types import utcnow
from evidence.errors import InputError
from evidence.records.missing import missing_report
from evidence.rules import coverage
from tests import factories

YEAR = 2020
GROUP_ACTIVITY, INDIVIDUAL_ACTIVITIES = "IA_PM_7", ["IA_EPA_1", "IA_CC_2", "IA_BE_6", "IA_PSPA_2", "IA_PM_2"]


def _evidence(session, name: str, effective: date, until: date | None = None, *, withdrawn: bool = False) -> int:
    number = session.scalar(select(Blob.id).order_by(Blob.id.desc()).limit(1)) or 0
    blob = session.scalar(
        insert(Blob).returning(Blob.id),
        {"digest": f"{number + 1:064x}", "size": 100 + number, "media_type": "application/pdf"},
    )
    withdrawal = {"withdrawn_at": utcnow(), "withdrawn_by": "tester", "withdrawal_reason": "wrong file"}
    return session.scalar(
        insert(Evidence).returning(Evidence.id),
        {"blob_id": blob, "original_name": name, "effective_date": effective, "effective_until": until,
         "registered_by": "tester", **(withdrawal if withdrawn else {})},
    )  # fmt: skip


def _link(session, evidence_id: int, attestation, key: int = 1, clinician_id: int | None = None) -> None:
    item = session.scalar(
        select(DocumentationItem.id).where(
            DocumentationItem.activity_id == attestation.activity.activity_id, DocumentationItem.key == key
        )
    )
    session.execute(
        insert(EvidenceLink),
        {"evidence_id": evidence_id, "attestation_id": attestation.id, "item_id": item,
         "clinician_id": clinician_id, "created_by": "tester"},
    )  # fmt: skip


def _practice_with(app, clinicians: int, tin: str = factories.TIN) -> int:
    """A group attestation whose participants have evidence about them, and five individual
    attestations per clinician with two linked files each (one withdrawn); the attestation count."""
    with app.write() as session:
        practice = factories.practice(session, tin)
        ids = factories.clinicians(session, practice, YEAR, clinicians)
        group = factories.attestation(session, practice, GROUP_ACTIVITY, YEAR)
        factories.participations(session, group, ids, date(YEAR, 3, 1), date(YEAR, 8, 31))
        count = 1
        for clinician_id in ids:
            _link(session, _evidence(session, f"own-{clinician_id}.pdf", date(YEAR, 4, 1)), group, 1, clinician_id)
            clinician = session.get_one(Clinician, clinician_id)
            for activity in INDIVIDUAL_ACTIVITIES:
                attestation = factories.attestation(session, practice, activity, YEAR, clinician=clinician)
                _link(session, _evidence(session, "plan.pdf", date(YEAR, 2, 1), date(YEAR, 12, 31)), attestation)
                _link(session, _evidence(session, "old.pdf", date(YEAR, 1, 5), withdrawn=True), attestation)
                count += 1
    return count


def _statements(app, **filters) -> int:
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(app.engine, "before_cursor_execute", listener)
    try:
        with app.read() as session:
            missing_report(session, **filters)
    finally:
        event.remove(app.engine, "before_cursor_execute", listener)
    return len([s for s in statements if not s.startswith("BEGIN")])


FILTERS = [{}, {"tin": factories.TIN}, {"tin": factories.TIN, "year": YEAR, "group": True}]


def _links_listed(app) -> int:
    with app.read() as session:
        return sum(len(i.evidence) for a in missing_report(session).activities for i in a.items)


def test_statement_count_does_not_grow_with_attestations_or_links(app) -> None:
    assert _practice_with(app, 1) == 6
    assert _links_listed(app) == 6  # withdrawn files are left out
    few = [_statements(app, **f) for f in FILTERS]
    assert _practice_with(app, 10, tin="000654321") == 51  # nine times the attestations and links
    assert _links_listed(app) == 6 + 60
    assert [_statements(app, **f) for f in FILTERS] == few == [6, 7, 7]  # one is the year facts (reporting_years)


def test_group_report_leaves_out_individual_attestations(app) -> None:
    _practice_with(app, 3)
    with app.read() as session:
        everything = missing_report(session, tin=factories.TIN, year=YEAR)
        group = missing_report(session, tin=factories.TIN, year=YEAR, group=True)
        with pytest.raises(InputError, match="no NPI"):
            missing_report(session, npi=factories.npi_for(0), group=True)
    assert [a for a in everything.activities if a.npi is None] == group.activities
    (activity,) = group.activities
    assert [p.evidence_count for p in activity.participation.participants] == [1, 1, 1]


days = st.integers(min_value=-40, max_value=400).map(lambda n: date(YEAR, 1, 1) + timedelta(days=n))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(effective=days, length=st.none() | st.integers(0, 200), own=st.booleans(), withdrawn=st.booleans())
@example(effective=date(YEAR, 2, 29), length=None, own=True, withdrawn=False)  # the day before the own period
@example(effective=date(YEAR, 3, 1), length=None, own=True, withdrawn=False)  # its first day
@example(effective=date(YEAR, 8, 31), length=0, own=True, withdrawn=False)  # its last day, as a one-day range
@example(effective=date(YEAR - 1, 12, 1), length=31, own=False, withdrawn=False)  # ends on the year's first day
@example(effective=date(YEAR, 6, 1), length=None, own=False, withdrawn=True)  # withdrawn: never listed
def test_in_period_is_the_coverage_rule(app, effective: date, length: int | None, own: bool, withdrawn: bool) -> None:
    """Each listed file's in_period is coverage.covers against the period the report names: the
    participant's own (March to August) for evidence about them, else the attested year."""
    with app.write() as session:
        practice = factories.practice(session, f"{session.scalar(select(func.count(Practice.id))) + 1:09d}")
        group = factories.attestation(session, practice, GROUP_ACTIVITY, YEAR)
        (clinician_id,) = factories.clinicians(session, practice, YEAR, 1)
        factories.participations(session, group, [clinician_id], date(YEAR, 3, 1), date(YEAR, 8, 31))
        until = None if length is None else effective + timedelta(days=length)
        evidence_id = _evidence(session, "f.pdf", effective, until, withdrawn=withdrawn)
        _link(session, evidence_id, group, 1, clinician_id if own else None)
        attestation_id = group.id
    with app.read() as session:
        (activity,) = [a for a in missing_report(session).activities if a.attestation_id == attestation_id]
    listed = activity.items[0].evidence
    if withdrawn:
        assert listed == []
        return
    (ref,) = listed
    period = (date(YEAR, 3, 1), date(YEAR, 8, 31)) if own else (date(YEAR, 1, 1), date(YEAR, 12, 31))
    assert (ref.period_start, ref.period_end) == period
    assert ref.in_period is coverage.covers(effective, until, *period)
