"""A plain, non-editable install carries migrations/, catalog/ and the sample inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("evidence-*.whl"))


def test_wheel_contains_migrations_catalog_templates_and_sample(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "evidence/db/migrations/env.py" in names
    assert any(n.startswith("evidence/db/migrations/versions/0001_") for n in names)
    assert "evidence/catalog/data/suggested_documentation.yaml" in names
    assert "evidence/catalog/data/suggested_documentation.schema.json" in names
    assert "evidence/_bundled/sample_evidence/manifest.yaml" in names


def test_installed_wheel_creates_a_store_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    environment = {**os.environ, "EVIDENCE_HOME": str(tmp_path / "home"), "PYTHONPATH": ""}
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import evidence.support.resources as r; print(r.migrations_dir()); print(r.shipped_catalog_path())",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(str(env_dir) in line for line in where), where
    shown = subprocess.run(
        [str(python), "-m", "evidence", "catalog", "show", "IA_PM_17", "--year", "2020"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "all of these items are needed" in shown.stdout
