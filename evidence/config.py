"""Where the data lives: the home folder, the database URL and the evidence file store."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from evidence.errors import StoreError
from evidence.support.fsutil import make_private_dir, touch_private_file

APP_NAME = "evidence"
HOME_ENV = "EVIDENCE_HOME"
DATABASE_URL_ENV = "EVIDENCE_DATABASE_URL"
STORE_URL_ENV = "EVIDENCE_STORE_URL"
SIGNING_KEY_ENV = "EVIDENCE_SIGNING_KEY"
DATABASE_FILE = "evidence.sqlite3"
STORE_DIR = "store"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    # None: the local folder <home>/store. s3://bucket/prefix: an S3-compatible object store.
    store_url: str | None = None
    # The Ed25519 private key that signs audit checkpoints (kept outside the home folder); None: unsigned.
    signing_key: Path | None = None

    @property
    def store_dir(self) -> Path:
        return self.home / STORE_DIR

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the URL is the embedded default (or any file SQLite URL)."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and self.database_url != "sqlite:///:memory:":
            return Path(self.database_url[len(prefix) :])
        return None


def resolve_settings(
    home: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    store_url: str | None = None,
    signing_key: str | os.PathLike[str] | None = None,
) -> Settings:
    """Command-line values win over environment variables, which win over defaults."""
    home_path = Path(home or os.environ.get(HOME_ENV) or _default_home()).expanduser()
    url = database_url or os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{home_path / DATABASE_FILE}"
    store = store_url or os.environ.get(STORE_URL_ENV) or None
    key = signing_key or os.environ.get(SIGNING_KEY_ENV) or None
    key_path = Path(key).expanduser().absolute() if key else None
    return Settings(home=home_path.absolute(), database_url=url, store_url=store, signing_key=key_path)


def _default_home() -> str:
    from platformdirs import user_config_dir  # imported when needed: 20 ms of every command's start-up

    return user_config_dir(APP_NAME)


def missing_store_problem(settings: Settings) -> str | None:
    """Why a command that only reads has nothing to read (it never creates a home or database), or None."""
    hint = "create one with `evidence init` (or any command that records something)"
    if not settings.home.is_dir():
        return f"no evidence home at {settings.home}: {hint}, or check --home / ${HOME_ENV}; nothing was created"
    path = settings.sqlite_path
    if path is not None and _is_new_sqlite(path):
        state = "is empty" if path.exists() else "does not exist"
        return f"the database {path} {state}: {hint}, or check --db / --home; nothing was created"
    return None


def refuse_mistaken_database(settings: Settings) -> None:
    """StoreError for a database that is lost, or new beside a store that holds files (a --db typo)."""
    _refuse_lost_database(settings)
    _refuse_new_database_beside_files(settings)


def prepare_home(settings: Settings) -> None:
    """Create the home folder and store (0700) and the SQLite file (0600) if missing."""
    refuse_mistaken_database(settings)
    try:
        make_private_dir(settings.home)
        make_private_dir(settings.store_dir, tighten=True)
        if settings.sqlite_path is not None:
            make_private_dir(settings.sqlite_path.parent)
            touch_private_file(settings.sqlite_path)
    except OSError as exc:
        raise StoreError(f"cannot prepare the home folder {settings.home}: {exc.strerror or exc}") from exc


def _refuse_new_database_beside_files(settings: Settings) -> None:
    """A --db that does not exist yet, beside a local store that holds files, is a typo: create nothing.

    (The store id check of evidence.store.identity covers other databases and stores at first write.)
    """
    path = settings.sqlite_path
    if path is None or settings.store_url is not None or not _is_new_sqlite(path):
        return
    if not any(_subdirs(folder) for folder in _subdirs(settings.store_dir / "sha256")):
        return
    id_file = settings.store_dir / "STORE-ID"  # evidence.store.blobstore.STORE_ID_FILE
    with contextlib.suppress(OSError):
        owner = id_file.read_text("ascii", errors="replace").strip()
        if owner:
            raise StoreError(
                f"the database at {path} is empty/new, but the store at {settings.store_dir} belongs to store id "
                f"{owner}: wrong --db? (nothing was created)"
            )
    raise StoreError(
        f"the database at {path} is empty/new, but the store at {settings.store_dir} already holds files: "
        "wrong --db? (nothing was created)"
    )


def _is_new_sqlite(path: Path) -> bool:
    for candidate in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(OSError):
            if candidate.stat().st_size > 0:
                return False
    return True


def _subdirs(folder: Path) -> list[Path]:
    """What a folder holds; nothing if it is no folder or cannot be read (the store check then says more)."""
    try:
        return list(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return []


AUDIT_HEAD_FILE = "audit-head"  # evidence.retention.audit.HEAD_FILE: written after the first commit


def _refuse_lost_database(settings: Settings) -> None:
    """A home whose database file is gone or empty, but which has held records, is not a new store.

    Starting over would silently replace the records (and `verify --repair` would then delete every
    evidence file as an orphan). A database still being created has its pages in the -wal file.
    """
    path = settings.sqlite_path
    head = settings.home / AUDIT_HEAD_FILE
    if path != settings.home / DATABASE_FILE or not head.is_file():
        return
    for candidate in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(OSError):
            if candidate.stat().st_size > 0:
                return
    state = "empty" if path.exists() else "missing"
    raise StoreError(
        f"the database {path} is {state}, but {head.name} shows this store has held records: "
        f"restore the database from a backup (to start a new store instead, move {head.name} away)"
    )
