"""The main job, end to end, on the bundled synthetic practice (sample_evidence/)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from evidence.app import App
from evidence.config import DATABASE_FILE, Settings
from evidence.errors import StoreError
from evidence.support.resources import sample_evidence_dir
from evidence.support.text import plural

if TYPE_CHECKING:
    from evidence.records.missing import MissingReport


def fresh_demo_home(out: Path) -> Path:
    """`out/home`, emptied if it is an earlier demo store; refuses to delete anything else."""
    home = out / "home"
    if home.exists():
        if not (home / "evidence.sqlite3").exists():
            raise StoreError(f"{home} exists and is not a demo store; choose another --out")
        shutil.rmtree(home)
    return home


def run_demo(
    out: Path,
    *,
    show_report: Callable[[MissingReport], None],
    echo: Callable[[str], None] = print,
    sample: Path | None = None,
) -> App:
    """Load the sample into a fresh store under `out/home`, show the missing report, write packets to `out`.

    The caller shows the report (the CLI prints its table), so the library never formats for a terminal.
    """
    from evidence.packet.content import WrittenOutput, build_packet, record_packet, write_packet
    from evidence.records.importer import import_csv
    from evidence.records.manifest import read_manifest
    from evidence.records.missing import missing_report
    from evidence.store.registration import OutcomeStatus, register_files

    sample = sample or sample_evidence_dir()
    home = fresh_demo_home(out).absolute()
    # Always the embedded default, whatever EVIDENCE_DATABASE_URL / EVIDENCE_STORE_URL say:
    # the demo must never write sample data into a real store.
    app = App(Settings(home=home, database_url=f"sqlite:///{home / DATABASE_FILE}"), actor="demo")
    echo(f"1. Fresh store in {app.settings.home}")

    with app.write() as session:
        summary = import_csv(session, sample / "practice.csv", actor=app.actor)
    counts = ", ".join(plural(n, kind) for kind, n in summary.created.items())
    echo(f"2. Imported {sample / 'practice.csv'}: {counts}")

    files, problems = read_manifest(sample / "manifest.yaml")
    store = app.blob_store
    with app.write() as session:
        outcomes = register_files(session, store, files, actor=app.actor)
    failed = [o for o in outcomes if o.status is OutcomeStatus.FAILED] + problems
    registered = sum(o.status is OutcomeStatus.REGISTERED for o in outcomes)
    echo(f"3. Registered {plural(registered, 'evidence file')}, {len(failed)} failed")

    echo("4. Missing-documentation report:")
    with app.read() as session:
        report = missing_report(session)
    show_report(report)

    echo("\n5. Audit packets (PDF, evidence files embedded):")
    for tin, year, npi in sorted({(a.tin, a.year, a.npi) for a in report.activities}, key=lambda k: (k[1], k[2] or "")):
        path = out / (f"packet-{tin}-{year}" + (f"-{npi}" if npi else "") + ".pdf")
        with app.read() as session:
            packet = build_packet(session, store, tin, year, npi)
        write_packet(packet, path)
        with app.write() as session:
            record_packet(session, packet, [WrittenOutput("pdf", str(path), packet.sha256, len(packet.pdf))],
                          actor=app.actor)  # fmt: skip
        echo(f"   {path}  ({plural(packet.pages, 'page')}, {plural(packet.attachments, 'attachment')})")
    return app
