"""Strict retention: the period only lengthens, and purge trusts no row the audit trail contradicts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import REPO, SAMPLE

TIN = "000123456"


@pytest.fixture
def sample(run):
    run("import", SAMPLE / "practice.csv")
    run("register", "--manifest", SAMPLE / "manifest.yaml")


def _files(home: Path) -> set[str]:
    return {p.name for p in (home / "store" / "sha256").rglob("*") if p.is_file()}


def _sql(app, *statements: str) -> None:
    with app.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def _years(run) -> set[int]:
    """The performance years that still have evidence linked."""
    listed = json.loads(run("list", "--format", "json").output)
    return {int(year) for e in listed for year in re.findall(r"PY(\d{4})", e["links"])}


# --- Case 6: the period can only be lengthened ----------------------------------------------------


@pytest.mark.parametrize(("years", "why"), [(6, "6 years would shorten it"), (10, "10 years would change nothing")])
def test_retention_set_refuses_a_shorter_or_equal_period(run, app, dump, home, sample, years, why) -> None:
    run("retention", "set", "--years", "10")
    before, files = dump(), _files(home)
    out = run("retention", "set", "--years", years, expect=1).output
    assert out == f"Error: the retention period is 10 years and can only be lengthened: {why}\n"
    assert dump() == before  # no settings change, no event
    assert "retention period: 10 years" in run("retention", "show").output
    run("purge", "--yes")  # PY2019 ends 2029-12-31 under the longer policy: nothing goes
    assert _files(home) == files and 2019 in _years(run)


def test_the_default_period_cannot_be_set_again(run, dump) -> None:
    before = dump()
    out = run("retention", "set", "--years", "6", expect=1).output
    assert out == "Error: the retention period is 6 years and can only be lengthened: 6 years would change nothing\n"
    assert dump() == before


def test_lengthening_is_a_chained_event(run) -> None:
    run("retention", "set", "--years", "8")
    run("retention", "set", "--years", "9")
    events = [e for e in json.loads(run("log", "--format", "json").output) if e["action"] == "retention.set"]
    assert [json.loads(e["details"]) for e in events] == [{"from": 6, "to": 8}, {"from": 8, "to": 9}]
    assert "intact" in run("log", "verify").output


# --- Case 5: a settings row the audit trail contradicts ---------------------------------------------

SETTINGS = {
    "one year": ("1", "the retention period in the settings table is 1 year, shorter than the 6 years CMS requires"),
    "words": ("six", "the retention period in the settings table is 'six', not a whole number of years"),
    "unchained": ("12", "the retention period in the settings table is 12 years, but the audit trail records 10 years"),
}


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_a_settings_row_edited_outside_stops_purge_and_show(run, app, dump, home, sample, case) -> None:
    run("retention", "set", "--years", "10")
    value, message = SETTINGS[case]
    _sql(app, f"UPDATE settings SET value = '{value}' WHERE key = 'retention_years'")
    before, files = dump(), _files(home)
    for command in (["purge", "--yes"], ["purge"], ["retention", "show"], ["retention", "set", "--years", "20"]):
        out = run(*command, expect=1).output
        assert out.startswith(f"Error: {message}") and out.count("\n") == 1, (command, out)
    assert dump() == before and _files(home) == files
    assert _years(run) == {2019, 2020, 2024}


def test_a_settings_row_inserted_without_an_event_is_refused(run, app, dump, sample) -> None:
    _sql(app, "INSERT INTO settings (key, value) VALUES ('retention_years', '7')")
    before = dump()
    out = run("purge", "--yes", expect=1).output
    assert out.startswith(
        "Error: the retention period in the settings table is 7 years, but the audit trail records no change "
        "from the default 6 years"
    )
    assert dump() == before


def test_a_deleted_settings_row_is_refused(run, app, dump, sample) -> None:
    run("retention", "set", "--years", "10")
    _sql(app, "DELETE FROM settings WHERE key = 'retention_years'")
    before = dump()
    out = run("purge", "--yes", expect=1).output
    assert out.startswith("Error: the retention period is missing from the settings table, but the audit trail")
    assert dump() == before


# --- Case 5: rows the audit trail contradicts ------------------------------------------------------


def test_purge_refuses_an_attestation_moved_to_an_older_year(run, app, dump, home, sample) -> None:
    with app.engine.connect() as connection:
        moved = sorted(connection.execute(text("SELECT id FROM attestations WHERE performance_year = 2024")).scalars())
    _sql(app, "UPDATE attestations SET performance_year = 2018 WHERE performance_year = 2024")
    assert "0 problems" in run("verify").output  # the files are all there: only the chain knows better
    before, files = dump(), _files(home)
    for command in (["purge", "--yes"], ["purge"]):
        out = run(*command, expect=1).output
        assert out == (
            f"Error: attestation {moved[0]} ({TIN} PY2018) is PY2018 in the database, but the audit trail recorded "
            "PY2024: the database was edited outside evidence; purge deletes nothing\n"
        )
    assert dump() == before and _files(home) == files


def test_purge_refuses_a_link_moved_to_an_expired_attestation(run, app, dump, sample) -> None:
    with app.engine.connect() as connection:
        old = connection.execute(text("SELECT id FROM attestations WHERE performance_year = 2019 LIMIT 1")).scalar()
        link = connection.execute(
            text("SELECT l.id FROM evidence_links l JOIN attestations a ON a.id = l.attestation_id "
                 "WHERE a.performance_year = 2024 LIMIT 1")
        ).scalar()  # fmt: skip
    _sql(app, f"UPDATE evidence_links SET attestation_id = {old} WHERE id = {link}")
    before = dump()
    out = run("purge", "--yes", expect=1).output
    assert out.startswith(f"Error: evidence link {link} belongs to attestation {old} in the database, but the audit")
    assert dump() == before


def test_purge_refuses_a_changed_attestation_period(run, app, dump) -> None:
    run("practice", "add", TIN, "--name", "Clinic")
    run("attest", "--tin", TIN, "--activity", "IA_PM_7", "--year", "2019", "--start", "2019-01-01",
        "--end", "2019-06-30")  # fmt: skip
    _sql(app, "UPDATE attestations SET end_date = '2019-12-31'")
    before = dump()
    out = run("purge", "--yes", expect=1).output
    assert (
        "covers 2019-01-01 to 2019-12-31 in the database, but the audit trail recorded 2019-01-01 to 2019-06-30" in out
    )
    assert dump() == before


def test_purge_refuses_a_broken_chain(run, app, dump, home, sample) -> None:
    _sql(app, "UPDATE events SET summary = 'nothing happened' WHERE seq = 3")
    before, files = dump(), _files(home)
    out = run("purge", "--yes", expect=1).output
    assert out == (
        "Error: the audit trail is not intact (event #3 was altered (its content no longer matches its hash)); "
        "purge deletes nothing until `evidence log verify` passes\n"
    )
    assert dump() == before and _files(home) == files


def test_registration_chains_each_attestations_retain_until(run, sample) -> None:
    events = [e for e in json.loads(run("log", "--format", "json").output) if e["action"] == "register"]
    details = [json.loads(e["details"]) for e in events]
    by_year = {e["year"]: d["retain_until"] for e, d in zip(events, details, strict=True)}
    assert by_year == {2019: "2025-12-31", 2020: "2026-12-31", 2024: "2030-12-31"}
    assert all(isinstance(d["attestation"], int) for d in details)


def test_an_honest_purge_after_lengthening_still_works(run, home, sample, monkeypatch) -> None:
    run("retention", "set", "--years", "7")  # PY2019 kept through 2026-12-31, PY2020 through 2027-12-31
    monkeypatch.setattr("evidence.support.clock.today", lambda: date(2027, 1, 1))
    assert "nothing has passed its retention window" in run("purge", "--as-of", "2026-12-31", "--yes").output
    out = run("purge", "--yes").output
    assert "000123456 PY2019 (kept through 2026-12-31)" in out and "PY2020" not in out
    assert "purged 12 records and 3 files" in out
    assert _years(run) == {2020, 2024}
    assert "intact" in run("log", "verify").output


# --- Case 12: ids are never handed out twice ------------------------------------------------------


def test_ids_of_purged_records_are_never_reused(run, app, sample, monkeypatch) -> None:
    before = json.loads(run("list", "--format", "json").output)
    old_ids = [e["id"] for e in before]
    with app.engine.connect() as connection:
        old_links = set(connection.execute(text("SELECT id FROM evidence_links")).scalars())
        old_attestations = set(connection.execute(text("SELECT id FROM attestations")).scalars())
    monkeypatch.setattr("evidence.support.clock.today", lambda: date(2031, 1, 1))  # every year has expired
    assert "purged" in run("purge", "--yes").output
    assert json.loads(run("list", "--format", "json").output) == []
    run("import", SAMPLE / "practice.csv")
    run("register", "--manifest", SAMPLE / "manifest.yaml")  # the same files again: new records
    new_ids = [e["id"] for e in json.loads(run("list", "--format", "json").output)]
    assert len(new_ids) == len(old_ids) and min(new_ids) > max(old_ids)
    with app.engine.connect() as connection:
        assert min(connection.execute(text("SELECT id FROM evidence_links")).scalars()) > max(old_links)
        assert min(connection.execute(text("SELECT id FROM attestations")).scalars()) > max(old_attestations)
    newest_old = max(old_ids)
    shown = run("show", newest_old, expect=1).output
    assert f"evidence {newest_old} was purged on " in shown and "(kept through 2030-12-31)" in shown
    summaries = [e["summary"] for e in json.loads(run("log", "--format", "json").output)]
    assert sum(s.startswith(f"registered evidence {newest_old} ") for s in summaries) == 1


# --- Case 13: register beside a purge of the same year ---------------------------------------------


def test_register_beside_a_purge_of_its_year_says_what_happened(run, app, home, sample, tmp_path, monkeypatch) -> None:
    """A purge in another process runs after the attestation was found, before the files are stored."""
    from evidence.store.blobstore import LocalBlobStore

    new = tmp_path / "late-minutes.txt"
    new.write_text("QI team minutes found late\n")
    original = LocalBlobStore.writing
    purges: list[subprocess.CompletedProcess[str]] = []

    def purge_first(self):  # the register process has resolved its target and holds no lock yet
        if not purges:
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            command = [sys.executable, "-m", "evidence", "purge", "--as-of", "2026-01-01", "--yes"]
            purges.append(subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False))
        return original(self)

    monkeypatch.setattr(LocalBlobStore, "writing", purge_first)
    files = _files(home)
    out = run("register", new, "--tin", TIN, "--year", "2019", "--activity", "IA_PM_7", expect=1).output
    assert purges[0].returncode == 0 and "purged 12 records and 3 files" in purges[0].stdout, purges[0].stderr
    with app.engine.connect() as connection:
        purged_id = connection.execute(
            text("SELECT record_id FROM tombstones WHERE kind = 'attestation' ORDER BY record_id LIMIT 1")
        ).scalar()
    assert out.splitlines() == [
        "0 registered, 0 already present, 1 failed",
        f"Error: the attestation {TIN} PY2019 IA_PM_7 (id {purged_id}) was purged while registering; "
        f"nothing was registered for {new}",
    ]
    assert "FOREIGN KEY" not in out
    assert _files(home) == files - _purged_files(app)  # the new file left no blob behind
    assert "0 problems" in run("verify").output
    assert "intact" in run("log", "verify").output


def _purged_files(app) -> set[str]:
    with app.engine.connect() as connection:
        return set(connection.execute(text("SELECT sha256 FROM tombstones WHERE kind = 'file'")).scalars())
