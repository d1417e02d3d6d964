"""The main job, end to end, on the bundled synthetic practice (sample_evidence/)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from evidence.app import App
from evidence.config import resolve_settings
from evidence.errors import StoreError
from evidence.resources import sample_evidence_dir


def run_demo(out: Path, *, echo: Callable[[str], None] = print, sample: Path | None = None) -> App:
    """Build a fresh store under `out/home` from the sample and return it (opened)."""
    sample = sample or sample_evidence_dir()
    home = out / "home"
    if home.exists():
        if not (home / "evidence.sqlite3").exists():
            raise StoreError(f"{home} exists and is not a demo store; choose another --out")
        shutil.rmtree(home)
    app = App(resolve_settings(home, None), actor="demo")
    from evidence.catalog.store import catalog_years

    with app.read() as session:
        years = catalog_years(session)
    echo(f"Store created in {home} (catalog PY{years[0]}-PY{years[-1]} loaded).")
    echo(f"Sample practice: {sample}")
    echo("Not built yet: attestation import, evidence registration, the missing report and the PDF packet.")
    return app
