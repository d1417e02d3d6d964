"""Where the files that ship with the tool live.

Migrations, the catalog, the packet templates and fonts live inside the package, so a source
checkout, an editable install and a wheel find them in the same place. Only the sample
practice sits at the top of the repository (users open it there); a wheel copies it into
`evidence/_bundled/`.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def migrations_dir() -> Path:
    return PACKAGE_DIR / "db" / "migrations"


def catalog_dir() -> Path:
    return PACKAGE_DIR / "catalog" / "data"


def shipped_catalog_path() -> Path:
    return catalog_dir() / "suggested_documentation.yaml"


def shipped_catalog_sha256() -> str:
    """The fingerprint of the shipped catalog, recorded at each sync (checked at every start-up)."""
    import hashlib

    return hashlib.sha256(shipped_catalog_path().read_bytes()).hexdigest()


def catalog_schema_path() -> Path:
    return catalog_dir() / "suggested_documentation.schema.json"


def sample_evidence_dir() -> Path:
    installed = PACKAGE_DIR / "_bundled" / "sample_evidence"
    return installed if installed.exists() else PACKAGE_DIR.parent / "sample_evidence"
