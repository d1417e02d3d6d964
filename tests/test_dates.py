"""Honest evidence dates: ranges, where a date came from, warnings and --strict-dates, and
registering known content with other metadata (issue #13, cases 3-5)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.stores import use_sample_practice

# Whole report lines are matched: a terminal wide enough that none wraps (tables fit $COLUMNS).
pytestmark = pytest.mark.usefixtures("wide")

TIN = "000123456"
PM7 = ("--tin", TIN, "--year", "2020", "--activity", "IA_PM_7")  # group, 2020-01-01 to 2020-12-31
CC9 = ("--tin", TIN, "--year", "2020", "--activity", "IA_CC_9", "--item", "1")  # 2020-04-01 to 2020-09-30


@pytest.fixture
def sample(app):
    use_sample_practice(app, register=False)  # tests/stores.py: a copy of one built once


def _file(tmp_path: Path, name: str, text: str = "content\n", mtime: int | None = None) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _listed(run) -> list[dict]:
    return json.loads(run("list", "--format", "json").output)


def _missing(run, activity: str) -> dict:
    rows = json.loads(run("missing", "--tin", TIN, "--year", "2020", "--format", "json").output)
    return next(r for r in rows if r["activity"] == activity and r["npi"] is None)


# --- effective ranges --------------------------------------------------------------------------


def test_a_policy_in_force_from_december_2019_covers_2020(tmp_path, run, sample) -> None:
    policy = _file(tmp_path, "privacy-policy.txt")
    out = run("register", policy, *CC9, "--effective-from", "2019-12-01", "--effective-until", "2020-12-31").output
    assert "effective 2019-12-01 to 2020-12-31 (from --effective-from/--effective-until)" in out
    item = _missing(run, "IA_CC_9")["items"][0]
    assert item["status"] == "covered"
    shown = item["evidence"][0]
    assert (shown["effective_date"], shown["effective_until"], shown["in_period"]) == ("2019-12-01", "2020-12-31", True)
    table = run("missing", "--tin", TIN, "--year", "2020").output
    assert "privacy-policy.txt (2019-12-01 to 2020-12-31)" in table
    assert "outside" not in table.split("IA_CC_9")[1].split("2)")[0]


def test_a_range_wholly_before_the_period_is_outside_it(tmp_path, run, sample) -> None:
    policy = _file(tmp_path, "old-policy.txt")
    result = run("register", policy, *CC9, "--effective-from", "2019-01-01", "--effective-until", "2020-03-31")
    assert "lies wholly outside the attested period 2020-04-01 to 2020-09-30" in result.stderr
    item = _missing(run, "IA_CC_9")["items"][0]
    assert item["status"] == "outside the attested period"
    assert "old-policy.txt (2019-01-01 to 2020-03-31): outside the attested period" in run("missing").output


def test_list_and_show_display_the_range(tmp_path, run, sample) -> None:
    run("register", _file(tmp_path, "p.txt"), *PM7, "--effective-from", "2019-12-01", "--effective-until", "2020-12-31")
    run("register", _file(tmp_path, "r.txt", "other\n"), *PM7, "--effective-date", "2020-10-05")
    table = run("list").output
    assert "2019-12-01 to 2020-12-31" in table and "2020-10-05" in table
    rows = _listed(run)
    assert [(r["effective_date"], r["effective_until"]) for r in rows] == [("2019-12-01", "2020-12-31"),
                                                                           ("2020-10-05", None)]  # fmt: skip
    assert "effective range: 2019-12-01 to 2020-12-31" in run("show", "1").output
    assert "effective date: 2020-10-05" in run("show", "2").output
    assert json.loads(run("show", "1", "--format", "json").output)["effective_until"] == "2020-12-31"
    csv_header = run("list", "--format", "csv").output.splitlines()[0]
    assert "effective_date,effective_until" in csv_header


def test_the_same_day_twice_is_a_single_date(tmp_path, run, sample) -> None:
    run("register", _file(tmp_path, "a.txt"), *PM7, "--effective-from", "2020-05-01", "--effective-until", "2020-05-01")
    assert (_listed(run)[0]["effective_date"], _listed(run)[0]["effective_until"]) == ("2020-05-01", None)


@pytest.mark.parametrize(
    ("options", "message", "code"),
    [
        (("--effective-from", "2020-12-01", "--effective-until", "2020-01-01"),
         "Error: the effective range ends (2020-01-01) before it starts (2020-12-01)", 1),
        (("--effective-from", "2020-12-01"), "--effective-from needs --effective-until", 2),
        (("--effective-until", "2020-12-01"), "--effective-until needs --effective-from", 2),
        (("--effective-date", "2020-05-01", "--effective-from", "2020-01-01", "--effective-until", "2020-12-31"),
         "give --effective-date (one day) or --effective-from/--effective-until (a range), not both", 2),
        (("--effective-from", "2020-13-01", "--effective-until", "2020-12-31"), "not a real calendar date", 2),
    ],
)  # fmt: skip
def test_bad_ranges_are_one_line_and_write_nothing(tmp_path, run, sample, dump, options, message, code) -> None:
    before = dump()
    out = run("register", _file(tmp_path, "a.txt"), *PM7, *options, expect=code).output
    assert message in out
    assert dump() == before


def test_a_manifest_takes_a_range_and_says_so(tmp_path, run, sample) -> None:
    _file(tmp_path, "policy.txt")
    _file(tmp_path, "report.txt", "report\n")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        "evidence:\n"
        f"  - {{path: policy.txt, tin: '{TIN}', year: 2020, activity: IA_PM_7,\n"
        "      effective_from: 2019-12-01, effective_until: 2020-12-31}\n"
        f"  - {{path: report.txt, tin: '{TIN}', year: 2020, activity: IA_PM_7, effective_date: 2020-06-01}}\n",
        encoding="utf-8",
    )
    out = run("register", "--manifest", manifest).output
    assert (
        "policy.txt: evidence 1: 000123456 PY2020 IA_PM_7 item 1; effective 2019-12-01 to 2020-12-31 (from the manifest)"
        in out
    )
    assert "effective 2020-06-01 (from the manifest)" in out
    assert [(r["effective_date"], r["effective_until"]) for r in _listed(run)] == [("2019-12-01", "2020-12-31"),
                                                                                   ("2020-06-01", None)]  # fmt: skip


def test_a_csv_manifest_takes_a_range(tmp_path, run, sample) -> None:
    _file(tmp_path, "policy.txt")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,tin,year,activity,effective_from,effective_until\n"
                        f"policy.txt,{TIN},2020,IA_PM_7,2019-12-01,2020-12-31\n", encoding="utf-8")  # fmt: skip
    run("register", "--manifest", manifest)
    assert _listed(run)[0]["effective_until"] == "2020-12-31"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("effective_from: 2020-12-01, effective_until: 2020-01-01",
         "the effective range ends (2020-01-01) before it starts (2020-12-01)"),
        ("effective_from: 2020-12-01", "effective_from needs effective_until"),
        ("effective_date: 2020-05-01, effective_until: 2020-12-01",
         "give effective_date (one day) or effective_from and effective_until (a range), not both"),
        ("effective_until: 31/12/2020", "effective_until '31/12/2020' is not an ISO date"),
    ],
)  # fmt: skip
def test_a_manifest_line_with_a_bad_range_fails_alone(tmp_path, run, sample, fields, message) -> None:
    _file(tmp_path, "bad.txt")
    _file(tmp_path, "good.txt", "good\n")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        "evidence:\n"
        f"  - {{path: bad.txt, tin: '{TIN}', year: 2020, activity: IA_PM_7, {fields}}}\n"
        f"  - {{path: good.txt, tin: '{TIN}', year: 2020, activity: IA_PM_7, effective_date: 2020-06-01}}\n",
        encoding="utf-8",
    )
    out = run("register", "--manifest", manifest, expect=1).output
    assert "1 registered, 0 already present, 1 failed" in out
    assert f"Error: manifest.yaml line 2: {message}" in out
    assert [r["name"] for r in _listed(run)] == ["good.txt"]


def test_manifest_with_date_options_is_a_usage_error(tmp_path, run, sample) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("evidence: []\n", encoding="utf-8")
    out = run("register", "--manifest", manifest, "--effective-date", "2020-01-01", expect=2).output
    assert "their links and dates from the manifest" in out


# --- where the date came from, warnings, --strict-dates ------------------------------------------


def test_the_file_date_is_named_as_the_source_and_warned_about(tmp_path, run, sample) -> None:
    scan = _file(tmp_path, "scan.txt", mtime=1_764_547_200)  # 2025-12-01: scanned years later
    result = run("register", scan, *PM7)
    assert "effective 2025-12-01 (from the file's modification time)" in result.stdout
    assert result.stderr.strip() == f"warning: {scan}: effective 2025-12-01 is after performance year 2020"
    assert "1 registered" in result.stdout  # a warning, not a refusal


def test_a_date_inside_the_period_gets_no_warning(tmp_path, run, sample) -> None:
    result = run("register", _file(tmp_path, "a.txt", mtime=1_590_000_000), *CC9)  # 2020-05-20
    assert "effective 2020-05-20 (from the file's modification time)" in result.stdout
    assert result.stderr == ""


def test_one_warning_line_per_file_naming_it(tmp_path, run, sample) -> None:
    folder = tmp_path / "minutes"
    folder.mkdir()
    for name, when in (("early.txt", 1_577_000_000), ("inside.txt", 1_590_000_000), ("late.txt", 1_603_000_000)):
        _file(folder, name, name, mtime=when)  # 2019-12-22, 2020-05-20, 2020-10-18
    result = run("register", folder, *CC9)
    lines = result.stderr.splitlines()
    assert lines == [
        f"warning: {folder / 'early.txt'}: effective 2019-12-22 lies wholly outside the attested period 2020-04-01 to 2020-09-30",
        f"warning: {folder / 'late.txt'}: effective 2020-10-18 lies wholly outside the attested period 2020-04-01 to 2020-09-30",
    ]  # fmt: skip
    assert "3 registered" in result.stdout


def test_a_participants_evidence_is_checked_against_their_own_period(tmp_path, run, sample) -> None:
    # Dr. Chen takes part in IA_CC_9 from 2020-04-01 to 2020-08-31 (the group: to 2020-09-30).
    result = run("register", _file(tmp_path, "chen.txt"), *CC9, "--npi", "1234567893", "--effective-date", "2020-09-15")
    assert "outside the attested period 2020-04-01 to 2020-08-31" in result.stderr


def test_strict_dates_refuses_the_whole_run_naming_the_file(tmp_path, run, sample, dump, home) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    _file(folder, "a-inside.txt", "a", mtime=1_590_000_000)
    late = _file(folder, "b-late.txt", "b", mtime=1_603_000_000)
    before = dump()
    out = run("register", folder, *CC9, "--strict-dates", expect=1).output
    assert out.strip() == (f"Error: {late}: effective 2020-10-18 lies wholly outside the attested period "
                           "2020-04-01 to 2020-09-30; --strict-dates: nothing was registered")  # fmt: skip
    assert dump() == before
    assert not (home / "store" / "sha256").exists() or not any((home / "store" / "sha256").rglob("*.txt"))
    assert _listed(run) == []


def test_strict_dates_lists_every_refused_file(tmp_path, run, sample, dump) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    _file(folder, "a.txt", "a", mtime=1_577_000_000)
    _file(folder, "b.txt", "b", mtime=1_603_000_000)
    before = dump()
    out = run("register", folder, *CC9, "--strict-dates", expect=1).output
    assert "Error: --strict-dates: 2 files dated outside their attested period or year; nothing was registered" in out
    assert f"  {folder / 'a.txt'}: effective 2019-12-22" in out and f"  {folder / 'b.txt'}: effective 2020-10-18" in out
    assert dump() == before


def test_strict_dates_registers_files_that_are_in_period(tmp_path, run, sample) -> None:
    out = run("register", _file(tmp_path, "a.txt"), *CC9, "--effective-date", "2020-06-01", "--strict-dates").output
    assert "1 registered, 0 already present, 0 failed" in out


# --- known content, other metadata -------------------------------------------------------------


def test_known_content_with_another_date_is_refused_naming_both_and_the_edit(tmp_path, run, sample, dump) -> None:
    report = _file(tmp_path, "report.txt")
    run("register", report, *PM7, "--effective-date", "2020-03-01")
    before = dump()
    out = run("register", report, *PM7, "--effective-date", "2020-05-01", expect=1).output
    assert "0 registered, 0 already present, 1 failed" in out
    assert (f"Error: {report}: already registered as evidence 1 with effective 2020-03-01 (this run: 2020-05-01); "
            'nothing changed. To correct the record: evidence edit 1 --effective-date 2020-05-01 --reason "..."') in out  # fmt: skip
    assert dump() == before
    out = run(
        "register", report, *PM7, "--effective-from", "2019-12-01", "--effective-until", "2020-12-31", expect=1
    ).output
    assert "effective 2020-03-01 (this run: 2019-12-01 to 2020-12-31)" in out
    assert "evidence edit 1 --effective-from 2019-12-01 --effective-until 2020-12-31" in out


def test_known_content_with_another_description_is_refused(tmp_path, run, sample, dump) -> None:
    report = _file(tmp_path, "report.txt")
    run("register", report, *PM7, "--effective-date", "2020-03-01", "--description", "Q1 report")
    before = dump()
    out = run("register", report, *PM7, "--effective-date", "2020-03-01", "--description", "Q2 report", expect=1).output
    assert "with description 'Q1 report' (this run: 'Q2 report')" in out
    assert 'evidence edit 1 --description "..."' in out
    assert dump() == before


def test_known_content_with_the_same_or_no_given_metadata_is_already_present(tmp_path, run, sample) -> None:
    report = _file(tmp_path, "report.txt", mtime=1_700_000_000)
    run("register", report, *PM7, "--effective-date", "2020-03-01", "--description", "Q1 report")
    again = run("register", report, *PM7, "--effective-date", "2020-03-01", "--description", "Q1 report").output
    assert "0 registered, 1 already present, 0 failed" in again
    # No date given: the file's own date is no claim about the record, which stands.
    assert "0 registered, 1 already present, 0 failed" in run("register", report, *PM7).output


def test_known_content_for_a_new_item_still_registers(tmp_path, run, sample) -> None:
    report = _file(tmp_path, "report.txt")
    run("register", report, *CC9, "--effective-date", "2020-06-01")
    out = run("register", report, "--tin", TIN, "--year", "2020", "--activity", "IA_CC_9", "--item", "2",
              "--effective-date", "2020-06-01").output  # fmt: skip
    assert "registered report.txt: evidence 1: 000123456 PY2020 IA_CC_9 item 2" in out
    out = run("register", report, *PM7, "--effective-date", "2020-07-01").output  # another date: its own record
    assert "registered report.txt: evidence 2: 000123456 PY2020 IA_PM_7 item 1; effective 2020-07-01" in out
    assert [(r["id"], r["effective_date"]) for r in _listed(run)] == [(1, "2020-06-01"), (2, "2020-07-01")]


def test_edit_then_register_again_is_already_present(tmp_path, run, sample) -> None:
    report = _file(tmp_path, "report.txt")
    run("register", report, *PM7, "--effective-date", "2020-03-01")
    run("register", report, *PM7, "--effective-date", "2020-05-01", expect=1)
    run("edit", "1", "--effective-date", "2020-05-01", "--reason", "the report's own date")
    assert "0 registered, 1 already present" in run("register", report, *PM7, "--effective-date", "2020-05-01").output


# --- a participant's own period, the packet, the library ----------------------------------------


@pytest.mark.parametrize(
    ("start", "until", "in_period"),
    [("2020-07-01", "2020-12-31", True), ("2020-07-31", "2021-03-01", True), ("2020-08-01", "2020-12-31", False)],
)
def test_a_participants_range_counts_against_their_own_period(tmp_path, run, sample, start, until, in_period) -> None:
    # Chen's own IA_PM_7 period is 2020-02-01 to 2020-07-31; the group's is the whole year.
    run("register", _file(tmp_path, "chen.txt"), *PM7, "--npi", "1234567893",
        "--effective-from", start, "--effective-until", until)  # fmt: skip
    item = _missing(run, "IA_PM_7")["items"][0]
    assert [e["in_period"] for e in item["evidence"]] == [in_period]


def test_the_packet_shows_the_range_and_flags_only_a_range_wholly_outside(tmp_path, run, sample) -> None:
    from pypdf import PdfReader

    run(
        "register",
        _file(tmp_path, "policy.txt"),
        *CC9,
        "--effective-from",
        "2019-12-01",
        "--effective-until",
        "2020-12-31",
    )
    run("register", _file(tmp_path, "old.txt", "old\n"), *CC9, "--effective-from", "2019-01-01",
        "--effective-until", "2020-03-31")  # fmt: skip
    output = tmp_path / "packet.pdf"
    run("packet", "--tin", TIN, "--year", "2020", "-o", output)
    text = "\n".join(page.extract_text() for page in PdfReader(output).pages)
    flat = " ".join(text.split())
    assert "2019-12-01 to 2020-12-31" in flat and "2019-01-01 to 2020-03-31" in flat
    assert flat.count("Before the period (starts 2020-04-01)") == 1  # the old policy only


def test_a_large_run_counts_where_its_dates_came_from(tmp_path, run, sample) -> None:
    folder = tmp_path / "sheets"
    folder.mkdir()
    for i in range(52):
        _file(folder, f"sheet-{i:02}.txt", f"sheet {i}\n", mtime=1_590_000_000)
    out = run("register", folder, *PM7).output
    assert "effective dates: 52 from the file's modification time" in out
    assert "registered sheet-00.txt" not in out


def test_library_outcomes_carry_the_date_its_source_and_the_warning(tmp_path, app, sample) -> None:
    from datetime import date

    from evidence.store.registration import FileToRegister, LinkRequest, OutcomeStatus, register_files

    request = LinkRequest(TIN, 2020, "IA_CC_9", (1,))
    inside, outside = _file(tmp_path, "inside.txt", "a"), _file(tmp_path, "outside.txt", "b")
    files = [
        FileToRegister(inside, request, date(2019, 12, 1), effective_until=date(2020, 12, 31), date_source="test"),
        FileToRegister(outside, request, date(2021, 1, 5), date_source="test"),
    ]
    with app.write() as session:
        outcomes = register_files(session, app.blob_store, files, actor="lib")
    assert [(o.status, o.effective, o.date_source) for o in outcomes] == [
        (OutcomeStatus.REGISTERED, "2019-12-01 to 2020-12-31", "test"),
        (OutcomeStatus.REGISTERED, "2021-01-05", "test"),
    ]
    assert [o.warning for o in outcomes] == [None, f"{outside}: effective 2021-01-05 is after performance year 2020"]


def test_library_strict_dates_raises_before_storing_anything(tmp_path, app, dump, sample, home) -> None:
    from datetime import date

    from evidence.errors import InputError
    from evidence.store.registration import FileToRegister, LinkRequest, register_files

    request = LinkRequest(TIN, 2020, "IA_CC_9", (1,))
    files = [FileToRegister(_file(tmp_path, "a.txt", "a"), request, date(2020, 6, 1)),
             FileToRegister(_file(tmp_path, "b.txt", "b"), request, date(2020, 3, 1))]  # fmt: skip
    before = dump()
    with app.write() as session, pytest.raises(InputError, match=r"b\.txt: effective 2020-03-01 lies wholly outside"):
        register_files(session, app.blob_store, files, actor="lib", strict_dates=True)
    assert dump() == before
    assert not list((home / "store").rglob("sha256/*/*"))


def test_known_content_with_two_records_matches_the_one_that_agrees(tmp_path, run, sample) -> None:
    report = _file(tmp_path, "report.txt")
    both = ("--tin", TIN, "--year", "2020", "--activity", "IA_CC_9", "--item", "1", "--item", "2")
    run("register", report, *CC9, "--effective-date", "2020-05-01")  # evidence 1: item 1
    run("register", report, *both, "--effective-date", "2020-06-01")  # evidence 2: items 1 and 2
    again = run("register", report, *CC9, "--effective-date", "2020-06-01").output
    assert "0 registered, 1 already present, 0 failed" in again
    out = run("register", report, *CC9, "--effective-date", "2020-07-01", expect=1).output
    assert "already registered as evidence 1 with effective 2020-05-01 (this run: 2020-07-01)" in out


def test_a_hostile_file_name_in_a_warning_is_inert(tmp_path, run, sample) -> None:
    hostile = _file(tmp_path, "scan\x1b[31m\u202e.txt", mtime=1_764_547_200)
    result = run("register", hostile, *PM7)
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "scan\\x1b[31m\\u202e.txt: effective 2025-12-01 is after performance year 2020" in result.stderr
