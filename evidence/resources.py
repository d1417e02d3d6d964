"""Where the files that ship with the tool live.

In a wheel (`pip install .`) migrations/, catalog/ and sample_evidence/ are copied into
`evidence/_bundled/`; in a source checkout or an editable install they sit at the top of the
repository. Both layouts are supported so the tool behaves the same either way.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    installed = PACKAGE_DIR / "_bundled" / name
    if installed.exists():
        return installed
    return PACKAGE_DIR.parent / name


def migrations_dir() -> Path:
    return _bundled("migrations")


def catalog_dir() -> Path:
    return _bundled("catalog")


def shipped_catalog_path() -> Path:
    return catalog_dir() / "suggested_documentation.yaml"


def catalog_schema_path() -> Path:
    return catalog_dir() / "suggested_documentation.schema.json"


def sample_evidence_dir() -> Path:
    return _bundled("sample_evidence")


def templates_dir() -> Path:
    return PACKAGE_DIR / "templates"


def assets_dir() -> Path:
    return PACKAGE_DIR / "assets"
