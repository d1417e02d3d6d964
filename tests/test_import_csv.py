"""The CSV bulk import: all or nothing, every bad row named by line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

HEADER = (
    "record,tin,npi,name,year,activity,start,end,pcmh,apm,rural,hpsa,"
    "patient_facing_encounters,hospital_pos_pct,asc_pos_pct\n"
)


def test_sample_loads_and_loads_again_unchanged(run) -> None:
    first = run("import", SAMPLE / "practice.csv").output
    assert "added 1 practice, 10 clinicians, 7 attestations, 6 participations" in first
    again = run("import", SAMPLE / "practice.csv").output
    assert "added 0 practices, 0 clinicians, 0 attestations, 0 participations; 24 rows already present" in again


def test_rows_in_any_order(tmp_path: Path, run) -> None:
    path = tmp_path / "reversed.csv"
    path.write_text(
        HEADER
        + "participation,000123456,1234567893,,2020,IA_PM_7,2020-02-01,2020-07-31,,,,,,,\n"
        + "attestation,000123456,,,2020,IA_PM_7,2020-01-01,2020-12-31,,,,,,,\n"
        + "clinician,000123456,1234567893,Dr. A,2020,,,,,,yes,no,90,80,0\n"
        + "practice,000123456,,Sample,2020,,,,yes,other,,,,,\n",
        encoding="utf-8",
    )
    run("import", path)
    (year,) = json.loads(run("practice", "years", "000123456", "--format", "json").output)
    assert (year["year"], year["pcmh"], year["apm"], year["program"]) == (2020, True, "other", "mips")
    clinician = json.loads(run("clinician", "list", "--tin", "000123456", "--format", "json").output)[0]
    assert (clinician["rural"], clinician["patient_facing_encounters"], clinician["hospital_pos_pct"]) == (
        True,
        90,
        80.0,
    )


def test_every_bad_row_is_named_and_nothing_is_written(tmp_path: Path, run, dump) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "practice,000123456,,Sample,,,,,no,none,,,,,\n"  # line 2: fine
        + "clinician,000123456,1234567890,Dr. A,2020,,,,,,,,,,\n"  # line 3: Luhn
        + "attestation,000123456,,,2019,IA_ERP_3,2019-01-01,2019-12-31,,,,,,,\n"  # line 4: not in 2019
        + "attestation,000123456,,,2020,IA_PM_7,01/01/2020,2020-12-31,,,,,,,\n"  # line 5: date format
        + "clinician,000123456,1000000004,Dr. B,2020,,,,,,maybe,,,,\n"  # line 6: bad flag
        + "attestation,000123456,,,2020,IA_PM_7,2020-11-01,2020-12-31,,,,,,,\n"  # line 7: too short
        + "visit,000123456,,,,,,,,,,,,,\n"  # line 8: unknown record
        + "clinician,000123456,1000000012,,2020,,,,,,,,,,\n",  # line 9: missing name
        encoding="utf-8",
    )
    before = dump()
    output = run("import", path, expect=1).output
    assert "7 problems" in output
    for expected in (
        "line 3 (clinician): NPI '1234567890' fails the NPI check digit",
        "line 4 (attestation): activity IA_ERP_3 is not in the PY2019 inventory",
        "line 5, column start: start '01/01/2020' is not an ISO date",
        "line 6, column rural: 'maybe' is not yes or no",
        "line 7 (attestation): the period 2020-11-01 to 2020-12-31 is 61 days",
        "line 8, column record: 'visit' is not one of",
        "line 9, column name: required for a clinician row",
    ):
        assert expected in output, output
    assert output.index("line 3") < output.index("line 9")
    assert dump() == before


def test_unknown_column_and_empty_file(tmp_path: Path, run) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("record,tin,nip\n", encoding="utf-8")
    assert "unknown column(s) 'nip'" in run("import", path, expect=1).output
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert "empty file" in run("import", empty, expect=1).output
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + "practice,000123456,,Caf\xe9,,,,,,,,,,,\n".encode("latin-1"))
    assert "line 2: not UTF-8 text" in run("import", latin, expect=1).output


def test_identical_rows_load_twice_but_conflicting_ones_are_refused(tmp_path: Path, run) -> None:
    run("import", SAMPLE / "practice.csv")
    path = tmp_path / "conflict.csv"
    path.write_text(HEADER + "attestation,000123456,,,2020,IA_PM_7,2020-02-01,2020-12-31,,,,,,,\n", encoding="utf-8")
    assert "already attested IA_PM_7 for 2020 (2020-01-01 to 2020-12-31)" in run("import", path, expect=1).output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xef\xbb\xbfpath,tin\n,\n", None),  # a byte-order mark, and a blank row skipped
        (b"path,tin\ndoc.pdf,a\x00b\n", "line 2: a cell contains a NUL character"),
        (b"path,tin\ndoc.pdf,000123456,extra\n", "line 2: more cells than header columns"),
        (b'path,tin\n"doc.pdf,000123456\n', "line 2: unexpected end of data"),
        (b"path,tin\ncaf\xe9.pdf,000123456\n", "line 2: not UTF-8 text"),
    ],
)
def test_one_csv_reader_for_imports_and_manifests(tmp_path: Path, content: bytes, expected: str | None) -> None:
    """The attestation CSV and CSV manifests share evidence.support.csvio: the same file, the same answer."""
    from evidence.errors import InputError
    from evidence.records.importer import read_rows
    from evidence.records.manifest import read_manifest

    manifest = tmp_path / "manifest.csv"
    manifest.write_bytes(content)
    attestations = tmp_path / "practice.csv"
    attestations.write_bytes(content.replace(b"path,", b"record,"))
    if expected is None:
        assert read_manifest(manifest) == ([], [])
        with pytest.raises(InputError, match="no data rows"):
            read_rows(attestations)
        return
    for read in (read_manifest, read_rows):
        with pytest.raises(InputError, match=expected):
            read(manifest if read is read_manifest else attestations)
