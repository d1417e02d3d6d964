"""Handing a stored file out, checked as it goes: the bytes read must hash to the digest they are
stored under, or the download is cut short rather than completed with a damaged file.

The file is opened before anything is sent, so a missing file is refused with one line; it is then
read in CHUNK_SIZE pieces (never whole in memory) with the last piece held back until the SHA-256
and the size are confirmed. On a mismatch the stream ends with StoreError before that piece: the
receiver gets fewer bytes than the Content-Length it was promised, which every HTTP client reports
as a failed download (`evidence verify` then names the damaged file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO

from evidence.errors import StoreError
from evidence.store.blobstore import CHUNK_SIZE, BlobStore


def open_verified(store: BlobStore, digest: str, size: int) -> Iterator[bytes]:
    """The stored file's bytes, verified against `digest` and `size` before the last piece is given."""
    try:
        handle = store.open(digest)
    except StoreError:
        # The store's own message names its folder or bucket: kept for `evidence verify`, not shown.
        raise StoreError(
            f"the stored file {digest[:12]}... cannot be read (missing or unreadable): "
            "ask an administrator to run `evidence verify`"
        ) from None
    return _chunks(handle, digest, size)


def _chunks(handle: BinaryIO, digest: str, size: int) -> Iterator[bytes]:
    with handle:
        hasher = hashlib.sha256()
        read = 0
        held: bytes | None = None
        while chunk := _read(handle, digest):
            if held is not None:
                yield held
            hasher.update(chunk)
            read += len(chunk)
            held = chunk
        if read != size or hasher.hexdigest() != digest:
            raise StoreError(
                f"stored file {digest[:12]}... does not match its SHA-256 ({read} of {size} bytes read): "
                "the download was stopped; run `evidence verify`"
            )
        if held is not None:
            yield held


def _read(handle: BinaryIO, digest: str) -> bytes:
    try:
        return handle.read(CHUNK_SIZE)
    except OSError as exc:
        raise StoreError(f"stored file {digest[:12]}... cannot be read: {exc.strerror or exc}") from None
