"""Backups: a consistent copy of the database and every stored file, and a restore that deletes nothing.

A backup folder holds the database (`evidence.sqlite3`, or `evidence.pgdump` from PostgreSQL),
the store's files under `store/sha256/ab/<digest>`, and `manifest.json`: each file's SHA-256
and size, the database's SHA-256, the tool version, the audit chain head and the time. The
manifest is written last and atomically, after every file has been re-read and re-hashed: a
folder without it is an interrupted backup, and restore refuses it.

`create_backup` follows the service convention (a read `Session` and the `BlobStore`);
`read_backup` checks a backup folder. Restore replaces the database itself: evidence.store.restore.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from evidence.db.models import AuditHead, Blob
from evidence.errors import InputError, StoreError
from evidence.retention.audit import GENESIS, verify_chain
from evidence.store.blobstore import CHUNK_SIZE, BlobStore, sha256_of_file
from evidence.support.fsutil import PRIVATE_FILE_MODE, atomic_write_bytes, fsync_dir, make_private_dir
from evidence.support.outputs import OutputGuard

MANIFEST = "manifest.json"
FORMAT = "evidence-backup"
FORMAT_VERSION = 1
SQLITE_FILE = "evidence.sqlite3"
PGDUMP_FILE = "evidence.pgdump"
STORE_FOLDER = "store"
ALGORITHM = "sha256"


@dataclass(frozen=True)
class BackupResult:
    folder: Path
    files: int
    size: int
    events: int
    head: str
    missing: list[str]  # digests the database knows that the store no longer holds
    corrupted: list[str]  # stored files that no longer match their digest (not copied)
    chain_problem: str | None


def blob_path(digest: str) -> str:
    return f"{STORE_FOLDER}/{ALGORITHM}/{digest[:2]}/{digest}"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chain_of(session: Session) -> tuple[int, str, str | None, set[str]]:
    head = session.get(AuditHead, 1)
    seq, digest = (head.seq, head.hash) if head is not None else (0, GENESIS)
    check = verify_chain(session)
    blobs = set(session.scalars(select(Blob.digest).where(Blob.hash_algorithm == ALGORITHM)))
    return seq, digest, check.problem, blobs


def _sqlite_engine(path: Path) -> Any:
    return create_engine(f"sqlite:///{path}")


def read_sqlite_chain(path: Path) -> tuple[int, str, str | None, set[str]]:
    """Audit head (events, hash), the chain's first problem and the blob digests of a SQLite file."""
    engine = _sqlite_engine(path)
    try:
        with Session(engine) as session:
            return _chain_of(session)
    finally:
        engine.dispose()


def _copy_sqlite(session: Session, target: Path) -> None:
    """sqlite3's online backup API: a consistent copy while other processes keep writing."""
    source = session.connection().connection.driver_connection
    if not isinstance(source, sqlite3.Connection):
        raise StoreError("the database driver does not offer sqlite3's backup API")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    os.close(fd)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        copy.close()
    fsync_file(target)


def _pg_environment(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(url)
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[name] = str(value)
    return ["--format=custom", "--no-owner"], env


def _dump_postgres(session: Session, database_url: str, target: Path) -> tuple[int, str, str | None, set[str]]:
    """pg_dump of the snapshot the manifest's audit head is read from (credentials via PG* variables)."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise StoreError(
            "backup of a PostgreSQL database needs pg_dump on PATH (see docs/OPERATIONS.md for pg_dump + S3 versioning)"
        )
    engine = session.get_bind()
    if not isinstance(engine, Engine):
        raise StoreError("backup needs a session bound to an engine")
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        with Session(bind=connection) as snap_session:
            chain = _chain_of(snap_session)
        options, env = _pg_environment(database_url)
        command = [pg_dump, *options, f"--snapshot={snapshot}", f"--file={target}"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise StoreError(f"pg_dump failed: {last}")
    os.chmod(target, PRIVATE_FILE_MODE)
    fsync_file(target)
    return chain


def create_backup(
    session: Session,
    store: BlobStore,
    dest: Path,
    *,
    guard: OutputGuard,
    database_url: str,
    tool_version: str,
    now: datetime,
) -> BackupResult:
    """Copy the database and every stored file into the new folder `dest`, verify, then write the manifest."""
    folder = guard.new_folder(dest)
    make_private_dir(folder, tighten=True)
    with store.writing():  # purge and `verify --repair` wait: no file can go between the copy and the manifest
        if database_url.startswith("sqlite"):
            database_name = SQLITE_FILE
            _copy_sqlite(session, folder / database_name)
            events, head, chain_problem, known = read_sqlite_chain(folder / database_name)
        else:
            database_name = PGDUMP_FILE
            events, head, chain_problem, known = _dump_postgres(session, database_url, folder / database_name)
        files, missing, corrupted = _copy_files(store, folder, known)
    entries = _verify_copy(folder, files)
    database_sha, database_size = sha256_of_file(folder / database_name)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool_version": tool_version,
        "created_at": now.isoformat(),
        "database": {"file": database_name, "sha256": database_sha, "size": database_size},
        "audit": {"events": events, "head": head, "chain_problem": chain_problem},
        "files": entries,
        "missing_from_store": sorted(missing),
        "corrupted_in_store": sorted(corrupted),
    }
    atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n")
    fsync_dir(folder)
    size = database_size + sum(files.values())
    return BackupResult(folder, len(entries), size, events, head, sorted(missing), sorted(corrupted), chain_problem)


def _copy_files(store: BlobStore, folder: Path, known: set[str]) -> tuple[dict[str, int], set[str], set[str]]:
    copied: dict[str, int] = {}
    missing: set[str] = set()
    corrupted: set[str] = set()
    touched: set[Path] = set()
    for digest in sorted(set(store.digests()) | known):
        target = folder / blob_path(digest)
        make_private_dir(target.parent)
        hasher, size = hashlib.sha256(), 0
        try:
            source = store.open(digest)
        except (FileNotFoundError, StoreError):
            missing.add(digest)
            continue
        with source, open(target, "xb") as out:
            os.chmod(target, PRIVATE_FILE_MODE)
            while chunk := source.read(CHUNK_SIZE):
                hasher.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if hasher.hexdigest() != digest:
            target.unlink()
            corrupted.add(digest)
            continue
        copied[digest] = size
        touched.add(target.parent)
    for parent in touched:
        fsync_dir(parent)
    return copied, missing, corrupted


def _verify_copy(folder: Path, files: dict[str, int]) -> list[dict[str, object]]:
    """Re-read every copied file from the backup folder: the manifest vouches only for what is there."""
    entries: list[dict[str, object]] = []
    for digest, size in sorted(files.items()):
        actual, actual_size = sha256_of_file(folder / blob_path(digest))
        if (actual, actual_size) != (digest, size):
            raise StoreError(
                f"the copy of {digest} in {folder} does not read back as written: the backup is not usable"
            )
        entries.append({"path": blob_path(digest), "sha256": digest, "size": size})
    return entries


# --- Reading and checking a backup ----------------------------------------------------------------------


@dataclass(frozen=True)
class BackupManifest:
    folder: Path
    created_at: str
    tool_version: str
    database_file: str
    events: int
    head: str
    files: dict[str, int]  # digest -> size
    raw: dict[str, Any] = field(repr=False)


def read_backup(src: Path) -> BackupManifest:
    """The manifest of `src`, after re-hashing the database and every file it lists."""
    src = Path(src)
    manifest_path = src / MANIFEST
    if not src.is_dir():
        raise InputError(f"{src}: not a backup folder ({'not a folder' if src.exists() else 'no such folder'})")
    if not manifest_path.is_file():
        raise InputError(f"{src}: no {MANIFEST}: not a backup, or one that was interrupted before it completed")
    try:
        raw = json.loads(manifest_path.read_bytes())
        if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("format_version") != FORMAT_VERSION:
            raise InputError(f"{manifest_path}: not an evidence backup manifest (format {FORMAT} {FORMAT_VERSION})")
        database = raw["database"]
        files = {str(e["sha256"]): int(e["size"]) for e in raw["files"]}
        manifest = BackupManifest(
            src,
            str(raw["created_at"]),
            str(raw["tool_version"]),
            str(database["file"]),
            int(raw["audit"]["events"]),
            str(raw["audit"]["head"]),
            files,
            raw,
        )
        expected_database = (str(database["sha256"]), int(database["size"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{manifest_path}: damaged manifest ({exc.__class__.__name__}: {exc})") from exc
    if manifest.database_file not in (SQLITE_FILE, PGDUMP_FILE):
        raise InputError(f"{manifest_path}: unexpected database file {manifest.database_file!r}")
    problems: list[str] = []
    for name, expected in [(manifest.database_file, expected_database)] + [
        (blob_path(d), (d, s)) for d, s in sorted(files.items()) if _is_digest(d)
    ]:
        try:
            actual = sha256_of_file(src / name)
        except OSError as exc:
            problems.append(f"{name}: cannot be read ({exc.strerror or exc})")
            continue
        if actual != expected:
            problems.append(f"{name}: does not match its SHA-256 and size in {MANIFEST}")
    problems += [f"{d!r}: not a SHA-256 digest" for d in files if not _is_digest(d)]
    if problems:
        raise InputError.listing(f"{src}: the backup is damaged, nothing was restored", problems)
    return manifest


def _is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)
