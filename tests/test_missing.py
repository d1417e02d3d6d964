"""The missing-documentation report, on the sample practice and on edge cases."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import event

from evidence.records.missing import missing_report
from tests.conftest import SAMPLE
from tests.stores import use_sample_practice

TIN = "000123456"


@pytest.fixture
def sample(app):
    use_sample_practice(app)  # tests/stores.py: a copy of one built once


def _report(run, *args: str) -> dict:
    rows = json.loads(run("missing", "--format", "json", *args).output)
    return {(r["year"], r["activity"], r["npi"]): r for r in rows}


def test_sample_report(run, sample) -> None:
    report = _report(run)
    assert len(report) == 7
    cc9 = report[(2020, "IA_CC_9", None)]
    assert cc9["status"] == "incomplete" and cc9["missing"] == "missing item 2"
    assert [i["status"] for i in cc9["items"]] == ["covered", "missing"]
    be6 = report[(2020, "IA_BE_6", None)]
    assert be6["items"][1]["status"] == "outside the attested period"
    assert be6["items"][1]["evidence"][0]["in_period"] is False
    assert "evidence only outside the attested period" in be6["missing"]
    assert report[(2019, "IA_PSPA_20", None)]["status"] == "complete"  # 'any': two of three items is plenty
    assert report[(2024, "IA_PSPA_21", "1234567893")]["status"] == "complete"
    assert (report[(2020, "IA_CC_9", None)]["participation"]["met"], be6["participation"]["met"]) == (True, False)
    assert report[(2020, "IA_PM_7", None)]["participation"]["participating"] == 3
    assert report[(2019, "IA_PM_7", None)]["participation"]["half_required"] is False


@pytest.mark.usefixtures("wide")
def test_table_output_and_fail_on_missing(run, sample) -> None:
    out = run("missing", "--tin", TIN, "--year", "2020").output
    assert "IA_CC_9  group, 2020-04-01 to 2020-09-30, rule 'all'  INCOMPLETE: missing item 2" in out
    assert "[ ] 2) Care plan shared with patient or caregiver" in out
    assert "patient-experience-improvement-plan.pdf (2021-02-10): outside the attested period" in out
    assert "1 of 4 clinicians (25%) with their own 90-day period; below the 50% rule" in out
    assert "3 attested activities: 1 complete, 2 incomplete, 0 missing" in out
    run("missing", "--tin", TIN, "--year", "2020", "--fail-on-missing", expect=1)
    run("missing", "--tin", TIN, "--year", "2024", "--fail-on-missing", expect=0)


def test_csv_has_a_row_per_item(run, sample) -> None:
    rows = list(csv.DictReader(io.StringIO(run("missing", "--year", "2020", "--format", "csv").output)))
    assert len(rows) == 5  # IA_BE_6: 2 items, IA_CC_9: 2, IA_PM_7: 1
    assert {(r["activity"], r["item"], r["item_status"]) for r in rows} >= {("IA_CC_9", "2", "missing")}


def test_participant_evidence_counts_only_in_their_own_period(tmp_path: Path, run, sample) -> None:
    # Chen's own IA_PM_7 period is 2020-02-01..2020-07-31: inside the group's year, but not November.
    path = tmp_path / "chen-november.pdf"
    path.write_bytes(b"%PDF-1.4 chen")
    run("register", path, "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7", "--npi", "1234567893",
        "--effective-date", "2020-11-15")  # fmt: skip
    item = _report(run, "--year", "2020")[(2020, "IA_PM_7", None)]["items"][0]
    chen = next(e for e in item["evidence"] if e["name"] == "chen-november.pdf")
    assert chen["in_period"] is False and chen["npi"] == "1234567893"


def test_withdrawn_evidence_no_longer_counts(run, sample) -> None:
    listed = json.loads(run("list", "--activity", "IA_CC_9", "--format", "json").output)
    run("withdraw", str(listed[0]["id"]), "--reason", "wrong practice")
    cc9 = _report(run, "--year", "2020")[(2020, "IA_CC_9", None)]
    assert cc9["status"] == "missing" and cc9["items"][0]["evidence"] == []


def test_filters_and_unknown_practice(run, sample) -> None:
    assert set(_report(run, "--npi", "1234567893")) == {
        (2024, "IA_BE_4", "1234567893"),
        (2024, "IA_PSPA_21", "1234567893"),
    }
    assert "no practice with TIN 999999999" in run("missing", "--tin", "999999999", expect=1).output
    assert "No attestations match." in run("missing", "--year", "2023").output


def test_query_count_does_not_grow_with_the_data(run, app, sample) -> None:
    def count_queries(**filters: str) -> int:
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(app.engine, "before_cursor_execute", listener)
        try:
            with app.read() as session:
                missing_report(session, **filters)
        finally:
            event.remove(app.engine, "before_cursor_execute", listener)
        return len([s for s in statements if not s.startswith("BEGIN")])

    small, small_for_tin = count_queries(), count_queries(tin=TIN)
    assert (small, small_for_tin) == (6, 7)  # one query per loader; a --tin filter checks the practice first
    run(
        "attest",
        "--tin",
        TIN,
        "--activity",
        "IA_PSPA_19",
        "--year",
        "2020",
        "--start",
        "2020-01-01",
        "--end",
        "2020-06-30",
    )
    run("attest", "--tin", TIN, "--npi", "1000000004", "--activity", "IA_BE_4", "--year", "2020",
        "--start", "2020-01-01", "--end", "2020-06-30")  # fmt: skip
    run("register", SAMPLE / "files/2020", "--tin", TIN, "--year", "2020", "--activity", "IA_PSPA_19", "--item", "1")
    assert (count_queries(), count_queries(tin=TIN)) == (small, small_for_tin)


def test_the_packet_only_details_come_only_when_asked(app, sample) -> None:
    """`missing` and `score` skip what only the packet shows; reading it from such a report fails
    loudly instead of showing nothing, and details=True gives the registration of each file."""
    with app.read() as session:
        lean = missing_report(session, tin=TIN, year=2020)
        full = missing_report(session, tin=TIN, year=2020, details=True)
    lean_refs = [e for a in lean.activities for i in a.items for e in i.evidence]
    full_refs = [e for a in full.activities for i in a.items for e in i.evidence]
    assert lean_refs and [e.id for e in lean_refs] == [e.id for e in full_refs]
    assert all(e.details is None for e in lean_refs)
    with pytest.raises(AssertionError, match="details=True"):
        lean_refs[0].registered_at  # noqa: B018
    assert all(e.size > 0 and e.registered_by and e.registered_at.tzinfo is not None for e in full_refs)
    assert [(e.digest, e.in_period) for e in lean_refs] == [(e.digest, e.in_period) for e in full_refs]


def test_the_report_leaves_the_garbage_collector_as_it_found_it(app, sample) -> None:
    import gc

    with app.read() as session:
        assert gc.isenabled()
        missing_report(session, tin=TIN)
        assert gc.isenabled()
        gc.disable()
        try:
            missing_report(session, tin=TIN)
            assert not gc.isenabled()  # a caller that paused it keeps it paused
        finally:
            gc.enable()
