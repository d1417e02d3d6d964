"""Security: owner-only files whatever the umask, a packet that fetches nothing, manifests that stay in
their folder, CSV that a spreadsheet cannot execute, and no secret or patient file name where it
was not asked for.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pypdf import PdfReader

from evidence.app import App
from tests.conftest import GENERATED_AT, ON_POSTGRES, REPO, SAMPLE
from tests.listener import Listener
from tests.stores import use_sample_practice

TIN = "000123456"
PATIENT_FILE = "jane-doe-1961-03-14-colonoscopy-consent.pdf"
PASSWORD = "s3cret-Pa55"
pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning")


@pytest.fixture
def sample(app: App) -> None:
    use_sample_practice(app)  # tests/stores.py: a copy of one built once


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def loose_modes(root: Path) -> list[str]:
    """Every folder under `root` must be 0700 and every file 0600."""
    wrong = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        expected = 0o700 if path.is_dir() else 0o600
        if mode != expected:
            wrong.append(f"{path.relative_to(root.parent)}: {mode:o}")
    return wrong


# --- Owner-only, whatever the umask ----------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o002, 0o022])
def test_store_is_owner_only_whatever_the_umask(run, tmp_path: Path, mask: int) -> None:
    home = tmp_path / "new" / "home"  # missing parents are created owner-only too
    out = tmp_path / "out"
    out.mkdir()
    document = tmp_path / "minutes.txt"
    document.write_text("QI meeting minutes\n", encoding="utf-8")
    with umask(mask):
        for args in (
            ("import", SAMPLE / "practice.csv"),
            ("register", "--manifest", SAMPLE / "manifest.yaml"),
            ("register", document, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7"),
            ("withdraw", "13", "--reason", "duplicate"),
            ("hold", "add", "--tin", TIN, "--year", 2024, "--reason", "audit"),
            ("retention", "set", "--years", 7),
            ("purge", "--as-of", "2026-01-01", "--yes"),
            ("packet", "--tin", TIN, "--year", 2020, "-o", out / "p.pdf", "--zip", out / "p.zip",
             "--generated-at", GENERATED_AT),
            ("verify", "--repair"),
            ("log", "verify"),
        ):  # fmt: skip
            run("--home", home, *args)
    assert loose_modes(tmp_path / "new") == []
    assert {p.name for p in home.iterdir()} >= {"store", "audit-head"} | (
        set() if ON_POSTGRES else {"evidence.sqlite3"}
    )
    for output in out.iterdir():
        assert stat.S_IMODE(output.stat().st_mode) == 0o600, output


def test_another_process_with_umask_zero_creates_nothing_readable(run, tmp_path: Path) -> None:
    """The real CLI in a child whose umask is 0: database, WAL, store folders and files stay owner-only."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_") or k == "EVIDENCE_DATABASE_URL"}
    env.update(EVIDENCE_HOME=str(home), EVIDENCE_ACTOR="tester", PYTHONPATH=str(REPO))
    for args in (("import", SAMPLE / "practice.csv"), ("register", "--manifest", SAMPLE / "manifest.yaml")):
        result = subprocess.run(
            [sys.executable, "-m", "evidence", *map(str, args)], env=env, cwd=REPO, capture_output=True, text=True,
            preexec_fn=lambda: os.umask(0), check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert loose_modes(home) == []


# --- The packet fetches nothing outside the package --------------------------------------------------------


def test_packet_fetches_nothing_for_hostile_text(run, sample, tmp_path: Path) -> None:
    from evidence.packet.render import render_pdf

    with Listener() as listener:
        hostile = (
            f'<img src="http://127.0.0.1:{listener.port}/a.png"><link rel="stylesheet" href="file:///etc/passwd">'
            f"<style>@import url(http://127.0.0.1:{listener.port}/b.css); body {{ background: "
            f'url(http://127.0.0.1:{listener.port}/c.png) }}</style><iframe src="file:///etc/hostname"></iframe>'
        )
        named = tmp_path / '<img src="x">.txt'
        named.write_text("care plans shared\n", encoding="utf-8")
        run("register", named, "--tin", TIN, "--year", 2020, "--activity", "IA_CC_9", "--item", 2,
            "--effective-date", "2020-05-01", "--description", hostile)  # fmt: skip
        output = tmp_path / "p.pdf"
        run("packet", "--tin", TIN, "--year", 2020, "-o", output, "--generated-at", GENERATED_AT)
        raw = render_pdf(f"<html><body><p>hello</p>{hostile}</body></html>", generated_at=_moment(),
                         attachments=[], identifier=b"x")  # fmt: skip
    assert listener.connections == 0
    texts = ["\n".join(p.extract_text() for p in PdfReader(output).pages), PdfReader(io.BytesIO(raw.data)).pages[0]
             .extract_text()]  # fmt: skip
    hostname = Path("/etc/hostname").read_text(errors="replace").strip() if Path("/etc/hostname").exists() else ""
    for text in texts:
        assert "root:x:0:0" not in text
        assert not hostname or hostname not in text.replace("\n", "")
    assert "127.0.0.1" in texts[0].replace("\n", "")  # the markup is shown as text, not followed


def _moment():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2021, 3, 1, 12, tzinfo=UTC)


# --- Manifests stay inside their folder ---------------------------------------------------------------------


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A manifest folder with one report, a secret outside it, and links between the two."""
    folder, outside = tmp_path / "evidence", tmp_path / "private"
    (folder / "sub").mkdir(parents=True)
    outside.mkdir()
    report = folder / "report.pdf"
    report.write_bytes(b"%PDF-1.4 the report in the manifest's folder")
    secret = outside / "secret.txt"
    secret.write_text("patient list: nobody should register this\n", encoding="utf-8")
    (folder / "sub" / "inside.txt").write_text("minutes inside\n", encoding="utf-8")
    (folder / "sub" / "alias.pdf").symlink_to(report)  # a link that stays inside
    (folder / "leak.txt").symlink_to(secret)
    (folder / "linked-dir").symlink_to(outside, target_is_directory=True)
    (folder / "loop").symlink_to(folder / "loop")
    return {"folder": folder, "report": report, "secret": secret, "outside": outside}


def manifest(folder: Path, *paths: str) -> Path:
    entries = "".join(f"  - {{path: {json.dumps(p)}, tin: '{TIN}', year: 2020, activity: IA_PM_7}}\n" for p in paths)
    path = folder / "manifest.yaml"
    path.write_text(f"evidence:\n{entries}", encoding="utf-8")
    return path


def stored_digests(home: Path) -> set[str]:
    return {p.name for p in (home / "store" / "sha256").glob("*/*")}


def test_relative_paths_resolve_against_the_manifest_folder(run, sample, home, layout, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "report.pdf").write_bytes(b"%PDF-1.4 a decoy in the working folder")
    monkeypatch.chdir(elsewhere)
    run("register", "--manifest", manifest(layout["folder"], "report.pdf", "./sub/../report.pdf"))
    expected = hashlib.sha256(layout["report"].read_bytes()).hexdigest()
    listed = json.loads(run("list", "--activity", "IA_PM_7", "--year", "2020", "--format", "json").output)
    assert expected in {e["sha256"] for e in listed}
    assert hashlib.sha256((elsewhere / "report.pdf").read_bytes()).hexdigest() not in stored_digests(home)


OUTSIDE = {
    "parent folder": ("../private/secret.txt", [], "is outside the manifest's folder (use --allow-outside)"),
    "absolute path": ("{secret}", [], "is outside the manifest's folder (use --allow-outside)"),
    "climbing through a subfolder": ("sub/../../private/secret.txt", [], "is outside the manifest's folder"),
    "a linked folder": ("linked-dir/secret.txt", [], "leads outside the manifest's folder (use --allow-outside)"),
    "a linked folder, following links": ("linked-dir/secret.txt", ["--follow-symlinks"], "leads outside"),
    "a link, not followed": ("leak.txt", [], "is a symbolic link (use --follow-symlinks"),
    "a link, followed": ("leak.txt", ["--follow-symlinks"], "leads outside the manifest's folder through a symbolic"),
    "the folder holding a link": (".", ["--follow-symlinks"], "leads outside the manifest's folder through a symbolic"),
}


@pytest.mark.parametrize("case", sorted(OUTSIDE))
def test_a_manifest_cannot_reach_outside_its_folder(run, sample, home, layout, case: str) -> None:
    raw, options, expected = OUTSIDE[case]
    path = manifest(layout["folder"], raw.format(secret=layout["secret"]))
    result = run("register", "--manifest", path, *options, expect=1)
    assert expected in result.output and "Traceback" not in result.output
    assert hashlib.sha256(layout["secret"].read_bytes()).hexdigest() not in stored_digests(home)


@pytest.mark.parametrize("raw", ["../private/secret.txt", "linked-dir/secret.txt", "leak.txt"])
def test_allow_outside_lets_the_user_reach_out(run, sample, home, layout, raw: str) -> None:
    run("register", "--manifest", manifest(layout["folder"], raw), "--allow-outside", "--follow-symlinks")
    assert hashlib.sha256(layout["secret"].read_bytes()).hexdigest() in stored_digests(home)


def test_links_that_stay_inside_are_followed(run, sample, home, layout) -> None:
    out = run("register", "--manifest", manifest(layout["folder"], "sub"), "--follow-symlinks").output
    assert "2 registered, 0 already present, 0 failed" in out  # sub/inside.txt and sub/alias.pdf
    result = run("register", "--manifest", manifest(layout["folder"], "loop"), "--follow-symlinks", expect=1)
    assert "Too many levels of symbolic links" in result.output


# --- CSV exports cannot be run as spreadsheet formulas -----------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
HIDDEN = 'minutes\r=HYPERLINK("http://x")'  # a formula after a bare carriage return: a new row to a spreadsheet


def test_every_csv_export_escapes_formulas(run, tmp_path: Path) -> None:
    rows = ["record,tin,npi,name,year,activity,start,end",
            f'practice,000987654,,"{FORMULAS[0].replace(chr(34), chr(34) * 2)}",,,,',
            "clinician,000987654,1234567893,+1+1 Dr,2020,,,",
            "attestation,000987654,,,2020,IA_PM_7,2020-01-01,2020-12-31"]  # fmt: skip
    practice_csv = tmp_path / "p.csv"
    practice_csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run("import", practice_csv)
    folder = tmp_path / "files"
    folder.mkdir()
    for n, formula in enumerate(FORMULAS):
        name = f"{formula.strip()}{n}.txt".replace("/", "_").replace('"', "")
        (folder / name).write_text(f"file {n}\n", encoding="utf-8")
        run("register", folder / name, "--tin", "000987654", "--year", 2020, "--activity", "IA_PM_7",
            "--description", formula)  # fmt: skip
    (folder / "hidden.txt").write_text("hidden\n", encoding="utf-8")
    run("register", folder / "hidden.txt", "--tin", "000987654", "--year", 2020, "--activity", "IA_PM_7",
        "--description", HIDDEN)  # fmt: skip
    run("withdraw", "1", "--reason", "-1+1 mistaken")
    run("hold", "add", "--tin", "000987654", "--reason", "@audit letter")
    exports = [("list",), ("practice", "list"), ("clinician", "list", "--tin", "000987654"), ("hold", "list"),
               ("log",), ("missing",), ("catalog", "list", "--year", "2020")]  # fmt: skip
    dangerous = 0
    for args in exports:
        text = run(*args, "--format", "csv").output
        for row in csv.reader(io.StringIO(text, newline="")):  # as a spreadsheet reads it: a bare \r ends a row
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (args, cell)
                dangerous += cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@", "\t", "\r")
    assert dangerous >= len(FORMULAS) * 2  # names and descriptions were there, escaped


# --- No secret, password or patient file name where it was not asked for ------------------------------------------

DB_URL = f"postgresql+psycopg://clinic:{PASSWORD}@127.0.0.1:9/evidence"
COMMANDS = [("db", "current"), ("db", "upgrade"), ("list",), ("verify",), ("log", "verify"), ("log",),
            ("import", SAMPLE / "practice.csv"), ("register", "--manifest", SAMPLE / "manifest.yaml"),
            ("purge",), ("catalog", "list", "--year", "2020"), ("packet", "--tin", TIN, "--year", "2020", "-o", "x.pdf")]  # fmt: skip
BAD_URLS = [DB_URL, f"postgresql+psycopg://clinic:{PASSWORD}@127.0.0.1:notaport/evidence",
            f"postgresql+psycopg://clinic:{PASSWORD}@[::1/evidence", f"mysql://clinic:{PASSWORD}@127.0.0.1:9/evidence",
            f"postgresql+nosuchdriver://clinic:{PASSWORD}@127.0.0.1:9/evidence"]  # fmt: skip


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("how", ["option", "environment"])
def test_database_password_is_never_printed(run, monkeypatch, tmp_path: Path, url: str, how: str) -> None:
    monkeypatch.chdir(tmp_path)
    if how == "environment":
        monkeypatch.setenv("EVIDENCE_DATABASE_URL", url)
    for args in COMMANDS:
        result = run(*(("--db", url) if how == "option" else ()), *args, expect=1)
        assert PASSWORD not in result.output, (args, result.output)
        assert result.output.startswith("Error: ") and "Traceback" not in result.output


def test_database_password_never_reaches_a_real_process_output(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    env.update(EVIDENCE_HOME=str(tmp_path / "home"), EVIDENCE_DATABASE_URL=DB_URL, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "evidence", "db", "current"], env=env, cwd=REPO,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 1 and "Error: cannot open the database" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_store_url_credentials_are_never_printed(run) -> None:
    result = run("--store", f"ftp://clinic:{PASSWORD}@files.example/evidence", "verify", expect=1)
    assert "unsupported store URL 'ftp://clinic:***@files.example/evidence'" in result.output
    assert PASSWORD not in result.output


NOT_LISTING_EVIDENCE = [("log",), ("log", "--format", "json"), ("log", "--format", "csv"), ("log", "verify"),
                        ("verify",), ("verify", "--repair"), ("purge", "--as-of", "2026-01-01"),
                        ("hold", "add", "--tin", TIN, "--year", "2020", "--reason", "audit"), ("hold", "list"),
                        ("retention", "show"), ("status", "--tin", TIN, "--year", "2020"),
                        ("score", "--tin", TIN, "--year", "2020"), ("export-qpp", "--tin", TIN, "--year", "2020"),
                        ("practice", "show", TIN), ("clinician", "list", "--tin", TIN), ("db", "current"),
                        ("withdraw", "13", "--reason", "scanned twice"), ("log",),
                        ("purge", "--as-of", "2026-01-01", "--yes"), ("log", "--format", "json")]  # fmt: skip


@pytest.mark.usefixtures("wide")  # the long file name stays on one line of the listing
def test_patient_file_names_appear_only_where_evidence_is_listed(run, sample, home: Path, tmp_path: Path) -> None:
    consent = tmp_path / PATIENT_FILE
    consent.write_bytes(b"%PDF-1.4 signed consent")
    second = tmp_path / "second-copy" / PATIENT_FILE
    second.parent.mkdir()
    second.write_bytes(b"%PDF-1.4 signed consent, scanned again")
    for path in (consent, second):
        run("register", path, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7", "--npi", "1234567893")
    names = [PATIENT_FILE, "qcdr-feedback-report-2019-q2.pdf", "care-plan-template.pdf"]
    for args in NOT_LISTING_EVIDENCE:
        output = run(*args, expect=None).output
        assert "Traceback" not in output
        if args[0] != "withdraw":  # withdraw names the evidence it was asked to withdraw
            assert not [n for n in names if n in output], (args, output)
    for event in json.loads(run("log", "--format", "json").output):  # the audit trail outlives every purge
        assert not [n for n in names[:1] if n in json.dumps(event)], event
    # where the user asks for evidence, it is there
    assert PATIENT_FILE in run("list").output and PATIENT_FILE in run("show", "13").output
    assert PATIENT_FILE in run("missing", "--tin", TIN, "--year", "2020").output


def test_no_secret_from_the_environment_reaches_the_audit_trail(run, home: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", PASSWORD)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    outputs = [run("import", SAMPLE / "practice.csv").output, run("register", "--manifest", SAMPLE / "manifest.yaml")
               .output, run("retention", "set", "--years", "8").output, run("log", "--format", "json").output,
               run("db", "current").output]  # fmt: skip
    assert not [o for o in outputs if PASSWORD in o]
    for path in home.rglob("*"):
        if path.is_file() and path.parent.name != "sha256" and path.parent.parent.name != "sha256":
            assert PASSWORD.encode() not in path.read_bytes(), path
