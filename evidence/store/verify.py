"""Check the file store against the database: missing, corrupted and orphaned files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from evidence.errors import StoreError
from evidence.records.listing import blob_digests
from evidence.store.blobstore import BlobStore, Leftover
from evidence.store.recovery import recover

if TYPE_CHECKING:
    pass


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

    @property
    def ok(self) -> bool:
        return not (
            self.missing or self.corrupted or self.orphaned or self.leftovers or self.database or self.unreadable
        )


def verify_store(session: Session, store: BlobStore, *, repair: bool = False) -> VerifyReport:
    """Re-hash every stored file. With `repair`, remove orphans and leftovers (never a known file).

    The session's transaction is ended (rolled back: this only reads) after each read, so no
    snapshot is held while files are hashed, and the second read under the store's exclusive
    lock sees every registration committed since the first.
    """
    report = VerifyReport(database=database_problems(session))
    session.rollback()
    if not report.database:  # never trust a damaged index
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
    if repair and not report.database and (report.orphaned or report.leftovers):  # never trust a damaged index
        with store.maintenance():  # no registration is between storing a blob and committing it
            known = blob_digests(session)
            session.rollback()
            kept: list[str] = []
            for digest in report.orphaned:
                try:
                    if digest not in known and store.delete(digest):
                        report.repaired.append(f"removed orphaned file {digest}")
                except StoreError as exc:  # an Object Lock keeps it until its retention date
                    kept.append(digest)
                    report.repaired.append(f"could not remove orphaned file: {exc.message}")
            for path in store.leftovers():
                path.unlink(missing_ok=True)
                report.repaired.append(f"removed leftover temporary file {path.name}")
        report.orphaned, report.leftovers = kept, []
    return report


def database_problems(session: Session) -> list[str]:
    """SQLite's own check of every page of the database file (PostgreSQL checks its own pages)."""
    if session.get_bind().dialect.name != "sqlite":
        return []
    rows = [str(row[0]) for row in session.execute(text("PRAGMA quick_check"))]
    return [] if rows == ["ok"] else rows
