"""Check the file store against the database: missing, corrupted and orphaned files.

Repair never deletes a stored file: a file no database row names (an "orphan": a crash between
storing it and committing its rows, a file dropped into the store, or one registered after the
backup a database was restored from) is moved to the quarantine folder, where it can be
re-registered or, once nobody needs it, removed by hand. Nothing is repaired while the database
is older than the audit-head mirror (a restored backup) or belongs to another store: then every
file registered since would look orphaned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from evidence.errors import StoreError
from evidence.records.listing import blob_digests
from evidence.retention.audit import head_mirror_problem
from evidence.store.blobstore import BlobStore, Leftover
from evidence.store.identity import identity_problem
from evidence.store.recovery import recover
from evidence.support import clock


@dataclass
class VerifyReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # what killed runs left, cleaned up: not a problem
    unreadable: list[str] = field(default_factory=list)  # not a regular file, or unreadable
    database: list[str] = field(default_factory=list)  # damage SQLite finds in the database file itself
    identity: str | None = None  # the database and the store were not made together
    rollback: str | None = None  # the database is older than the audit-head mirror
    quarantined: list[str] = field(default_factory=list)  # files in the quarantine, from any run

    @property
    def ok(self) -> bool:
        damage = self.missing or self.corrupted or self.orphaned or self.leftovers or self.database or self.unreadable
        return not (damage or self.identity or self.rollback)

    @property
    def repair_refused(self) -> str | None:
        """Why --repair touches nothing: the index it would trust is damaged, foreign or old."""
        if self.database:
            return "the database file is damaged"
        return self.identity or self.rollback


def verify_store(
    session: Session,
    store: BlobStore,
    *,
    repair: bool = False,
    home: Path | None = None,
    database: str = "the database",
) -> VerifyReport:
    """Re-hash every stored file. With `repair`, quarantine orphans and remove leftovers (never a known file).

    `home` holds the audit-head mirror compared with the database's chain. The session's
    transaction is ended (rolled back: this only reads) after each read, so no snapshot is held
    while files are hashed, and the second read under the store's exclusive lock sees every
    registration committed since the first.
    """
    report = VerifyReport(database=database_problems(session))
    report.identity = identity_problem(session, store, database=database)
    report.rollback = head_mirror_problem(session, home) if home is not None else None
    session.rollback()
    # Recovery removes blobs no committed row names: never against a damaged, foreign or older index.
    if report.repair_refused is None:
        report.recovered = recover(session, store, purged=True).lines
    known = blob_digests(session)
    session.rollback()
    strays = store.strays()
    report.unreadable = [strays[name] for name in sorted(strays)]
    for digest in sorted(known):
        report.checked += 1
        if digest in strays:  # a FIFO or folder in its place: reported above, never opened
            continue
        try:
            actual = store.hash_of(digest)
        except StoreError as exc:  # a FIFO or folder in its place, a permission
            report.unreadable.append(exc.message)
            continue
        if actual is None:
            report.missing.append(digest)
        elif actual != digest:
            report.corrupted.append(digest)
    report.orphaned = sorted(d for d in store.digests() if d not in known)
    report.leftovers = list(store.leftovers())
    if repair and report.repair_refused is None and (report.orphaned or report.leftovers):
        with store.maintenance():  # no registration is between storing a blob and committing it
            known = blob_digests(session)
            session.rollback()
            report.orphaned = _quarantine(store, [d for d in report.orphaned if d not in known], report.repaired)
            for path in store.leftovers():
                path.unlink(missing_ok=True)
                report.repaired.append(f"removed leftover temporary file {path.name}")
        report.leftovers = []
    report.quarantined = store.quarantined()
    return report


def _quarantine(store: BlobStore, orphans: list[str], repaired: list[str]) -> list[str]:
    """Move each orphan to the quarantine; return those still in the store."""
    day, kept = clock.today(), []
    for digest in orphans:
        if not store.exists(digest):
            continue
        try:
            where = store.quarantine(digest, day)
        except StoreError as exc:  # e.g. an Object Lock keeps the original until its retention date
            kept.append(digest)
            repaired.append(f"could not quarantine orphaned file {digest}: {exc.message}")
        else:
            repaired.append(f"quarantined orphaned file {digest}: moved to {where}")
    return kept


def database_problems(session: Session) -> list[str]:
    """SQLite's own check of every page of the database file (PostgreSQL checks its own pages)."""
    if session.get_bind().dialect.name != "sqlite":
        return []
    rows = [str(row[0]) for row in session.execute(text("PRAGMA quick_check"))]
    return [] if rows == ["ok"] else rows
