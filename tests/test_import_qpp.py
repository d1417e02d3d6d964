"""import-qpp: CMS's inventory files give the same facts as the shipped catalog; bad files change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence.catalog.model import load_catalog_file
from evidence.db.models import Activity, CatalogYear, DocumentationRequirement
from evidence.support.resources import shipped_catalog_path
from tests.conftest import reference_file

YEARS = range(2017, 2028)


@pytest.mark.parametrize("year", YEARS)
def test_reference_file_matches_shipped_catalog(run, app, year: int) -> None:
    path = reference_file(year)
    result = run("catalog", "import-qpp", path, "--year", year)
    shipped = {a.activity_id: a for a in load_catalog_file(shipped_catalog_path()).years[year].activities}
    assert f"PY{year}: {len(shipped)} activities" in result.output
    assert "0 added" in result.output and "0 removed" in result.output
    with app.read() as session:
        rows = {a.activity_id: a for a in session.scalars(select(Activity).where(Activity.performance_year == year))}
        source = session.get(CatalogYear, year)
    assert source.source == "imported" and source.source_name == path.name
    assert set(rows) == set(shipped)
    for activity_id, row in rows.items():
        assert (row.weight, row.subcategory) == (
            shipped[activity_id].weight,
            shipped[activity_id].subcategory,
        )
        assert row.description  # CMS's descriptions arrive with the import


def test_full_measures_file_with_other_categories(tmp_path: Path, run, app) -> None:
    entries = json.loads(reference_file(2020).read_text(encoding="utf-8"))
    mixed = [
        {"category": "quality", "measureId": "001", "title": "Diabetes"},
        *entries,
        {"category": "pi", "measureId": "PI_EP_1"},
    ]
    path = tmp_path / "measures-data.json"
    path.write_text(json.dumps(mixed), encoding="utf-8")
    assert "PY2020: 106 activities" in run("catalog", "import-qpp", path, "--year", "2020").output


def _small(tmp_path: Path, entries: list[dict], name: str = "ia.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def _entry(measure_id: str, weight: str | None = "medium", **extra) -> dict:
    entry = {
        "category": "ia",
        "measureId": measure_id,
        "title": f"Title of {measure_id}",
        "description": "What it is.",
        "subcategoryId": "populationManagement",
        "firstPerformanceYear": 2017,
        "lastPerformanceYear": None,
        "weight": weight,
    }
    entry.update(extra)
    return entry


def test_small_file_replaces_year_and_keeps_documentation(tmp_path: Path, run, app) -> None:
    path = _small(tmp_path, [_entry("IA_PM_15", "high"), _entry("IA_NEW_1")])
    result = run("catalog", "import-qpp", path, "--year", "2021", "--yes")
    assert "2 activities" in result.output and "added" in result.output
    with app.read() as session:
        rows = {
            a.activity_id: a.weight for a in session.scalars(select(Activity).where(Activity.performance_year == 2021))
        }
        new_doc = session.get(DocumentationRequirement, "IA_NEW_1")
        kept_doc = session.get(DocumentationRequirement, "IA_PM_15")
    assert rows == {"IA_PM_15": "high", "IA_NEW_1": "medium"}
    assert new_doc.generic and new_doc.rule == "single"
    assert kept_doc.rule == "any" and not kept_doc.generic
    shown = run("catalog", "show", "IA_PM_15", "--year", "2021").output
    assert "weight high" in shown and "any one of these items" in shown


def test_shipped_sync_does_not_overwrite_an_imported_year(tmp_path: Path, run, app) -> None:
    from evidence.catalog.store import sync_shipped_catalog

    run("catalog", "import-qpp", _small(tmp_path, [_entry("IA_PM_15", "high")]), "--year", "2021", "--yes")
    with app.write() as session:
        assert sync_shipped_catalog(session, force=True)
    with app.read() as session:
        count = len(session.scalars(select(Activity).where(Activity.performance_year == 2021)).all())
    assert count == 1


def test_next_year_can_be_loaded(tmp_path: Path, run) -> None:
    unweighted = {k: v for k, v in _entry("IA_PM_15", title="Next year").items() if k != "weight"}
    run("catalog", "import-qpp", _small(tmp_path, [unweighted]), "--year", "2028")
    assert "PY2028: weight unweighted" in run("catalog", "show", "IA_PM_15").output


MALFORMED = {
    "not json": ("{not json", r":1: not valid JSON"),
    "not an array": ('{"a": 1}', r"expected a JSON array"),
    "no ia entries": ('[{"category": "quality", "measureId": "001"}]', r"no improvement activities"),
    "bad weight": (
        [_entry("IA_PM_15", "heavy")],
        r"entry 0 \(IA_PM_15\), field 'weight': 'heavy' is not one of",
    ),
    "missing title": (
        [{k: v for k, v in _entry("IA_PM_15").items() if k != "title"}],
        r"field 'title': missing",
    ),
    "duplicate id": ([_entry("IA_PM_15"), _entry("IA_PM_15")], r"entry 1 \(IA_PM_15\): duplicate measureId"),
    "bad id": ([_entry("PM 15")], r"field 'measureId'"),
    "wrong year": (
        [_entry("IA_PM_15", firstPerformanceYear=2023)],
        r"'firstPerformanceYear': 2023 is after --year 2021",
    ),
    # JSON Schema's "integer" accepts 2023.0; the year check used to skip what was not a Python int.
    "year as a float": (
        [_entry("IA_PM_15", firstPerformanceYear=2023.0)],
        r"'firstPerformanceYear': 2023.0 is not a four-digit year",
    ),
    "last year as a float": (
        [_entry("IA_PM_15", lastPerformanceYear=2020.0)],
        r"'lastPerformanceYear': 2020.0 is not a four-digit year",
    ),
    "year far in the past": (
        [_entry("IA_PM_15", firstPerformanceYear=-(10**30))],
        r"'firstPerformanceYear': -1000000000000000000000000000000 is not a four-digit year",
    ),
    "year before MIPS": ([_entry("IA_PM_15", firstPerformanceYear=2016)], r"2016 is before MIPS began"),
    "id with a final newline": ([_entry("IA_PM_15\n")], r"field 'measureId': 'IA_PM_15\\n' is not a valid value"),
    "weights in an unweighted year": (
        [_entry("IA_PM_15")],
        r"has weights, but PY2026 is scored without weights",
    ),
    "one entry lacks weight": (
        [_entry("IA_PM_15"), {k: v for k, v in _entry("IA_PM_16").items() if k != "weight"}],
        r"entry 1 \(IA_PM_16\), field 'weight': missing while other entries have one",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_is_refused_and_nothing_changes(tmp_path: Path, run, dump, case: str) -> None:
    import re

    content, expected = MALFORMED[case]
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    year = "2026" if case == "weights in an unweighted year" else "2021"
    before = dump()
    result = run("catalog", "import-qpp", path, "--year", year, expect=1)
    assert re.search(expected, result.output), result.output
    assert result.output.startswith("Error: ")
    assert dump() == before


def test_dropping_an_attested_activity_is_refused(tmp_path: Path, run, app, dump) -> None:
    from datetime import date

    from evidence.catalog.store import require_activity
    from evidence.db.models import Attestation, Practice

    with app.write() as session:
        practice = Practice(tin="000123456", name="Sample")
        session.add(practice)
        session.flush()
        activity = require_activity(session, "IA_PM_7", 2021)
        session.add(
            Attestation(
                practice_id=practice.id,
                performance_year=2021,
                activity_pk=activity.id,
                start_date=date(2021, 1, 1),
                end_date=date(2021, 12, 31),
                created_by="t",
            )
        )
    before = dump()
    result = run("catalog", "import-qpp", _small(tmp_path, [_entry("IA_PM_15")]), "--year", "2021", expect=1)
    assert "cannot drop IA_PM_7 from the inventory: attestations refer to it" in result.output
    assert dump() == before


# --- the diff before the write (issue #13, case 7) --------------------------------------------------


def _revision_of_2021(app) -> tuple[Path, set[str]]:
    """Entries for IA_PM_15 (title revised), IA_PM_16 (as stored) and IA_NEW_1; the ids the file would drop."""
    with app.read() as session:
        rows = {a.activity_id: a for a in session.scalars(select(Activity).where(Activity.performance_year == 2021))}

    def same_as_stored(activity_id: str, **change: str) -> dict:
        row = rows[activity_id]
        facts = {"title": row.title, "description": row.description, "subcategoryId": row.subcategory}
        return _entry(activity_id, row.weight if row.weight != "none" else None, **{**facts, **change})

    entries = [same_as_stored("IA_PM_15", title="Revised title"), same_as_stored("IA_PM_16"), _entry("IA_NEW_1")]
    return entries, set(rows) - {"IA_PM_15", "IA_PM_16"}


def test_import_shows_the_diff_and_needs_yes_to_remove(tmp_path: Path, run, app, dump) -> None:
    entries, dropped = _revision_of_2021(app)
    path = _small(tmp_path, entries)
    before = dump()
    result = run("catalog", "import-qpp", path, "--year", "2021", expect=1)
    lines = result.output.splitlines()
    rows = [line.split() for line in lines[2:] if line.split()[:1] in (["added"], ["changed"], ["removed"])]
    assert ["added", "IA_NEW_1"] in rows and ["changed", "IA_PM_15", "title"] in rows
    assert {row[1] for row in rows if row[0] == "removed"} == dropped
    assert not any(row[1] == "IA_PM_16" for row in rows)  # unchanged: counted, not listed
    assert f"1 added, 1 changed, {len(dropped)} removed, 1 unchanged" in result.output
    assert lines[-1].startswith(f"Error: PY2021: the file would remove {len(dropped)} activities (")
    assert "confirm the removal with --yes" in lines[-1]
    assert dump() == before


def test_dry_run_writes_nothing_and_says_so(tmp_path: Path, run, app, dump) -> None:
    entries, dropped = _revision_of_2021(app)
    before = dump()
    result = run("catalog", "import-qpp", _small(tmp_path, entries), "--year", "2021", "--dry-run", "--yes")
    assert f"{len(dropped)} removed" in result.output
    assert result.output.splitlines()[-1] == "dry run: nothing changed (applying it needs --yes: it removes activities)"
    assert dump() == before


def test_yes_applies_the_previewed_change_and_logs_the_removed_ids(tmp_path: Path, run, app) -> None:
    entries, dropped = _revision_of_2021(app)
    result = run("catalog", "import-qpp", _small(tmp_path, entries), "--year", "2021", "--yes")
    assert result.output.splitlines()[-1] == "PY2021: imported from ia.json"
    with app.read() as session:
        rows = {
            a.activity_id: a.title for a in session.scalars(select(Activity).where(Activity.performance_year == 2021))
        }
    assert set(rows) == {"IA_PM_15", "IA_PM_16", "IA_NEW_1"} and rows["IA_PM_15"] == "Revised title"
    events = json.loads(run("log", "--format", "json").output)
    imported = [e for e in events if e["action"] == "catalog.import"]
    details = imported[0]["details"]  # the event details, as the log shows them (JSON text)
    assert len(imported) == 1 and sorted(json.loads(details)["removed_ids"]) == sorted(dropped)


def test_preview_as_json_and_csv(tmp_path: Path, run, app, dump) -> None:
    import csv
    import io

    entries, dropped = _revision_of_2021(app)
    path = _small(tmp_path, entries)
    before = dump()
    document = json.loads(run("catalog", "import-qpp", path, "--year", "2021", "--dry-run", "--format", "json").stdout)
    assert document["added"] == ["IA_NEW_1"] and document["changed"] == [{"activity": "IA_PM_15", "fields": ["title"]}]
    assert set(document["removed"]) == dropped and document["unchanged"] == 1 and document["applied"] is False
    refused = run("catalog", "import-qpp", path, "--year", "2021", "--format", "csv", expect=1)
    table = list(csv.DictReader(io.StringIO(refused.stdout)))
    assert {(r["change"], r["activity"]) for r in table} >= {("added", "IA_NEW_1"), ("changed", "IA_PM_15")}
    assert {r["activity"] for r in table if r["change"] == "removed"} == dropped
    assert dump() == before
    applied = json.loads(run("catalog", "import-qpp", path, "--year", "2021", "--yes", "--format", "json").stdout)
    assert applied["applied"] is True and set(applied["removed"]) == dropped


def test_an_import_that_removes_nothing_needs_no_yes(tmp_path: Path, run, app) -> None:
    entries, _ = _revision_of_2021(app)
    run("catalog", "import-qpp", _small(tmp_path, entries), "--year", "2021", "--yes")
    again = run(
        "catalog", "import-qpp", _small(tmp_path, [*entries[:2], _entry("IA_NEW_2"), entries[2]]), "--year", "2021"
    )
    assert "1 added, 0 changed, 0 removed, 3 unchanged" in again.output


@pytest.mark.parametrize("flags", [["--yes"], ["--dry-run"]], ids=["yes", "dry-run"])
def test_removing_an_attested_activity_is_refused_even_with_yes(tmp_path: Path, run, app, dump, flags) -> None:
    run("practice", "add", "000123456", "--name", "Sample")
    run(
        "attest",
        "--tin",
        "000123456",
        "--activity",
        "IA_PM_7",
        "--year",
        "2021",
        "--start",
        "2021-01-01",
        "--end",
        "2021-12-31",
    )
    entries, _ = _revision_of_2021(app)
    before = dump()
    result = run("catalog", "import-qpp", _small(tmp_path, entries), "--year", "2021", *flags, expect=1)
    assert result.output.splitlines()[-1] == (
        "Error: PY2021: cannot drop IA_PM_7 from the inventory: attestations refer to it; nothing changed"
    )
    assert dump() == before


def test_a_file_changed_after_its_preview_is_not_applied(tmp_path: Path, app, dump) -> None:
    from evidence.catalog.qpp import import_qpp, preview_qpp
    from evidence.errors import ConflictError

    entries, _ = _revision_of_2021(app)
    path = _small(tmp_path, entries)
    with app.read() as session:
        preview = preview_qpp(session, path, 2021)
    _small(tmp_path, entries[:2])  # IA_NEW_1 is gone: not what the officer confirmed
    before = dump()
    with pytest.raises(ConflictError, match="changed since the preview; nothing changed"), app.write() as session:
        import_qpp(session, path, 2021, actor="tester", confirm_removal=True, previewed=preview.diff)
    assert dump() == before
