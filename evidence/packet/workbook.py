"""The answer workbook (XLSX) of an audit response: what CMS's request spreadsheet asks, cell by cell.

Three sheets: *Response*, one row per requested activity (per NPI where audited individually)
with its attested period, its suggested-documentation items, its evidence files and the PDF
pages where they appear, and its verdict; *Evidence*, one row per (requested activity, item,
file), or per item without a file, to filter and sort; *Request*, the request and the PDF the
workbook belongs to. Page numbers come from the laid-out PDF (ResponsePacket.anchors).

User text is written inert (control and bidi characters as visible [U+202E] markers, as in the
PDF) and never as a formula: a cell starting with = + - @ tab or CR is a string cell with Excel's
quote prefix (OWASP's CSV injection advice, for spreadsheets). The same response gives the same
bytes: the document properties and every ZIP entry carry the generation time.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from evidence.packet.content import PacketContent, WrittenOutput
from evidence.packet.response import ResponsePacket, ScopeLine
from evidence.support.inert import marker, neutralise
from evidence.support.outputs import OutputTarget

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Excel holds at most 32,767 characters in a cell and calls a workbook with more corrupt.
CELL_LIMIT = 32_767
CUT = " … [cut: a cell holds at most 32,767 characters]"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
TOP_WRAPPED = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True)
class Column:
    title: str
    width: int  # in characters


RESPONSE_COLUMNS = (
    Column("Activity", 14),
    Column("Title", 40),
    Column("Audited", 26),
    Column("Attested from", 13),
    Column("Attested to", 13),
    Column("Suggested documentation", 45),
    Column("Evidence files (item: file, effective, SHA-256, PDF page)", 70),
    Column("Section page", 9),
    Column("Verdict", 15),
    Column("What is missing", 45),
)
EVIDENCE_COLUMNS = (
    Column("Activity", 14),
    Column("Audited", 26),
    Column("Item", 6),
    Column("Suggested documentation", 40),
    Column("Item status", 16),
    Column("Evidence id", 10),
    Column("File name", 36),
    Column("Description", 40),
    Column("Effective from", 13),
    Column("Effective until", 13),
    Column("SHA-256", 66),
    Column("PDF page", 9),
)


def inert(text: str) -> str:
    """User text as the workbook shows it: visible markers for what is not inert (XLSX refuses most controls)."""
    return neutralise(text, marker)


def put(cell: Cell | MergedCell, value: Any) -> None:
    """One cell: text is always a string cell, never a formula; dates are dates."""
    if isinstance(value, str) and len(value) > CELL_LIMIT:
        value = value[: CELL_LIMIT - len(CUT)] + CUT
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would take "=..." for a formula
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True  # Excel and LibreOffice keep it text, even when edited
    elif isinstance(value, datetime):  # before date: a datetime is a date too
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell.number_format = DATE_FORMAT
    cell.alignment = TOP_WRAPPED


def _sheet(sheet: Worksheet, columns: Sequence[Column], rows: list[list[Any]]) -> None:
    """A header row (bold, frozen, filtered), the column widths, then the rows."""
    for index, column in enumerate(columns, 1):
        cell = sheet.cell(row=1, column=index)
        put(cell, column.title)
        cell.font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    for row_number, values in enumerate(rows, 2):
        for index, value in enumerate(values, 1):
            put(sheet.cell(row=row_number, column=index), value)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"


def _audited(line: ScopeLine) -> str:
    activity = line.activity
    if activity.npi:
        name = f", {inert(activity.clinician_name)}" if activity.clinician_name else ""
        return f"NPI {activity.npi}{name} (individually)"
    return f"group (TIN {activity.tin})"


def _verdict(line: ScopeLine) -> str:
    return "Creditable" if line.activity.creditable else "Not creditable"


def _part(packet: ResponsePacket, line: ScopeLine) -> PacketContent:
    return next(part for part in packet.content.parts if part.npi == line.entry.npi)


def response_rows(packet: ResponsePacket) -> list[list[Any]]:
    rows = []
    for line in packet.content.lines:
        activity, part = line.activity, _part(packet, line)
        items = "\n".join(f"{i.key}. {inert(i.label)}: {i.status}" for i in activity.items)
        files = within_cell([
            f"item {i.key}: {inert(e.name)}, effective {e.effective}, SHA-256 {e.digest}, "
            f"page {packet.file_page(part, activity, i.key, e.id)}"
            for i in activity.items
            for e in i.evidence
        ])  # fmt: skip
        rows.append([
            activity.activity_id, inert(activity.title), _audited(line), activity.start, activity.end, items,
            files or "none registered", packet.section_page(activity), _verdict(line), inert(line.missing or ""),
        ])  # fmt: skip
    return rows


def within_cell(lines: list[str]) -> str:
    """The lines (one per file) as one cell holds them: when too many, the first ones and how many more
    the Evidence sheet lists (a room of 100 characters is kept for that last line)."""
    text = "\n".join(lines)
    if len(text) <= CELL_LIMIT:
        return text
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 + 100 > CELL_LIMIT:
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join([*kept, f"… and {len(lines) - len(kept)} more files: the Evidence sheet lists each"])


def evidence_rows(packet: ResponsePacket) -> list[list[Any]]:
    rows = []
    for line in packet.content.lines:
        activity, part = line.activity, _part(packet, line)
        for item in activity.items:
            lead = [activity.activity_id, _audited(line), item.key, inert(item.label), str(item.status)]
            if not item.evidence:
                rows.append([*lead, None, "none registered", None, None, None, None, None])
            for e in item.evidence:
                rows.append([
                    *lead, e.id, inert(e.name), inert(e.description or ""), e.effective_date, e.effective_until,
                    e.digest, packet.file_page(part, activity, item.key, e.id),
                ])  # fmt: skip
    return rows


def request_rows(packet: ResponsePacket) -> list[list[Any]]:
    content, audit = packet.content, packet.content.audit
    return [
        ["Audit request", f"#{audit.id}"],
        ["Reference", inert(audit.reference) if audit.reference else "not recorded"],
        ["Practice", f"{inert(audit.practice_name)}, TIN {audit.tin}"],
        ["Contact", inert(audit.contact) if audit.contact else "not recorded"],
        ["Performance year", audit.year],
        ["Notice received", audit.received],
        ["Response due", audit.due],
        # Excel has no time zone: the UTC wall time, to the second the cover letter shows.
        ["Generated (UTC)", content.generated_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)],
        ["Response PDF SHA-256", packet.sha256],
        ["Response PDF pages", packet.pages],
        ["Response manifest SHA-256", content.manifest_sha256],
        ["Complete", "no: " + "; ".join(inert(m) for m in content.missing) if content.incomplete else "yes"],
    ]


def build_workbook(packet: ResponsePacket) -> bytes:
    """The XLSX bytes; the same response gives the same bytes."""
    workbook = Workbook()
    response = workbook.active
    assert response is not None  # a new workbook has its one sheet
    response.title = "Response"
    _sheet(response, RESPONSE_COLUMNS, response_rows(packet))
    _sheet(workbook.create_sheet("Evidence"), EVIDENCE_COLUMNS, evidence_rows(packet))
    _sheet(workbook.create_sheet("Request"), (Column("Field", 26), Column("Value", 80)), request_rows(packet))
    moment = packet.content.generated_at.astimezone(UTC).replace(tzinfo=None)
    properties = workbook.properties
    properties.created = properties.modified = moment
    properties.creator = f"evidence {packet.content.tool_version}"
    properties.title = f"Answer workbook, audit request #{packet.content.audit.id}"
    buffer = io.BytesIO()
    # ExcelWriter rather than Workbook.save, which stamps `modified` with the clock.
    ExcelWriter(workbook, _FixedTimeZip(buffer, moment)).save()
    return buffer.getvalue()


class _FixedTimeZip(zipfile.ZipFile):
    """A ZIP whose entries carry one fixed time (zipfile dates a named entry with the clock)."""

    def __init__(self, file: io.BytesIO, moment: datetime):
        super().__init__(file, "w", zipfile.ZIP_DEFLATED)
        self.stamp = moment.timetuple()[:6]

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = zipfile.ZipInfo(zinfo_or_arcname, date_time=self.stamp)
            zinfo_or_arcname.compress_type = zipfile.ZIP_DEFLATED
        super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        """openpyxl writes each sheet to a temporary file first: its entry takes the fixed time, not the file's."""
        with open(filename, "rb") as handle:
            self.writestr(arcname or Path(filename).name, handle.read())


def write_workbook(packet: ResponsePacket, target: OutputTarget) -> WrittenOutput:
    """Write the workbook through the guarded target (complete or not there); what was written."""
    data = build_workbook(packet)
    target.write_bytes(data)
    return WrittenOutput("xlsx", str(target), hashlib.sha256(data).hexdigest(), len(data))
