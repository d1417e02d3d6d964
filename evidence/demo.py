"""The main job, end to end, on the bundled synthetic practice (sample_evidence/)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from evidence.app import App
from evidence.config import DATABASE_FILE, Settings
from evidence.errors import StoreError
from evidence.resources import sample_evidence_dir

SAMPLE_TIN = "000123456"


def fresh_demo_home(out: Path) -> Path:
    """`out/home`, emptied if it is an earlier demo store; refuses to delete anything else."""
    home = out / "home"
    if home.exists():
        if not (home / "evidence.sqlite3").exists():
            raise StoreError(f"{home} exists and is not a demo store; choose another --out")
        shutil.rmtree(home)
    return home


def run_demo(out: Path, *, echo: Callable[[str], None] = print, sample: Path | None = None) -> App:
    """Load the sample into a fresh store under `out/home`, print the missing report, write packets to `out`."""
    from evidence.cli.missing_view import render_missing
    from evidence.importer import import_csv
    from evidence.manifest import read_manifest
    from evidence.missing import missing_report
    from evidence.packet import build_packet, write_packet
    from evidence.registration import register_files

    sample = sample or sample_evidence_dir()
    home = fresh_demo_home(out).absolute()
    # Always the embedded default, whatever EVIDENCE_DATABASE_URL / EVIDENCE_STORE_URL say:
    # the demo must never write sample data into a real store.
    app = App(Settings(home=home, database_url=f"sqlite:///{home / DATABASE_FILE}"), actor="demo")
    echo(f"1. Fresh store in {app.settings.home}")

    with app.write() as session:
        summary = import_csv(session, sample / "practice.csv", actor=app.actor)
    counts = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in summary.created.items())
    echo(f"2. Imported {sample / 'practice.csv'}: {counts}")

    files, problems = read_manifest(sample / "manifest.yaml")
    store = app.blob_store
    outcomes = register_files(app, store, files)
    failed = [o for o in outcomes if o.status == "failed"] + problems
    echo(f"3. Registered {sum(o.status == 'registered' for o in outcomes)} evidence files, {len(failed)} failed")

    echo("4. Missing-documentation report:")
    with app.read() as session:
        report = missing_report(session)
    render_missing(report, "table")

    echo("\n5. Audit packets (PDF, evidence files embedded):")
    for tin, year, npi in sorted({(a.tin, a.year, a.npi) for a in report.activities}, key=lambda k: (k[1], k[2] or "")):
        path = out / (f"packet-{tin}-{year}" + (f"-{npi}" if npi else "") + ".pdf")
        packet = build_packet(app, store, tin, year, npi)
        write_packet(packet, path)
        echo(f"   {path}  ({packet.pages} pages, {packet.attachments} attachments)")
    return app
