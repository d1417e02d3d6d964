"""A multipart upload read as it streams: fields kept (small), each file written straight to
disk in a private spool folder, never held whole in memory.

Starlette's own form parser would spool a file over 1 MiB to an anonymous temporary file with
no path, and registration reads files by path: so the same parser (python-multipart) is driven
here with its callbacks, and each file part goes to `<spool>/<n>` (folder 0700, file 0600),
which `spooled` removes whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import anyio
from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from evidence.access.guarded_upload import UploadedFile
from evidence.errors import InputError

MAX_FIELDS = 50  # a form has a dozen; an API call a few
MAX_FIELD_BYTES = 16 * 1024  # a description, a list of items
MAX_FILES = 100  # one submission; more is a manifest's job (`evidence register --manifest`)


@dataclass
class Upload:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)

    def one(self, name: str) -> str | None:
        values = self.fields.get(name, [])
        if len(values) > 1:
            raise InputError(f"the field {name!r} is given {len(values)} times")
        return values[0] if values else None

    def many(self, name: str) -> tuple[str, ...]:
        return tuple(self.fields.get(name, []))


@contextlib.contextmanager
def spooled(parent: Path | None) -> Iterator[Path]:
    """A fresh owner-only folder for one request's files, removed with everything in it."""
    folder = Path(tempfile.mkdtemp(prefix="evidence-upload-", dir=parent))  # mkdtemp: mode 0700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Sink:
    """python-multipart's callbacks: the current part's headers, then its data to a field or a file."""

    def __init__(self, folder: Path, file_field: str) -> None:
        self.folder, self.file_field = folder, file_field
        self.upload = Upload()
        self._header_name = self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._data = bytearray()
        self._file: IO[bytes] | None = None
        # (file, data) to write outside the parser's callbacks; data None: close that file
        self._pending: list[tuple[IO[bytes], bytes | None]] = []
        self._open: list[IO[bytes]] = []

    def on_part_begin(self) -> None:
        self._disposition, self._name, self._data, self._file = b"", "", bytearray(), None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise InputError("a part of the form has no name")
        self._name = _text(options[b"name"])
        if b"filename" not in options:
            if sum(len(v) for v in self.upload.fields.values()) >= MAX_FIELDS:
                raise InputError(f"the form has more than {MAX_FIELDS} fields")
            return
        if self._name != self.file_field:
            raise InputError(f"a file was sent as {self._name[:40]!r}: send files as {self.file_field!r}")
        if len(self.upload.files) >= MAX_FILES:
            raise InputError(f"more than {MAX_FILES} files in one upload: register that many with a manifest")
        path = self.folder / str(len(self.upload.files))
        self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self._open.append(self._file)
        self.upload.files.append(UploadedFile(path, _base_name(_text(options[b"filename"]))))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._pending.append((self._file, data[start:end]))
            return
        self._data += data[start:end]
        if len(self._data) > MAX_FIELD_BYTES:
            raise InputError(f"the field {self._name[:40]!r} is longer than {MAX_FIELD_BYTES // 1024} KiB")

    def on_part_end(self) -> None:
        if self._file is None:
            self.upload.fields.setdefault(self._name, []).append(_text(bytes(self._data)))
        else:
            self._pending.append((self._file, None))
            self._file = None

    def flush(self) -> None:
        """Write (and close) what the last chunk brought; run in a worker thread."""
        pending, self._pending = self._pending, []
        for file, chunk in pending:
            if chunk is None:
                file.close()
            else:
                file.write(chunk)

    def close(self) -> None:
        for file in self._open:
            file.close()


def _base_name(name: str) -> str:
    """The file's own name: an old browser sends its whole path (C:\\Users\\...\\plan.pdf)."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the form is not UTF-8 text") from None


async def read_upload(request: Request, folder: Path, *, file_field: str = "file") -> Upload:
    """The form's fields and its files spooled into `folder` (InputError for a malformed body)."""
    content_type = request.headers.get("content-type", "")
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise InputError("an upload must be sent as multipart/form-data")
    sink = _Sink(folder, file_field)
    parser = MultipartParser(
        options[b"boundary"],
        {
            "on_part_begin": sink.on_part_begin,
            "on_header_field": sink.on_header_field,
            "on_header_value": sink.on_header_value,
            "on_header_end": sink.on_header_end,
            "on_headers_finished": sink.on_headers_finished,
            "on_part_data": sink.on_part_data,
            "on_part_end": sink.on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            await anyio.to_thread.run_sync(sink.flush)
        parser.finalize()
        await anyio.to_thread.run_sync(sink.flush)
    except FormParserError:
        raise InputError("the upload is not a well-formed multipart form") from None
    finally:
        sink.close()
    return sink.upload
