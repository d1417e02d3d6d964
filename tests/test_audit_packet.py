"""`evidence audit packet` (issue #16, part C): the response PDF read back with pypdf, its ZIP, its refusals.

The audits are opened with the library (`open_audit`); the command runs through `audit_cli`,
the one place that knows how `audit packet` is reached.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from pypdf import PdfReader
from sqlalchemy import select

from evidence.app import App
from evidence.config import resolve_settings
from evidence.db.models import Attestation, EvidenceLink
from evidence.records.audits import open_audit
from evidence.support import clock
from tests.conftest import GENERATED_AT, SAMPLE, dump_database, sqlite_only
from tests.test_packet import flat, invoke, outline_titles, pdf_text, shown

# The module-scoped homes are SQLite copies (as in test_packet.py).
pytestmark = [pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning"), sqlite_only]

TIN = "000123456"
CHEN, OSEI = "1234567893", "1000000004"
RECEIVED = clock.today() - timedelta(days=10)
HOSTILE_NAME = '=HYPERLINK("http:x")\u202egpj.txt'
HOSTILE_DESCRIPTION = "@SUM(A1) </style><b>bold</b> \x1b[2J portal \u202efdp.exe"
HOSTILE_REFERENCE = "=cmd|' /C calc'!A0 </style>\u202eDVA"
HOSTILE_CONTACT = "-Jo Lee \x1b[31m<jo@example.org>\u202e"
ACTIVITY_ID = re.compile(r"\bIA_[A-Z]+_\d+\b")


def audit_cli(home: Path, *args: object, expect: int = 0) -> Result:
    """`evidence audit ARGS` against `home`; a mistake ends in one line, never a traceback."""
    result = invoke(home, "audit", *args, expect=expect)
    assert "Traceback" not in result.output
    return result


@dataclass(frozen=True)
class Audits:
    home: Path
    incomplete: int  # PY2020 group: IA_PM_7 (creditable) and IA_CC_9 (item 2 missing); no contact recorded
    multi: int  # PY2024, IA_BE_4 for two NPIs audited individually; hostile reference and contact
    complete: int  # PY2020 group: IA_PM_7 only


def build_audit_home(home: Path, template: Path) -> Audits:
    """The sample practice, a second NPI attesting IA_BE_4 in 2024 with a hostile file, and three audits."""
    shutil.copytree(template, home)
    invoke(home, "import", SAMPLE / "practice.csv")
    invoke(home, "register", "--manifest", SAMPLE / "manifest.yaml")
    invoke(home, "attest", "--tin", TIN, "--npi", OSEI, "--activity", "IA_BE_4", "--year", 2024,
           "--start", "2024-03-01", "--end", "2024-08-31")  # fmt: skip
    hostile = home.parent / HOSTILE_NAME
    hostile.write_text("portal screenshot, Dr. Osei\n")
    invoke(home, "register", hostile, "--tin", TIN, "--year", 2024, "--activity", "IA_BE_4", "--npi", OSEI,
           "--item", 1, "--effective-date", "2024-04-02", "--description", HOSTILE_DESCRIPTION)  # fmt: skip
    app = App(resolve_settings(home, None), actor="tester")
    try:
        with app.write() as session:
            first = open_audit(session, TIN, 2020, RECEIVED, activities=["IA_PM_7", "IA_CC_9"], reference="DVA-2020-17",
                               actor="tester")  # fmt: skip
            second = open_audit(session, TIN, 2024, RECEIVED, activities=["IA_BE_4"], npis=[CHEN, OSEI],
                                reference=HOSTILE_REFERENCE, contact=HOSTILE_CONTACT, actor="tester")  # fmt: skip
            third = open_audit(session, TIN, 2020, RECEIVED, activities=["IA_PM_7"], actor="tester")
    finally:
        app.close()
    return Audits(home, first.id, second.id, third.id)


@pytest.fixture(scope="module")
def audits(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Audits:
    return build_audit_home(tmp_path_factory.mktemp("audit") / "home", template_home)


@dataclass(frozen=True)
class Response:
    pdf: Path
    zip: Path
    xlsx: Path
    output: str

    @property
    def text(self) -> str:
        return pdf_text(self.pdf)


@pytest.fixture(scope="module")
def incomplete(audits: Audits, tmp_path_factory: pytest.TempPathFactory) -> Response:
    out = tmp_path_factory.mktemp("incomplete")
    pdf, archive, xlsx = out / "dva-2020.pdf", out / "dva-2020.zip", out / "dva-2020.xlsx"
    result = audit_cli(audits.home, "packet", audits.incomplete, "-o", pdf, "--zip", archive, "--xlsx", xlsx,
                       "--allow-incomplete", "--generated-at", GENERATED_AT)  # fmt: skip
    return Response(pdf, archive, xlsx, result.output)


@pytest.fixture(scope="module")
def multi(audits: Audits, tmp_path_factory: pytest.TempPathFactory) -> Response:
    out = tmp_path_factory.mktemp("multi")
    pdf, xlsx = out / "dva-2024.pdf", out / "dva-2024.xlsx"
    result = audit_cli(audits.home, "packet", audits.multi, "-o", pdf, "--xlsx", xlsx, "--generated-at", GENERATED_AT)
    return Response(pdf, out / "none.zip", xlsx, result.output)


def cover(pdf: Path) -> str:
    return flat(PdfReader(pdf).pages[0].extract_text())


def events(home: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(invoke(home, "log", "--format", "json").output)
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def own(audits: Audits, tmp_path: Path) -> Audits:
    """A copy of the module's home for a test that changes it."""
    shutil.copytree(audits.home, tmp_path / "audit-home")
    return Audits(tmp_path / "audit-home", audits.incomplete, audits.multi, audits.complete)


def database_of(home: Path) -> list[str]:
    app = App(resolve_settings(home, None), actor="tester")
    try:
        return dump_database(app)
    finally:
        app.close()


# --- What the PDF holds ------------------------------------------------------------------------------


def test_the_pdf_holds_exactly_the_requested_activities(incomplete: Response, multi: Response) -> None:
    assert set(ACTIVITY_ID.findall(incomplete.text)) == {"IA_PM_7", "IA_CC_9"}  # not IA_BE_6, attested that year
    assert "Implementation of practices/processes for developing regular individual care plans" in flat(incomplete.text)
    assert set(ACTIVITY_ID.findall(multi.text)) == {"IA_BE_4"}  # not Dr. Chen's IA_PSPA_21
    assert "Score breakdown" not in incomplete.text  # the whole IA score names every activity: not a part's to state


def test_the_cover_letter_names_the_request_the_practice_and_the_scope(incomplete: Response, audits: Audits) -> None:
    page = cover(incomplete.pdf)
    assert page.startswith("CMS MIPS · IMPROVEMENT ACTIVITIES · AUDIT RESPONSE Response to audit request")
    due = RECEIVED + timedelta(days=45)
    for fact in (
        f"Request reference DVA-2020-17 (audit request #{audits.incomplete})",
        f"Notice received {RECEIVED.isoformat()}",
        f"Response due {due.isoformat()} (45 calendar days after receipt)",
        "Practice Riverbend Family Medicine (synthetic), TIN 000123456",
        "Contact not recorded",
        "Request status open",
        "Performance year 2020",
        f"Generated {GENERATED_AT[:10]} 12:00 UTC",
    ):
        assert fact in page
    reader = PdfReader(incomplete.pdf)
    bookmarked = {  # the page of each activity's bookmark: where its section starts
        entry.title.split(":")[0]: reader.get_destination_page_number(entry) + 1
        for part in reader.outline
        if isinstance(part, list)
        for entry in part
        if not isinstance(entry, list) and ACTIVITY_ID.match(entry.title)
    }
    assert set(bookmarked) == {"IA_PM_7", "IA_CC_9"}
    # Each scope row: id, title, who, verdict, and the page its section starts on.
    for activity, verdict in (("IA_PM_7", "Creditable"), ("IA_CC_9", "Not creditable")):
        found = re.search(rf"{activity} .*? the group \(TIN 000123456\) {verdict} (\d+)", page)
        assert found, page
        assert int(found.group(1)) == bookmarked[activity]
        assert f"{activity} " in flat(reader.pages[bookmarked[activity] - 1].extract_text())


def test_allow_incomplete_marks_the_cover_with_what_is_missing(incomplete: Response, multi: Response) -> None:
    assert "INCOMPLETE: documentation missing for 1 of 2 requested activities: IA_CC_9 (group, TIN 000123456): " \
           "documentation incomplete: missing item 2" in cover(incomplete.pdf)  # fmt: skip
    assert incomplete.output.startswith("wrote INCOMPLETE response ")
    assert "INCOMPLETE" not in cover(multi.pdf) and multi.output.startswith("wrote response ")


def test_one_outline_with_a_part_per_reporting_entity_and_continuous_page_numbers(multi: Response) -> None:
    reader = PdfReader(multi.pdf)
    titles = outline_titles(reader)
    assert titles[:2] == ["Cover letter", f"Part 1: NPI {CHEN}"]
    assert f"Part 2: NPI {OSEI}" in titles and titles.count("Summary") == 2
    top = [entry.title for entry in reader.outline if not isinstance(entry, list)]
    assert top == ["Cover letter", f"Part 1: NPI {CHEN}", f"Part 2: NPI {OSEI}"]  # a part's sections nest under it
    pages = len(reader.pages)
    for number in range(2, pages + 1):
        assert f"Page {number} of {pages}" in reader.pages[number - 1].extract_text()
    # Each part's contents point at its own summary, not the other part's.
    summaries = [n for n in range(pages) if flat(reader.pages[n].extract_text()).startswith("Summary ")]
    contents = [
        flat(reader.pages[n].extract_text()) for n in range(pages) if "Contents" in reader.pages[n].extract_text()
    ]
    assert len(summaries) == len(contents) == 2
    for page_text, summary in zip(contents, summaries, strict=True):
        assert re.search(rf"Summary \.+ {summary + 1}\b", page_text), page_text


def test_each_part_has_the_packets_hashes_attachments_and_checkpoint(multi: Response, audits: Audits) -> None:
    reader = PdfReader(multi.pdf)
    text = flat(multi.text)
    files = {view.original_name: view.digest for view in _evidence(audits.home, 2024)}
    for name in ("patient-portal-screenshot.png", HOSTILE_NAME):
        assert shown(files[name]) in text
    attached = {name: data[0] for name, data in reader.attachments.items()}
    assert {hashlib.sha256(data).hexdigest() for data in attached.values()} == {
        files["patient-portal-screenshot.png"],
        files[HOSTILE_NAME],
    }
    assert text.count("Audit trail checkpoint event ") == 2  # each part's cover names the chain it was made under
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp  # PDF/A-3b, as the packet


def _evidence(home: Path, year: int) -> list[Any]:
    from evidence.records.listing import list_evidence

    app = App(resolve_settings(home, None), actor="tester")
    try:
        with app.read() as session:
            return list_evidence(session, tin=TIN, year=year)
    finally:
        app.close()


def test_hostile_text_is_shown_inert_in_the_pdf(multi: Response) -> None:
    text = multi.text
    assert "=cmd|' /C calc'!A0 </style>[U+202E]DVA" in flat(cover(multi.pdf))
    assert "-Jo Lee [U+001B][31m<jo@example.org>[U+202E]" in cover(multi.pdf)
    assert '=HYPERLINK("http:x")[U+202E]gpj.txt' in text
    assert "@SUM(A1) </style><b>bold</b> [U+001B][2J portal [U+202E]fdp.exe" in flat(text)
    assert "\u202e" not in text and "\x1b" not in text


# --- The ZIP, the event, reproducible ----------------------------------------------------------------


def test_the_zip_holds_the_response_pdf_its_manifest_and_the_files(incomplete: Response, audits: Audits) -> None:
    with zipfile.ZipFile(incomplete.zip) as archive:
        names = archive.namelist()
        assert names[:2] == ["dva-2020.pdf", "manifest.json"]
        assert archive.read("dva-2020.pdf") == incomplete.pdf.read_bytes()
        manifest = archive.read("manifest.json")
        assert shown(hashlib.sha256(manifest).hexdigest()) in cover(incomplete.pdf)  # the response manifest SHA-256
        files = {f"evidence/{row['id']}-{row['name']}": row["sha256"] for row in json.loads(manifest)}
        assert sorted(names[2:]) == sorted(files)
        for name, digest in files.items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    requested = {"qcdr-feedback-report-2020-q3.pdf", "qcdr-participation-chen.pdf", "care-plan-template.pdf"}
    assert {name.split("-", 1)[1] for name in files} == requested  # IA_BE_6's files stay out


def test_the_response_is_one_event_with_every_outputs_hash(incomplete: Response, audits: Audits) -> None:
    event = next(e for e in reversed(events(audits.home)) if e["action"] == "audit.packet" and
                 e["details"]["audit"] == audits.incomplete)  # fmt: skip
    assert (event["actor"], event["tin"], event["year"]) == ("tester", TIN, 2020)
    details = event["details"]
    assert [(o["kind"], o["target"], o["sha256"]) for o in details["outputs"]] == [
        ("pdf", str(incomplete.pdf), sha256(incomplete.pdf)),
        ("zip", str(incomplete.zip), sha256(incomplete.zip)),
        ("xlsx", str(incomplete.xlsx), sha256(incomplete.xlsx)),
    ]
    assert details["scope"] == [["IA_PM_7", None], ["IA_CC_9", None]]
    assert details["incomplete"] == ["IA_CC_9 (group, TIN 000123456): documentation incomplete: missing item 2"]
    assert details["reference"] == "DVA-2020-17" and details["generated_at"] == GENERATED_AT.replace("Z", "+00:00")


def test_the_same_request_and_time_give_the_same_bytes(incomplete: Response, audits: Audits, tmp_path: Path) -> None:
    pdf, xlsx = tmp_path / "again.pdf", tmp_path / "again.xlsx"
    audit_cli(audits.home, "packet", audits.incomplete, "-o", pdf, "--xlsx", xlsx, "--allow-incomplete",
              "--generated-at", GENERATED_AT)  # fmt: skip
    assert pdf.read_bytes() == incomplete.pdf.read_bytes()  # the first response's own event is an output's
    assert xlsx.read_bytes() == incomplete.xlsx.read_bytes()


def test_a_response_to_standard_output_is_recorded_with_the_bytes_sent(own: Audits) -> None:
    result = audit_cli(own.home, "packet", own.complete, "-o", "-", "--no-attachments", "--generated-at", GENERATED_AT)
    assert result.stdout_bytes.startswith(b"%PDF-")
    assert result.stderr.startswith("wrote response standard output (")
    event = events(own.home)[-1]
    assert event["action"] == "audit.packet"
    assert event["details"]["outputs"] == [{"kind": "pdf", "target": "standard output",
                                            "sha256": hashlib.sha256(result.stdout_bytes).hexdigest(),
                                            "size": len(result.stdout_bytes)}]  # fmt: skip


# --- Refusals: one line first, non-zero, nothing written ----------------------------------------------


def test_without_allow_incomplete_a_scope_with_missing_documentation_is_refused(own: Audits, tmp_path: Path) -> None:
    before = database_of(own.home)
    pdf, xlsx, archive = tmp_path / "r.pdf", tmp_path / "r.xlsx", tmp_path / "r.zip"
    result = audit_cli(own.home, "packet", own.incomplete, "-o", pdf, "--xlsx", xlsx, "--zip", archive, expect=1)
    lines = result.output.splitlines()
    assert lines[0] == (
        f"Error: audit #{own.incomplete}: 1 of 2 requested activities are not creditable, so no response was written "
        "(add --allow-incomplete to write it marked INCOMPLETE on the cover):"
    )
    assert lines[1:] == ["  IA_CC_9 (group, TIN 000123456): documentation incomplete: missing item 2"]
    assert not any(path.exists() for path in (pdf, xlsx, archive)) and database_of(own.home) == before


def test_a_requested_attestation_deleted_since_is_refused_by_name(own: Audits, tmp_path: Path) -> None:
    app = App(resolve_settings(own.home, None), actor="tester")
    try:
        with app.write() as session:  # what a correction does, under a hold or not: the row is gone
            osei = session.scalar(select(Attestation.id).where(Attestation.performance_year == 2024).order_by(
                Attestation.id.desc()))  # fmt: skip
            session.execute(EvidenceLink.__table__.delete().where(EvidenceLink.attestation_id == osei))
            session.execute(Attestation.__table__.delete().where(Attestation.id == osei))
    finally:
        app.close()
    before = database_of(own.home)
    result = audit_cli(own.home, "packet", own.multi, "-o", tmp_path / "r.pdf", "--allow-incomplete", expect=1)
    assert result.output.splitlines() == [
        f"Error: audit #{own.multi}: 1 requested attestation of PY2024 no longer exists (deleted after the request was opened); "
        "no response was written:",
        f"  IA_BE_4 (NPI {OSEI}): not attested any more",
    ]
    assert not (tmp_path / "r.pdf").exists() and database_of(own.home) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("99", "-o", "{out}/a.pdf"), "Error: no audit request #99; `evidence audit list` shows them"),
        (("0", "-o", "{out}/a.pdf"), "Error: Invalid value for 'ID': 0 is not in the range x>=1."),
        (("x1", "-o", "{out}/a.pdf"), "Error: Invalid value for 'ID': 'x1' is not a valid integer range."),
        (("{complete}", "-o", "{out}/a.pdf", "--xlsx", "{out}/a.pdf"), "Error: -o and --xlsx name the same file"),
        (("{complete}", "-o", "-", "--zip", "-"), "Error: -o and --zip name the same file (or both standard output)"),
        (("{complete}", "-o", "{home}/inside.pdf"), "Error: cannot write the PDF {home}/inside.pdf: it is inside "),
        (
            ("{complete}", "-o", "{out}/exists.pdf"),
            "Error: cannot write the PDF {out}/exists.pdf: the file exists; add --force",
        ),
        (
            ("{complete}", "-o", "{out}/a.pdf", "--xlsx", "{out}/link.xlsx", "--force"),
            "Error: cannot write the workbook {out}/link.xlsx: it is a symbolic link",
        ),
        (
            ("{complete}", "-o", "{out}/a.pdf", "--generated-at", "2020-01-01T00:00:00Z"),
            "Error: --generated-at 2020-01-01",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    own: Audits, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "exists.pdf").write_bytes(b"keep")
    (out / "link.xlsx").symlink_to(out / "exists.pdf")
    before = database_of(own.home)
    expanded = [a.format(out=out, home=own.home, complete=own.complete) for a in args]
    usage = "Invalid value" in message or "same file" in message  # click's usage errors: exit 2 after the usage line
    result = audit_cli(own.home, "packet", *expanded, expect=2 if usage else 1)
    lines = result.output.splitlines()
    assert lines[-1].startswith(message.format(out=out, home=own.home)), result.output
    assert usage or len(lines) == 1
    assert (
        sorted(p.name for p in out.iterdir()) == ["exists.pdf", "link.xlsx"]
        and (out / "exists.pdf").read_bytes() == b"keep"
    )
    assert not (own.home / "inside.pdf").exists() and database_of(own.home) == before


def test_appendix_b_names_the_open_audits_that_keep_the_year(incomplete: Response, multi: Response) -> None:
    """Without them it read "No legal hold is in force" alone while CMS was reviewing the year."""
    text = flat(incomplete.text)
    assert "Open audit requests on this practice and year (nothing is purged until each is closed):" in text
    received = (clock.today() - timedelta(days=10)).isoformat()
    assert f"audit request #1 (DVA-2020-17), received {received}, response due " in text
    assert f"audit request #3, received {received}" in text  # both open audits of PY2020
    assert "audit request #2" not in text  # PY2024's is another year
    assert "audit request #2 (=cmd|' /C calc'!A0 </style>[U+202E]DVA" in flat(multi.text)  # inert
