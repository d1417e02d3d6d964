"""Finish what a killed register or purge left in the file store, so the next command finds it whole.

SQLite's journal (PostgreSQL's WAL) undoes a transaction the kill interrupted; this module does
the same for the files around it:

- temporary files of a killed registration (store/incoming/<pid>-<random>.part) are removed;
- a blob a killed registration stored but never committed is removed: its intent marker (a
  batch's store/pending/<pid>-<random>.intents listing it, or a lone blob's <pid>-<digest>) says it
  was new, and the database does not name it, so it was never evidence (the source file is still
  with the user; registering it again stores it again). A marker's blob the database names is the
  trace of a committed registration: it stays, and the marker goes once every blob it lists is
  dealt with. A registration running meanwhile that stores the same content adopts the blob;
- a blob a killed purge committed the removal of (a "file" tombstone, no row naming it) is
  removed, as the purge would have done the moment after its commit (only where `purged` is asked:
  it needs a scan of the store).

All of it happens under the store's exclusive lock, so no registration is between storing a
blob and committing it; if another process holds the lock, only temporary files of processes
that have exited are removed and the rest waits for the next command. Anything else in the
store (an orphan no marker explains) is not touched here: that is `verify`'s report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.db.models import Blob, Tombstone
from evidence.errors import StoreError
from evidence.store.blobstore import BlobStore

_CHUNK = 500  # digests per IN (...): well under any backend's limit on bound parameters


@dataclass
class Recovered:
    """What recovery did, one line each (for `verify`'s report)."""

    lines: list[str] = field(default_factory=list)
    busy: bool = False  # another process held the store's lock: the rest is left for the next command

    def __bool__(self) -> bool:
        return bool(self.lines)


def recover(session: Session, store: BlobStore, *, purged: bool = False) -> Recovered:
    """Clean up after killed writers (see the module docstring); ends the session's transaction."""
    done = Recovered()
    with store.try_maintenance() as exclusive:
        done.busy = not exclusive
        left = store.interrupted(all_dead=exclusive)
        for path in left.temporaries:
            path.unlink(missing_ok=True)
            done.lines.append(f"removed temporary file {path.name} of an interrupted registration")
        if not exclusive:
            return done
        try:
            named = _named(session, set(left.intents))
            for digest in sorted(left.intents):
                if digest not in named and store.delete(digest):
                    done.lines.append(f"removed file {digest} stored by an interrupted registration, never committed")
            for marker in left.markers:  # after every blob it lists: a kill before this leaves it to redo
                marker.unlink(missing_ok=True)
            if purged:
                for digest in _purged_but_present(session, store):
                    try:
                        if store.delete(digest):
                            done.lines.append(f"removed file {digest}, purged by an interrupted purge")
                    except StoreError:  # an Object Lock keeps it until its date: verify reports the orphan
                        pass
        finally:
            session.rollback()
    return done


def _named(session: Session, digests: set[str]) -> set[str]:
    if not digests:
        return set()
    ordered, named = sorted(digests), set()
    for start in range(0, len(ordered), _CHUNK):
        named |= set(session.scalars(select(Blob.digest).where(Blob.digest.in_(ordered[start : start + _CHUNK]))))
    return named


def _purged_but_present(session: Session, store: BlobStore) -> list[str]:
    """Files in the store that a committed purge removed from the database (a "file" tombstone)."""
    present = set(store.digests())
    if not present:
        return []
    unnamed = present - set(session.scalars(select(Blob.digest)))
    if not unnamed:
        return []
    candidates, stoned = sorted(unnamed), set()
    for start in range(0, len(candidates), _CHUNK):
        part = candidates[start : start + _CHUNK]
        stoned |= set(
            session.scalars(select(Tombstone.sha256).where(Tombstone.kind == "file", Tombstone.sha256.in_(part)))
        )
    return sorted(d for d in stoned if d is not None)
