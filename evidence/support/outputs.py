"""Guarded outputs: every file the tool writes for the user goes through `OutputGuard`.

A packet, a ZIP, an export or a backup is never written inside the home folder or the store,
onto the database (or its -wal/-shm/-journal), over an existing file without `force`, through a
symbolic link, or onto a device, FIFO, socket or folder (not even with `force`: only a regular
file is ever replaced). It is written to a temporary name (0600) in the target folder, fsynced
and renamed into place, so a killed run never leaves half a file under the name asked for.
`-` means standard output.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from evidence.errors import InputError
from evidence.support.fsutil import PRIVATE_FILE_MODE, fsync_dir

STDOUT = "-"
DATABASE_COMPANIONS = ("", "-wal", "-shm", "-journal")


class OutputRefused(InputError):
    """An output path the tool will not write to."""


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


@dataclass(frozen=True)
class OutputGuard:
    """What no output may touch: the home folder and store (and anything in them), the database files."""

    folders: tuple[Path, ...] = ()
    database_files: tuple[Path, ...] = ()
    _real_folders: tuple[Path, ...] = field(init=False, repr=False, compare=False)
    _real_files: tuple[Path, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_real_folders", tuple(_real(f) for f in self.folders))
        files = [_real(f.with_name(f.name + suffix)) for f in self.database_files for suffix in DATABASE_COMPANIONS]
        object.__setattr__(self, "_real_files", tuple(files))

    @classmethod
    def for_store(cls, home: Path, store_dir: Path | None, database: Path | None) -> OutputGuard:
        folders = (home,) if store_dir is None else (home, store_dir)
        return cls(folders=folders, database_files=() if database is None else (database,))

    def protects(self, real: Path) -> str | None:
        """Why `real` (a resolved path) is off limits, or None."""
        for file in self._real_files:
            if real == file:
                return "it is the store's database"
        for folder in self._real_folders:
            if real == folder:
                return f"it is {folder}, which holds the store's records"
            if folder in real.parents:
                return f"it is inside {folder}, which holds the store's records"
        return None

    def target(self, path: Path | str, *, force: bool = False, what: str = "output") -> OutputTarget:
        """Check `path` before any work is done; the same checks run again at the rename."""
        if str(path) == STDOUT:
            return OutputTarget(None, self, force, what)
        path = Path(path)
        if path.name in ("", ".", ".."):
            raise OutputRefused(f"cannot write {what} {path}: name a file, not a folder")
        parent = path.absolute().parent
        if not parent.is_dir():
            raise OutputRefused(f"cannot write {what} {path}: folder {parent} does not exist")
        target = OutputTarget(_real(parent) / path.name, self, force, what, shown=path)
        target.check()
        return target

    def new_folder(self, path: Path, *, what: str = "backup") -> Path:
        """A folder to fill: absent (its parent exists) or empty, and never inside the store."""
        path = Path(path)
        parent = path.absolute().parent
        if not parent.is_dir():
            raise OutputRefused(f"cannot write {what} {path}: folder {parent} does not exist")
        real = _real(parent) / path.name
        try:
            info = os.lstat(real)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise OutputRefused(f"cannot write {what} {path}: {exc.strerror or exc}") from exc
        if info is not None and stat.S_ISLNK(info.st_mode):
            raise OutputRefused(f"cannot write {what} {path}: it is a symbolic link")
        why = self.protects(real)
        if why is None and info is not None:
            # the folder may be a parent of the home: anything below it then is off limits too
            why = next(
                (f"it holds {f}, the store's records" for f in self._real_folders if real in f.parents),
                None,
            )
        if why is not None:
            raise OutputRefused(f"cannot write {what} {path}: {why}")
        if info is not None:
            if not stat.S_ISDIR(info.st_mode):
                raise OutputRefused(f"cannot write {what} {path}: it exists and is {_kind(info.st_mode)}")
            if any(real.iterdir()):
                raise OutputRefused(f"cannot write {what} {path}: the folder exists and is not empty")
        return real


@dataclass(frozen=True)
class OutputTarget:
    """One checked output: `open()` yields a binary handle; the file appears only once complete."""

    path: Path | None  # None: standard output
    guard: OutputGuard
    force: bool
    what: str
    shown: Path | None = None

    @property
    def is_stdout(self) -> bool:
        return self.path is None

    def __str__(self) -> str:
        return "standard output" if self.path is None else str(self.shown or self.path)

    def _refuse(self, why: str) -> OutputRefused:
        return OutputRefused(f"cannot write {self.what} {self}: {why}")

    def check(self) -> None:
        if self.path is None:
            return
        why = self.guard.protects(self.path)
        if why is not None:
            raise self._refuse(why)
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._refuse(exc.strerror or str(exc)) from exc
        if not stat.S_ISREG(info.st_mode):
            raise self._refuse(f"it is {_kind(info.st_mode)}; only a regular file is ever replaced")
        if not self.force:
            raise self._refuse("the file exists; add --force to replace it")

    def same_as(self, other: OutputTarget) -> bool:
        return self.path == other.path

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        if self.path is None:
            stream = sys.stdout.buffer
            yield stream
            stream.flush()
            return
        self.check()
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, PRIVATE_FILE_MODE)
            self._put_in_place(Path(temporary))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        fsync_dir(self.path.parent)

    def _put_in_place(self, temporary: Path) -> None:
        assert self.path is not None
        self.check()  # again: the target may have appeared (or become a link) while we wrote
        if self.force:
            os.replace(temporary, self.path)  # replaces the entry itself, never what a link points at
            return
        try:
            os.link(temporary, self.path)  # atomic, and never over a file that appeared meanwhile
        except FileExistsError as exc:
            raise self._refuse("the file exists; add --force to replace it") from exc
        except OSError:
            os.replace(temporary, self.path)  # a filesystem without hard links; checked just above
            return
        temporary.unlink()

    def write_bytes(self, data: bytes) -> None:
        with self.open() as handle:
            handle.write(data)
