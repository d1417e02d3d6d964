"""The answer workbook of `audit packet --xlsx` (issue #16, part C), read back with openpyxl and checked
against the response PDF read back with pypdf."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from pypdf import PdfReader

from evidence.packet.workbook import CELL_LIMIT, CUT, put, within_cell
from tests.conftest import GENERATED_AT, PACKET_TIME, sqlite_only
from tests.test_audit_packet import (
    CHEN,
    HOSTILE_CONTACT,
    HOSTILE_DESCRIPTION,
    HOSTILE_REFERENCE,
    OSEI,
    RECEIVED,
    Audits,
    _evidence,
    audit_cli,
    build_audit_home,
)
from tests.test_packet import flat, shown

pytestmark = [pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning"), sqlite_only]


@dataclass(frozen=True)
class Answer:
    pdf: PdfReader
    xlsx: Path
    book: Workbook

    def rows(self, sheet: str) -> list[dict[str, Any]]:
        values = list(self.book[sheet].iter_rows(values_only=True))
        return [dict(zip(values[0], row, strict=True)) for row in values[1:]]

    def page(self, number: int) -> str:
        return flat(self.pdf.pages[number - 1].extract_text())


@pytest.fixture(scope="module")
def audits(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Audits:
    return build_audit_home(tmp_path_factory.mktemp("workbook") / "home", template_home)


def answer(audits: Audits, audit_id: int, out: Path, *options: str) -> Answer:
    pdf, xlsx = out / "response.pdf", out / "response.xlsx"
    audit_cli(audits.home, "packet", audit_id, "-o", pdf, "--xlsx", xlsx, "--generated-at", GENERATED_AT, *options)
    return Answer(PdfReader(pdf), xlsx, load_workbook(xlsx))


@pytest.fixture(scope="module")
def incomplete(audits: Audits, tmp_path_factory: pytest.TempPathFactory) -> Answer:
    return answer(audits, audits.incomplete, tmp_path_factory.mktemp("incomplete-xlsx"), "--allow-incomplete")


@pytest.fixture(scope="module")
def multi(audits: Audits, tmp_path_factory: pytest.TempPathFactory) -> Answer:
    return answer(audits, audits.multi, tmp_path_factory.mktemp("multi-xlsx"))


def test_one_row_per_requested_activity_with_its_period_items_and_verdict(incomplete: Answer) -> None:
    rows = incomplete.rows("Response")
    assert [(r["Activity"], r["Audited"]) for r in rows] == [
        ("IA_PM_7", "group (TIN 000123456)"),
        ("IA_CC_9", "group (TIN 000123456)"),
    ]
    cc9 = rows[1]
    assert (cc9["Attested from"], cc9["Attested to"]) == (datetime(2020, 4, 1), datetime(2020, 9, 30))
    assert cc9["Suggested documentation"].splitlines() == [
        "1. Individual care plan process: covered",
        "2. Care plan shared with patient or caregiver: missing",
    ]
    assert (cc9["Verdict"], cc9["What is missing"]) == ("Not creditable", "documentation incomplete: missing item 2")
    assert (rows[0]["Verdict"], rows[0]["What is missing"]) == ("Creditable", None)
    assert "IA_BE_6" not in str(rows)  # attested that year, not requested


def test_a_multi_npi_audit_has_a_row_per_npi(multi: Answer) -> None:
    rows = multi.rows("Response")
    assert [(r["Activity"], r["Audited"]) for r in rows] == [
        ("IA_BE_4", f"NPI {CHEN}, Dr. Avery Chen (individually)"),
        ("IA_BE_4", f"NPI {OSEI}, Dr. Blake Osei (individually)"),
    ]
    assert [r["Attested from"] for r in rows] == [datetime(2024, 2, 1), datetime(2024, 3, 1)]


@pytest.mark.parametrize("which", ["incomplete", "multi"])
def test_hashes_and_pages_match_the_pdf(which: str, request: pytest.FixtureRequest, audits: Audits) -> None:
    result: Answer = request.getfixturevalue(which)
    digests = {view.id: view.digest for year in (2020, 2024) for view in _evidence(audits.home, year)}
    files = [row for row in result.rows("Evidence") if row["Evidence id"] is not None]
    assert files
    for row in files:
        assert row["SHA-256"] == digests[row["Evidence id"]]
        page = result.page(row["PDF page"])
        # The page the workbook names holds that file's row under that item: name, SHA-256 and the item.
        assert row["File name"] in page
        assert shown(row["SHA-256"]) in page and f"Item {row['Item']}. {row['Suggested documentation']}" in page
    for row in result.rows("Response"):
        assert f"{row['Activity']} {row['Title']}" in result.page(row["Section page"])
        for line in row["Evidence files (item: file, effective, SHA-256, PDF page)"].splitlines():
            number = int(line.rsplit("page ", 1)[1])
            assert line.split("SHA-256 ")[1].split(",")[0] in result.page(number).replace(" ", "")


def test_items_without_a_file_have_their_own_row(incomplete: Answer) -> None:
    missing = [r for r in incomplete.rows("Evidence") if r["Evidence id"] is None]
    assert [(r["Activity"], r["Item"], r["Item status"], r["File name"], r["PDF page"]) for r in missing] == [
        ("IA_CC_9", 2, "missing", "none registered", None)
    ]


def test_formula_like_user_text_stays_text(multi: Answer) -> None:
    evidence = multi.book["Evidence"]
    header = [cell.value for cell in evidence[1]]
    row = next(r for r in evidence.iter_rows(min_row=2) if r[header.index("Evidence id")].value and "HYPERLINK" in
               str(r[header.index("File name")].value))  # fmt: skip
    name, description = row[header.index("File name")], row[header.index("Description")]
    assert name.value == '=HYPERLINK("http:x")[U+202E]gpj.txt' and description.value.startswith("@SUM(A1) ")
    request = {r[0].value: r[1] for r in multi.book["Request"].iter_rows(min_row=2)}
    for cell in (name, description, request["Reference"], request["Contact"]):
        assert cell.data_type == "s" and cell.quotePrefix, (cell.coordinate, cell.value)
    assert request["Reference"].value == "=cmd|' /C calc'!A0 </style>[U+202E]DVA"
    with zipfile.ZipFile(multi.xlsx) as archive:  # no formula anywhere in the sheets' XML
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and not any(b"<f>" in archive.read(n) or b"<f " in archive.read(n) for n in sheets)


def test_hostile_text_is_inert(multi: Answer) -> None:
    cells = [str(c.value) for sheet in multi.book for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not any(ch in text for text in cells for ch in ("\x1b", "\u202e"))
    assert "@SUM(A1) </style><b>bold</b> [U+001B][2J portal [U+202E]fdp.exe" in cells
    assert "-Jo Lee [U+001B][31m<jo@example.org>[U+202E]" in cells
    assert HOSTILE_DESCRIPTION not in cells and HOSTILE_CONTACT not in cells and HOSTILE_REFERENCE not in cells


def test_formatted_for_people(incomplete: Answer) -> None:
    for sheet in incomplete.book:
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.bold for cell in sheet[1])
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{sheet.max_row}"
        assert all(sheet.column_dimensions[c.column_letter].width >= 6 for c in sheet[1])
    response = incomplete.book["Response"]
    started = response.cell(2, 4)
    assert isinstance(started.value, datetime) and started.number_format == "yyyy-mm-dd"
    assert all(c.alignment.wrap_text for c in response[2])
    request = {r[0].value: r[1] for r in incomplete.book["Request"].iter_rows(min_row=2)}
    assert request["Notice received"].value == datetime.combine(RECEIVED, datetime.min.time())
    assert request["Contact"].value == "not recorded"
    assert request["Response PDF pages"].value == len(incomplete.pdf.pages)
    generated = request["Generated (UTC)"]  # a date-time a reviewer can sort by, not text
    assert generated.value == PACKET_TIME.replace(tzinfo=None) and generated.number_format == "yyyy-mm-dd hh:mm:ss"


def test_dated_by_generated_at_not_the_clock(incomplete: Answer) -> None:
    stamp = PACKET_TIME.replace(tzinfo=None)
    assert incomplete.book.properties.created == incomplete.book.properties.modified == stamp
    with zipfile.ZipFile(incomplete.xlsx) as archive:
        assert {info.date_time for info in archive.infolist()} == {stamp.timetuple()[:6]}


def test_a_cell_never_holds_more_than_excel_takes() -> None:
    sheet = Workbook().create_sheet("t")
    put(sheet["A1"], "=" + "x" * 40_000)
    value = sheet["A1"].value
    assert len(value) == CELL_LIMIT and value.endswith(CUT) and sheet["A1"].quotePrefix
    lines = [f"item 1: file-{n}.pdf, effective 2020-01-01, SHA-256 {'0' * 64}, page {n}" for n in range(600)]
    cell = within_cell(lines)
    assert len(cell) <= CELL_LIMIT and cell.splitlines()[0] == lines[0]
    shown_lines = cell.splitlines()
    assert shown_lines[-1] == f"… and {600 - (len(shown_lines) - 1)} more files: the Evidence sheet lists each"
    assert within_cell(lines[:3]) == "\n".join(lines[:3])
