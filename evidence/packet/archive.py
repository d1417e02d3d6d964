"""The packet's evidence manifest (and its SHA-256), and the ZIP that carries the files themselves."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from evidence.errors import StoreError
from evidence.records.missing import ActivityStatus, EvidenceRef
from evidence.store.blobstore import CHUNK_SIZE, BlobStore, sha256_of_file
from evidence.support.fsutil import PRIVATE_FILE_MODE
from evidence.support.outputs import OutputTarget

MANIFEST_NAME = "manifest.json"
EVIDENCE_FOLDER = "evidence"


@dataclass(frozen=True)
class ManifestLink:
    activity_id: str
    item: int
    npi: str | None  # the clinician the evidence is about, if any

    def describe(self) -> str:
        return f"{self.activity_id} item {self.item}" + (f" (NPI {self.npi})" if self.npi else "")

    def sort_key(self) -> tuple[str, int, str]:
        return (self.activity_id, self.item, self.npi or "")


@dataclass(frozen=True)
class ManifestRow:
    evidence: EvidenceRef
    links: tuple[ManifestLink, ...]

    @property
    def file_name(self) -> str:
        """Unique inside the packet: the evidence id keeps two files named alike apart."""
        return f"{self.evidence.id}-{safe_file_name(self.evidence.name)}"

    def as_json(self) -> dict[str, object]:
        e = self.evidence
        row: dict[str, object] = {
            "id": e.id,
            "name": e.name,
            "sha256": e.digest,
            "size": e.size,
            "effective_date": e.effective_date.isoformat(),
            "links": [{"activity": link.activity_id, "item": link.item, "npi": link.npi} for link in self.links],
        }
        if e.effective_until is not None:  # only for a range: a packet of single dates keeps its bytes
            row["effective_until"] = e.effective_until.isoformat()
        return row


def safe_file_name(name: str) -> str:
    """A name that cannot climb out of a folder or hide: no separators, control characters or leading dots."""
    cleaned = "".join("_" if ch in "/\\" or ord(ch) < 32 or ord(ch) == 127 else ch for ch in name)
    return cleaned.lstrip(". ")[:200] or "file"


def manifest_rows(activities: Iterable[ActivityStatus]) -> list[ManifestRow]:
    """Every evidence file behind the activities once, sorted by id, with all its links."""
    evidence: dict[int, EvidenceRef] = {}
    links: dict[int, set[ManifestLink]] = {}
    for activity in activities:
        for item in activity.items:
            for ref in item.evidence:
                evidence.setdefault(ref.id, ref)
                links.setdefault(ref.id, set()).add(ManifestLink(activity.activity_id, item.key, ref.clinician_npi))
    return [ManifestRow(evidence[i], tuple(sorted(links[i], key=ManifestLink.sort_key))) for i in sorted(evidence)]


def canonical_manifest(rows: Iterable[ManifestRow]) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): its SHA-256 is the packet's manifest hash."""
    document = [row.as_json() for row in rows]
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def read_verified(store: BlobStore, row: ManifestRow) -> bytes:
    """A stored file's bytes, refusing to hand over a file that no longer matches its SHA-256."""
    with store.open(row.evidence.digest) as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != row.evidence.digest:
        raise _corrupted(row)
    return data


def _corrupted(row: ManifestRow) -> StoreError:
    return StoreError(
        f"stored file of evidence {row.evidence.id} ({row.evidence.name}) no longer matches its SHA-256; "
        "run `evidence verify`"
    )


def write_zip(
    target: OutputTarget,
    *,
    pdf_name: str,
    pdf: bytes,
    manifest: bytes,
    rows: list[ManifestRow],
    store: BlobStore,
    timestamp: datetime,
) -> WrittenZip:
    """The PDF, manifest.json and every evidence file, with fixed dates and modes; the entry count and SHA-256.

    Written through the guarded `target`: complete under its name, or not there at all. The SHA-256
    is of the bytes written: a file is read back once in place; standard output is hashed as it streams.
    """
    stamp = timestamp.timetuple()[:6]

    def entry(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (0o100000 | PRIVATE_FILE_MODE) << 16  # a regular file, owner-only once extracted
        return info

    streamed = None
    with target.open() as handle:
        if target.is_stdout:
            streamed = _HashingStream(handle)
        with zipfile.ZipFile(handle if streamed is None else streamed, "w") as archive:
            archive.writestr(entry(pdf_name), pdf)
            archive.writestr(entry(MANIFEST_NAME), manifest)
            for row in rows:
                hasher = hashlib.sha256()
                target_name = f"{EVIDENCE_FOLDER}/{row.file_name}"
                with store.open(row.evidence.digest) as source, archive.open(entry(target_name), "w") as member:
                    while chunk := source.read(CHUNK_SIZE):
                        hasher.update(chunk)
                        member.write(chunk)
                if hasher.hexdigest() != row.evidence.digest:
                    raise _corrupted(row)
    if streamed is not None:
        return WrittenZip(2 + len(rows), streamed.hasher.hexdigest(), streamed.size)
    assert target.path is not None
    digest, size = sha256_of_file(target.path)
    return WrittenZip(2 + len(rows), digest, size)


@dataclass(frozen=True)
class WrittenZip:
    entries: int
    sha256: str
    size: int


class _HashingStream(io.RawIOBase):
    """A write-only, unseekable stream that hashes what passes through (zipfile then streams its entries)."""

    def __init__(self, target: IO[bytes]):
        self.target, self.hasher, self.size = target, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.hasher.update(chunk)
        self.size += len(chunk)
        self.target.write(chunk)
        return len(chunk)

    def flush(self) -> None:
        self.target.flush()
