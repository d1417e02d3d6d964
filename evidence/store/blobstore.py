"""The content-addressed file store: every file kept once, by its SHA-256, owner-only.

Layout: <home>/store/sha256/ab/<64 hex digits> (256 folders, so a batch of files touches few
folders and each is fsynced once). Storing is two steps, so a batch pays for one durable flush
instead of one per file:

- `stage`: the file is streamed in chunks into a temporary file (store/incoming/<pid>-<random>.part)
  while it is hashed (one read of the source); nothing is fsynced yet;
- `publish` (a whole batch): the temporaries' data is fsynced (in parallel threads), the batch's
  intent marker is written and made durable (one file for the batch's new blobs,
  <home>/store/pending/<pid>-<random>.intents listing their digests; a batch of one new blob gets an
  empty <pid>-<digest>, which needs no data flush), each temporary is renamed into place, and every
  folder that received a blob is fsynced once. Only then may the caller commit rows that name the
  blobs. (One marker per batch, not per blob: creating a file cost 0.03 to 1.2 ms of kernel time on
  the project machine, from minute to minute, and at its dearest a marker per blob cost as much as
  storing the small file it marked.)

A crash leaves either the whole file or a temporary one, never a half-written blob under its final
name. The marker is removed once the rows naming the blob are committed: a marker left by a killed
process says "this blob was never evidence unless the database names it", so recovery
(evidence.store.recovery) can tell such a blob from an orphan.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar

from evidence.errors import InputError, StoreError
from evidence.store.mediatype import sniff_media_type
from evidence.support.fsutil import PRIVATE_FILE_MODE, atomic_write_bytes, fsync_dir, make_private_dir

ALGORITHM = "sha256"
CHUNK_SIZE = 1024 * 1024
_T = TypeVar("_T")
# fsyncs of one batch run in this many threads: a flush waits on the disk, not on the GIL.
FLUSH_THREADS = 8


def sha256_of_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read in chunks (a 1 GiB file never sits in memory)."""
    hasher, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


STORE_ID_FILE = "STORE-ID"  # the store's random id, also in the database's settings (evidence.store.identity)
QUARANTINE_DIR = "quarantine"  # <home>/quarantine/<date>/sha256/<digest>: files no database names
# The names this module gives its own temporary files and intent markers.
_TEMPORARY = re.compile(r"(\d+)-[0-9a-f]{12}\.part")
_INTENT = re.compile(r"(\d+)-([0-9a-f]{64})")  # one blob's marker (also what versions before 2026-12-02 wrote)
_INTENTS = re.compile(r"(\d+)-[0-9a-f]{12}\.intents")  # a batch's marker: one digest a line
_DIGEST = re.compile(r"[0-9a-f]{64}")
# Opening never blocks (a FIFO with no writer) and, unless asked, never follows a symbolic link.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class Leftover(Protocol):
    """What an interrupted write left behind: a temporary file here, an incomplete upload in S3."""

    @property
    def name(self) -> str: ...
    def unlink(self, missing_ok: bool = False) -> None: ...


class BlobStore(Protocol):
    """What the tool needs from a file store: the local folder, or an S3-compatible bucket."""

    def put_file(
        self, source: Path, *, follow_symlinks: bool = False, retain_until: date | None = None
    ) -> StoredBlob: ...
    def stage(self, source: Path, *, follow_symlinks: bool = False, retain_until: date | None = None) -> Staged: ...
    def publish(self, staged: Sequence[Staged]) -> None: ...
    def discard(self, staged: Iterable[Staged]) -> None: ...
    def exists(self, digest: str) -> bool: ...
    def open(self, digest: str) -> BinaryIO: ...
    def hash_of(self, digest: str) -> str | None: ...
    def digests(self) -> Iterator[str]: ...
    def leftovers(self) -> Sequence[Leftover]: ...
    def interrupted(self, *, all_dead: bool) -> Interrupted: ...
    def settle(self, digests: Iterable[str]) -> None: ...
    def strays(self) -> dict[str, str]: ...
    def delete(self, digest: str) -> bool: ...
    def writing(self) -> contextlib.AbstractContextManager[None]: ...
    def maintenance(self) -> contextlib.AbstractContextManager[None]: ...
    def try_maintenance(self) -> contextlib.AbstractContextManager[bool]: ...
    def extend_retention(self, digest: str, until: date) -> None: ...
    def set_legal_hold(self, digest: str, on: bool) -> None: ...
    @property
    def location(self) -> str: ...
    def read_store_id(self) -> str | None: ...
    def write_store_id(self, store_id: str) -> None: ...
    def quarantine(self, digest: str, day: date) -> str: ...
    def keep_locked(self, name: str, data: bytes, until: date) -> str: ...
    def quarantined(self) -> list[str]: ...
    def holds_files(self) -> bool: ...


@dataclass(frozen=True)
class StoredBlob:
    algorithm: str
    digest: str
    size: int
    media_type: str
    created: bool  # False when the same content was already stored


@dataclass(eq=False)
class Staged:
    """A source file hashed (and, in the local store, copied to a temporary file), not yet a blob.

    `publish` makes it durable and puts it in place, setting `stored` (or `error`, for this file
    alone); `discard` removes what was never published. A store whose staging is already durable
    and in place (S3: the upload) sets `stored` at once.
    """

    source: Path
    digest: str
    size: int
    media_type: str
    temporary: Path | None = None  # the local copy in store/incoming, until published or discarded
    fd: int | None = None  # ... kept open, so the flush needs no second open
    stored: StoredBlob | None = None
    error: OSError | None = None  # its flush or rename failed: nothing of it is in the store


@dataclass(frozen=True)
class Interrupted:
    """What killed writers left: their temporary files, and the intent markers of their new blobs."""

    temporaries: list[Path]
    intents: dict[str, list[Path]]  # digest -> its markers
    markers: list[Path] = field(default_factory=list)  # every one, to remove once its blobs are dealt with


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, for a one-line refusal."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: Path, *, follow_symlinks: bool = False) -> tuple[int, os.stat_result]:
    """Open a file to read without ever blocking, and check what was opened (not the name).

    A FIFO, device, socket or directory (even one swapped in after a check of the name) is
    refused with InputError; other failures raise OSError.
    """
    flags = _OPEN_FLAGS | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise InputError(f"{path}: is a symbolic link (use --follow-symlinks to register its target)") from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a socket; a directory opened for writing
            raise InputError(f"{path}: not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: not a regular file ({kind_of(info.st_mode)})")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


class LocalBlobStore:
    def __init__(self, root: Path, quarantine_dir: Path | None = None):
        self.root = Path(root)
        self.blobs = self.root / ALGORITHM
        self.incoming = self.root / "incoming"
        # Beside the store, not in it: a quarantined file is no longer one of the store's files.
        self.quarantine_dir = Path(quarantine_dir) if quarantine_dir else self.root.parent / QUARANTINE_DIR
        self.pending = self.root / "pending"
        # This process's batch markers: the digests each still covers (settled ones leave it, the
        # marker goes with the last); a lock, as the web server registers in several threads.
        self._marker_of: dict[str, Path] = {}
        self._unsettled: dict[Path, set[str]] = {}
        self._markers_lock = threading.Lock()

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

    def keep_locked(self, name: str, data: bytes, until: date) -> str:
        """A local folder has no lock that its owner cannot undo."""
        raise StoreError(
            f"the local store at {self.root} cannot lock a file against its owner: keep the checkpoint with -o "
            "on other media, or use an S3 store with Object Lock"
        )

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

    def put_file(self, source: Path, *, follow_symlinks: bool = False, retain_until: date | None = None) -> StoredBlob:
        """Copy `source` into the store, durable and in place on return (a batch of one).

        Raises OSError for unreadable sources, InputError for a source that is not a regular file
        once opened or that changed while it was read. A new blob has an intent marker until
        `settle` is called with its digest.
        """
        staged = self.stage(source, follow_symlinks=follow_symlinks, retain_until=retain_until)
        try:
            self.publish([staged])
        finally:
            self.discard([staged])
        if staged.error is not None:
            raise staged.error
        assert staged.stored is not None
        return staged.stored

    def stage(self, source: Path, *, follow_symlinks: bool = False, retain_until: date | None = None) -> Staged:
        """Hash `source` while copying it to a temporary file; nothing is durable or in place yet.

        Safe to call from several threads (hashing and file I/O release the GIL). Content the
        store already holds is not kept twice: its temporary is removed at once. Raises as
        `put_file`; on any error nothing of the file is left. `retain_until` is for stores with
        a lock of their own (S3 Object Lock).
        """
        source_fd, before = open_regular(source, follow_symlinks=follow_symlinks)
        tmp = self.incoming / f"{os.getpid()}-{os.urandom(6).hex()}.part"
        hasher = hashlib.sha256()
        size = 0
        head = b""
        out_fd: int | None = None
        try:
            out_fd = self._create_temporary(tmp)
            while chunk := os.read(source_fd, CHUNK_SIZE):
                if not head:
                    head = chunk[:8192]
                hasher.update(chunk)
                size += len(chunk)
                view = memoryview(chunk)
                while view:
                    written = os.write(out_fd, view)
                    view = view[written:]
            after = os.fstat(source_fd)
            if size != before.st_size or (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                raise InputError(f"{source}: changed while it was being stored; register it again once it is complete")
            digest = hasher.hexdigest()
            staged = Staged(source, digest, size, sniff_media_type(head), tmp, out_fd)
            if self.path_for(digest).exists():  # known content: the stored copy is the one that counts
                self.discard([staged])
                staged.stored = StoredBlob(ALGORITHM, digest, size, staged.media_type, created=False)
            return staged
        except BaseException:
            if out_fd is not None:
                os.close(out_fd)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        finally:
            os.close(source_fd)

    def _create_temporary(self, path: Path) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            return os.open(path, flags, PRIVATE_FILE_MODE)
        except FileNotFoundError:  # the first file of a new store (publish keeps the folder at 0700)
            make_private_dir(self.incoming, tighten=True)
            return os.open(path, flags, PRIVATE_FILE_MODE)

    def publish(self, staged: Sequence[Staged]) -> None:
        """Make a batch of staged files durable blobs in place, with one flush for the whole batch.

        In this order: the temporaries' data is fsynced (in parallel threads); an intent marker
        is written for every new blob and the pending folder fsynced once; each temporary is
        renamed to its blob's name; every folder that received a blob is fsynced once. So when
        this returns, every blob it reports is durable (its data and its folder entry) and
        marked, and the caller may commit rows naming it. A file whose fsync or rename fails gets
        `error` and leaves nothing; a failing folder fsync raises StoreError (nothing is durable
        for sure). The same content staged twice becomes one blob; the others are "already stored".
        """
        waiting = [s for s in staged if s.stored is None and s.error is None and s.fd is not None]
        if not waiting:
            return
        make_private_dir(self.incoming, tighten=True)  # once per batch, not once per file
        self._flush_data(waiting)
        flushed = [s for s in waiting if s.error is None]
        new = {s.digest for s in flushed if not self.path_for(s.digest).exists()}
        if new:
            self._intend(sorted(new))
        folders = self._rename_into_place(flushed, new)
        self.settle(new - {s.digest for s in flushed if s.stored is not None and s.stored.created})  # never renamed
        self._sync_folders(folders)

    def _flush_data(self, waiting: list[Staged]) -> None:
        descriptors = [s.fd for s in waiting if s.fd is not None]  # every one: `waiting` has only open ones
        for item, problem in zip(waiting, _in_threads(_fsync_fd, descriptors), strict=True):
            if problem is not None:
                item.error = problem
                self.discard([item])

    def _rename_into_place(self, flushed: list[Staged], new: set[str]) -> set[Path]:
        """Each new blob's temporary renamed to its name; the folders that received one."""
        folders: set[Path] = set()
        for item in flushed:
            target, temporary = self.path_for(item.digest), item.temporary
            created = item.digest in new and temporary is not None and not target.exists()
            if created:
                try:
                    if target.parent not in folders:
                        make_private_dir(target.parent, tighten=True)
                    os.replace(temporary, target)  # type: ignore[arg-type]  # not None: checked above
                except OSError as exc:
                    item.error = exc
                    self.discard([item])
                    continue
                item.temporary = None
                folders.add(target.parent)
            # else stored meanwhile, or staged twice in this batch: its temporary goes
            item.stored = StoredBlob(ALGORITHM, item.digest, item.size, item.media_type, created=created)
            self.discard([item])  # closes the descriptor
        return folders

    @staticmethod
    def _sync_folders(folders: set[Path]) -> None:
        ordered = sorted(folders)
        for folder, problem in zip(ordered, _in_threads(fsync_dir, ordered), strict=True):
            if problem is not None:
                raise StoreError(f"cannot make the stored files durable: {folder}: {problem.strerror or problem}")

    def discard(self, staged: Iterable[Staged]) -> None:
        """Close and remove what staging left of files that were not published (idempotent)."""
        for item in staged:
            if item.fd is not None:
                fd, item.fd = item.fd, None
                with contextlib.suppress(OSError):
                    os.close(fd)
            if item.temporary is not None:
                path, item.temporary = item.temporary, None
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def extend_retention(self, digest: str, until: date) -> None:
        """Local files have no lock of their own: retention is enforced by the tool."""

    def set_legal_hold(self, digest: str, on: bool) -> None:
        """Nor a legal hold of their own: the tool's legal holds keep them."""

    def open(self, digest: str) -> BinaryIO:
        handle = self._open_blob(digest)
        if handle is None:
            raise StoreError(f"stored file {digest} is missing from {self.blobs}")
        return handle

    def _open_blob(self, digest: str) -> BinaryIO | None:
        """The stored file to read, None if absent; never blocks, never follows a link (StoreError)."""
        path = self.path_for(digest)
        try:
            fd = os.open(path, _OPEN_FLAGS | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as exc:
            what = "a symbolic link" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
            raise StoreError(f"stored file {digest} cannot be read: {what}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise StoreError(f"stored file {digest} is {kind_of(info.st_mode)}, not a file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def hash_of(self, digest: str) -> str | None:
        """Re-hash a stored file; None if it is missing, StoreError if it cannot be read as a file."""
        handle = self._open_blob(digest)
        if handle is None:
            return None
        with handle:
            hasher = hashlib.sha256()
            try:
                while chunk := handle.read(CHUNK_SIZE):
                    hasher.update(chunk)
            except OSError as exc:
                raise StoreError(f"stored file {digest} cannot be read: {exc.strerror or exc}") from None
            return hasher.hexdigest()

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

    def _intend(self, digests: Sequence[str]) -> None:
        """The marker of blobs about to appear that nothing names yet (see the module docstring).

        Durable before any of the blobs is renamed into place: a power cut cannot leave a new
        blob without its marker. A marker torn by a crash while it is written lists no blob that
        was renamed (none is yet), and a torn line is not a digest, so it is read as far as it goes.
        """
        make_private_dir(self.pending, tighten=True)
        if len(digests) == 1:
            marker = self._intent_path(digests[0])
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE_MODE))
        else:
            marker = self.pending / f"{os.getpid()}-{os.urandom(6).hex()}.intents"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(marker, flags, PRIVATE_FILE_MODE)
            try:
                data = memoryview("".join(f"{digest}\n" for digest in digests).encode("ascii"))
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                marker.unlink(missing_ok=True)
                raise
            os.close(fd)
        with self._markers_lock:
            for digest in digests:
                self._marker_of[digest] = marker
            self._unsettled[marker] = set(digests)
        fsync_dir(self.pending)

    def _intent_path(self, digest: str) -> Path:
        return self.pending / f"{os.getpid()}-{digest}"

    def settle(self, digests: Iterable[str]) -> None:
        """The rows naming these blobs are committed (or the blobs are gone): drop this process's markers.

        A batch's marker goes once every blob it lists is settled; one left behind by a failure
        lists some settled blobs too, which recovery leaves alone because the database names them.
        """
        done: list[Path] = []
        with self._markers_lock:
            for digest in digests:
                marker = self._marker_of.pop(digest, None) or self._intent_path(digest)
                unsettled = self._unsettled.get(marker)
                if unsettled is not None:
                    unsettled.discard(digest)
                if not unsettled:
                    self._unsettled.pop(marker, None)
                    done.append(marker)
        for marker in done:
            marker.unlink(missing_ok=True)

    def interrupted(self, *, all_dead: bool) -> Interrupted:
        """Temporary files and intent markers of writers that are gone.

        With `all_dead` (the caller holds the exclusive lock, so no writer is between storing
        a blob and committing it) every one of them is; otherwise only those whose process
        has exited. Files with names this store never gives are not included.
        """
        temporaries: list[Path] = []
        intents: dict[str, list[Path]] = {}
        markers: list[Path] = []
        for path in _entries(self.incoming):
            match = _TEMPORARY.fullmatch(path.name)
            if match and (all_dead or not _process_alive(match[1])):
                temporaries.append(path)
        for path in _entries(self.pending):
            if match := _INTENT.fullmatch(path.name):
                pid, listed = match[1], [match[2]]
            elif match := _INTENTS.fullmatch(path.name):
                pid, listed = match[1], _listed_digests(path)
            else:
                continue
            if all_dead or not _process_alive(pid):
                markers.append(path)  # (one torn before its first line marks nothing, and goes too)
                for digest in listed:
                    intents.setdefault(digest, []).append(path)
        return Interrupted(temporaries, intents, markers)

    def strays(self) -> dict[str, str]:
        """Entries of the blob folders that are not regular files (a FIFO or folder dropped there).

        Keyed by name (a digest, where the entry has a blob's name), each with one line saying
        what it is. Nothing is opened: a FIFO is only looked at.
        """
        found: dict[str, str] = {}
        for folder in _entries(self.blobs):
            mode = folder.lstat().st_mode
            if not stat.S_ISDIR(mode):
                found[folder.name] = f"{folder} is {kind_of(mode)}, not a folder of stored files"
                continue
            for path in _entries(folder):
                mode = path.lstat().st_mode
                if not stat.S_ISREG(mode):
                    found[path.name] = f"{path} is {kind_of(mode)}, not a stored file"
        return found

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
    def try_maintenance(self) -> Iterator[bool]:
        """The exclusive lock if no other process holds the lock at all; yields whether it was taken."""
        make_private_dir(self.root, tighten=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                taken = False
            else:
                taken = True
            yield taken
        finally:
            os.close(fd)  # closing releases the lock

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


def _fsync_fd(fd: int) -> None:
    os.fsync(fd)  # looked up at each call: tests simulate a full disk by replacing os.fsync


def _in_threads(work: Callable[[_T], object], items: Sequence[_T]) -> list[OSError | None]:
    """Run `work` on every item (threads when there are several); the OSError each raised, or None."""

    def attempt(item: _T) -> OSError | None:
        try:
            work(item)
        except OSError as exc:
            return exc
        return None

    if len(items) <= 1:
        return [attempt(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor  # only where a batch has several files

    with ThreadPoolExecutor(min(FLUSH_THREADS, len(items))) as pool:
        return list(pool.map(attempt, items))


def _listed_digests(marker: Path) -> list[str]:
    try:
        text = marker.read_bytes().decode("ascii", errors="replace")
    except FileNotFoundError:  # settled meanwhile by its (live) process
        return []
    return [line for line in text.split("\n") if _DIGEST.fullmatch(line)]


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


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
