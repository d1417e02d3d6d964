"""Bad input at every entry point that reads user data, by table and by hypothesis.

Entry points: the attestation CSV (`evidence import`), evidence manifests in YAML and CSV
(`register --manifest`), catalog YAML (`catalog validate`), CMS inventory JSON (`catalog
import-qpp`), and the identifiers typed on the command line (TINs, NPIs, dates, activity ids,
years, database URLs).

The bulk of the cases call the library's reader for the entry point directly (fast): each must
raise one InputError whose message is one line, inside a transaction that is then rolled back,
and the store's digest (every row of every table, and the evidence files) must be the same
after as before. A few cases per entry point go through the whole command line: exactly one
line starting with "Error:" (indented detail lines may follow it), a non-zero exit code, no
traceback, and, again, the store's digest unchanged; each of those runs on its own copy of the
store, so one wrongly accepted input cannot change what the next one meets.

Each property test exists twice: its `@example` rows (every bug found so far) in the default
run, and its generated cases marked `slow` (CI runs them separately: `pytest -m slow`).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

from evidence.app import App
from evidence.config import resolve_settings
from evidence.errors import EvidenceError, InputError
from evidence.records.importer import COLUMNS
from evidence.rules.identifiers import npi_is_valid, parse_iso_date, parse_tin
from tests.conftest import ON_POSTGRES, SAMPLE, dump_database
from tests.factories import npi_for
from tests.stores import copy_built_store, sample_imported, untouched

TIN = "000123456"
MEMBER_NPI = "1234567893"  # Dr. Avery Chen, a 2020 member of the sample practice
MINIMUM_CASES = 1500  # the suite must keep trying at least this many (the tables and the slow runs)

HYPOTHESIS = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], derandomize=True
)  # fmt: skip
GENERATED: dict[str, int] = {}  # test name -> generated cases of its slow run (for the count below)


def examples(n: int) -> settings:
    """`n` generated cases; a third of them on the PostgreSQL pass, where only storing differs."""
    return settings(HYPOTHESIS, max_examples=n if not ON_POSTGRES else max(10, n // 3))


def fuzz(name: str, n: int, **strategies: st.SearchStrategy[Any]) -> Callable[[Callable[..., None]], None]:
    """Two tests from one body: `test_<name>` runs its @example rows, `test_<name>_generated` (slow) n cases."""

    def define(body: Callable[..., None]) -> None:
        namespace = globals()
        namespace[f"test_{name}"] = settings(HYPOTHESIS, phases=[Phase.explicit])(given(**strategies)(body))
        namespace[f"test_{name}_generated"] = pytest.mark.slow(examples(n)(given(**strategies)(body)))
        GENERATED[f"test_{name}_generated"] = n

    return define


# --- The one check every case passes --------------------------------------------------------------


def store_files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in (home / "store").rglob("*") if p.is_file() and p.name != ".lock")


def digest(app: App, home: Path) -> str:
    """Every row of every table and the names of the stored files, as one SHA-256."""
    hashed = hashlib.sha256()
    for line in [*dump_database(app), *store_files(home)]:
        hashed.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return hashed.hexdigest()


def assert_one_error(output: str) -> None:
    lines = output.splitlines()
    errors = [n for n, line in enumerate(lines) if line.startswith("Error:")]
    assert len(errors) == 1, output
    assert all(line.startswith("  ") for line in lines[errors[0] + 1 :] if line.strip()), output
    assert "Traceback" not in output


@pytest.fixture
def sample(run, home: Path) -> None:
    """The sample practice imported: a private copy of the store built once per process (tests/stores.py),
    on either backend (on PostgreSQL a database made from the built one: 0.45 s a test saved there)."""
    if untouched(home):
        copy_built_store(home, "sample practice, imported only", sample_imported)
    else:
        run("import", SAMPLE / "practice.csv")


@pytest.fixture
def refused(
    run, home: Path, sample, tmp_path_factory: pytest.TempPathFactory, monkeypatch
) -> Iterator[Callable[..., str]]:
    """Run the CLI on one bad input, on a fresh copy of the store: one error line, exit code not 0, nothing changed."""
    pristine = tmp_path_factory.mktemp("pristine") / "home"
    shutil.copytree(home, pristine)
    opened: list[App] = []

    def check(*args: object, contains: str | None = None) -> str:
        target = home
        if not ON_POSTGRES:  # PostgreSQL: one database per test; the digest still proves nothing changed
            target = tmp_path_factory.mktemp("example") / "home"
            shutil.copytree(pristine, target)
            monkeypatch.setenv("EVIDENCE_HOME", str(target))
        app = App(resolve_settings(target, None), actor="tester")
        opened.append(app)
        before = digest(app, target)
        result = run(*args, expect=None)
        assert result.exit_code != 0, result.output
        assert_one_error(result.output)
        if contains is not None:
            assert contains in result.output, result.output
        assert digest(app, target) == before, result.output
        return result.output

    yield check
    for app in opened:
        app.close()


@pytest.fixture
def direct(app: App, home: Path, sample) -> Callable[..., str]:
    """Call a reader directly, in a transaction rolled back afterwards: one InputError of one line, nothing changed."""
    before = digest(app, home)

    def check(call: Callable[[Any], object], contains: str | None = None) -> str:
        with pytest.raises(EvidenceError) as raised, app.read() as session:
            call(session)
        text = one_line_error(raised.value, contains)
        assert digest(app, home) == before, text
        return text

    return check


def one_line_error(error: EvidenceError, contains: str | None) -> str:
    """The message is one line, and so is each detail (one problem each)."""
    text = "\n".join([error.message, *error.details])
    assert all(line.strip() for line in text.splitlines()), text
    assert len(text.splitlines()) == 1 + len(error.details), text
    if contains is not None:
        assert contains in text, text
    return text


# --- Junk --------------------------------------------------------------------------------------------

# Text that argv can carry (no NUL), near misses made of digits and separators, and plain garbage.
ARGV_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=24)
NEAR_MISSES = st.text("0123456789 -/._", max_size=14) | st.from_regex(r"\s*[0-9]{8,11}\s*", fullmatch=True)
JUNK = ARGV_TEXT | NEAR_MISSES | st.sampled_from(["", " ", "²⁰²⁰", "٢٠٢٠", "1e3", "0x10", "NaN", "-1", "None", "=1+1"])
CELL = st.text(max_size=24) | NEAR_MISSES  # a CSV cell may hold anything, NUL included
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
WRONG_TYPE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip


def parses(parser: Callable[[str], object], value: str) -> bool:
    try:
        parser(value)
    except (InputError, ValueError, OverflowError):
        return False
    return True


def is_tin(value: str) -> bool:
    return parses(parse_tin, value)


def is_npi(value: str) -> bool:
    return npi_is_valid(value.strip())


def is_date(value: str) -> bool:
    return parses(parse_iso_date, value)


def is_activity_id(value: str) -> bool:
    return re.fullmatch(r"IA_[A-Z0-9]+(_[A-Z0-9]+)*", value.strip().upper()) is not None


def is_int(value: str) -> bool:
    return parses(int, value)


def is_flag(value: str) -> bool:
    return value.strip().lower() in {"yes", "y", "true", "1", "no", "n", "false", "0", ""}


def number_in(low: float, high: float) -> Callable[[str], bool]:
    """Plain decimal notation only: float() also reads "1e1", "1_0", "nan" and full-width digits."""

    def valid(value: str) -> bool:
        text = value.strip()
        if not re.fullmatch(r"-?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})", text):
            return text == ""
        return low <= float(text) <= high

    return valid


def is_encounters(value: str) -> bool:
    """ASCII digits only: int() also reads "١٢٠", "1_000" and "+5"."""
    text = value.strip()
    return text == "" or (re.fullmatch(r"[0-9]+", text) is not None and int(text) < 2**63)


# === 1. The attestation CSV (`evidence import`) ============================================================

# One new, valid row of each kind: unchanged, each would load (see the first test).
BASE_ROWS = {
    "practice": {"record": "practice", "tin": "000999999", "name": "New Practice", "pcmh": "no", "apm": "none"},
    "clinician": {"record": "clinician", "tin": TIN, "npi": npi_for(500), "name": "Dr. New", "year": "2020",
                  "rural": "no", "hpsa": "no", "patient_facing_encounters": "120", "hospital_pos_pct": "10",
                  "asc_pos_pct": "0"},
    "attestation": {"record": "attestation", "tin": TIN, "year": "2020", "activity": "IA_EPA_1",
                    "start": "2020-01-01", "end": "2020-12-31"},
    "participation": {"record": "participation", "tin": TIN, "npi": "1000000020", "year": "2020",
                      "activity": "IA_PM_7", "start": "2020-03-01", "end": "2020-08-31"},
}  # fmt: skip

# For each column of each row kind: when is a value still valid (the generated value must not be)?
STILL_VALID: dict[str, dict[str, Callable[[str], bool]]] = {
    "practice": {"tin": is_tin, "name": lambda v: bool(v.strip()), "pcmh": is_flag,
                 "apm": lambda v: v.strip().lower() in {"", "none", "mips", "other", "app"}},
    "clinician": {"tin": lambda v: v.strip() == TIN, "npi": is_npi, "name": lambda v: bool(v.strip()),
                  "year": lambda v: v.strip().isascii() and is_int(v) and 2017 <= int(v) <= 2100,
                  "rural": is_flag, "hpsa": is_flag, "patient_facing_encounters": is_encounters,
                  "hospital_pos_pct": number_in(0, 100), "asc_pos_pct": number_in(0, 100)},
    "attestation": {"tin": lambda v: v.strip() == TIN, "year": lambda v: v.strip() == "2020",
                    "activity": is_activity_id, "start": is_date, "end": is_date,
                    "npi": lambda v: not v.strip() or is_npi(v)},  # no NPI: the group's attestation
    "participation": {"tin": lambda v: v.strip() == TIN, "npi": is_npi, "year": lambda v: v.strip() == "2020",
                      "activity": is_activity_id, "start": is_date, "end": is_date},
}  # fmt: skip
RECORD_KINDS = {"practice", "clinician", "attestation", "participation"}


def csv_file(folder: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = header or list(COLUMNS)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    path = folder / "practice.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", sorted(BASE_ROWS))
def test_every_base_row_is_valid_on_its_own(tmp_path: Path, run, sample, kind: str) -> None:
    """So a mutated copy fails because of its mutated cell, and only that."""
    assert "1 rows already present" not in run("import", csv_file(tmp_path, [BASE_ROWS[kind]])).output


CSV_TABLE: dict[str, tuple[bytes | str, str]] = {
    "empty file": (b"", "empty file; expected a header row"),
    "byte-order mark only": (b"\xef\xbb\xbf", "empty file"),
    "header only": ("record,tin\n", "no data rows"),
    "blank lines only": ("record,tin\n,\n\n", "no data rows"),
    "not UTF-8": (b"record,tin,name\npractice,000999999,Caf\xe9\n", "line 2: not UTF-8 text"),
    "UTF-16": ("record,tin\n".encode("utf-16"), "not UTF-8"),
    "binary": (bytes(range(256)), "not UTF-8"),
    "unknown column": ("record,tin,colour\npractice,000999999,blue\n", "unknown column(s) 'colour'"),
    "no record column": ("tin,name\n000999999,x\n", "missing column 'record'"),
    "no tin column": ("record,name\npractice,x\n", "missing column 'tin'"),
    "more cells than columns": ("record,tin,name\npractice,000999999,x,extra\n", "more cells than header columns"),
    "unknown record kind": ("record,tin\ndoctor,000123456\n", "'doctor' is not one of"),
    "TIN with a dash": ("record,tin,name\npractice,00-0999999,x\n", "is not 9 digits"),
    "TIN too short": ("record,tin,name\npractice,99999,x\n", "is not 9 digits"),
    "TIN in Arabic-Indic digits": ("record,tin,name\npractice,٠٠٠٩٩٩٩٩٩,x\n", "is not 9 digits"),
    "practice without a name": ("record,tin,name\npractice,000999999,\n", "column name: required"),
    "practice renamed": ("record,tin,name\npractice,000123456,Other Name\n", "already exists"),
    "unknown APM": ("record,tin,name,apm\npractice,000999999,x,maybe\n", "is not one of none, mips"),
    "pcmh not yes/no": ("record,tin,name,pcmh\npractice,000999999,x,perhaps\n", "'perhaps' is not yes or no"),
    "NPI fails Luhn": ("record,tin,npi,name,year\nclinician,000123456,1234567890,Dr X,2020\n", "check digit"),
    "NPI starting with 3": ("record,tin,npi,name,year\nclinician,000123456,3234567893,Dr X,2020\n",
                            "must start with 1 or 2"),
    "NPI with letters": ("record,tin,npi,name,year\nclinician,000123456,12345678AB,Dr X,2020\n", "is not 10 digits"),
    "clinician of an unknown practice": (f"record,tin,npi,name,year\nclinician,000999998,{npi_for(501)},Dr X,2020\n",
                                         "no practice with TIN 000999998"),
    "clinician renamed": (f"record,tin,npi,name,year\nclinician,{TIN},{MEMBER_NPI},Dr Other,2020\n",
                          "already recorded as"),
    "clinician without a year": (f"record,tin,npi,name,year\nclinician,{TIN},{npi_for(502)},Dr X,\n",
                                 "column year: required"),
    "year before MIPS": (f"record,tin,npi,name,year\nclinician,{TIN},{npi_for(502)},Dr X,2016\n",
                         "before MIPS began"),
    "year after 2100": (f"record,tin,npi,name,year\nclinician,{TIN},{npi_for(502)},Dr X,9999\n", "after 2100"),
    "year in superscript digits": (f"record,tin,npi,name,year\nclinician,{TIN},{npi_for(502)},Dr X,²⁰²⁰\n",
                                   "not a four-digit performance year"),
    "year with a decimal": (f"record,tin,npi,name,year\nclinician,{TIN},{npi_for(502)},Dr X,2020.0\n",
                            "not a four-digit performance year"),
    "negative encounters": (f"record,tin,npi,name,year,patient_facing_encounters\nclinician,{TIN},{npi_for(503)},"
                            "Dr X,2020,-5\n", "is negative"),
    "encounters beyond 64 bits": (f"record,tin,npi,name,year,patient_facing_encounters\nclinician,{TIN},"
                                  f"{npi_for(503)},Dr X,2020,99999999999999999999999\n", "is too large"),
    "encounters not a number": (f"record,tin,npi,name,year,patient_facing_encounters\nclinician,{TIN},"
                                f"{npi_for(503)},Dr X,2020,many\n", "is not a whole number"),
    "percentage above 100": (f"record,tin,npi,name,year,hospital_pos_pct\nclinician,{TIN},{npi_for(503)},Dr X,2020,"
                             "101\n", "is not between 0 and 100"),
    "percentage NaN": (f"record,tin,npi,name,year,asc_pos_pct\nclinician,{TIN},{npi_for(503)},Dr X,2020,nan\n",
                       "'nan' is not a number (like 12 or 12.5)"),
    "percentage infinite": (f"record,tin,npi,name,year,asc_pos_pct\nclinician,{TIN},{npi_for(503)},Dr X,2020,-inf\n",
                            "'-inf' is not a number"),
    "percentage in full-width digits": (f"record,tin,npi,name,year,asc_pos_pct\nclinician,{TIN},{npi_for(503)},"
                                        "Dr X,2020,１０\n", "'１０' is not a number"),
    "encounters in Arabic-Indic digits": (f"record,tin,npi,name,year,patient_facing_encounters\nclinician,{TIN},"
                                          f"{npi_for(503)},Dr X,2020,١٢٠\n", "'١٢٠' is not a whole number"),
    "encounters with an underscore": (f"record,tin,npi,name,year,patient_facing_encounters\nclinician,{TIN},"
                                      f"{npi_for(503)},Dr X,2020,1_000\n", "'1_000' is not a whole number"),
    "US date": (f"record,tin,year,activity,start,end\nattestation,{TIN},2020,IA_EPA_1,01/01/2020,2020-12-31\n",
                "is not an ISO date"),
    "29 February in a common year": (f"record,tin,year,activity,start,end\nattestation,{TIN},2021,IA_EPA_1,"
                                     "2021-02-29,2021-12-31\n", "is not a real calendar date"),
    "end before start": (f"record,tin,year,activity,start,end\nattestation,{TIN},2020,IA_EPA_1,2020-12-31,"
                         "2020-01-01\n", "line 2"),
    "period under 90 days": (f"record,tin,year,activity,start,end\nattestation,{TIN},2020,IA_EPA_1,2020-10-04,"
                             "2020-12-31\n", "line 2"),
    "period outside its year": (f"record,tin,year,activity,start,end\nattestation,{TIN},2020,IA_EPA_1,2019-06-01,"
                                "2020-06-01\n", "line 2"),
    "activity not an IA id": (f"record,tin,year,activity,start,end\nattestation,{TIN},2020,PM-7,2020-01-01,"
                              "2020-12-31\n", "is not an IA activity id"),
    "activity not in that year": (f"record,tin,year,activity,start,end\nattestation,{TIN},2019,IA_ERP_3,2019-01-01,"
                                  "2019-12-31\n", "not in the PY2019 inventory"),
    "attested twice with other dates": (f"record,tin,year,activity,start,end\nattestation,{TIN},2020,IA_PM_7,"
                                        "2020-02-01,2020-12-31\n", "already attested"),
    "individual attestation by a non-member": (f"record,tin,npi,year,activity,start,end\nattestation,{TIN},"
                                               f"{npi_for(504)},2020,IA_EPA_1,2020-01-01,2020-12-31\n", "line 2"),
    "participation without a group attestation": (f"record,tin,npi,year,activity,start,end\nparticipation,{TIN},"
                                                  f"{MEMBER_NPI},2020,IA_EPA_1,2020-01-01,2020-12-31\n",
                                                  "no group attestation"),
    "unterminated quote": ('record,tin,name\npractice,000999999,"Riverbend\n', "line 2: unexpected end of data"),
    "unterminated quote swallowing rows": ('record,tin,name\npractice,000999999,"Riverbend\npractice,000999998,x\n',
                                           "unexpected end of data"),
    "text after a closing quote": ('record,tin,name\npractice,000999999,"River"bend\n', "expected after"),
    "unterminated quote in the header": ('"record,tin\npractice,000999999\n', "unexpected end of data"),
    "NUL bytes": (b"record,tin,name\npractice,000999999,a\x00b\n", "line 2: a cell contains a NUL character"),
    "two bad rows, both named": ("record,tin,name,pcmh\npractice,000999999,,x\npractice,12,y,no\n", "problems"),
}  # fmt: skip


def import_refused(direct: Callable[..., str], path: Path, contains: str | None = None) -> str:
    from evidence.records.importer import import_csv

    return direct(lambda session: import_csv(session, path, actor="tester"), contains)


@pytest.mark.parametrize("case", sorted(CSV_TABLE))
def test_csv_table(tmp_path: Path, direct, case: str) -> None:
    content, expected = CSV_TABLE[case]
    path = tmp_path / "practice.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    import_refused(direct, path, expected)


@pytest.mark.parametrize("case", ["not UTF-8", "unknown column", "NPI fails Luhn", "two bad rows, both named"])
def test_csv_end_to_end(tmp_path: Path, refused, case: str) -> None:
    content, expected = CSV_TABLE[case]
    path = tmp_path / "practice.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    refused("import", path, contains=expected)


@st.composite
def bad_cells(draw: st.DrawFn) -> tuple[str, str, str]:
    kind = draw(st.sampled_from(sorted(STILL_VALID)), label="kind")
    column = draw(st.sampled_from(sorted(STILL_VALID[kind])), label="column")
    return kind, column, draw(CELL.filter(lambda v: not STILL_VALID[kind][column](v)), label="value")


@example(cell=("clinician", "patient_facing_encounters", "١٢٠"))  # int() reads Arabic-Indic digits
@example(cell=("clinician", "patient_facing_encounters", "1_000"))  # and underscores
@example(cell=("clinician", "patient_facing_encounters", "+5"))
@example(cell=("clinician", "patient_facing_encounters", "99999999999999999999999"))
@example(cell=("clinician", "hospital_pos_pct", "１０"))  # float() reads full-width digits
@example(cell=("clinician", "hospital_pos_pct", "1e1"))
@example(cell=("clinician", "asc_pos_pct", "nan"))
@example(cell=("clinician", "year", "２０２０"))
@example(cell=("clinician", "year", "2020.0"))
@example(cell=("attestation", "year", "2,020"))
def _csv_one_bad_cell(tmp_path: Path, direct, cell: tuple[str, str, str]) -> None:
    kind, column, value = cell
    assert not STILL_VALID[kind][column](value)
    import_refused(direct, csv_file(tmp_path, [{**BASE_ROWS[kind], column: value}]))


fuzz("csv_one_bad_cell", 250, cell=bad_cells())(_csv_one_bad_cell)


@example(kind="clinician", record="clinicians")
@example(kind="practice", record="\x00")
def _csv_unknown_record_kind(tmp_path: Path, direct, kind: str, record: str) -> None:
    import_refused(direct, csv_file(tmp_path, [BASE_ROWS["practice"], {**BASE_ROWS[kind], "record": record}]))


fuzz(
    "csv_unknown_record_kind",
    100,
    kind=st.sampled_from(sorted(BASE_ROWS)),
    record=CELL.filter(lambda v: v.strip().lower() not in RECORD_KINDS),
)(_csv_unknown_record_kind)


@example(content=b"\xef\xbb\xbfrecord,tin\n")
@example(content=b"record,tin\r\npractice,000999999,x\r\n")
def _csv_arbitrary_bytes(tmp_path: Path, direct, content: bytes) -> None:
    path = tmp_path / "practice.csv"
    path.write_bytes(content)
    import_refused(direct, path)


fuzz("csv_arbitrary_bytes", 100, content=st.binary(max_size=600) | st.text(max_size=300).map(str.encode))(
    _csv_arbitrary_bytes
)


# === 2. Evidence manifests (`register --manifest`) ==========================================================

BASE_ENTRY = {"path": "doc.pdf", "tin": TIN, "year": 2020, "activity": "IA_PM_7", "items": [1],
              "npi": MEMBER_NPI, "effective_date": "2020-06-01", "description": "QCDR report"}  # fmt: skip


def manifest_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir(exist_ok=True)
    (folder / "doc.pdf").write_bytes(b"%PDF-1.4 QCDR feedback report")
    return folder


def _items_are_one(value: Any) -> bool:
    from evidence.records.manifest import item_keys as _items

    try:
        return set(_items(value)) <= {1}
    except InputError:
        return False


def _text_of(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


MANIFEST_STILL_VALID: dict[str, Callable[[Any], bool]] = {
    "tin": lambda v: v is not None and _text_of(v).strip() == TIN,
    "year": lambda v: (type(v) is int and v in (2019, 2020)) or v in ("2019", "2020"),  # IA_PM_7: attested in both
    "activity": lambda v: _text_of(v).strip().upper() in {"IA_PM_7", "IA_CC_9", "IA_BE_6"},
    "items": _items_are_one,
    "npi": lambda v: not v or is_npi(_text_of(v)),  # an empty value means "not given"
    "effective_date": lambda v: not v or is_date(_text_of(v)),
    "description": lambda v: True,
}


def write_yaml_manifest(folder: Path, entries: list[Any]) -> Path:
    path = folder / "manifest.yaml"
    path.write_text(yaml.safe_dump({"evidence": entries}, allow_unicode=True), encoding="utf-8")
    return path


def test_base_entry_is_valid_on_its_own(tmp_path: Path, run, sample) -> None:
    manifest = write_yaml_manifest(manifest_folder(tmp_path), [BASE_ENTRY])
    assert "1 registered, 0 already present, 0 failed" in run("register", "--manifest", manifest).output


MANIFEST_TABLE: dict[str, tuple[str | bytes, str]] = {
    "empty file": ("", "expected a mapping with an 'evidence:' list"),
    "not YAML": ("evidence: [\n", "not valid YAML"),
    "a list at the top": ("- path: doc.pdf\n", "expected a mapping"),
    "evidence is a mapping": ("evidence: {path: doc.pdf}\n", "expected a mapping"),
    "not UTF-8": (b"evidence:\n  - path: caf\xe9.pdf\n", "not UTF-8 text"),
    "duplicate key": ("evidence:\n  - {path: doc.pdf, tin: '000123456', tin: '000123456'}\n", "duplicate key 'tin'"),
    "tab indentation": ("evidence:\n\t- path: doc.pdf\n", "not valid YAML"),
    "nested too deeply": ("evidence: " + "[" * 200 + "]" * 200 + "\n", "nested more than 100 levels deep"),
    "billion laughs": ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{n}: &{n} [{','.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ) + "evidence: [*i]\n", "aliases expand to far more values"),
    "recursive alias": ("evidence: &e [*e]\n", "an alias refers to a node that contains it"),
    "impossible date": ("evidence:\n  - {path: doc.pdf, effective_date: 2020-02-30}\n", "day is out of range"),
    "impossible time": ("evidence:\n  - {path: doc.pdf, effective_date: 2020-01-01 25:00:00}\n",
                        "a value cannot be read"),
    "integer tag on text": ("evidence:\n  - {path: doc.pdf, year: !!int twenty}\n", "a value cannot be read"),
    "timestamp tag on text": ("evidence:\n  - {path: doc.pdf, effective_date: !!timestamp soon}\n",
                              "a value cannot be read"),
    "a list as a key": ("evidence:\n  - ? [path]\n    : doc.pdf\n", "unhashable"),
    "python object tag": ("evidence:\n  - !!python/object:os.system {path: doc.pdf}\n",
                          "could not determine a constructor"),
    "NUL in a description": ('evidence:\n  - {path: doc.pdf, tin: "000123456", year: 2020, activity: IA_PM_7, '
                             'description: "a\\0b"}\n', "description contains a NUL character"),
    "entry not a mapping": ("evidence:\n  - doc.pdf\n", "entry is not a mapping of fields"),
    "unknown field": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020, activity: IA_PM_7, when: now}\n",
                      "unknown field 'when'"),
    "missing path": ("evidence:\n  - {tin: '000123456', year: 2020, activity: IA_PM_7}\n", "missing field 'path'"),
    "missing tin": ("evidence:\n  - {path: doc.pdf, year: 2020, activity: IA_PM_7}\n", "missing field 'tin'"),
    "missing year": ("evidence:\n  - {path: doc.pdf, tin: '000123456', activity: IA_PM_7}\n", "missing field 'year'"),
    "missing activity": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020}\n",
                         "missing field 'activity'"),
    "TIN as a number loses its zeros": ("evidence:\n  - {path: doc.pdf, tin: 000123456, year: 2020, "
                                        "activity: IA_PM_7}\n", "is not 9 digits"),
    "unknown practice": ("evidence:\n  - {path: doc.pdf, tin: '000999999', year: 2020, activity: IA_PM_7}\n",
                         "no practice with TIN 000999999"),
    "year not attested": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2021, activity: IA_PM_7}\n",
                          "no attestation of IA_PM_7"),
    "year as a date": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020-01-01, activity: IA_PM_7}\n",
                       "is not a four-digit performance year"),
    "item that does not exist": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020, activity: IA_PM_7, "
                                 "items: [2]}\n", "has no documentation item 2"),
    "item in superscript digits": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020, activity: IA_PM_7, "
                                   "items: ['²']}\n", "is not a documentation item number"),
    "item zero": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020, activity: IA_PM_7, items: [0]}\n",
                  "is not a documentation item number"),
    "several items but none chosen": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020, "
                                      "activity: IA_CC_9}\n", "choose with --item"),
    "NPI not a member": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020, activity: IA_PM_7, "
                         f"npi: '{npi_for(505)}'}}\n", "line 2"),
    "effective date in US format": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020, "
                                    "activity: IA_PM_7, effective_date: 06/01/2020}\n", "is not an ISO date"),
    "effective date with a time": ("evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020, "
                                   "activity: IA_PM_7, effective_date: 2020-06-01T10:00:00}\n", "is not an ISO date"),
    "path climbing out": ("evidence:\n  - {path: ../doc.pdf, tin: '000123456', year: 2020, activity: IA_PM_7}\n",
                          "is outside the manifest's folder"),
    "absolute path elsewhere": ("evidence:\n  - {path: /etc/hostname, tin: '000123456', year: 2020, "
                                "activity: IA_PM_7}\n", "is outside the manifest's folder"),
    "path with a NUL": ('evidence:\n  - {path: "doc\\0.pdf", tin: "000123456", year: 2020, activity: IA_PM_7}\n',
                        "contains a NUL character"),
    "path too long": (f"evidence:\n  - {{path: {'a' * 5000}, tin: '000123456', year: 2020, activity: IA_PM_7}}\n",
                      "File name too long"),
    "file inside a file": ("evidence:\n  - {path: doc.pdf/x, tin: '000123456', year: 2020, activity: IA_PM_7}\n",
                           "Not a directory"),
    "file that does not exist": ("evidence:\n  - {path: nowhere.pdf, tin: '000123456', year: 2020, "
                                 "activity: IA_PM_7}\n", "no such file"),
    "CSV: unknown column": ("path,tin,colour\ndoc.pdf,000123456,blue\n", "columns must be among"),
    "CSV: no path column": ("tin,year,activity\n000123456,2020,IA_PM_7\n", "include 'path'"),
    "CSV: not UTF-8": (b"path,tin,year,activity\ncaf\xe9.pdf,000123456,2020,IA_PM_7\n", "not UTF-8 text"),
    "CSV: bad items": ("path,tin,year,activity,items\ndoc.pdf,000123456,2020,IA_PM_7,one\n",
                       "is not a documentation item number"),
    "CSV: empty": ("", "columns must be among"),
    "CSV: unterminated quote": ('path,tin,year,activity\n"doc.pdf,000123456,2020,IA_PM_7\n', "unexpected end of data"),
    "CSV: unterminated quote in the header": ('"path,tin\ndoc.pdf,000123456\n', "unexpected end of data"),
}  # fmt: skip


def manifest_refused(direct: Callable[..., str], path: Path, contains: str | None = None) -> str:
    """What `register --manifest` checks before it stores a file: the manifest, the targets, the files."""
    from evidence.records.manifest import read_manifest
    from evidence.store.registration import check_source, resolve_target

    def call(session: Any) -> None:
        files, problems = read_manifest(path)
        if problems:
            raise InputError.listing(path.name, [f"{p.source}: {p.message}" for p in problems])
        for file in files:
            try:
                resolve_target(session, file.request)
                check_source(file.path, follow_symlinks=False, allow_empty=False)
            except InputError as exc:
                raise InputError(f"{file.source}: {exc.message}") from None

    return direct(call, contains)


def _manifest_path(tmp_path: Path, case: str) -> Path:
    content, _ = MANIFEST_TABLE[case]
    path = manifest_folder(tmp_path) / ("manifest.csv" if case.startswith("CSV") else "manifest.yaml")
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.mark.parametrize("case", sorted(MANIFEST_TABLE))
def test_manifest_table(tmp_path: Path, direct, case: str) -> None:
    manifest_refused(direct, _manifest_path(tmp_path, case), MANIFEST_TABLE[case][1])


@pytest.mark.parametrize(
    "case", ["not YAML", "year as a date", "unknown practice", "item in superscript digits", "CSV: bad items"]
)
def test_manifest_end_to_end(tmp_path: Path, refused, case: str) -> None:
    refused("register", "--manifest", _manifest_path(tmp_path, case), contains=MANIFEST_TABLE[case][1])


@st.composite
def bad_fields(draw: st.DrawFn) -> tuple[str, Any]:
    field = draw(st.sampled_from([*sorted(MANIFEST_STILL_VALID), "path", "unknown"]), label="field")
    if field == "unknown":
        return draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in BASE_ENTRY)), "x"
    if field == "path":
        return field, draw(JUNK | WRONG_TYPE, label="path")  # an existing path is assumed away in the test
    return field, draw((JUNK | WRONG_TYPE).filter(lambda v: not MANIFEST_STILL_VALID[field](v)), label="value")


@example(field=("year", 2020.0))  # JSON Schema and Python both call 2020.0 an integer; it is not a year
@example(field=("year", True))  # True is an int in Python
@example(field=("year", " 2020"))
@example(field=("year", "２０２０"))  # int() reads full-width digits
@example(field=("items", [True]))
@example(field=("items", [1.0]))
@example(field=("items", ["１"]))
@example(field=("items", 10**30))
@example(field=("items", [" 1"]))
def _manifest_one_bad_field(tmp_path: Path, direct, field: tuple[str, Any]) -> None:
    folder = manifest_folder(tmp_path)
    name, value = field
    if name == "path":
        with contextlib.suppress(OSError, ValueError):  # a name too long, a NUL: not a file that exists
            assume(not str(value).strip() or not (folder / str(value)).exists())
    entry = {**BASE_ENTRY, name: value}
    if name == "description":
        del entry["tin"]  # any description is fine: break the entry another way
    manifest_refused(direct, write_yaml_manifest(folder, [entry]))


fuzz("manifest_one_bad_field", 250, field=bad_fields())(_manifest_one_bad_field)


@st.composite
def bad_manifest_cells(draw: st.DrawFn) -> tuple[str, str]:
    field = draw(st.sampled_from(sorted(set(MANIFEST_STILL_VALID) - {"description"})), label="field")
    return field, draw(CELL.filter(lambda v: bool(v) and not MANIFEST_STILL_VALID[field](v.strip())), label="value")


@example(cell=("year", "２０２０"))
@example(cell=("year", "2020.0"))
@example(cell=("items", "１"))
@example(cell=("items", "1;+2"))
@example(cell=("items", "99999999999999999999999"))
def _manifest_csv_one_bad_cell(tmp_path: Path, direct, cell: tuple[str, str]) -> None:
    folder = manifest_folder(tmp_path)
    field, value = cell
    row = {k: str(v) if not isinstance(v, list) else ";".join(map(str, v)) for k, v in BASE_ENTRY.items()}
    row[field] = value
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n")
    writer.writeheader()
    writer.writerow(row)
    path = folder / "manifest.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    manifest_refused(direct, path)


fuzz("manifest_csv_one_bad_cell", 100, cell=bad_manifest_cells())(_manifest_csv_one_bad_cell)


def _not_an_empty_manifest(text: str) -> bool:
    try:
        document = yaml.safe_load(text)
    except Exception:  # unreadable in any way: not an empty manifest
        return True
    return not (isinstance(document, dict) and document.get("evidence") in ([], None) and "evidence" in document)


@example(text="evidence:\n  - {path: doc.pdf, tin: '000123456', year: 2020.0, activity: IA_PM_7}\n")
def _manifest_arbitrary_documents(tmp_path: Path, direct, text: str) -> None:
    assume(_not_an_empty_manifest(text))
    path = manifest_folder(tmp_path) / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    manifest_refused(direct, path)


fuzz(
    "manifest_arbitrary_documents",
    100,
    text=st.text(max_size=200) | ANY_JSON.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
)(_manifest_arbitrary_documents)


# === 3. Catalog YAML (`catalog validate`) =======================================================================

GOOD_CATALOG: dict[str, Any] = {
    "format": 1,
    "subcategories": {"populationManagement": "Population Management"},
    "generic_documentation": {"label": "Activity performed", "description": "Documentation that it was performed."},
    "documentation": {
        "IA_PM_15": {
            "rule": "any",
            "items": {
                1: {"label": "One", "description": "First way."},
                2: {"label": "Two", "description": "Second way."},
            },
        },
    },
    "years": {
        2020: {
            "weighted": True,
            "activities": {
                "IA_PM_15": {"title": "Episodic care", "subcategory": "populationManagement", "weight": "medium"},
                "IA_PM_7": {"title": "QCDR feedback", "subcategory": "populationManagement", "weight": "high"},
            },
        }
    },
}


def write_catalog(folder: Path, document: Any) -> Path:
    path = folder / "catalog.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_good_catalog_is_valid(tmp_path: Path, run) -> None:
    assert "valid: 1 performance year " in run("catalog", "validate", write_catalog(tmp_path, GOOD_CATALOG)).output


def _locations(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _locations(value, (*prefix, key))
    return found


def _replaced(document: Any, location: tuple[Any, ...], value: Any) -> Any:
    if not location:
        return value
    head, *rest = location
    return {k: (_replaced(v, tuple(rest), value) if k == head else v) for k, v in document.items()}


def _renamed(document: Any, location: tuple[Any, ...], new_key: Any) -> Any:
    *parents, key = location
    if not parents:
        return {(new_key if k == key else k): v for k, v in document.items()}
    head, *rest = parents
    return {k: (_renamed(v, (*rest, key), new_key) if k == head else v) for k, v in document.items()}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", type(None): "string", dict: "object", list: "array"}.get(type(value), "other")


CATALOG_TABLE: dict[str, tuple[str | bytes, str]] = {
    "empty file": ("", "not a catalog"),
    "not UTF-8": (b"format: 1\nsubcategories: {x: caf\xe9}\n", "not UTF-8 text"),
    "a list": ("- 1\n- 2\n", "not a catalog"),
    "missing everything": ("format: 1\n", "problems"),
    "format 2": (yaml.safe_dump({**GOOD_CATALOG, "format": 2}), "field 'format'"),
    "year before MIPS": (yaml.safe_dump({**GOOD_CATALOG, "years": {2016: GOOD_CATALOG["years"][2020]}}),
                         "MIPS starts in 2017"),
    "year key not a year": (yaml.safe_dump({**GOOD_CATALOG, "years": {"twenty": GOOD_CATALOG["years"][2020]}}),
                            "'twenty' is not a valid key here"),
    "year key beyond 64 bits": (yaml.safe_dump({**GOOD_CATALOG, "years": {10**30: GOOD_CATALOG["years"][2020]}}),
                                "is not a valid key here"),
    "nested too deeply": ("format: " + "[" * 500 + "]" * 500 + "\n", "nested more than 100 levels deep"),
    "billion laughs": ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{n}: &{n} [{','.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ), "aliases expand to far more values"),
    "recursive alias": ("format: &f {x: *f}\n", "an alias refers to a node that contains it"),
    "YAML syntax error": ("years: {2020: [\n", "not valid YAML"),
    "duplicate year": ("years:\n  2020: {}\n  2020: {}\n", "duplicate key 2020"),
    "month 13": ("format: 1\nyears: {2020: {activities: {IA_PM_7: {title: 2020-13-01}}}}\n", "month must be in"),
    "float tag on text": ("format: !!float one\n", "a value cannot be read"),
    "a mapping as a key": ("? {a: 1}\n: format\n", "unhashable"),
    "title too long": (yaml.safe_dump(_replaced(GOOD_CATALOG, ("years", 2020, "activities", "IA_PM_7", "title"),
                                                "x" * 1001)), "field 'title'"),
    "format 1.0": (yaml.safe_dump({**GOOD_CATALOG, "format": 1.0}), "1.0 is not the whole number 1"),
    "year key with a final newline": (yaml.safe_dump({**GOOD_CATALOG, "years": {"2020\n": GOOD_CATALOG["years"][2020]}}),
                                      "'2020\\n' is not a valid key here"),
    "one year as a number and as text": (yaml.safe_dump({**GOOD_CATALOG, "years": {
        2020: GOOD_CATALOG["years"][2020], "2020": GOOD_CATALOG["years"][2020]}}), "key '2020' appears twice"),
}  # fmt: skip


def catalog_refused(path: Path, contains: str | None = None) -> str:
    """`catalog validate` reads no store: only the error is checked."""
    from evidence.catalog.model import load_catalog_file

    with pytest.raises(InputError) as raised:
        load_catalog_file(path)
    return one_line_error(raised.value, contains)


def _catalog_path(tmp_path: Path, case: str) -> Path:
    content, _ = CATALOG_TABLE[case]
    path = tmp_path / "catalog.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.mark.parametrize("case", sorted(CATALOG_TABLE))
def test_catalog_table(tmp_path: Path, case: str) -> None:
    catalog_refused(_catalog_path(tmp_path, case), CATALOG_TABLE[case][1])


@pytest.mark.parametrize("case", ["not UTF-8", "format 1.0", "year key with a final newline"])
def test_catalog_end_to_end(tmp_path: Path, refused, case: str) -> None:
    refused("catalog", "validate", _catalog_path(tmp_path, case), contains=CATALOG_TABLE[case][1])


CATALOG_LOCATIONS = _locations(GOOD_CATALOG)


@st.composite
def wrong_types(draw: st.DrawFn) -> tuple[tuple[Any, ...], Any]:
    location = draw(st.sampled_from(CATALOG_LOCATIONS), label="location")
    old = GOOD_CATALOG
    for step in location:
        old = old[step]
    return location, draw((ANY_JSON | WRONG_TYPE).filter(lambda v: _kind(v) != _kind(old)), label="value")


@example(change=(("format",), True))
@example(change=(("years", 2020, "weighted"), 1))
@example(change=(("format",), 1.0))  # not a wrong type to JSON Schema: const 1 accepts 1.0
@example(change=(("years", 2020, "activities", "IA_PM_7", "subcategory"), "populationManagement\n"))
def _catalog_one_value_of_the_wrong_type(tmp_path: Path, change: tuple[tuple[Any, ...], Any]) -> None:
    location, new = change
    catalog_refused(write_catalog(tmp_path, _replaced(GOOD_CATALOG, location, new)))


fuzz("catalog_one_value_of_the_wrong_type", 150, change=wrong_types())(_catalog_one_value_of_the_wrong_type)


CATALOG_KEYED = [
    loc
    for loc in CATALOG_LOCATIONS
    if len(loc) >= 2 and loc[-2] in ("years", "activities", "items", "documentation", "subcategories")
]


@st.composite
def bad_keys(draw: st.DrawFn) -> tuple[tuple[Any, ...], Any]:
    location = draw(st.sampled_from(CATALOG_KEYED), label="location")
    siblings = {str(k) for k in _parent(GOOD_CATALOG, location)}
    new_key = draw((JUNK | st.integers()).filter(lambda k: str(k) not in siblings and _bad_key(location, k)))
    return location, new_key


@example(rename=(("years", 2020), "2020\n"))  # a pattern's $ matches before a final newline
@example(rename=(("documentation", "IA_PM_15", "items", 1), "1\n"))
@example(rename=(("years", 2020, "activities", "IA_PM_7"), "IA_PM_7\n"))
@example(rename=(("documentation", "IA_PM_15"), "IA_PM_15\n"))
@example(rename=(("documentation", "IA_PM_15"), "\r"))  # was printed raw: a second line in the error
@example(rename=(("years", 2020), 2020.0))
@example(rename=(("documentation", "IA_PM_15", "items", 1), True))
def _catalog_one_bad_key(tmp_path: Path, rename: tuple[tuple[Any, ...], Any]) -> None:
    location, new_key = rename
    catalog_refused(write_catalog(tmp_path, _renamed(GOOD_CATALOG, location, new_key)))


fuzz("catalog_one_bad_key", 100, rename=bad_keys())(_catalog_one_bad_key)


def _parent(document: Any, location: tuple[Any, ...]) -> Any:
    for step in location[:-1]:
        document = document[step]
    return document


def _bad_key(location: tuple[Any, ...], key: Any) -> bool:
    """A key that cannot stand where it is put (a renamed subcategory orphans the activities using it)."""
    text = str(key)
    if location[-2] == "years":
        return not re.fullmatch(r"20[1-9][0-9]", text) or int(text) != 2020
    if location[-2] == "items":
        return text != "1"
    return location[-2] == "subcategories" or not is_activity_id(text) or text != text.strip().upper()


@example(text="format: 1\nyears: {2020: {}, '2020': {}}\n")  # one year as a number and as text
def _catalog_arbitrary_documents(tmp_path: Path, text: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    catalog_refused(path)


fuzz(
    "catalog_arbitrary_documents",
    100,
    text=st.text(max_size=200) | ANY_JSON.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
)(_catalog_arbitrary_documents)


# === 4. CMS inventory JSON (`catalog import-qpp`) ==================================================================

QPP_ENTRY = {"category": "ia", "measureId": "IA_PM_15", "title": "Episodic care", "description": "Provide care.",
             "subcategoryId": "populationManagement", "firstPerformanceYear": 2017, "lastPerformanceYear": None}  # fmt: skip
QPP_FILE = [QPP_ENTRY, {**QPP_ENTRY, "measureId": "IA_PM_7", "title": "QCDR feedback"}]  # valid for PY2027


def qpp_still_valid(field: str, value: Any) -> bool:
    if field == "measureId":
        return (
            isinstance(value, str)
            and re.fullmatch(r"IA_[A-Z0-9]+(_[A-Z0-9]+)*", value) is not None
            and (value != "IA_PM_7")
        )
    if field == "title":
        return isinstance(value, str) and 1 <= len(value) <= 1000 and bool(value.split())
    if field == "description":
        return value is None or isinstance(value, str)
    if field == "subcategoryId":
        return value is None or (isinstance(value, str) and re.fullmatch(r"[a-zA-Z]+", value) is not None)
    if field == "firstPerformanceYear":  # a JSON integer, not 2017.0
        return type(value) is int and 2017 <= value <= 2027
    if field == "lastPerformanceYear":
        return value is None or (type(value) is int and 2027 <= value <= 9999)
    return False  # weight: any weight in an unweighted year is refused


def write_json(folder: Path, document: Any) -> Path:
    path = folder / "measures-data.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_base_qpp_file_is_valid_on_its_own(tmp_path: Path, run, sample) -> None:
    imported = run("catalog", "import-qpp", write_json(tmp_path, QPP_FILE), "--year", 2027, "--yes").output
    assert "PY2027: 2 activities" in imported


QPP_TABLE: dict[str, tuple[Any, str]] = {
    "empty file": ("", "not valid JSON"),
    "not JSON": ("{not json", "not valid JSON"),
    "not UTF-8": (b"[{\"title\": \"caf\xe9\"}]", "not UTF-8 JSON"),
    "JSON with a BOM and garbage": (b"\xef\xbb\xbf[1,", "not valid JSON"),
    "a number": ("42", "expected a JSON array"),
    "measures is not a list": ({"measures": {"a": 1}}, "expected a JSON array"),
    "empty list": ([], "no improvement activities"),
    "only quality measures": ([{"category": "quality", "measureId": "001"}], "no improvement activities"),
    "entry not an object": ([QPP_ENTRY, "IA_PM_7"], "entry 1: not an object"),
    "no category, not IA": ([{"measureId": "001"}], "no 'category' and not an IA measure id"),
    "missing title": ([{k: v for k, v in QPP_ENTRY.items() if k != "title"}], "field 'title': missing"),
    "empty title": ([{**QPP_ENTRY, "title": ""}], "field 'title'"),
    "title too long": ([{**QPP_ENTRY, "title": "x" * 1001}], "field 'title'"),
    "measureId with a space": ([{**QPP_ENTRY, "measureId": "IA PM 15"}], "field 'measureId'"),
    "measureId a number": ([{**QPP_ENTRY, "measureId": 15}], "field 'measureId'"),
    "subcategory with digits": ([{**QPP_ENTRY, "subcategoryId": "pop1"}], "field 'subcategoryId'"),
    "weight in an unweighted year": ([{**QPP_ENTRY, "weight": "high"}], "has weights, but PY2027"),
    "unknown weight": ([{**QPP_ENTRY, "weight": "heavy"}], "'heavy' is not one of"),
    "duplicate measureId": ([QPP_ENTRY, QPP_ENTRY], "duplicate measureId"),
    "another year's file": ([{**QPP_ENTRY, "firstPerformanceYear": 2030}], "is after --year 2027"),
    "a retired activity": ([{**QPP_ENTRY, "lastPerformanceYear": 2020}], "is before --year 2027"),
    "year as text": ([{**QPP_ENTRY, "firstPerformanceYear": "2017"}], "field 'firstPerformanceYear'"),
    "NaN year": ("[" + json.dumps(QPP_ENTRY).replace('"firstPerformanceYear": 2017', '"firstPerformanceYear": NaN')
                 + "]", "field 'firstPerformanceYear'"),
    "year beyond any float": ("[" + json.dumps(QPP_ENTRY).replace("2017", "1e999") + "]",
                              "field 'firstPerformanceYear'"),
    "nested too deeply": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "year as a float": ([{**QPP_ENTRY, "firstPerformanceYear": 2028.0}], "2028.0 is not a four-digit year"),
    "year as a float that applies": ([{**QPP_ENTRY, "firstPerformanceYear": 2017.0}], "2017.0 is not a four-digit year"),
    "last year as a float": ([{**QPP_ENTRY, "lastPerformanceYear": 2026.0}], "2026.0 is not a four-digit year"),
    "year far in the past": ([{**QPP_ENTRY, "firstPerformanceYear": -10**30}], "is not a four-digit year"),
    "last year far ahead": ([{**QPP_ENTRY, "lastPerformanceYear": 10**30}], "is not a four-digit year"),
    "year before MIPS": ([{**QPP_ENTRY, "firstPerformanceYear": 2016}], "2016 is before MIPS began"),
    "blank title": ([{**QPP_ENTRY, "title": " \t"}], "field 'title': ' \\t' is blank"),
    "measureId with a final newline": ([{**QPP_ENTRY, "measureId": "IA_PM_15\n"}], "is not a valid value"),
    "nested almost too deeply": ("[" * 900 + "]" * 900, "entry 0: not an object"),
}  # fmt: skip


def qpp_path(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "measures-data.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path = write_json(tmp_path, content)
    return path


def qpp_refused(direct: Callable[..., str], path: Path, year: int = 2027, contains: str | None = None) -> str:
    from evidence.catalog.qpp import import_qpp

    return direct(lambda session: import_qpp(session, path, year, actor="tester"), contains)


@pytest.mark.parametrize("case", sorted(QPP_TABLE))
def test_qpp_table(tmp_path: Path, direct, case: str) -> None:
    content, expected = QPP_TABLE[case]
    qpp_refused(direct, qpp_path(tmp_path, content), contains=expected)


@pytest.mark.parametrize("case", ["not JSON", "year as a float", "duplicate measureId"])
def test_qpp_end_to_end(tmp_path: Path, refused, case: str) -> None:
    """2028.0 once replaced the 94 activities of PY2027 with the file's 2: the store must not change."""
    content, expected = QPP_TABLE[case]
    refused("catalog", "import-qpp", qpp_path(tmp_path, content), "--year", 2027, contains=expected)


@pytest.mark.parametrize(
    ("year", "expected"),
    [("2016", "before MIPS began (2017)"), ("-5", "four-digit"), ("99999999999999999999999", "four-digit"), ("x", "x")],
)
def test_qpp_bad_year(tmp_path: Path, refused, year: str, expected: str) -> None:
    refused("catalog", "import-qpp", write_json(tmp_path, QPP_FILE), "--year", year,
            contains=_on_this_backend(expected))  # fmt: skip


def test_qpp_dropping_an_attested_activity(tmp_path: Path, refused) -> None:
    refused("catalog", "import-qpp", write_json(tmp_path, QPP_FILE), "--year", 2020)


@st.composite
def bad_qpp_fields(draw: st.DrawFn) -> tuple[int, str, Any]:
    index = draw(st.sampled_from([0, 1]), label="entry")
    field = draw(st.sampled_from(sorted(set(QPP_ENTRY) - {"category"} | {"weight", "missing"})), label="field")
    if field == "missing":
        return index, field, draw(st.sampled_from(["measureId", "title", "subcategoryId"]))
    return index, field, draw((ANY_JSON | JUNK).filter(lambda v: not qpp_still_valid(field, v)), label="value")


@example(change=(0, "firstPerformanceYear", 2028.0), wrapped=False)  # the schema's "integer": PY2027 was replaced
@example(change=(1, "firstPerformanceYear", 2027.0), wrapped=True)
@example(change=(0, "lastPerformanceYear", 2026.0), wrapped=False)
@example(change=(0, "firstPerformanceYear", True), wrapped=False)
@example(change=(0, "firstPerformanceYear", -(10**30)), wrapped=False)
@example(change=(1, "lastPerformanceYear", 10**30), wrapped=False)
@example(change=(0, "measureId", "IA_PM_15\n"), wrapped=False)  # a pattern's $ matches before a final newline
@example(change=(0, "subcategoryId", "populationManagement\n"), wrapped=False)
@example(change=(0, "title", " "), wrapped=False)  # minLength 1, then stored as ""
def _qpp_one_bad_field(tmp_path: Path, direct, change: tuple[int, str, Any], wrapped: bool) -> None:
    index, field, value = change
    entries = [dict(e) for e in QPP_FILE]
    if field == "missing":
        del entries[index][value]
    else:
        entries[index][field] = value
    qpp_refused(direct, write_json(tmp_path, {"measures": entries} if wrapped else entries))


fuzz("qpp_one_bad_field", 150, change=bad_qpp_fields(), wrapped=st.booleans())(_qpp_one_bad_field)


@example(
    document=[{"measureId": "IA_X", "title": "x", "subcategoryId": None, "firstPerformanceYear": 2027.0}], raw=None
)
def _qpp_arbitrary_documents(tmp_path: Path, direct, document: Any, raw: bytes | None) -> None:
    path = write_json(tmp_path, document)
    if raw is not None:
        path.write_bytes(raw)
    qpp_refused(direct, path)


fuzz("qpp_arbitrary_documents", 100, document=ANY_JSON, raw=st.none() | st.binary(max_size=300))(
    _qpp_arbitrary_documents
)


# === 5. Identifiers on the command line ============================================================================

DOCUMENT = "note.txt"  # created in the test's folder


def _commands(kind: str, value: str, folder: Path) -> list[tuple[object, ...]]:
    """Every command that reads a value of this kind, with `value` in its place and everything else right."""
    doc = folder / DOCUMENT
    period = ("--start=2020-01-01", "--end=2020-12-31")
    out = f"-o={folder / 'p.pdf'}"
    if kind == "TIN":
        return [("practice", "add", "--name=X", "--", value), ("practice", "show", "--", value),
                ("register", doc, f"--tin={value}", "--year=2020", "--activity=IA_PM_7"),
                ("attest", f"--tin={value}", "--activity=IA_EPA_1", "--year=2020", *period),
                ("clinician", "add", "--name=X", "--year=2020", f"--tin={value}", "--", npi_for(600)),
                ("hold", "add", f"--tin={value}", "--reason=audit"), ("list", f"--tin={value}"),
                ("score", f"--tin={value}", "--year=2020"), ("status", f"--tin={value}", "--year=2020"),
                ("export-qpp", f"--tin={value}", "--year=2020"), ("missing", f"--tin={value}"),
                ("packet", f"--tin={value}", "--year=2020", out), ("log", f"--tin={value}")]  # fmt: skip
    if kind == "NPI":
        return [("clinician", "add", f"--tin={TIN}", "--name=X", "--year=2020", "--", value),
                ("register", doc, f"--tin={TIN}", "--year=2020", "--activity=IA_PM_7", f"--npi={value}"),
                ("attest", f"--tin={TIN}", f"--npi={value}", "--activity=IA_EPA_1", "--year=2020", *period),
                ("participate", f"--tin={TIN}", f"--npi={value}", "--activity=IA_PM_7", "--year=2020", *period),
                ("score", f"--tin={TIN}", "--year=2020", f"--npi={value}"),
                ("missing", f"--tin={TIN}", f"--npi={value}"),
                ("packet", f"--tin={TIN}", "--year=2020", f"--npi={value}", out)]  # fmt: skip
    if kind == "date":
        return [("attest", f"--tin={TIN}", "--activity=IA_EPA_1", "--year=2020", f"--start={value}", "--end=2020-12-31"),
                ("participate", f"--tin={TIN}", f"--npi={MEMBER_NPI}", "--activity=IA_PM_7", "--year=2020",
                 "--start=2020-03-01", f"--end={value}"),
                ("register", doc, f"--tin={TIN}", "--year=2020", "--activity=IA_PM_7", f"--effective-date={value}"),
                ("log", f"--since={value}"), ("purge", f"--as-of={value}"),
                ("packet", f"--tin={TIN}", "--year=2020", out, f"--generated-at={value}")]  # fmt: skip
    if kind == "activity":
        return [("register", doc, f"--tin={TIN}", "--year=2020", f"--activity={value}"),
                ("attest", f"--tin={TIN}", f"--activity={value}", "--year=2020", *period),
                ("participate", f"--tin={TIN}", f"--npi={MEMBER_NPI}", f"--activity={value}", "--year=2020", *period),
                ("list", f"--activity={value}"), ("catalog", "show", "--", value)]  # fmt: skip
    assert kind == "year"
    return [("register", doc, f"--tin={TIN}", f"--year={value}", "--activity=IA_PM_7"),
            ("attest", f"--tin={TIN}", "--activity=IA_EPA_1", f"--year={value}", *period),
            ("score", f"--tin={TIN}", f"--year={value}"), ("export-qpp", f"--tin={TIN}", f"--year={value}"),
            ("catalog", "list", f"--year={value}"), ("catalog", "show", "IA_PM_7", f"--year={value}"),
            ("hold", "add", f"--tin={TIN}", f"--year={value}", "--reason=audit"), ("list", f"--year={value}")]  # fmt: skip


def _timestamp(value: str) -> bool:
    from datetime import datetime

    return parses(datetime.fromisoformat, value)


INVALID: dict[str, Callable[[str], bool]] = {
    "TIN": lambda v: not is_tin(v),
    "NPI": lambda v: not is_npi(v),
    "date": lambda v: not is_date(v) and not _timestamp(v),  # --generated-at takes any ISO timestamp
    "activity": lambda v: not is_activity_id(v),
    "year": lambda v: not is_int(v),
}


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / DOCUMENT
    path.write_text("QI meeting minutes\n", encoding="utf-8")
    return path


@st.composite
def bad_identifiers(draw: st.DrawFn) -> tuple[str, str, int]:
    kind = draw(st.sampled_from(sorted(INVALID)), label="kind")
    value = draw(JUNK.filter(INVALID[kind]), label="value")
    return kind, value, draw(st.integers(0, len(_commands(kind, value, Path("."))) - 1), label="command")


@example(case=("year", "2020.0", 0))
@example(case=("TIN", "０００１２３４５６", 1))  # full-width digits
@example(case=("NPI", " 12345678 93", 0))
def _cli_identifiers(tmp_path: Path, refused, document: Path, case: tuple[str, str, int]) -> None:
    kind, value, command = case
    refused(*_commands(kind, value, tmp_path)[command])


fuzz("cli_identifiers", 300, case=bad_identifiers())(_cli_identifiers)


CLI_TABLE: list[tuple[str, tuple[object, ...], str]] = [
    ("TIN", ("practice", "add", "12-3456789", "--name", "X"), "is not 9 digits"),
    ("TIN", ("practice", "add", "000123456", "--name", "Other"), "already exists"),
    ("TIN", ("register", DOCUMENT, "--tin", "000999999", "--year", "2020", "--activity", "IA_PM_7"),
     "no practice with TIN 000999999"),
    ("TIN", ("score", "--tin", "000999999", "--year", "2020"), "no practice with TIN 000999999"),
    ("NPI", ("clinician", "add", "1234567890", "--tin", TIN, "--name", "X", "--year", "2020"), "check digit"),
    ("NPI", ("participate", "--tin", TIN, "--npi", npi_for(700), "--activity", "IA_PM_7", "--year", "2020",
             "--start", "2020-01-01", "--end", "2020-12-31"), "does not bill under TIN"),
    ("NPI", ("packet", "--tin", TIN, "--year", "2020", "--npi", npi_for(700), "-o", "p.pdf"), "Error"),
    ("date", ("attest", "--tin", TIN, "--activity", "IA_EPA_1", "--year", "2021", "--start", "2021-02-29",
              "--end", "2021-12-31"), "is not a real calendar date"),
    ("date", ("attest", "--tin", TIN, "--activity", "IA_EPA_1", "--year", "2020", "--start", "2020-10-04",
              "--end", "2020-12-31"), "90"),
    ("date", ("attest", "--tin", TIN, "--activity", "IA_EPA_1", "--year", "2020", "--start", "2020-12-31",
              "--end", "2020-01-01"), "Error"),
    ("date", ("purge", "--as-of", "2999-01-01", "--yes"), "is in the future"),
    ("date", ("packet", "--tin", TIN, "--year", "2020", "-o", "p.pdf", "--generated-at", "soon"),
     "not an ISO 8601 timestamp"),
    ("activity", ("attest", "--tin", TIN, "--activity", "IA_ERP_3", "--year", "2019", "--start", "2019-01-01",
                  "--end", "2019-12-31"), "not in the PY2019 inventory"),
    ("activity", ("register", DOCUMENT, "--tin", TIN, "--year", "2020", "--activity", "IA_CC_9"),
     "choose with --item"),
    ("activity", ("catalog", "show", "IA_NOPE_1"), "IA_NOPE_1"),
    ("year", ("catalog", "list", "--year", "2016"), "performance year 2016 is before MIPS began (2017)"),
    ("year", ("catalog", "list", "--year", "99999999999999999999999"), "not a four-digit performance year"),
    ("year", ("catalog", "show", "IA_PM_7", "--year", "-99999999999999999999999"), "not a four-digit"),
    ("year", ("score", "--tin", TIN, "--year", "²⁰²⁰"), "not a four-digit performance year"),
    ("year", ("retention", "set", "--years", "5"), "shorter than the 6 years"),
    ("year", ("retention", "set", "--years", "99999"), "longer than 100"),
    ("id", ("show", "99999999999999999999999"), "too large"),
    ("id", ("withdraw", "99999999999999999999999", "--reason", "x"), "too large"),
    ("id", ("hold", "release", "99999999999999999999999", "--reason", "x"), "too large"),
    ("id", ("withdraw", "1", "--reason", "   "), "needs a --reason"),
    ("number", ("clinician", "add", npi_for(701), "--tin", TIN, "--name", "X", "--year", "2020",
                "--patient-facing-encounters", "99999999999999999999999"), "too large"),
    ("number", ("clinician", "add", npi_for(701), "--tin", TIN, "--name", "X", "--year", "2020",
                "--hospital-pos-pct", "nan"), "between 0 and 100"),
    ("path", ("register", "a" * 5000, "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7"), "File name too long"),
    ("path", ("register", f"{DOCUMENT}/x", "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7"),
     "Not a directory"),
    ("database URL", ("--db", "nosuchdriver://x/y", "list"), "cannot use database URL"),
    ("database URL", ("--db", "postgresql+psycopg://u:p@127.0.0.1:notaport/db", "list"), "malformed URL"),
    ("database URL", ("--db", "postgresql+psycopg://u:p@[::1/db", "list"), "cannot use database URL"),
    ("database URL", ("--db", "mysql://u:p@127.0.0.1:9/db", "list"), "driver not installed"),
    ("database URL", ("--db", "just some words", "list"), "cannot use database URL"),
    ("store URL", ("--store", "ftp://host/x", "verify"), "unsupported store URL"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "args", "expected"), CLI_TABLE, ids=[f"{k}-{n}" for n, (k, *_) in enumerate(CLI_TABLE)]
)
def test_cli_table(refused, document: Path, monkeypatch, kind: str, args: tuple[object, ...], expected: str) -> None:
    monkeypatch.chdir(document.parent)
    refused(*args, contains=_on_this_backend(expected))


def _on_this_backend(expected: str) -> str | None:
    """SQLite refuses integers beyond 64 bits ("too large"); PostgreSQL compares them and finds nothing."""
    return None if ON_POSTGRES and expected == "too large" else expected


# === The count ==========================================================================================================


def test_enough_cases_are_tried() -> None:
    """The tables and the slow runs' generated cases (docs/RELIABILITY.md), counted from the definitions alone."""
    tables = len(CSV_TABLE) + len(MANIFEST_TABLE) + len(CATALOG_TABLE) + len(QPP_TABLE) + len(CLI_TABLE)
    assert tables + sum(GENERATED.values()) >= MINIMUM_CASES, (tables, GENERATED)
