"""`evidence restore`: put a backup in place so that a SIGKILL at any moment leaves a whole store.

The steps, each safe to be killed after (docs/OPERATIONS.md, docs/RELIABILITY.md):

1. The backup is verified (every SHA-256 of its manifest); nothing is written before.
2. `<home>/restore-in-progress` is written: this process, the temporary and aside names. Other
   commands refuse while the process lives; after a kill the next command finishes or undoes
   what it names (`recover_restore`, run by `App.engine` before the database is opened).
3. The live database is made one self-contained file (`journal_mode=DELETE`: its WAL is
   checkpointed and gone) and locked exclusively, so the check against the backup's chain and the
   switch see the same database and no command writes in between.
4. The backup's files the store lacks are copied in, each with an intent marker (as a
   registration's); a damaged file is first linked aside, then replaced atomically.
5. The backup's database is copied to a temporary name beside the live one, migrated, and the
   restore event is appended to its chain there; fsynced. The journal learns its head.
6. The live database gets a second name, `<name>.before-restore-<stamp>` (a hard link, never
   removed), then the temporary is renamed over the live name (`os.replace`, folder fsynced).
7. The audit-head mirror, the markers, the store id and the journal follow.

Killed before 6, the old database is live: recovery removes the temporary, the files the restore
copied in that the live database does not name (the backup still holds them) and the journal.
After 6, the restored database is live and names no file the store lacks: recovery does 7.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from evidence.db.engine import make_engine, read_session, write_session
from evidence.db.migrate import ensure_schema
from evidence.errors import InputError, StoreError
from evidence.retention.audit import (
    GENESIS,
    HOME_INFO,
    SIGNER_INFO,
    STORE_ID_SETTING,
    DamagedHeadFile,
    read_head_file,
    record,
    write_head_file,
)
from evidence.store.backup import (
    ALGORITHM,
    PGDUMP_FILE,
    SQLITE_FILE,
    BackupManifest,
    blob_path,
    fsync_file,
    read_backup,
)
from evidence.store.blobstore import LocalBlobStore, sha256_of_file
from evidence.store.restore_journal import RESTORE_JOURNAL
from evidence.support.fsutil import PRIVATE_FILE_MODE, atomic_write_bytes, fsync_dir, make_private_dir
from evidence.support.text import plural

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

JOURNAL = RESTORE_JOURNAL
_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class RestoreResult:
    manifest: BackupManifest
    restored_files: int  # copied into the store
    present_files: int  # already there, intact
    kept_newer: list[str]  # in the store but not in the restored database: kept, never deleted
    moved_aside: list[Path]  # the replaced database (a second name) and damaged store files, kept
    replaced_events: int | None  # events of the database that was replaced, if any
    replaced_head: str | None


@dataclass
class _Journal:
    pid: int
    source: str
    stamp: str
    temporary: str
    aside: str
    head: list[Any] | None = None  # [events, hash] of the prepared database, once it is complete

    def write(self, home: Path) -> None:
        atomic_write_bytes(home / JOURNAL, json.dumps(asdict(self), indent=1).encode() + b"\n")


def restore_home(
    src: Path,
    *,
    home: Path,
    database: Path | None,
    store_dir: Path,
    store_url: str | None,
    replace_newer: bool,
    actor: str,
    signer: Ed25519PrivateKey | None,
    now: datetime,
) -> RestoreResult:
    """Restore the backup `src` into the home's SQLite database and local store, and record it.

    Nothing that was there is deleted: the replaced database keeps a second name beside the live
    one, store files the backup lacks are kept and listed. A current database with more audit
    events than the backup, or another chain, is refused unless `replace_newer`.
    """
    if database is None:
        raise InputError(
            "restore writes the embedded SQLite database; a PostgreSQL database is restored with pg_restore "
            "into a new, empty database (docs/OPERATIONS.md, Restore on PostgreSQL)"
        )
    if store_url is not None:
        raise InputError("restore fills the local store folder; for an S3 store restore the bucket's versions")
    manifest = read_backup(src)
    if manifest.database_file != SQLITE_FILE:
        raise InputError(
            f"{src}: a PostgreSQL backup ({PGDUMP_FILE}) is restored with pg_restore into a new, empty database "
            "(docs/OPERATIONS.md, Restore on PostgreSQL)"
        )
    recover_restore(home, database, store_dir)
    for folder in (home, database.parent):
        make_private_dir(folder)
    make_private_dir(store_dir, tighten=True)
    store = LocalBlobStore(store_dir)
    backup_id = _setting(Path(src) / SQLITE_FILE, STORE_ID_SETTING)
    store_id = store.read_store_id()
    if backup_id is not None and store_id is not None and backup_id != store_id:
        raise InputError(
            f"{src} is a backup of store {backup_id}, but the store at {store_dir} is store {store_id}: "
            "restore it into a new home (--home NEW)"
        )
    current = _read_current(database)  # refused before anything is written, the database untouched
    if current is not None and not replace_newer:
        _refuse_newer(database, manifest, current)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    journal = _Journal(
        os.getpid(),
        str(src),
        stamp,
        str(database.with_name(f".{database.name}.restore-{os.getpid()}.part")),
        str(database.with_name(f"{database.name}.before-restore-{stamp}")),
    )
    journal.write(home)
    switched = False
    try:
        with store.writing(), _exclusive(database) as live:
            if (None if live is None else _current_chain(live, database)) != current:
                raise StoreError(f"{database} changed while restore was starting: run restore again")
            restored, present, damaged = _restore_files(manifest, store, home / f"before-restore-{stamp}")
            aside = Path(journal.aside)
            moved = ([aside] if live is not None else []) + damaged
            kept = sorted(set(store.digests()) - set(manifest.files) - _named(Path(src) / SQLITE_FILE))
            details = {
                "backup": str(src),
                "backup_created_at": manifest.created_at,
                "backup_events": manifest.events,
                "backup_head": manifest.head,
                "replaced_events": None if current is None else current[0],
                "replaced_head": None if current is None else current[1],
                "moved_aside": [str(p) for p in moved],
                "kept_newer_files": kept,
                "replaced_mirror": _mirror(home),
            }
            summary = f"restored the backup of {manifest.created_at} ({plural(manifest.events, 'event')})"
            if current is not None:
                summary += f" over a database of {plural(current[0], 'event')}, kept aside"
            temporary = Path(journal.temporary)
            _prepare(Path(src) / SQLITE_FILE, temporary, home, actor, signer, summary, details)
            journal.head = list(_head_of(temporary))
            journal.write(home)
            if live is not None:
                if aside.exists():
                    raise StoreError(f"{aside} already exists: wait a second and run restore again")
                _second_name(database, aside)
                fsync_dir(database.parent)
            os.replace(temporary, database)
            fsync_dir(database.parent)
            switched = True
    except BaseException:
        if not switched:
            _undo(journal, home, database, store)
        raise
    _finish(journal, home, database, store)
    return RestoreResult(
        manifest,
        restored,
        present,
        kept,
        moved,
        None if current is None else current[0],
        None if current is None else current[1],
    )


def recover_restore(home: Path, database: Path, store_dir: Path) -> list[str]:
    """Finish or undo what a killed restore left (module docstring); one line each of what was done.

    StoreError while the restoring process still runs: no command opens the database meanwhile.
    """
    journal = _read_journal(home, database)
    if journal is None:
        return []
    if journal.pid != os.getpid() and _alive(journal.pid):
        raise StoreError(
            f"a restore of {journal.source} is running in {home} (process {journal.pid}): wait for it to finish"
        )
    store = LocalBlobStore(store_dir)
    live = _head_of(database) if _holds_database(database) else None
    if journal.head is not None and live == tuple(journal.head):
        _finish(journal, home, database, store)
        return [f"finished an interrupted restore of {journal.source}: the restored database is in place"]
    removed = _undo(journal, home, database, store)
    return [
        f"undid an interrupted restore of {journal.source}: the database is as it was; removed its temporary "
        f"database and {plural(removed, 'file')} it had copied into the store (the backup still holds them)"
    ]


def _read_journal(home: Path, database: Path) -> _Journal | None:
    path = home / JOURNAL
    try:
        raw = json.loads(path.read_bytes())
        journal = _Journal(**raw)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise StoreError(f"{path} is damaged ({exc.__class__.__name__}): look at it, then move it away") from exc
    temporary, aside = Path(journal.temporary), Path(journal.aside)
    if (temporary.parent, aside.parent) != (database.parent, database.parent) or not (
        temporary.name.startswith(f".{database.name}.restore-") and aside.name.startswith(f"{database.name}.before-")
    ):
        raise StoreError(f"{path} names files that are not this database's: look at it, then move it away")
    return journal


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _undo(journal: _Journal, home: Path, database: Path, store: LocalBlobStore) -> int:
    """Before the switch: the live database stays; what the restore added goes (returns files removed)."""
    temporary = Path(journal.temporary)
    for suffix in ("", *_SIDE_FILES):
        Path(f"{temporary}{suffix}").unlink(missing_ok=True)  # a copy of the backup's database, never live
    aside = Path(journal.aside)
    aside.with_name(f".{aside.name}.part").unlink(missing_ok=True)  # a copy of the live database, half made
    with contextlib.suppress(OSError):
        if os.path.samefile(aside, database):
            aside.unlink()  # a second name of the live database, which stays: nothing is lost
    removed = 0
    left = store.interrupted(all_dead=True)
    mine = sorted(d for d, paths in left.intents.items() if any(_by(journal, p) for p in paths))
    named = _named(database) if _holds_database(database) else set()
    for digest in mine:
        if digest not in named and store.delete(digest):
            removed += 1
    for marker in left.markers:
        if _by(journal, marker):
            marker.unlink(missing_ok=True)
    (home / JOURNAL).unlink(missing_ok=True)
    fsync_dir(home)
    return removed


def _by(journal: _Journal, marker: Path) -> bool:
    """An intent marker the restore's process wrote."""
    return marker.name.startswith(f"{journal.pid}-")


def _finish(journal: _Journal, home: Path, database: Path, store: LocalBlobStore) -> None:
    """After the switch: mirror the new head, give the store its id, drop the markers and the journal."""
    engine = make_engine(f"sqlite:///{database}")
    try:
        with read_session(engine) as session:
            write_head_file(home, session, replace_foreign=True)  # the restore event records the old head
    finally:
        engine.dispose()
    restored_id = _setting(database, STORE_ID_SETTING)
    if restored_id is not None and store.read_store_id() is None:
        store.write_store_id(restored_id)  # the backup holds the files, not the store's STORE-ID
    for marker in store.interrupted(all_dead=True).markers:
        if _by(journal, marker):
            marker.unlink(missing_ok=True)  # the restored database names these blobs now
    (home / JOURNAL).unlink(missing_ok=True)
    fsync_dir(home)


@contextlib.contextmanager
def _exclusive(database: Path) -> Iterator[sqlite3.Connection | None]:
    """The live database as one file, locked against every other connection; None when there is none."""
    if not _holds_database(database):
        yield None
        return
    in_use = StoreError(f"{database} is in use by another command: let it finish, then run restore again")
    connection = sqlite3.connect(database, timeout=5, isolation_level=None)
    try:
        try:
            connection.execute("PRAGMA journal_mode=DELETE")  # checkpoints the WAL and removes it
            connection.execute("BEGIN EXCLUSIVE")
            mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise in_use from exc
            raise StoreError(f"{database} cannot be read ({exc}): move it away yourself before restoring") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{database} cannot be read ({exc}): move it away yourself before restoring") from exc
        if mode != "delete":
            raise in_use
        yield connection
    finally:
        connection.close()


def _second_name(database: Path, aside: Path) -> None:
    """The replaced database keeps this name, never removed: a hard link, or a copy where links fail."""
    try:
        os.link(database, aside)
    except OSError:  # a file system without hard links: the locked, WAL-free file copies consistently
        partial = aside.with_name(f".{aside.name}.part")
        shutil.copyfile(database, partial)
        os.chmod(partial, PRIVATE_FILE_MODE)
        fsync_file(partial)
        os.rename(partial, aside)


def _holds_database(database: Path) -> bool:
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            if Path(f"{database}{suffix}").stat().st_size > 0:
                return True
    return False


def _read_current(database: Path) -> tuple[int, str] | None:
    if not _holds_database(database):
        return None
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            return _current_chain(connection, database)
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{database} cannot be read ({exc}): move it away yourself before restoring over it") from exc


def _current_chain(connection: sqlite3.Connection, database: Path) -> tuple[int, str]:
    try:
        row = connection.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"{database} cannot be read ({exc}): move it away yourself before restoring over it") from exc
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _refuse_newer(database: Path, manifest: BackupManifest, current: tuple[int, str]) -> None:
    events, head = current
    if events > manifest.events:
        raise InputError(
            f"{database} holds {events} audit events, the backup {manifest.events}: it is newer than the "
            "backup; add --replace-newer to restore anyway (the current database is kept beside it)"
        )
    if events and _query(manifest.folder / SQLITE_FILE, "SELECT hash FROM events WHERE seq = ?", events) != head:
        raise InputError(
            f"{database} holds a different audit chain from the backup (event #{events} differs): "
            "add --replace-newer to restore anyway (the current database is kept beside it)"
        )


def _mirror(home: Path) -> dict[str, Any] | None:
    """The audit-head mirror the restore replaces (it may be another store's: a --replace-newer restore)."""
    try:
        mirror = read_head_file(home)
    except (DamagedHeadFile, OSError):
        return {"damaged": True}
    return None if mirror is None else {"seq": mirror.seq, "hash": mirror.hash, "store": mirror.store_id}


def _query(path: Path, sql: str, *args: Any) -> Any:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute(sql, args).fetchone()
    finally:
        connection.close()
    return None if row is None else row[0]


def _setting(path: Path, key: str) -> str | None:
    try:
        value = _query(path, "SELECT value FROM settings WHERE key = ?", key)
    except sqlite3.Error:
        return None  # a database from before store ids: the first write gives both sides one
    return None if value is None else str(value)


def _head_of(path: Path) -> tuple[int, str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    except sqlite3.Error:
        row = None
    finally:
        connection.close()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _named(path: Path) -> set[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT digest FROM blobs WHERE hash_algorithm = ?", (ALGORITHM,)).fetchall()
    except sqlite3.Error:
        rows = []
    finally:
        connection.close()
    return {str(r[0]) for r in rows}


def _prepare(
    backup_db: Path,
    temporary: Path,
    home: Path,
    actor: str,
    signer: Ed25519PrivateKey | None,
    summary: str,
    details: dict[str, Any],
) -> None:
    """The backup's database under a temporary name, migrated, with the restore event in its chain."""
    for suffix in ("", *_SIDE_FILES):
        Path(f"{temporary}{suffix}").unlink(missing_ok=True)  # a killed attempt of this same process id
    shutil.copyfile(backup_db, temporary)
    os.chmod(temporary, PRIVATE_FILE_MODE)
    engine = make_engine(f"sqlite:///{temporary}")
    try:
        ensure_schema(engine)
        with write_session(engine) as session:
            _audit_info(session, home, signer)
            # The restore is the intended rollback: its event (after an audit.rollback one where the
            # home's mirror was ahead) is what lets the older database be written to.
            record(session, actor, "restore", summary, details=details)
    finally:
        engine.dispose()
    connection = sqlite3.connect(temporary, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")  # one file: the rename moves all of it
    finally:
        connection.close()
    fsync_file(temporary)


def _audit_info(session: Session, home: Path, signer: Ed25519PrivateKey | None) -> None:
    session.info[HOME_INFO] = home
    session.info[SIGNER_INFO] = signer


def _restore_files(manifest: BackupManifest, store: LocalBlobStore, aside_dir: Path) -> tuple[int, int, list[Path]]:
    """Copy in what the store lacks (intent-marked) and replace damaged files (linked aside first)."""
    restored = present = 0
    aside: list[Path] = []
    for digest in sorted(manifest.files):
        source = manifest.folder / blob_path(digest)
        target = store.path_for(digest)
        if not target.is_file():
            stored = store.put_file(source)
            if stored.digest != digest:
                raise StoreError(f"{source} changed while it was restored: nothing was restored")
            restored += 1
            continue
        with contextlib.suppress(OSError):
            if sha256_of_file(target)[0] == digest:
                present += 1
                continue
        damaged = aside_dir / blob_path(digest)
        make_private_dir(damaged.parent)
        os.link(target, damaged)  # the damaged copy is kept, outside the store, never deleted
        temporary = store.incoming / f"{os.getpid()}-{os.urandom(6).hex()}.part"
        make_private_dir(store.incoming, tighten=True)
        shutil.copyfile(source, temporary)
        os.chmod(temporary, PRIVATE_FILE_MODE)
        fsync_file(temporary)
        os.replace(temporary, target)
        fsync_dir(target.parent)
        aside.append(damaged)
        restored += 1
    return restored, present, aside
