"""Guarded outputs: `packet -o/--zip` and `export-qpp -o` never land on the store, a link, a device or a file.

Each refusal is one `Error:` line, exit code 1, and leaves the target (and the store) as it was.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader

from evidence.cli import cli
from evidence.support.outputs import OutputGuard, OutputRefused
from tests.conftest import GENERATED_AT, SAMPLE, sqlite_only

pytestmark = [pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning"), sqlite_only]

TIN = "000123456"


def invoke(home: Path, *args: object, expect: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--home", str(home), "--actor", "tester", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == expect, result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def sample_home(template_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("outputs") / "home"
    shutil.copytree(template_home, home)
    invoke(home, "import", SAMPLE / "practice.csv")
    invoke(home, "register", "--manifest", SAMPLE / "manifest.yaml")
    return home


def packet(home: Path, output: object, *options: object, expect: int = 0) -> Result:
    args = ("packet", "--tin", TIN, "--year", 2020, "--no-attachments", "--generated-at", GENERATED_AT)
    return invoke(home, *args, "-o", output, *options, expect=expect)


def snapshot(home: Path) -> dict[str, str]:
    """Every file under the home with its SHA-256: a refusal changes none of them."""
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def refused(result: Result, *words: str) -> None:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot write "), result.output
    for word in words:
        assert word in lines[0], lines[0]


def a_blob(home: Path) -> Path:
    return next(p for p in (home / "store" / "sha256").rglob("*") if p.is_file())


# --- Refusals -----------------------------------------------------------------------------------------


def test_the_database_file_is_refused(sample_home: Path) -> None:
    before = snapshot(sample_home)
    for name in ("evidence.sqlite3", "evidence.sqlite3-wal", "evidence.sqlite3-shm"):
        refused(packet(sample_home, sample_home / name, "--force", expect=1), "the store's database")
    assert snapshot(sample_home) == before


def test_a_database_outside_the_home_and_its_wal_are_refused(sample_home: Path, tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "records.sqlite3"
    database.parent.mkdir()
    shutil.copy(sample_home / "evidence.sqlite3", database)
    home = tmp_path / "home2"
    shutil.copytree(sample_home, home)
    before = database.read_bytes()
    for target in (database, database.with_name("records.sqlite3-wal")):
        args = ("--db", f"sqlite:///{database}", "packet", "--tin", TIN, "--year", 2020, "-o", target, "--force")
        refused(invoke(home, *args, expect=1), "the store's database")
    assert database.read_bytes() == before
    # and through a symlinked folder that leads to the same file
    link = tmp_path / "via-link"
    link.symlink_to(database.parent)
    args = ("--db", f"sqlite:///{database}", "packet", "--tin", TIN, "--year", 2020, "-o", link / database.name)
    refused(invoke(home, *args, "--force", expect=1), "the store's database")


def test_a_blob_under_the_store_is_refused(sample_home: Path) -> None:
    blob = a_blob(sample_home)
    before = blob.read_bytes()
    refused(packet(sample_home, blob, "--force", expect=1), "inside", "store")
    refused(packet(sample_home, sample_home / "store" / "new.pdf", expect=1), "inside")
    assert blob.read_bytes() == before
    assert not (sample_home / "store" / "new.pdf").exists()


def test_the_home_folder_itself_and_anything_in_it_are_refused(sample_home: Path) -> None:
    refused(packet(sample_home, sample_home, expect=1), "holds the store's records")
    refused(packet(sample_home, sample_home / "p.pdf", expect=1), "inside")
    refused(packet(sample_home, sample_home / "audit-head", "--force", expect=1), "inside")
    assert not (sample_home / "p.pdf").exists()


def test_an_existing_file_is_kept_without_force(sample_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "p.pdf"
    target.write_bytes(b"the only copy of something")
    refused(packet(sample_home, target, expect=1), "the file exists; add --force")
    assert target.read_bytes() == b"the only copy of something"
    zip_target = tmp_path / "p.zip"
    zip_target.write_bytes(b"an older zip")
    refused(packet(sample_home, tmp_path / "new.pdf", "--zip", zip_target, expect=1), "the ZIP", "add --force")
    assert zip_target.read_bytes() == b"an older zip"
    assert not (tmp_path / "new.pdf").exists()  # checked before anything is written


def test_a_symlink_is_refused_even_with_force(sample_home: Path, tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"keep me")
    link = tmp_path / "link.pdf"
    link.symlink_to(precious)
    refused(packet(sample_home, link, "--force", expect=1), "a symbolic link")
    assert link.is_symlink() and precious.read_bytes() == b"keep me"
    dangling = tmp_path / "dangling.pdf"
    dangling.symlink_to(tmp_path / "nowhere.pdf")
    refused(packet(sample_home, dangling, "--force", expect=1), "a symbolic link")
    assert not (tmp_path / "nowhere.pdf").exists()


def test_a_device_is_refused_even_with_force(sample_home: Path) -> None:
    refused(packet(sample_home, "/dev/null", "--force", expect=1), "a device")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    if Path("/dev/stdout").is_symlink():
        refused(packet(sample_home, "/dev/stdout", "--force", expect=1), "a symbolic link")


def test_a_fifo_is_refused_without_blocking(sample_home: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "p.pdf"
    os.mkfifo(fifo)
    refused(packet(sample_home, fifo, "--force", expect=1), "a FIFO")  # no reader: opening it would hang
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_export_qpp_is_guarded_too(sample_home: Path, tmp_path: Path) -> None:
    blob = a_blob(sample_home)
    before = blob.read_bytes()
    export = ("export-qpp", "--tin", TIN, "--year", 2020)
    refused(invoke(sample_home, *export, "-o", blob, "--force", expect=1), "the export", "inside")
    assert blob.read_bytes() == before
    target = tmp_path / "ia.json"
    invoke(sample_home, *export, "-o", target)
    refused(invoke(sample_home, *export, "-o", target, expect=1), "add --force")
    invoke(sample_home, *export, "-o", target, "--force")


def test_zip_and_pdf_cannot_share_a_name(sample_home: Path, tmp_path: Path) -> None:
    result = packet(sample_home, tmp_path / "p.pdf", "--zip", tmp_path / "p.pdf", expect=2)
    assert "--zip and -o name the same file" in result.output
    assert "--zip and -o" in packet(sample_home, "-", "--zip", "-", expect=2).output


def test_a_file_appearing_during_the_write_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = OutputGuard().target(out / "late.pdf", what="the PDF")
    with pytest.raises(OutputRefused, match="add --force"), target.open() as handle:
        handle.write(b"new")
        (out / "late.pdf").write_bytes(b"someone else's")
    assert (out / "late.pdf").read_bytes() == b"someone else's"
    assert [p.name for p in out.iterdir()] == ["late.pdf"]  # no temporary left behind


# --- Writes ----------------------------------------------------------------------------------------------


def test_a_normal_write_reads_back_owner_only(sample_home: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "py2020.pdf"
    result = packet(sample_home, target)
    assert f"wrote {target} (" in result.output
    reader = PdfReader(target)
    assert "000123456" in reader.pages[0].extract_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["py2020.pdf"]


def test_force_replaces_a_regular_file(sample_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "p.pdf"
    target.write_bytes(b"old")
    packet(sample_home, target, "--force")
    assert target.read_bytes().startswith(b"%PDF") and len(PdfReader(target).pages) > 3


def test_dash_writes_the_pdf_to_standard_output(sample_home: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference.pdf"
    packet(sample_home, reference)
    result = packet(sample_home, "-")
    assert result.stdout_bytes == reference.read_bytes()
    assert "wrote standard output (" in result.stderr
    assert len(PdfReader(io.BytesIO(result.stdout_bytes)).pages) == len(PdfReader(reference).pages)
