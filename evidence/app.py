"""The open store: settings, engine and sessions, prepared on first use."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from evidence.config import Settings, missing_store_problem, prepare_home, refuse_mistaken_database
from evidence.db.engine import describe_db_error, make_engine, read_session, translated_errors, write_session
from evidence.errors import NotFoundError, StoreError
from evidence.store.restore_journal import RESTORE_JOURNAL
from evidence.support.text import redact_url

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evidence.db.changes import ChangeMarker
    from evidence.store.blobstore import BlobStore
    from evidence.support.outputs import OutputGuard

__all__ = ["App", "default_actor", "describe_db_error"]

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

    # Set by commands that only read (open_existing_only): they never create a home, database or store.
    existing_only = False
    _changes: ChangeMarker  # made on the first change_marker() call

    def open_existing_only(self) -> None:
        """Open only a store that exists: a read command on a missing home or --db file creates nothing."""
        self.existing_only = True

    def reconfigure(self, settings: Settings) -> None:
        """Use other settings; only before first use (options given after the command name)."""
        if "engine" in self.__dict__ or "blob_store" in self.__dict__:
            raise RuntimeError("the store is already open: its settings can no longer change")
        self.settings = settings

    def require_existing_store(self) -> None:
        """NotFoundError, naming where it looked, if there is no home or no database to read."""
        refuse_mistaken_database(self.settings)  # the more telling message first: a lost database, a --db typo
        problem = missing_store_problem(self.settings)
        if problem is not None:
            # A killed restore just undone in a new home leaves no database: say both, in that order.
            raise NotFoundError("; ".join([*self.recovered, problem]))

    @cached_property
    def engine(self) -> Engine:
        """Create the home folder, the schema (Alembic) and the catalog on first use.

        With `existing_only`, nothing is created: a missing home or database is one error.
        """
        self._recover_restore()  # a killed restore is undone or finished before anything opens the database
        if self.existing_only:
            self.require_existing_store()
        else:
            prepare_home(self.settings)
        engine = make_engine(self.settings.database_url)
        try:
            if self._stamp_current(engine):
                return engine
            from evidence.catalog.store import sync_shipped_catalog
            from evidence.db.migrate import ensure_schema

            ensure_schema(engine)
            with write_session(engine) as session:
                self._audit_info(session)
                # A database older than the audit-head mirror is written to by nobody until the
                # officer accepts the rollback; a brand-new one beside an S3 store may be a --db typo.
                synced = not self._behind_head_mirror(session) and sync_shipped_catalog(session, actor=self.actor)
            if synced:
                with read_session(engine) as session:
                    from evidence.retention.audit import write_head_file

                    write_head_file(self.settings.home, session)
        except (OperationalError, DatabaseError) as exc:
            engine.dispose()
            raise StoreError(f"cannot open the database: {describe_db_error(exc)}") from exc
        except BaseException:  # e.g. an unreadable signing key: no engine is cached, so close it here
            engine.dispose()
            raise
        return engine

    def _stamp_current(self, engine: Engine) -> bool:
        """Nothing to migrate or sync: the schema is at head and the shipped catalog is the one last synced.

        One read query (evidence.db.migrate.stamp_matches), no Alembic, no catalog module, no write
        lock; any mismatch takes the full path, which migrates and syncs exactly as before. The signing
        key is still loaded here, so an unreadable key is refused at start-up on both paths.
        """
        from evidence.db.migrate import stamp_matches
        from evidence.db.models import SHIPPED_CATALOG_SETTING
        from evidence.support.resources import shipped_catalog_sha256

        if not stamp_matches(engine, SHIPPED_CATALOG_SETTING, shipped_catalog_sha256()):
            return False
        self.signing_key  # noqa: B018 - loaded (and refused if unreadable) as the full path does
        return True

    recovered: tuple[str, ...] = ()  # what the opening finished or undid of a killed restore (verify shows it)

    def _recover_restore(self) -> None:
        """A restore killed midway is finished or undone before anything opens the database."""
        settings = self.settings
        if settings.sqlite_path is None or settings.store_url is not None:
            return
        try:  # the common case, without importing the restore code (16 ms of every command's start-up)
            os.lstat(settings.home / RESTORE_JOURNAL)
        except FileNotFoundError:
            return
        except OSError:
            pass  # unreadable: recover_restore names the problem
        from evidence.store.restore import recover_restore

        self.recovered = tuple(recover_restore(settings.home, settings.sqlite_path, settings.store_dir))

    def _behind_head_mirror(self, session: Session) -> bool:
        from evidence.db.models import AuditHead
        from evidence.retention.audit import head_mirror_problem

        if head_mirror_problem(session, self.settings.home) is None:
            return False
        # A brand-new database over a local store that holds no file (prepare_home refused the
        # other case) starts its own chain; anything else waits for `verify --accept-rollback`.
        return session.get(AuditHead, 1) is not None or self.settings.store_url is not None

    @property
    def database_label(self) -> str:
        """The database, as messages name it (no password)."""
        path = self.settings.sqlite_path
        return str(path) if path is not None else redact_url(self.settings.database_url)

    def _refuse_unsafe_write(self, session: Session, *, accept_rollback: bool) -> None:
        """No write to a rolled-back database, nor to a database and store that were not made together."""
        from evidence.retention.audit import head_mirror_problem

        problem = None if accept_rollback else head_mirror_problem(session, self.settings.home)
        if problem is not None:
            raise StoreError(
                f"refusing to write: {problem}: see `evidence verify`; if the restore was intended, "
                "`evidence verify --accept-rollback` records it"
            )

    def _check_identity(self) -> None:
        """Before the first write: the store ids agree, or are given (committed on their own)."""
        from evidence.store.identity import ensure_identity

        # The local store is one file away; an S3 store only when this command opened it anyway.
        if self._identity_checked or not (self.settings.store_url is None or "blob_store" in self.__dict__):
            return
        with write_session(self.engine) as session:
            ensure_identity(session, self.blob_store, database=self.database_label)
        self._identity_checked = True

    _identity_checked = False

    @contextmanager
    def write(self, *, accept_rollback: bool = False) -> Iterator[Session]:
        """A writer session: everything in the block is committed together or not at all.

        A library function documented to commit per batch (`register_files`) may commit inside
        the block; each of its transactions takes the writer lock. The audit head is mirrored
        after the block whenever an event was appended, even if a later batch then failed.
        The block is refused (StoreError) while the database is older than the audit-head mirror
        (unless `accept_rollback`), or belongs to another store (evidence.store.identity).
        """
        info: dict[Any, Any] = {}
        try:
            with translated_errors():
                self._check_identity()
            with translated_errors(), write_session(self.engine) as session:
                info = session.info
                self._audit_info(session)
                self._refuse_unsafe_write(session, accept_rollback=accept_rollback)
                yield session
        finally:
            if info.pop("audit_appended", False):
                self._mirror_audit_head()

    def ensure_writable(self) -> None:
        """Refuse now (StoreError) what `write()` would refuse: for a command that records an event
        only after it has handed its output out (a packet, an export), so nothing goes out unrecorded."""
        with self.write():
            pass

    @cached_property
    def signing_key(self) -> Ed25519PrivateKey | None:
        """The configured audit signing key (EVIDENCE_SIGNING_KEY / --signing-key), loaded once."""
        if self.settings.signing_key is None:
            return None
        from evidence.retention.checkpoint import load_private_key

        return load_private_key(self.settings.signing_key)

    def _audit_info(self, session: Session) -> None:
        """What each audit append needs: the key that signs its checkpoint and the home's mirror."""
        from evidence.retention.audit import HOME_INFO, SIGNER_INFO

        session.info[SIGNER_INFO] = self.signing_key
        session.info[HOME_INFO] = self.settings.home

    def _mirror_audit_head(self) -> None:
        from evidence.retention.audit import write_head_file

        try:
            with read_session(self.engine) as session:
                write_head_file(self.settings.home, session)
        except (OSError, SQLAlchemyError):
            pass  # the database chain is the record; the mirror only guards against truncation

    @contextmanager
    def read(self) -> Iterator[Session]:
        with translated_errors(), read_session(self.engine) as session:
            yield session

    def ping(self) -> None:
        """One round trip to the database (a health check): StoreError when it does not answer."""
        from sqlalchemy import literal, select

        with self.read() as session:
            session.execute(select(literal(1))).one()

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

    def output_guard(self) -> OutputGuard:
        """What no output (packet, ZIP, export, backup) may land on: the home, the store, the database files."""
        from evidence.support.outputs import OutputGuard

        settings = self.settings
        return OutputGuard.for_store(settings.home, settings.store_dir, settings.sqlite_path)

    def change_marker(self) -> str | None:
        """A value that differs after any commit to the database by anyone (evidence.db.changes);
        None when the backend gives none. Read it before the reads whose answer it keys."""
        if "_changes" not in self.__dict__:
            from evidence.db.changes import ChangeMarker

            self._changes = ChangeMarker(self.engine)
        return self._changes.current()

    def close(self) -> None:
        if "_changes" in self.__dict__:
            self._changes.close_watcher()
        if "engine" in self.__dict__:
            self.engine.dispose()
