"""The content-addressed file store: every file kept once, by its SHA-256, owner-only.

Layout: <home>/store/sha256/ab/<64 hex digits> (256 folders, so a batch of files touches few
folders and each is fsynced once). A file is streamed in chunks into a
temporary file while it is hashed (one read of the source), fsynced, then renamed into
place, so a crash leaves either the whole file or a temporary one that `verify` reports;
never a half-written blob under its final name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from evidence.errors import StoreError
from evidence.store.mediatype import sniff_media_type
from evidence.support.fsutil import PRIVATE_FILE_MODE, atomic_write_bytes, fsync_dir, make_private_dir

ALGORITHM = "sha256"
CHUNK_SIZE = 1024 * 1024
STORE_ID_FILE = "STORE-ID"  # the store's random id, also in the database's settings (evidence.store.identity)
QUARANTINE_DIR = "quarantine"  # <home>/quarantine/<date>/sha256/<digest>: files no database names


class Leftover(Protocol):
    """What an interrupted write left behind: a temporary file here, an incomplete upload in S3."""

    @property
    def name(self) -> str: ...
    def unlink(self, missing_ok: bool = False) -> None: ...


class BlobStore(Protocol):
    """What the tool needs from a file store: the local folder, or an S3-compatible bucket."""

    def put_file(
        self,
        source: Path,
        *,
        follow_symlinks: bool = False,
        dirs_to_sync: set[Path] | None = None,
        retain_until: date | None = None,
    ) -> StoredBlob: ...
    def sync_dirs(self, dirs: set[Path]) -> None: ...
    def exists(self, digest: str) -> bool: ...
    def open(self, digest: str) -> BinaryIO: ...
    def hash_of(self, digest: str) -> str | None: ...
    def digests(self) -> Iterator[str]: ...
    def leftovers(self) -> Sequence[Leftover]: ...
    def delete(self, digest: str) -> bool: ...
    def writing(self) -> contextlib.AbstractContextManager[None]: ...
    def maintenance(self) -> contextlib.AbstractContextManager[None]: ...
    def extend_retention(self, digest: str, until: date) -> None: ...
    def set_legal_hold(self, digest: str, on: bool) -> None: ...
    @property
    def location(self) -> str: ...
    def read_store_id(self) -> str | None: ...
    def write_store_id(self, store_id: str) -> None: ...
    def quarantine(self, digest: str, day: date) -> str: ...
    def quarantined(self) -> list[str]: ...
    def holds_files(self) -> bool: ...


@dataclass(frozen=True)
class StoredBlob:
    algorithm: str
    digest: str
    size: int
    media_type: str
    created: bool  # False when the same content was already stored


class LocalBlobStore:
    def __init__(self, root: Path, quarantine_dir: Path | None = None):
        self.root = Path(root)
        self.blobs = self.root / ALGORITHM
        self.incoming = self.root / "incoming"
        # Beside the store, not in it: a quarantined file is no longer one of the store's files.
        self.quarantine_dir = Path(quarantine_dir) if quarantine_dir else self.root.parent / QUARANTINE_DIR

    @property
    def location(self) -> str:
        return str(self.root)

    # --- identity and quarantine (never deleting a file) --------------------------------------

    def read_store_id(self) -> str | None:
        """The store id written at creation (None for a store from before ids, or no store yet)."""
        try:
            text = (self.root / STORE_ID_FILE).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.root / STORE_ID_FILE}: {exc.strerror or exc}") from None
        return text.decode("ascii", errors="replace").strip() or None

    def write_store_id(self, store_id: str) -> None:
        make_private_dir(self.root, tighten=True)
        atomic_write_bytes(self.root / STORE_ID_FILE, f"{store_id}\n".encode("ascii"))
        fsync_dir(self.root)

    def quarantine(self, digest: str, day: date) -> str:
        """Move a stored file the database does not name to <quarantine>/<day>/sha256/; return where.

        A move, never a delete: the file keeps its bytes and its 0600 mode (a copy when the
        quarantine folder is on another file system, removed from the store only once durable).
        """
        source = self.path_for(digest)
        folder = make_private_dir(self.quarantine_dir / day.isoformat() / ALGORITHM, tighten=True)
        target, n = folder / digest, 0
        while target.exists():  # quarantined before (and re-stored since): keep both copies
            n += 1
            target = folder / f"{digest}.{n}"
        try:
            try:
                os.link(source, target)  # fails instead of replacing a file that appeared meanwhile
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
                    raise
                with open(source, "rb") as src, open(target, "xb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK_SIZE)
                    dst.flush()
                    os.fsync(dst.fileno())
                os.chmod(target, PRIVATE_FILE_MODE)
            fsync_dir(folder)
            source.unlink()
            fsync_dir(source.parent)
        except OSError as exc:
            raise StoreError(f"cannot move stored file {digest} to {folder}: {exc.strerror or exc}") from None
        return str(target)

    def holds_files(self) -> bool:
        return next(self.digests(), None) is not None

    def quarantined(self) -> list[str]:
        """Every quarantined file, oldest day first."""
        if not self.quarantine_dir.is_dir():
            return []
        return sorted(str(p) for p in self.quarantine_dir.glob(f"*/{ALGORITHM}/*") if p.is_file())

    def path_for(self, digest: str) -> Path:
        return self.blobs / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        return self.path_for(digest).is_file()

    def put_file(
        self,
        source: Path,
        *,
        follow_symlinks: bool = False,
        dirs_to_sync: set[Path] | None = None,
        retain_until: date | None = None,
    ) -> StoredBlob:
        """Copy `source` into the store; raises OSError for unreadable sources.

        With `dirs_to_sync`, the folder that received the file is added to it instead of being
        fsynced at once; the caller must call `sync_dirs` before it commits rows that name it.
        `retain_until` is for stores with a lock of their own (S3 Object Lock).
        """
        make_private_dir(self.incoming, tighten=True)
        flags = os.O_RDONLY | (0 if follow_symlinks else os.O_NOFOLLOW)
        source_fd = os.open(source, flags)
        tmp = self.incoming / f"{os.getpid()}-{os.urandom(6).hex()}.part"
        hasher = hashlib.sha256()
        size = 0
        head = b""
        try:
            out_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
            try:
                while chunk := os.read(source_fd, CHUNK_SIZE):
                    if not head:
                        head = chunk[:8192]
                    hasher.update(chunk)
                    size += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        written = os.write(out_fd, view)
                        view = view[written:]
                os.fsync(out_fd)
            finally:
                os.close(out_fd)
            digest = hasher.hexdigest()
            target = self.path_for(digest)
            created = not target.exists()
            if created:
                make_private_dir(target.parent, tighten=True)
                os.replace(tmp, target)
                if dirs_to_sync is None:
                    fsync_dir(target.parent)
                else:
                    dirs_to_sync.add(target.parent)
            else:
                tmp.unlink()
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        finally:
            os.close(source_fd)
        return StoredBlob(ALGORITHM, digest, size, sniff_media_type(head), created)

    def extend_retention(self, digest: str, until: date) -> None:
        """Local files have no lock of their own: retention is enforced by the tool."""

    def set_legal_hold(self, digest: str, on: bool) -> None:
        """Nor a legal hold of their own: the tool's legal holds keep them."""

    @staticmethod
    def sync_dirs(dirs: set[Path]) -> None:
        for folder in sorted(dirs):
            fsync_dir(folder)

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path_for(digest), "rb")
        except FileNotFoundError:
            raise StoreError(f"stored file {digest} is missing from {self.blobs}") from None

    def hash_of(self, digest: str) -> str | None:
        """Re-hash a stored file; None if it is missing."""
        path = self.path_for(digest)
        try:
            with open(path, "rb") as handle:
                hasher = hashlib.sha256()
                while chunk := handle.read(CHUNK_SIZE):
                    hasher.update(chunk)
                return hasher.hexdigest()
        except FileNotFoundError:
            return None

    def digests(self) -> Iterator[str]:
        """Every blob present on disk."""
        if not self.blobs.is_dir():
            return
        for path in self.blobs.glob("*/*"):
            if path.is_file():
                yield path.name

    def leftovers(self) -> list[Path]:
        """Temporary files left by an interrupted registration (not those of a running one)."""
        if not self.incoming.is_dir():
            return []
        return sorted(p for p in self.incoming.glob("*.part") if not _process_alive(p.name.split("-")[0]))

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Held (shared) from storing a blob until its rows are committed.

        `verify --repair` and purge take the lock exclusively before deleting files, so they
        can never remove a blob that a registration in another process is about to commit.
        """
        with self._lock(fcntl.LOCK_SH):
            yield

    @contextlib.contextmanager
    def maintenance(self) -> Iterator[None]:
        with self._lock(fcntl.LOCK_EX):
            yield

    @contextlib.contextmanager
    def _lock(self, mode: int) -> Iterator[None]:
        make_private_dir(self.root, tighten=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def delete(self, digest: str) -> bool:
        path = self.path_for(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        return True


def _process_alive(pid_text: str) -> bool:
    if not (pid_text.isascii() and pid_text.isdigit()):
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if TYPE_CHECKING:
    # mypy fails here, not at some caller, when LocalBlobStore drifts from the Protocol.
    def _is_a_blob_store(store: LocalBlobStore) -> BlobStore:
        return store
