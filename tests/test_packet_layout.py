"""The packet's layout read back from the real PDF: totals, contents, participants, sizes, hashes,
links to the embedded files, PDF/A-3b and tags (issue #13, case 10)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import IndirectObject
from sqlalchemy import select

from evidence.app import App
from evidence.config import resolve_settings
from evidence.db.models import Activity
from evidence.packet.render import file_size
from evidence.store.blobstore import LocalBlobStore
from tests import factories
from tests.conftest import GENERATED_AT, sqlite_only
from tests.test_packet import evidence_views, invoke, run_packet, sample_home  # noqa: F401 - a fixture

pytestmark = [pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning"), sqlite_only]

TIN = factories.TIN
ACTIVITIES = 16  # enough rows for the score table to run over a page break


def lines(reader: PdfReader, page: int) -> list[str]:
    return [line.strip() for line in reader.pages[page].extract_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def many_activities(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PY2020 group with the 16 longest-titled activities, 3 of 4 clinicians on each, one file about a clinician."""
    home = tmp_path_factory.mktemp("layout") / "home"
    shutil.copytree(template_home, home)
    app = App(resolve_settings(home, None), actor="tester")
    try:
        with app.write() as session:
            rows = session.execute(
                select(Activity.activity_id, Activity.title).where(Activity.performance_year == 2020)
            )
            longest = [activity for activity, _ in sorted(rows, key=lambda row: (-len(row[1]), row[0]))[:ACTIVITIES]]
            practice = factories.practice(session)
            clinicians = factories.clinicians(session, practice, 2020, 4)
            for activity in longest:
                factories.participations(
                    session, factories.attestation(session, practice, activity, 2020), clinicians[:3]
                )
    finally:
        app.close()
    document = home.parent / "tiny.txt"
    document.write_text("25 bytes of minutes, ok.\n")  # 25 bytes
    link = ("--tin", TIN, "--year", 2020, "--activity", longest[0], "--npi", factories.npi_for(0))
    invoke(home, "register", document, *link, "--item", 1, "--effective-date", "2020-05-01")
    return home


@pytest.fixture(scope="module")
def many(many_activities: Path, tmp_path_factory: pytest.TempPathFactory) -> PdfReader:
    output = tmp_path_factory.mktemp("layout-out") / "many.pdf"
    run_packet(many_activities, output, "--generated-at", GENERATED_AT)
    return PdfReader(output)


@pytest.fixture(scope="module")
def sample(sample_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    output = tmp_path_factory.mktemp("layout-sample") / "sample.pdf"
    run_packet(sample_home, output, "--generated-at", GENERATED_AT)
    return output


def test_the_score_total_appears_once_after_the_last_row(many: PdfReader) -> None:
    total = re.compile(r"^Total \d+ claimed \(maximum 40, raw \d+\); \d+ documented, \d+ at risk$")
    pages = [n for n in range(len(many.pages)) if any(total.match(line) for line in lines(many, n))]
    breakdown = next(n for n in range(len(many.pages)) if "Score breakdown" in lines(many, n))
    assert len(pages) == 1, f"the total row is on pages {[n + 1 for n in pages]}"
    assert pages[0] > breakdown  # the table did run over a page break, and the total waited for its end
    last = lines(many, pages[0])
    apm = next(i for i, line in enumerate(last) if line.startswith("APM "))
    assert total.match(next(line for line in last[apm + 1 :] if line.startswith("Total")))


def test_contents_entries_end_with_their_leader_and_page_number(many: PdfReader) -> None:
    contents = lines(many, 1)
    assert contents[0] == "Contents"
    entries = [line for line in contents if re.search(r"\.{3,}\s*\d+$", line)]
    assert len(entries) == 3 + ACTIVITIES  # summary, each activity, two appendices
    for line in entries:
        assert re.sub(r"[.\s\d]", "", line), f"a leader and page number on a line of their own: {line!r}"


def test_participants_show_their_own_evidence(many: PdfReader) -> None:
    about = factories.npi_for(0)
    rows = {}
    for number in range(len(many.pages)):
        for line in lines(many, number):
            match = re.match(r"^(\d{10}) Clinician \d+ .* Yes (\d+)$", line)
            if match:
                rows.setdefault(match[1], set()).add(int(match[2]))
    assert rows[about] == {0, 1}  # 1 where its file is linked, 0 in the other sections
    assert rows[factories.npi_for(1)] == {0}


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (25, "25 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1260, "1.2 KB"), (1048524, "1023.9 KB"),
     (1048575, "1.0 MB"), (3565158, "3.4 MB"), (5 * 1024**3, "5.0 GB")],
)  # fmt: skip
def test_file_size_has_one_style(size: int, text: str) -> None:
    assert file_size(size) == text


def test_sizes_are_one_style_and_never_wrapped(many: PdfReader, sample: Path) -> None:
    for reader in (many, PdfReader(sample)):
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert not re.search(r"\d\s*\n\s*(B|KB|MB|bytes)\b", text)  # "25 / bytes"
        assert not re.search(r"\d bytes\b", text)
    assert "25 B" in "\n".join(page.extract_text() for page in many.pages)
    assert "20.3 KB" in "\n".join(page.extract_text() for page in PdfReader(sample).pages)


def digest_sizes(reader: PdfReader) -> Iterator[float]:
    """The rendered size of every 8-digit hex group (text matrix and graphics scale applied)."""
    found: list[float] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if re.fullmatch(r"[0-9a-f]{8}( [0-9a-f]{8})*", text.strip()):
            found.append(size * abs(tm[3]) * abs(cm[3]))

    for page in reader.pages:
        page.extract_text(visitor_text=visit)
    yield from found


def test_hashes_are_readable_and_broken_in_groups(sample: Path, sample_home: Path) -> None:  # noqa: F811
    reader = PdfReader(sample)
    sizes = list(digest_sizes(reader))
    assert len(sizes) >= 15 and min(sizes) >= 7.5 - 1e-6
    text = "\n".join(page.extract_text() for page in reader.pages)
    for view in evidence_views(sample_home):
        groups = [view.digest[i : i + 8] for i in range(0, 64, 8)]
        assert " ".join(groups) in " ".join(text.split())
    assert not re.search(r"\b(?=[0-9]*[a-f])[0-9a-f]{9,}", text)  # no hash as one unbroken run


def attachment_links(reader: PdfReader) -> dict[str, list[tuple[int, IndirectObject]]]:
    """File name -> (page, file specification) of every file-attachment annotation."""
    found: dict[str, list[tuple[int, IndirectObject]]] = {}
    for number, page in enumerate(reader.pages):
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation["/Subtype"] == "/FileAttachment":
                spec = annotation.raw_get("/FS")
                found.setdefault(spec.get_object()["/UF"], []).append((number, spec))
    return found


def test_every_evidence_row_opens_its_embedded_file(sample: Path, sample_home: Path, tmp_path: Path) -> None:  # noqa: F811
    reader = PdfReader(sample)
    names = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"]
    embedded = {names[i]: names[i + 1] for i in range(0, len(names), 2)}
    links = attachment_links(reader)
    store = LocalBlobStore(resolve_settings(sample_home, None).store_dir)
    manifest_page = next(n for n, page in enumerate(reader.pages) if "Appendix A. Evidence manifest" in page.extract_text()
                         and "Size" in page.extract_text())  # fmt: skip
    for view in evidence_views(sample_home):
        name = f"{view.id}-{view.original_name}"
        pages = sorted({number for number, _ in links[name]})  # a name wrapped over two lines has two areas
        assert len(pages) == 2 and pages[1] == manifest_page  # its section row and its manifest row
        assert {spec.idnum for _, spec in links[name]} == {embedded[name].idnum}  # the one embedded copy
        spec = embedded[name].get_object()
        with store.open(view.digest) as handle:
            assert spec["/EF"]["/F"].get_object().get_data() == handle.read()
        assert spec["/Desc"].startswith(f"SHA-256 {view.digest}")
    light = tmp_path / "light.pdf"
    run_packet(sample_home, light, "--no-attachments", "--generated-at", GENERATED_AT)
    assert attachment_links(PdfReader(light)) == {}


def test_links_to_hostile_file_names_still_open_the_file_and_reproduce(
    sample_home: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    home = tmp_path / "own-home"
    shutil.copytree(sample_home, home)
    hostile = tmp_path / "a\u202etxt.exe #1?.pdf"
    hostile.write_bytes(b"%PDF-1.4 minutes")
    link = ("--tin", TIN, "--year", 2020, "--activity", "IA_PM_7", "--effective-date", "2020-05-01")
    invoke(home, "register", hostile, *link)
    outputs = [tmp_path / "1.pdf", tmp_path / "2.pdf"]
    for output in outputs:
        run_packet(home, output, "--generated-at", GENERATED_AT)
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    reader = PdfReader(outputs[0])
    (name,) = [name for name in attachment_links(reader) if "\u202e" in name]
    assert {spec.get_object()["/EF"]["/F"].get_object().get_data() for _, spec in attachment_links(reader)[name]} == {
        b"%PDF-1.4 minutes"
    }


def test_the_pdf_is_pdfa_3b_and_tagged(sample: Path) -> None:
    reader = PdfReader(sample)
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert reader.xmp_metadata is not None
    tree = root["/StructTreeRoot"].get_object()
    assert tree["/Type"] == "/StructTreeRoot" and tree["/K"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    assert len(root["/AF"]) == len(set(ref.idnum for ref in root["/AF"])) == 5  # each embedded file once
