"""Hostile text: undecodable bytes are refused at the door; control and bidi characters are shown, never obeyed.

A name or description can hold anything a user (or a script, or a file system) hands over: an ESC
sequence that clears the screen, a newline that forges a second output line, a right-to-left override
that makes "\u202etxt.exe" read "exe.txt". The terminal shows them escaped (\\x1b, \\u202e), the PDF as
visible markers ([U+202E]); JSON keeps the exact text. CJK and emoji render in the packet's own fonts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from evidence.cli.output import printable
from evidence.packet.render import inert
from tests.conftest import GENERATED_AT, REPO

TIN = "000123456"
LINK = ("--tin", TIN, "--year", "2020", "--activity", "IA_PM_7")
pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning")

RLO = "\u202e"
ESC_CLEAR = "\x1b[2J\x1b[31m"
# Every kind the terminal must not obey: C0 and C1 controls, DEL, line separators, bidi embeddings,
# overrides, isolates and marks, Arabic letter mark, zero-width no-break space.
HOSTILE = ["\n", "\r", "\x1b", "\x07", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\ufeff"]
HOSTILE += [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)]


def attest(run) -> None:
    run("attest", *LINK[:2], "--activity", "IA_PM_7", "--year", "2020", "--start", "2020-01-01", "--end", "2020-12-31")


@pytest.fixture
def practice(run) -> None:
    run("practice", "add", TIN, "--name", "Riverbend")
    attest(run)


def assert_inert(output: str) -> None:
    """No character of `output` but its own line ends may steer a terminal."""
    for line in output.split("\n"):
        bad = [ch for ch in line if ch in HOSTILE]
        assert not bad, f"raw {bad!r} in {line!r}"


# --- Case 10: undecodable bytes in text options ---------------------------------------------------------

TEXT_OPTIONS = [
    ["practice", "add", TIN, "--name", b"Dr \xff\xfe"],
    ["clinician", "add", "1234567893", "--tin", TIN, "--year", "2020", "--name", b"\xff"],
    ["register", "x.pdf", *LINK, "--description", b"scan \xff"],
    ["withdraw", "1", "--reason", b"\xc3\x28"],  # a broken two-byte sequence
    ["hold", "add", "--tin", TIN, "--reason", b"\xed\xa0\x80"],  # an encoded surrogate: not UTF-8
    ["hold", "release", "1", "--reason", b"\xff"],
    ["catalog", "list", "--subcategory", b"\xff"],
    ["--actor", b"\xff", "practice", "add", TIN, "--name", "ok"],
    ["practice", "add", TIN, "--name", "ok", "--actor", b"\xff"],
    ["practice", "add", b"\xff", "--name", "ok"],
]


def _cli(home: Path, args: list[str | bytes], **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "EVIDENCE_HOME": str(home), "PYTHONPATH": str(REPO), **env}
    argv = [a if isinstance(a, bytes) else a.encode() for a in args]
    return subprocess.run([sys.executable.encode(), b"-m", b"evidence", *argv], capture_output=True, env=environment)


@pytest.mark.parametrize("args", TEXT_OPTIONS, ids=lambda a: " ".join(x for x in a if isinstance(x, str))[:40])
def test_undecodable_bytes_in_a_text_option_are_one_usage_error(home: Path, dump, args: list[str | bytes]) -> None:
    before = dump()
    option = next(args[i - 1] for i, a in enumerate(args) if isinstance(a, bytes))
    result = _cli(home, args)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr and result.stdout == b""
    name = "TIN" if option == "add" else option
    assert f"Error: Invalid value for '{name}': not valid UTF-8 text" in stderr
    assert dump() == before  # nothing written


def test_undecodable_evidence_actor_variable_is_named(home: Path, dump) -> None:
    before = dump()
    result = _cli(home, ["practice", "add", TIN, "--name", "ok"], EVIDENCE_ACTOR="\udcff")
    assert result.returncode == 2
    assert "Error: Invalid value for '--actor'" in result.stderr.decode()
    assert "not valid UTF-8 text" in result.stderr.decode() and "Traceback" not in result.stderr.decode()
    assert dump() == before


def test_valid_utf8_in_every_script_is_kept_exactly(run, practice) -> None:
    name = "诊所 クリニック 의원 🩺 Ærø"
    run("clinician", "add", "1234567893", "--tin", TIN, "--year", "2020", "--name", name)
    listed = json.loads(run("clinician", "list", "--tin", TIN, "--format", "json").output)
    assert [c["name"] for c in listed] == [name]


# --- Case 11: the terminal ------------------------------------------------------------------------------


@pytest.mark.parametrize("ch", HOSTILE, ids=lambda ch: f"U+{ord(ch):04X}")
def test_printable_escapes_every_steering_character(ch: str) -> None:
    shown = printable(f"a{ch}b")
    assert ch not in shown and shown.startswith("a") and shown.endswith("b") and "\\" in shown


def test_printable_keeps_what_is_harmless() -> None:
    for text in ("诊所 クリニック", "의원", "👨\u200d👩\u200d👧", "caf\u00e9\u00a0noir", "\u3000全角"):
        assert printable(text) == text


def hostile_file(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / f"report{ESC_CLEAR}\nforged line {RLO}gpj.exe"
    path.write_bytes(b"%PDF-1.4 hostile\n")
    return path


DESCRIPTION = f"q3\nregistered evidence 99{ESC_CLEAR} {RLO}cod.exe"


def test_register_show_list_missing_withdraw_and_log_never_print_raw_controls(run, practice, tmp_path) -> None:
    path = hostile_file(tmp_path)
    registered = run("register", path, *LINK, "--effective-date", "2020-03-01", "--description", DESCRIPTION)
    assert_inert(registered.output)
    assert "report\\x1b[2J\\x1b[31m\\nforged line \\u202egpj.exe" in registered.output
    assert len(registered.output.splitlines()) == 2  # the file's line and the summary: nothing forged

    shown = run("show", "1").output
    assert_inert(shown)
    assert "description: q3\\nregistered evidence 99\\x1b[2J\\x1b[31m \\u202ecod.exe" in shown
    for command in (["list"], ["missing", "--tin", TIN], ["log"]):
        assert_inert(run(*command).output)
    withdrawn = run("withdraw", "1", "--reason", f"dup\n{RLO}x", "--actor", f"eve{ESC_CLEAR}")
    assert_inert(withdrawn.output) and "dup\\n\\u202ex" in withdrawn.output
    for command in (["show", "1"], ["log"], ["missing", "--tin", TIN]):
        assert_inert(run(*command).output)


def test_practice_and_clinician_names_are_escaped_everywhere(run, tmp_path) -> None:
    name = f"Clinic{ESC_CLEAR}\n{RLO}xyz"
    for output in (
        run("practice", "add", TIN, "--name", name).output,
        run("clinician", "add", "1234567893", "--tin", TIN, "--year", "2020", "--name", name).output,
        run("practice", "list").output,
        run("practice", "show", TIN).output,
        run("clinician", "list", "--tin", TIN).output,
        run("status", "--tin", TIN, "--year", "2020").output,
        run("score", "--tin", TIN, "--year", "2020").output,
        run("log").output,
    ):
        assert_inert(output)


def test_json_keeps_the_exact_text(run, practice, tmp_path) -> None:
    path = hostile_file(tmp_path)
    run("register", path, *LINK, "--effective-date", "2020-03-01", "--description", DESCRIPTION)
    document = json.loads(run("show", "1", "--format", "json").output)
    assert document["original_name"] == path.name and document["description"] == DESCRIPTION
    [row] = json.loads(run("list", "--format", "json").output)
    assert row["name"] == path.name


def test_error_messages_quoting_user_text_stay_one_line(run, practice, tmp_path) -> None:
    path = tmp_path / f"gone{ESC_CLEAR}\n{RLO}.pdf"
    result = run("register", path, *LINK, expect=1)
    assert_inert(result.output)


# --- Case 11: the PDF -----------------------------------------------------------------------------------


def test_inert_filter_shows_markers() -> None:
    assert inert(f"{RLO}gpj.exe") == "[U+202E]gpj.exe"
    assert inert("a\x1b[2Jb\n") == "a[U+001B][2Jb[U+000A]"
    assert inert("诊所 🩺") == "诊所 🩺" and inert(3) == 3


def _packet(run, tmp_path: Path) -> PdfReader:
    output = tmp_path / "packet.pdf"
    run("packet", "--tin", TIN, "--year", "2020", "-o", output, "--generated-at", GENERATED_AT)
    return PdfReader(output)


def _text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def test_packet_shows_bidi_overrides_and_escapes_instead_of_obeying_them(run, tmp_path) -> None:
    run("practice", "add", TIN, "--name", f"Riverbend {RLO}latipsoh")
    attest(run)
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / f"invoice{RLO}txt.exe"
    path.write_bytes(b"%PDF-1.4 x\n")
    description = f"scan\x1b[31m of {RLO}cod.exe"
    run("register", path, *LINK, "--effective-date", "2020-03-01", "--description", description)
    reader = _packet(run, tmp_path)
    names = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"]
    [description] = [str(spec.get_object()["/Desc"]) for spec in names[1::2]]
    assert description.endswith("scan[U+001B][31m of [U+202E]cod.exe")  # the viewer's attachment panel
    text = "".join(_text(reader).split())
    assert "invoice[U+202E]txt.exe" in text
    assert "scan[U+001B][31mof[U+202E]cod.exe" in text
    assert "Riverbend[U+202E]latipsoh" in text
    assert RLO not in text and "\x1b" not in text
    assert "exe.txt" not in text and "hospital" not in text  # the override was not obeyed


def _font_names(reader: PdfReader) -> set[str]:
    names = set()
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            names.add(str(ref.get_object()["/BaseFont"]))
    return names


CJK_NAME = "北京协和诊所 東京クリニック 서울의원"
CJK_FILE = "報告書_진료기록_病历📄.pdf"


def test_packet_renders_chinese_japanese_korean_and_emoji_in_shipped_fonts(run, tmp_path) -> None:
    run("practice", "add", TIN, "--name", f"{CJK_NAME} 😀")
    attest(run)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / CJK_FILE).write_bytes(b"%PDF-1.4 x\n")
    run("register", folder / CJK_FILE, *LINK, "--effective-date", "2020-03-01", "--description", "病历 ✅ 😀")
    reader = _packet(run, tmp_path)
    fonts = _font_names(reader)
    # No system font fills a gap (fonts.conf names only the packet's font folder): the PDF is the
    # same on any machine. Fonts found through fontconfig carry their own family names.
    shipped = ("Packet-", "DejaVu-Sans", "Symbola", "Noto-Sans-CJK")
    assert all(f.partition("+")[2].startswith(shipped) for f in fonts), fonts
    assert any("Packet-CJK" in f for f in fonts), fonts
    assert any("Packet-Emoji" in f or "Symbola" in f for f in fonts), fonts  # the shipped emoji face
    text = "".join(_text(reader).split())
    for word in ("北京协和诊所", "東京クリニック", "서울의원", "報告書_진료기록_病历"):
        assert word in text, word


def _text_outside_the_page(reader: PdfReader) -> list[str]:
    outside: list[str] = []
    for number, page in enumerate(reader.pages, 1):
        box = page.mediabox
        edges = tuple(float(v) for v in (box.left, box.bottom, box.right, box.top))

        def visit(
            text: str,
            cm: list[float],
            tm: list[float],
            _font: object,
            size: float,
            number: int = number,
            edges: tuple[float, ...] = edges,
        ) -> None:
            left, bottom, right, top = edges
            if not text.strip():
                return
            # Where the text starts on the page (text matrix times current matrix), and roughly where it ends.
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            scale = (tm[0] * cm[0]) or 1.0
            width = len(text) * float(size or 1) * abs(scale) * 0.3  # a low bound on the glyphs' advance
            if x < left - 1 or x + width > right + 1 or y < bottom - 1 or y > top + 1:
                outside.append(f"page {number}: {text[:40]!r} at ({x:.0f}, {y:.0f})")

        page.extract_text(visitor_text=visit)
    return outside


def test_long_names_wrap_inside_the_page(run, tmp_path) -> None:
    too_long = " ".join(f"Word{i}" for i in range(250))  # the 250 words: longer than a name may be
    out = run("practice", "add", TIN, "--name", too_long, expect=1).output
    assert out == "Error: practice name has 1,889 characters; at most 300 are kept\n"
    long_name = " ".join(f"Word{i}" for i in range(44))  # 297 characters: about the longest that fits
    run("practice", "add", TIN, "--name", long_name)
    attest(run)
    folder = tmp_path / "in"
    folder.mkdir()
    unbroken = "x" * 240 + ".pdf"  # one name, no space (the file system's limit is 255 bytes)
    (folder / unbroken).write_bytes(b"%PDF-1.4 x\n")
    run("register", folder / unbroken, *LINK, "--effective-date", "2020-03-01", "--description", "y" * 300)
    reader = _packet(run, tmp_path)
    assert _text_outside_the_page(reader) == []
    text = "".join(_text(reader).split())
    assert unbroken in text and "Word43" in text  # wrapped, not cut (the cover and tables have it whole)


def test_catalog_show_escapes_what_an_imported_cms_file_says(run, tmp_path: Path) -> None:
    """import-qpp takes CMS's text as it is; `catalog show` prints it inert (title, each description line)."""
    entry = {
        "category": "ia",
        "measureId": "IA_PM_15",
        "title": f"Episodic care{RLO}gpj.exe",
        "description": f"First line{ESC_CLEAR}\nSecond line{RLO}",
        "subcategoryId": "populationManagement",
        "firstPerformanceYear": 2017,
        "lastPerformanceYear": None,
    }
    qpp = tmp_path / "ia-2027.json"
    qpp.write_text(json.dumps([entry]), encoding="utf-8")
    run("catalog", "import-qpp", qpp, "--year", "2027", "--yes")
    out = run("catalog", "show", "IA_PM_15", "--year", "2027").output
    assert_inert(out)
    assert printable(entry["title"]) in out and "First line\\x1b[2J" in out and "Second line\\u202e" in out
