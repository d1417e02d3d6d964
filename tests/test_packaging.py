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

# The installed wheel's `evidence` inherits the test's environment, and so its database on PostgreSQL.
pytestmark = pytest.mark.postgresql


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
    assert "evidence/rules/data/qpp_submission.schema.json" in names
    assert "evidence/_bundled/sample_evidence/manifest.yaml" in names


def outer_site_packages() -> list[str]:
    """Where this interpreter finds the installed dependencies: a venv's site-packages, or the system's."""
    return [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


def test_installed_wheel_creates_a_store_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """The wheel, installed (not editable) into a venv of its own, works from a folder outside the checkout.

    The dependencies come from the environment running the tests: a .pth file in the child venv adds
    that environment's site-packages after its own (system_site_packages would reach only the base
    interpreter's, never an outer venv's). A .pth line only extends sys.path, so an editable install of
    evidence out there is never activated; the assertions below check the copy in the child venv is used.
    """
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=False, with_pip=False)
    python = env_dir / "bin" / "python"
    inner = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    outer = [p for p in outer_site_packages() if Path(p).resolve() != Path(inner).resolve()]
    assert outer, sys.path
    (Path(inner) / "zz_outer_environment.pth").write_text("\n".join(outer) + "\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
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
