"""`evidence packet`: the audit PDF read back with pypdf (text, outline, attachments), its ZIP, its safety."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader

from evidence.app import App
from evidence.cli import cli
from evidence.config import resolve_settings
from evidence.packet.archive import safe_file_name
from evidence.packet.content import read_packet_content
from evidence.packet.render import AssetRefused, packaged_asset, render_html, render_pdf
from evidence.records.listing import EvidenceView, list_evidence
from evidence.store.blobstore import LocalBlobStore
from tests.conftest import GENERATED_AT, PACKET_TIME, SAMPLE, sqlite_only
from tests.listener import Listener

# Where libharfbuzz-subset is missing WeasyPrint falls back to fontTools (and says so at import).
# The module-scoped fixtures copy a SQLite home; on PostgreSQL, test_postgres.py renders a packet instead.
pytestmark = [
    pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning"),
    sqlite_only,
]

TIN = "000123456"
PY2020_ACTIVITIES = ("IA_PM_7", "IA_CC_9", "IA_BE_6")


def invoke(home: Path, *args: object, expect: int = 0) -> Result:
    """The CLI against an explicit home (module-scoped fixtures cannot use the per-test one)."""
    result = CliRunner().invoke(cli, ["--home", str(home), "--actor", "tester", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == expect, result.output
    return result


def run_packet(home: Path, output: Path, *options: object, tin: str = TIN, year: int = 2020, expect: int = 0) -> Result:
    return invoke(home, "packet", "--tin", tin, "--year", year, "-o", output, *options, expect=expect)


def evidence_views(home: Path, year: int = 2020) -> list[EvidenceView]:
    app = App(resolve_settings(home, None), actor="tester")
    try:
        with app.read() as session:
            return list_evidence(session, tin=TIN, year=year)
    finally:
        app.close()


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def shown(digest: str) -> str:
    """A SHA-256 as the packet prints it: groups of 8 hex digits (a wrap falls between groups)."""
    return " ".join(digest[i : i + 8] for i in range(0, len(digest), 8))


def flat(text: str) -> str:
    return " ".join(text.split())


def outline_titles(reader: PdfReader) -> list[str]:
    def walk(entries: list) -> Iterator[str]:  # type: ignore[type-arg]
        for entry in entries:
            yield from walk(entry) if isinstance(entry, list) else [entry.title]

    return list(walk(reader.outline))


@pytest.fixture(scope="module")
def sample_home(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample practice, imported and registered once for the module (copy it to change it)."""
    home = tmp_path_factory.mktemp("packet") / "home"
    shutil.copytree(template_home, home)
    invoke(home, "import", SAMPLE / "practice.csv")
    invoke(home, "register", "--manifest", SAMPLE / "manifest.yaml")
    return home


@pytest.fixture
def own_home(sample_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "own-home"
    shutil.copytree(sample_home, home)
    return home


@dataclass(frozen=True)
class Rendered:
    pdf: Path
    zip: Path
    output: str


@pytest.fixture(scope="module")
def packet(sample_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    out = tmp_path_factory.mktemp("out")
    pdf, archive = out / "py2020.pdf", out / "py2020.zip"
    result = run_packet(sample_home, pdf, "--zip", archive, "--generated-at", GENERATED_AT)
    return Rendered(pdf, archive, result.output)


@pytest.fixture(scope="module")
def reader(packet: Rendered) -> PdfReader:
    return PdfReader(packet.pdf)


@pytest.fixture(scope="module")
def text(packet: Rendered) -> str:
    return pdf_text(packet.pdf)


def page_of(reader: PdfReader, *needles: str) -> str:
    """The text of the first page holding every needle, with line breaks folded into spaces."""
    for page in reader.pages:
        content = " ".join(page.extract_text().split())
        if all(n in content for n in needles):
            return content
    raise AssertionError(f"no page holds {needles}")


# --- Content ----------------------------------------------------------------------------------------


def test_cli_reports_pages_attachments_and_hash(packet: Rendered, reader: PdfReader) -> None:
    pages = len(reader.pages)
    digest = hashlib.sha256(packet.pdf.read_bytes()).hexdigest()
    assert f"wrote {packet.pdf} ({pages} pages, 5 attachments, SHA-256 {digest})" in packet.output
    # cover, contents, summary, one section per activity, manifest, retention
    assert 8 <= pages <= 14


def test_cover_and_every_page_footer(reader: PdfReader) -> None:
    cover = reader.pages[0].extract_text()
    for expected in (
        "Riverbend Family Medicine (synthetic)",
        TIN,
        "2020",
        "Group",
        f"{PACKET_TIME:%Y-%m-%d %H:%M} UTC",
        "0.1.0",
    ):
        assert expected in cover
    assert "Page 1 of" not in cover  # the cover carries no footer
    total = len(reader.pages)
    for number, page in enumerate(reader.pages[1:], start=2):
        content = page.extract_text()
        assert f"Page {number} of {total}" in content
        assert f"TIN {TIN} · PY2020" in content


def test_every_activity_and_evidence_hash_appears(text: str, sample_home: Path) -> None:
    for activity in PY2020_ACTIVITIES:
        assert activity in text
    views = evidence_views(sample_home)
    assert len(views) == 5
    for view in views:
        assert shown(view.digest) in flat(text)
        assert view.original_name in text


def test_only_group_attestations_of_the_year(text: str) -> None:
    assert "IA_PSPA_20" not in text  # 2019
    assert "IA_PSPA_21" not in text  # 2024, individual


def test_outline_has_every_section(reader: PdfReader) -> None:
    titles = outline_titles(reader)
    assert titles[:3] == ["Cover", "Contents", "Summary"]
    for activity in PY2020_ACTIVITIES:
        assert any(t.startswith(f"{activity}: ") for t in titles), activity
    assert "Appendix A. Evidence manifest" in titles
    assert "Appendix B. Retention and verification" in titles
    # every top-level section starts on a page of its own
    top_level = [entry for entry in reader.outline if not isinstance(entry, list)]
    first_pages = [reader.get_destination_page_number(entry) for entry in top_level]
    assert first_pages == sorted(set(first_pages))


def test_contents_gives_page_numbers(reader: PdfReader) -> None:
    top_level = [entry for entry in reader.outline if not isinstance(entry, list)]
    appendix = next(entry for entry in top_level if entry.title == "Appendix A. Evidence manifest")
    page = reader.get_destination_page_number(appendix) + 1
    line = next(line for line in reader.pages[1].extract_text().splitlines() if "Appendix A" in line)
    assert line.startswith("Appendix A. Evidence manifest ...")
    assert line.replace(" ", "").endswith(f".{page}")  # dot leader, then the page number


def test_summary_has_statuses_score_and_documentation_status(reader: PdfReader) -> None:
    summary = page_of(reader, "Summary", "Documentation status")
    # Raw 60 with IA_CC_9 undocumented: the documented 40 still reach the cap, so nothing is at risk.
    assert "40 of 40 points" in summary and "All claimed points documented" in summary
    assert "Small practice" in summary
    assert "Documentation incomplete" in summary and "Documentation complete" in summary
    assert "Creditable activities: 1 of 3" in summary and summary.count("Not creditable") == 2
    breakdown = page_of(reader, "Score breakdown")
    assert "group requirement not met: 1 of 4 clinicians (25%)" in breakdown


def test_missing_and_out_of_period_items_are_marked(reader: PdfReader) -> None:
    care_plans = page_of(reader, "IA_CC_9", "Suggested documentation")
    assert "Missing: no evidence is registered for this item." in care_plans
    assert "2 of 4 clinicians (50%)" in care_plans and "meets the 50% rule" in care_plans
    experience = page_of(reader, "IA_BE_6", "Suggested documentation")
    assert "After the period (ends 2020-12-31)" in experience
    assert "Outside the attested period" in experience
    assert "below the 50% rule" in experience


def test_manifest_appendix_and_retention(reader: PdfReader, text: str) -> None:
    assert "until December 31, 2026 (2026-12-31)" in text
    manifest = page_of(reader, "Appendix A. Evidence manifest", "SHA-256")
    assert "5 evidence files" in manifest


def test_attachments_are_the_stored_files(reader: PdfReader, sample_home: Path) -> None:
    store = LocalBlobStore(resolve_settings(sample_home, None).store_dir)
    expected = {}
    for view in evidence_views(sample_home):
        with store.open(view.digest) as handle:
            expected[f"{view.id}-{view.original_name}"] = handle.read()
    assert {name: contents[0] for name, contents in reader.attachments.items()} == expected


def test_metadata_dates_come_from_generated_at(reader: PdfReader) -> None:
    info = reader.metadata
    assert info is not None
    assert info["/CreationDate"].startswith(f"D:{PACKET_TIME:%Y%m%d%H%M%S}")
    assert info["/ModDate"].startswith(f"D:{PACKET_TIME:%Y%m%d%H%M%S}")


# --- Files ----------------------------------------------------------------------------------------------


def test_zip_holds_pdf_manifest_and_files(packet: Rendered, text: str, sample_home: Path) -> None:
    with zipfile.ZipFile(packet.zip) as archive:
        names = archive.namelist()
        views = evidence_views(sample_home)
        assert names[:2] == ["py2020.pdf", "manifest.json"]
        assert sorted(names[2:]) == sorted(f"evidence/{v.id}-{v.original_name}" for v in views)
        assert archive.read("py2020.pdf") == packet.pdf.read_bytes()
        manifest_bytes = archive.read("manifest.json")
        manifest = json.loads(manifest_bytes)
        assert shown(hashlib.sha256(manifest_bytes).hexdigest()) in flat(text)  # the cover's manifest hash
        by_id = {row["id"]: row for row in manifest}
        for view in views:
            row = by_id[view.id]
            assert row["sha256"] == view.digest and row["size"] == view.size
            assert hashlib.sha256(archive.read(f"evidence/{view.id}-{view.original_name}")).hexdigest() == view.digest
        assert {info.date_time for info in archive.infolist()} == {PACKET_TIME.timetuple()[:6]}
    assert by_id[8]["links"] == [{"activity": "IA_BE_6", "item": 2, "npi": None}]


def test_outputs_are_owner_only(packet: Rendered) -> None:
    assert packet.pdf.stat().st_mode & 0o777 == 0o600
    assert packet.zip.stat().st_mode & 0o777 == 0o600
    leftovers = [p.name for p in packet.pdf.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_same_records_and_time_give_the_same_bytes(packet: Rendered, sample_home: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.pdf"
    run_packet(sample_home, again, "--generated-at", GENERATED_AT)
    assert again.read_bytes() == packet.pdf.read_bytes()
    light = [tmp_path / "light-1.pdf", tmp_path / "light-2.pdf"]
    for path in light:
        run_packet(sample_home, path, "--no-attachments", "--generated-at", GENERATED_AT)
    assert light[0].read_bytes() == light[1].read_bytes()
    assert PdfReader(light[0]).attachments == {}
    assert "listed only (light copy" in PdfReader(light[0]).pages[0].extract_text()


def test_withdrawn_evidence_never_appears(own_home: Path, tmp_path: Path) -> None:
    plan = next(v for v in evidence_views(own_home) if v.original_name == "care-plan-template.pdf")
    invoke(own_home, "withdraw", plan.id, "--reason", "x")
    output = tmp_path / "after-withdrawal.pdf"
    run_packet(own_home, output, "--generated-at", GENERATED_AT)
    text = pdf_text(output)
    assert plan.original_name not in text and shown(plan.digest) not in flat(text)
    assert "4 evidence files" in text
    assert not any("care-plan-template" in name for name in PdfReader(output).attachments)


def test_individual_packet(sample_home: Path, tmp_path: Path) -> None:
    output = tmp_path / "chen.pdf"
    run_packet(sample_home, output, "--npi", "1234567893", "--no-attachments", year=2024)
    reader = PdfReader(output)
    cover = reader.pages[0].extract_text()
    assert "Individual: NPI 1234567893, Dr. Avery Chen" in cover
    titles = outline_titles(reader)
    assert any(t.startswith("IA_BE_4: ") for t in titles) and any(t.startswith("IA_PSPA_21: ") for t in titles)
    assert "TIN 000123456 · NPI 1234567893 · PY2024" in reader.pages[1].extract_text()


# --- Errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tin", "year", "message"),
    [
        (TIN, 2021, "no attestations for TIN 000123456 (group reporting) in PY2021"),
        (TIN, 2024, "for an individual packet add --npi (1234567893 attested)"),
        ("000999999", 2020, "no practice with TIN 000999999"),
    ],
)
def test_nothing_to_hand_over_is_an_error_and_writes_nothing(
    sample_home: Path, tmp_path: Path, tin: str, year: int, message: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run_packet(sample_home, out / "p.pdf", "--zip", out / "p.zip", tin=tin, year=year, expect=1)
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output
    assert list(out.iterdir()) == []


def test_bad_generated_at_is_a_usage_error(sample_home: Path, tmp_path: Path) -> None:
    result = run_packet(sample_home, tmp_path / "x.pdf", "--generated-at", "soon", expect=2)
    assert "not an ISO 8601 timestamp" in result.output


def test_corrupted_store_file_is_refused_and_no_zip_is_left(own_home: Path, tmp_path: Path) -> None:
    survey = next(v for v in evidence_views(own_home) if v.original_name.endswith(".csv"))
    blob = LocalBlobStore(resolve_settings(own_home, None).store_dir).path_for(survey.digest)
    blob.chmod(0o600)
    blob.write_bytes(b"tampered")
    out = tmp_path / "out"
    out.mkdir()
    output, archive = out / "p.pdf", out / "p.zip"
    result = run_packet(own_home, output, expect=1)
    assert "no longer matches its SHA-256" in result.output
    assert not output.exists()
    result = run_packet(own_home, output, "--no-attachments", "--zip", archive, expect=1)
    assert "no longer matches its SHA-256" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["p.pdf"]  # the ZIP was never renamed into place


# --- Safety -----------------------------------------------------------------------------------------------


def hostile_markup(port: int) -> str:
    return (
        f'<img src="http://127.0.0.1:{port}/img.png">'
        f"<style>body {{ background: url(http://127.0.0.1:{port}/style.png) }}</style>"
        f"<div style=\"background-image: url('http://127.0.0.1:{port}/inline.png')\">x</div>"
        '<img src="file:///etc/passwd"><link rel="stylesheet" href="file:///etc/passwd">'
    )


def test_descriptions_cannot_fetch_anything(own_home: Path, tmp_path: Path) -> None:
    document = tmp_path / "note.txt"
    document.write_text("care plans shared\n")
    with Listener() as listener:
        description = hostile_markup(listener.port)
        link = ("--tin", TIN, "--year", 2020, "--activity", "IA_CC_9", "--item", 2, "--effective-date", "2020-05-01")
        invoke(own_home, "register", document, *link, "--description", description)
        output = tmp_path / "p.pdf"
        run_packet(own_home, output, "--generated-at", GENERATED_AT)
    assert listener.connections == 0
    text = pdf_text(output)
    unwrapped = "".join(text.split())  # long URLs wrap anywhere in the table cell
    assert f'<imgsrc="http://127.0.0.1:{listener.port}/img.png">' in unwrapped  # shown as text, not fetched
    assert "root:x:0:0" not in text


def test_the_url_fetcher_refuses_even_unescaped_markup() -> None:
    with Listener() as listener:
        html = f"<html><body><p>hello</p>{hostile_markup(listener.port)}</body></html>"
        rendered = render_pdf(html, generated_at=datetime(2021, 3, 1, tzinfo=UTC), attachments=[], identifier=b"x")
    assert listener.connections == 0
    text = PdfReader(io.BytesIO(rendered.data)).pages[0].extract_text()
    assert "hello" in text and "root:x:0:0" not in text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "https://example.com/font.ttf",
        "file:///etc/passwd",
        "data:text/css,body{}",
        "ftp://example.com/x",
        "file://otherhost/etc/passwd",
    ],
)
def test_packaged_asset_refuses_foreign_urls(url: str) -> None:
    with pytest.raises(AssetRefused):
        packaged_asset(url)


def test_packaged_asset_refuses_escapes_from_the_assets_folder() -> None:
    from evidence.packet.render import ASSETS_DIR, TEMPLATES_DIR

    fonts = ASSETS_DIR / "fonts"
    for path in (fonts / ".." / ".." / "content.py", fonts / "LICENSE", TEMPLATES_DIR / "packet.html"):
        with pytest.raises(AssetRefused):
            packaged_asset(f"file://{path}")
    body, media_type = packaged_asset((fonts / "DejaVuSans.ttf").as_uri())
    assert media_type == "font/ttf" and body[:4] == b"\x00\x01\x00\x00"
    assert packaged_asset((TEMPLATES_DIR / "packet.css").as_uri())[1] == "text/css"


def test_html_escapes_user_text(sample_home: Path) -> None:
    app = App(resolve_settings(sample_home, None), actor="tester")
    try:
        with app.read() as session:
            content = read_packet_content(session, TIN, 2020, generated_at=PACKET_TIME)
    finally:
        app.close()
    evidence = content.activities[0].items[0].evidence
    first = evidence[0]
    assert first.details is not None  # the packet asks for the details
    evidence[0] = dataclasses.replace(
        first, details=first.details._replace(description='<img src="x">'), name="<b>n</b>.pdf"
    )
    html = render_html(packet=content)
    assert '<img src="x">' not in html and "&lt;img src=&#34;x&#34;&gt;" in html
    assert "&lt;b&gt;n&lt;/b&gt;.pdf" in html


def test_retention_statement_follows_the_store_period_and_holds(own_home: Path, tmp_path: Path) -> None:
    text = " ".join(
        pdf_text(run_packet(own_home, tmp_path / "a.pdf", "--no-attachments") and tmp_path / "a.pdf").split()
    )
    assert "December 31, 2026 (2026-12-31), 6 years from the end" in text
    assert "No legal hold is in force" in text
    invoke(own_home, "retention", "set", "--years", "10")
    invoke(own_home, "hold", "add", "--tin", TIN, "--year", "2020", "--reason", "CMS data validation letter")
    run_packet(own_home, tmp_path / "b.pdf", "--no-attachments")
    text = " ".join(pdf_text(tmp_path / "b.pdf").split())
    assert "December 31, 2030 (2030-12-31), 10 years from the end" in text
    assert "Hold #1 (PY2020)" in text and "CMS data validation letter" in text


@pytest.mark.parametrize(
    ("name", "safe"),
    [("minutes.pdf", "minutes.pdf"), ("../../etc/passwd", "_.._etc_passwd"), (".hidden", "hidden"), ("a\nb", "a_b")],
)
def test_zip_and_attachment_names_cannot_escape_or_hide(name: str, safe: str) -> None:
    assert safe_file_name(name) == safe
