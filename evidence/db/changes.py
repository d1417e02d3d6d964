"""A marker that changes whenever any connection commits to the database: what a process keys
the answers it keeps (the web app's report cache) on, so nothing it keeps outlives a write.

It is taken from the database itself, not from the audit trail: a few writes are not audited
events (a token's last use, the store identity, a migration), and a marker of the database
also sees writes by other processes, other tools and restores.

- SQLite: `PRAGMA data_version` on one connection kept for that purpose, which never writes.
  SQLite changes the value a connection reads whenever another connection has committed since
  its last read (https://www.sqlite.org/pragma.html#pragma_data_version). The database file's
  identity (device, inode) is part of the marker: a restore that renames a new file into place
  is a change too, and the connection is reopened on the new file.
- PostgreSQL: the current snapshot (`txid_current_snapshot()`, `xmin:xmax:in-progress ids`).
  Two equal snapshots see the same committed data; a commit of a writer removes it from the
  in-progress list and every new writer raises xmax, so any committed write changes the text.
  The snapshot is the cluster's: a commit to another database on the same server changes it
  too, which costs the web app a recomputed page, never a stale one. (A per-database marker
  would need a trigger on every table or the statistics views, which lag commits by up to a
  second: a stale page.)
- Any other backend: None, which means "do not keep anything".
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import Engine, text


class ChangeMarker:
    """`current()` changes after every commit of any connection; read it BEFORE the reads it keys."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._watcher: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None
        self._opened = 0  # watchers opened so far: a new one's data_version restarts, so it is in the marker
        database = engine.url.database
        sqlite_file = engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")
        self._path = database if sqlite_file else None

    def current(self) -> str | None:
        if self._path is not None:
            return self._sqlite(self._path)
        if self._engine.dialect.name == "postgresql":
            with self._engine.connect() as connection:
                return str(connection.execute(text("SELECT txid_current_snapshot()::text")).scalar_one())
        return None

    def _sqlite(self, path: str) -> str | None:
        with self._lock:
            try:
                stat = os.stat(path)
            except OSError:
                return None  # no database file (being restored): keep nothing
            identity = (stat.st_dev, stat.st_ino)
            if self._watcher is None or identity != self._file:
                self.close_watcher()
                # Read-only, so it never takes a lock a writer waits for.
                uri = Path(path).resolve().as_uri() + "?mode=ro"
                self._watcher = sqlite3.connect(uri, uri=True, check_same_thread=False)
                self._file = identity
                self._opened += 1
            try:
                (version,) = self._watcher.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error:
                self.close_watcher()
                return None
            return f"{identity[0]}:{identity[1]}:{self._opened}:{version}"

    def close_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
