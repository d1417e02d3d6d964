"""One engine factory for every backend, and sessions that write safely under concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.orm import Session

from evidence.errors import StoreError
from evidence.support.text import redact_url

# How long a writer waits for another process's write lock before giving up (SQLite).
SQLITE_BUSY_TIMEOUT_MS = 60_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreError(f"cannot use database URL {redact_url(url)}: {exc}") from exc
    except ValueError as exc:  # a malformed part, such as a port that is not a number
        raise StoreError(f"cannot use database URL {redact_url(url)}: malformed URL") from exc
    except ImportError as exc:  # the dialect is known but its driver is not installed
        raise StoreError(f"cannot use database URL {redact_url(url)}: driver not installed ({exc})") from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _configure_postgresql(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL journal, durable commits, and BEGIN IMMEDIATE for writers.

    pysqlite's own transaction handling starts transactions lazily and late; we take it over
    (the SQLAlchemy-documented recipe) so that a write transaction takes the write lock at
    BEGIN. Two writers then queue on busy_timeout instead of deadlocking on a lock upgrade,
    which is what surfaces as "database is locked".
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("evidence_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# Any fixed number; every writer of every process takes the same transaction-level lock.
WRITER_LOCK_KEY = 7_344_212


def _configure_postgresql(engine: Engine) -> None:
    """One writer at a time, as on SQLite: a transaction-level advisory lock at BEGIN.

    Writes are short (a batch of registrations, a purge), so serialising them costs little
    and rules out every write-write race: two processes storing the same new file, the
    audit chain's previous hash read by two appenders, deadlocks between batches. Readers
    are never blocked. The lock is released by COMMIT or ROLLBACK, even if the process dies.
    """

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("evidence_write", False):
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back entirely on any error.

    Work that needs several transactions (bulk registration, batch by batch) may call
    `session.commit()` inside the block: the next statement begins a new transaction, which
    takes the writer lock again (the "begin" events above), and the block's end commits the last.
    """
    writer = engine.execution_options(evidence_write=True)
    with Session(bind=writer, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(bind=engine, expire_on_commit=False) as session:
        yield session


def describe_db_error(exc: Exception) -> str:
    original = getattr(exc, "orig", None)
    text = str(original or exc).splitlines()[0]
    if "file is not a database" in text or "malformed" in text:
        return f"{text} (the database file is damaged or not a SQLite database)"
    return text


@contextmanager
def translated_errors() -> Iterator[None]:
    """Database failures as StoreError, so that they are reported like every other refusal."""
    try:
        yield
    except DatabaseError as exc:  # OperationalError, and a damaged page met mid-command
        raise StoreError(f"database error: {describe_db_error(exc)}") from exc
    except OverflowError as exc:  # SQLite cannot bind an integer beyond 64 bits
        raise StoreError(f"a number is too large for the database ({exc})") from exc
