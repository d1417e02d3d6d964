"""The open store: settings, engine and sessions, prepared on first use."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session

from evidence.config import Settings, prepare_home
from evidence.db.engine import make_engine, read_session, write_session
from evidence.errors import StoreError
from evidence.support.text import redact_url

if TYPE_CHECKING:
    from evidence.store.blobstore import BlobStore

ACTOR_ENV = "EVIDENCE_ACTOR"


def default_actor() -> str:
    """Who is acting: --actor, else $EVIDENCE_ACTOR, else the operating-system user."""
    try:
        return os.environ.get(ACTOR_ENV) or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid:{os.getuid()}"


class App:
    def __init__(self, settings: Settings, actor: str | None = None):
        self.settings = settings
        self.actor = actor or default_actor()

    def reconfigure(self, settings: Settings) -> None:
        """Use other settings; only before first use (options given after the command name)."""
        if "engine" in self.__dict__ or "blob_store" in self.__dict__:
            raise RuntimeError("the store is already open: its settings can no longer change")
        self.settings = settings

    @cached_property
    def engine(self) -> Engine:
        """Create the home folder, the schema (Alembic) and the catalog on first use."""
        from evidence.catalog.store import sync_shipped_catalog
        from evidence.db.migrate import ensure_schema

        prepare_home(self.settings)
        engine = make_engine(self.settings.database_url)
        try:
            ensure_schema(engine)
            with write_session(engine) as session:
                synced = sync_shipped_catalog(session, actor=self.actor)
            if synced:
                with read_session(engine) as session:
                    from evidence.retention.audit import write_head_file

                    write_head_file(self.settings.home, session)
        except (OperationalError, DatabaseError) as exc:
            engine.dispose()
            raise StoreError(f"cannot open the database: {describe_db_error(exc)}") from exc
        return engine

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: everything in the block is committed together or not at all."""
        with _translated(), write_session(self.engine) as session:
            yield session
            appended = session.info.pop("audit_appended", False)
        if appended:
            self._mirror_audit_head()

    def _mirror_audit_head(self) -> None:
        from evidence.retention.audit import write_head_file

        try:
            with read_session(self.engine) as session:
                write_head_file(self.settings.home, session)
        except OSError:
            pass  # the database chain is the record; the mirror only guards against truncation

    @contextmanager
    def read(self) -> Iterator[Session]:
        with _translated(), read_session(self.engine) as session:
            yield session

    @cached_property
    def blob_store(self) -> BlobStore:
        """The evidence file store: the local folder by default, or EVIDENCE_STORE_URL."""
        self.engine  # noqa: B018 - the home folder exists before the store is used
        url = self.settings.store_url
        if url is None:
            from evidence.store.blobstore import LocalBlobStore

            return LocalBlobStore(self.settings.store_dir)
        if url.startswith("s3://"):
            from evidence.store.s3 import S3BlobStore

            return S3BlobStore.from_url(url, work_dir=self.settings.home / "s3-work")
        raise StoreError(
            f"unsupported store URL {redact_url(url)!r}: use s3://bucket/prefix, or leave it unset for the local folder"
        )

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def describe_db_error(exc: Exception) -> str:
    original = getattr(exc, "orig", None)
    text = str(original or exc).splitlines()[0]
    if "file is not a database" in text or "malformed" in text:
        return f"{text} (the database file is damaged or not a SQLite database)"
    return text


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:  # OperationalError, and a damaged page met mid-command
        raise StoreError(f"database error: {describe_db_error(exc)}") from exc
    except OverflowError as exc:  # SQLite cannot bind an integer beyond 64 bits
        raise StoreError(f"a number is too large for the database ({exc})") from exc
