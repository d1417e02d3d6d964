"""Retention: windows, holds, purge with tombstones, interrupted purges, and the audit chain."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from evidence.db.models import Blob, Evidence, Tombstone
from evidence.rules import cms as rules
from tests.conftest import SAMPLE

TIN = "000123456"


@pytest.fixture
def sample(run):
    run("import", SAMPLE / "practice.csv")
    run("register", "--manifest", SAMPLE / "manifest.yaml")


def _files(home: Path) -> set[str]:
    return {p.name for p in (home / "store" / "sha256").rglob("*") if p.is_file()}


# --- The window: one row per rule --------------------------------------------------------------

WINDOWS = [
    # (performance year, retention years, last day kept)
    (2020, 6, date(2026, 12, 31)),
    (2019, 6, date(2025, 12, 31)),
    (2024, 6, date(2030, 12, 31)),  # a leap performance year changes nothing
    (2020, 10, date(2030, 12, 31)),  # a custom, longer period
]


@pytest.mark.parametrize(("year", "years", "last_day"), WINDOWS)
def test_retention_window(year: int, years: int, last_day: date) -> None:
    assert rules.retain_until(year, years) == last_day
    assert not rules.purgeable_on(year, years, last_day)  # the day before purgeability
    assert rules.purgeable_on(year, years, last_day + timedelta(days=1))  # the day it becomes purgeable
    assert rules.purgeable_from(year, years) == date(last_day.year + 1, 1, 1)  # the day `deadlines` lists


@given(year=st.integers(2017, 2100), years=st.integers(6, 30), as_of=st.dates(date(2017, 1, 1), date(2200, 12, 31)))
def test_purgeable_exactly_from_january_first_after_the_window(year: int, years: int, as_of: date) -> None:
    assert rules.purgeable_on(year, years, as_of) == (as_of >= date(year + years + 1, 1, 1))


def test_retention_period_configurable_but_never_below_six(run) -> None:
    assert (
        "retention period of 5 years is shorter than the 6 years CMS requires"
        in run("retention", "set", "--years", "5", expect=1).output
    )
    run("retention", "set", "--years", "10")
    assert "PY2020: kept through 2030-12-31" in run("retention", "show").output


# --- Purge -----------------------------------------------------------------------------------


def test_dry_run_deletes_nothing(run, dump, sample) -> None:
    before = dump()
    out = run("purge", "--as-of", "2027-01-01").output
    assert "000123456 PY2019 (kept through 2025-12-31): 2 attestations" in out
    assert "000123456 PY2020 (kept through 2026-12-31): 3 attestations, 6 participations" in out
    assert "PY2024" not in out
    assert "Nothing was deleted" in out
    assert dump() == before


def test_nothing_inside_its_window_is_purged(run, dump, sample) -> None:
    before = dump()
    out = run("purge", "--as-of", "2025-12-31", "--yes").output  # PY2019's last kept day
    assert "nothing has passed its retention window" in out
    assert dump() == before


def test_future_as_of_cannot_be_carried_out(run, app, dump, sample) -> None:
    from evidence.errors import InputError
    from evidence.retention.policy import check_purge_date, execute_purge, plan_purge

    before = dump()
    tomorrow = date.today() + timedelta(days=1)
    message = f"--as-of {tomorrow} is in the future: a purge can only delete what has expired by today ({date.today()})"
    assert f"Error: {message}" in run("purge", "--as-of", tomorrow, "--yes", expect=2).output
    assert "Nothing was deleted" in run("purge", "--as-of", tomorrow).output  # planning ahead is fine
    with app.write() as session, pytest.raises(InputError) as caught:  # the library refuses it the same way
        execute_purge(session, plan_purge(session, tomorrow), actor="x", today=date.today())
    assert caught.value.message == message
    check_purge_date(date.today(), date.today())  # today itself may be purged
    assert dump() == before


def test_retention_show_and_purge_agree_on_purgeable(run, sample, monkeypatch) -> None:
    from evidence.support import clock

    monkeypatch.setattr(clock, "today", lambda: date(2026, 1, 1))  # PY2019 ended its window yesterday
    shown = run("retention", "show").output
    assert "PY2019: kept through 2025-12-31 (purgeable)" in shown
    assert "PY2020: kept through 2026-12-31 (kept)" in shown
    planned = run("purge").output
    assert "PY2019 (kept through 2025-12-31)" in planned and "PY2020" not in planned


def test_purge_deletes_rows_and_files_and_leaves_tombstones(run, app, home, sample) -> None:
    listed = {e["name"]: e for e in json.loads(run("list", "--year", "2019", "--format", "json").output)}
    files_before = _files(home)
    out = run("--actor", "officer", "purge", "--as-of", "2026-01-01", "--yes").output
    assert "purged 12 records and 3 files" in out
    assert _files(home) == files_before - {e["sha256"] for e in listed.values()}
    report = json.loads(run("missing", "--format", "json").output)
    assert {r["year"] for r in report} == {2020, 2024}
    evidence_id = listed["qcdr-feedback-report-2019-q2.pdf"]["id"]
    shown = run("show", evidence_id, expect=1).output
    assert f"evidence {evidence_id} was purged on {date.today()} by officer" in shown
    assert "kept through 2025-12-31" in shown and listed["qcdr-feedback-report-2019-q2.pdf"]["sha256"] in shown
    with app.read() as session:
        kinds = dict(session.execute(select(Tombstone.kind, func.count()).group_by(Tombstone.kind)).all())
    assert kinds == {"attestation": 2, "membership": 4, "evidence_link": 3, "evidence": 3, "file": 3}
    events = json.loads(run("log", "--year", "2019", "--format", "json").output)
    assert events[-1]["action"] == "purge" and events[-1]["actor"] == "officer"
    run("verify")
    run("log", "verify")


def test_hold_blocks_purge_until_released(run, dump, sample) -> None:
    run("hold", "add", "--tin", TIN, "--year", "2019", "--reason", "CMS audit letter")
    holds = json.loads(run("hold", "list", "--format", "json").output)
    assert holds[0]["id"] == 1 and holds[0]["status"] == "active"
    out = run("purge", "--as-of", "2026-01-01", "--yes").output
    assert "PY2019: past its window but kept: legal hold #1" in out
    assert json.loads(run("list", "--year", "2019", "--format", "json").output)
    run("hold", "release", "1", "--reason", "audit closed")
    assert "already released" in run("hold", "release", "1", "--reason", "again", expect=1).output
    assert "purged 12 records and 3 files" in run("purge", "--as-of", "2026-01-01", "--yes").output
    actions = [e["action"] for e in json.loads(run("log", "--tin", TIN, "--format", "json").output)]
    assert actions[-3:] == ["hold.add", "hold.release", "purge"]


def test_hold_on_all_years(run, sample) -> None:
    run("hold", "add", "--tin", TIN, "--reason", "litigation")
    out = run("purge", "--as-of", "2027-01-01").output
    assert "PY2019: past its window but kept" in out and "PY2020: past its window but kept" in out


def test_file_shared_by_two_years_survives_the_first_purge(tmp_path: Path, monkeypatch, run, app, home, sample) -> None:
    monkeypatch.setattr("evidence.support.clock.today", lambda: date(2027, 6, 1))
    shared = SAMPLE / "files/2019/leadership-role-descriptions.pdf"
    run("register", shared, "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7", "--effective-date", "2019-03-04")
    digest = next(e["sha256"] for e in json.loads(run("list", "--format", "json").output) if e["name"] == shared.name)
    run("purge", "--as-of", "2026-01-01", "--yes")  # PY2019 goes
    assert digest in _files(home)
    remaining = json.loads(run("list", "--format", "json").output)
    assert [e["links"] for e in remaining if e["sha256"] == digest] == ["000123456 PY2020 IA_PM_7 item 1"]
    run("purge", "--as-of", "2027-01-01", "--yes")  # PY2020 goes: now the file goes too
    assert digest not in _files(home)
    with app.read() as session:
        assert session.scalar(select(func.count()).select_from(Blob).where(Blob.digest == digest)) == 0


def test_withdrawn_evidence_is_kept_until_its_window_ends(run, sample) -> None:
    run("withdraw", "1", "--reason", "wrong quarter")
    assert "WITHDRAWN" in run("show", "1").output
    run("purge", "--as-of", "2025-12-31", "--yes")
    assert "WITHDRAWN" in run("show", "1").output


def test_purge_interrupted_between_commit_and_file_removal(monkeypatch, run, app, home, sample) -> None:
    from evidence.store.blobstore import LocalBlobStore

    def crash(self, digest):  # the process dies right after the commit
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(LocalBlobStore, "delete", crash)
        run("purge", "--as-of", "2026-01-01", "--yes", expect=1)
    with app.read() as session:
        assert session.scalar(select(func.count()).select_from(Evidence)) == 9  # rows are gone...
    out = run("verify").output  # ...and the next command finishes the purge: recovered, never a problem
    assert out.count("purged by an interrupted purge") == 3 and "missing:" not in out and "orphaned:" not in out
    assert "9 stored files checked: 0 problems" in out
    assert not (home / "quarantine").exists()  # expired evidence is deleted as the purge meant, not kept aside
    assert run("verify").output == "9 stored files checked: 0 problems\n"


# --- The audit chain -------------------------------------------------------------------------------


def test_every_change_appends_an_event(run, sample) -> None:
    run("withdraw", "2", "--reason", "duplicate")
    actions = [e["action"] for e in json.loads(run("log", "--format", "json").output)]
    assert actions[0] == "catalog.sync" and actions[1] == "import"
    assert actions.count("register") == 12 and actions[-1] == "withdraw"
    assert "intact" in run("log", "verify").output


TAMPERING = {
    "edited": ("UPDATE events SET summary = 'nothing happened' WHERE seq = 3", "event #3 was altered"),
    "edited actor": ("UPDATE events SET actor = 'mallory' WHERE seq = 5", "event #5 was altered"),
    "deleted": ("DELETE FROM events WHERE seq = 4", "event #4 is missing"),
    "deleted tail": ("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)", "events deleted?"),
    "deleted tail and head row fixed": (
        "DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events); "
        "UPDATE audit_head SET seq = seq - 1, hash = (SELECT hash FROM events ORDER BY seq DESC LIMIT 1)",
        "audit-head records",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_chain_detects_tampering_with_raw_sql(run, app, sample, case: str) -> None:
    statements, expected = TAMPERING[case]
    with app.engine.begin() as connection:
        for statement in statements.split("; "):
            connection.execute(text(statement))
    out = run("log", "verify", expect=1).output
    assert "audit trail BROKEN" in out and expected in out, out


def test_refused_command_appends_no_event(run, sample) -> None:
    count = len(json.loads(run("log", "--format", "json").output))
    run("attest", "--tin", TIN, "--activity", "IA_ERP_3", "--year", "2019", "--start", "2019-01-01",
        "--end", "2019-12-31", expect=1)  # fmt: skip
    assert len(json.loads(run("log", "--format", "json").output)) == count


def test_chain_detects_an_inserted_event_even_with_a_correct_hash(run, app, sample) -> None:
    """A forger who knows the algorithm still cannot slip an event into the middle."""
    from datetime import UTC, datetime

    from evidence.retention.audit import event_hash

    with app.engine.begin() as connection:
        prev = connection.execute(text("SELECT hash FROM events WHERE seq = 2")).scalar()
        at = datetime(2026, 1, 1, tzinfo=UTC)
        forged = event_hash(3, at, "mallory", "withdraw", None, None, "fake", "{}", prev)
        connection.execute(text("UPDATE events SET seq = seq + 100000 WHERE seq > 2"))
        connection.execute(text("UPDATE events SET seq = seq - 99999 WHERE seq > 100000"))
        connection.execute(
            text("INSERT INTO events (seq, occurred_at, actor, action, summary, details, prev_hash, hash) "
                 "VALUES (3, :at, 'mallory', 'withdraw', 'fake', '{}', :prev, :hash)"),
            {"at": at, "prev": prev, "hash": forged},
        )  # fmt: skip
    out = run("log", "verify", expect=1).output
    assert "event #4 does not follow event #3" in out
