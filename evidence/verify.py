"""Check the file store against the database: missing, corrupted and orphaned files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from evidence.blobstore import BlobStore
from evidence.records import blob_digests


@dataclass
class VerifyReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupted or self.orphaned or self.leftovers)


def verify_store(app, store: BlobStore, *, repair: bool = False) -> VerifyReport:  # type: ignore[no-untyped-def]
    """Re-hash every stored file. With `repair`, remove orphans and leftovers (never a known file)."""
    with app.read() as session:
        known = blob_digests(session)
    report = VerifyReport()
    for digest in sorted(known):
        report.checked += 1
        actual = store.hash_of(digest)
        if actual is None:
            report.missing.append(digest)
        elif actual != digest:
            report.corrupted.append(digest)
    report.orphaned = sorted(d for d in store.digests() if d not in known)
    report.leftovers = store.leftovers()
    if repair and (report.orphaned or report.leftovers):
        with store.maintenance():  # no registration is between storing a blob and committing it
            with app.read() as session:
                known = blob_digests(session)
            for digest in report.orphaned:
                if digest not in known and store.delete(digest):
                    report.repaired.append(f"removed orphaned file {digest}")
            for path in store.leftovers():
                path.unlink(missing_ok=True)
                report.repaired.append(f"removed leftover temporary file {path.name}")
        report.orphaned, report.leftovers = [], []
    return report
