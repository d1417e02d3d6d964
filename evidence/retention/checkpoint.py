"""Signed checkpoints of the audit chain: an anchor that a rewrite of the database cannot move.

A checkpoint says "this store's chain had N events and its head hash was H at time T", signed
with an Ed25519 key that lives outside the database and the store. Anyone with write access
to the database can recompute every hash of a rewritten chain, but cannot sign: a checkpoint
kept elsewhere (`evidence log checkpoint -o FILE`) pins the first N events for good.

The text form is one line of canonical JSON; the signature covers every field but itself and
the public key (which rides along so a checkpoint can be checked on its own; which key is
*trusted* is the configured key or the fingerprint the store recorded at its first signature).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence.errors import ConflictError, InputError, StoreError
from evidence.support.fsutil import PRIVATE_FILE_MODE, fsync_dir

if TYPE_CHECKING:
    from evidence.store.blobstore import BlobStore

FORMAT = "evidence-audit-checkpoint/1"
MAX_CHECKPOINT_BYTES = 4096


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """The key id: `ed25519:` and the first 32 hex digits of the SHA-256 of the raw public key."""
    return "ed25519:" + hashlib.sha256(raw_public_key(key)).hexdigest()[:32]


@dataclass(frozen=True)
class Checkpoint:
    count: int  # events in the chain when signed
    head_hash: str  # the hash of event #count (GENESIS for an empty chain)
    signed_at: datetime
    store_id: str | None
    key_id: str
    public_key: str  # base64 of the raw Ed25519 public key
    signature: str  # base64

    def payload(self) -> bytes:
        """The signed bytes."""
        return _canonical(
            {
                "format": FORMAT,
                "count": self.count,
                "head": self.head_hash,
                "signed_at": self.signed_at.isoformat(),
                "store_id": self.store_id,
                "key_id": self.key_id,
            }
        )

    def to_text(self) -> str:
        data = {
            "format": FORMAT,
            "count": self.count,
            "head": self.head_hash,
            "signed_at": self.signed_at.isoformat(),
            "store_id": self.store_id,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": self.signature,
        }
        return _canonical(data).decode("ascii")

    def public(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key, validate=True))

    def signature_valid(self) -> bool:
        """The signature matches the fields and the embedded key, and the key id is that key's."""
        try:
            key = self.public()
            if fingerprint(key) != self.key_id:
                return False
            key.verify(base64.b64decode(self.signature, validate=True), self.payload())
        except (InvalidSignature, ValueError, binascii.Error):
            return False
        return True


def sign(key: Ed25519PrivateKey, count: int, head_hash: str, signed_at: datetime, store_id: str | None) -> Checkpoint:
    public = key.public_key()
    unsigned = Checkpoint(count, head_hash, signed_at, store_id, fingerprint(public), "", "")
    signature = key.sign(unsigned.payload())
    return Checkpoint(
        count,
        head_hash,
        signed_at,
        store_id,
        unsigned.key_id,
        base64.b64encode(raw_public_key(public)).decode("ascii"),
        base64.b64encode(signature).decode("ascii"),
    )


def parse_checkpoint(text: str, source: object) -> Checkpoint:
    """A checkpoint's text form; InputError naming `source` when it is not one."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError
        count, head = data["count"], data["head"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError
        if not (isinstance(head, str) and len(head) == 64 and all(c in "0123456789abcdef" for c in head)):
            raise ValueError
        store_id = data["store_id"]
        if store_id is not None and not isinstance(store_id, str):
            raise ValueError
        fields = [data[name] for name in ("key_id", "public_key", "signature", "signed_at")]
        if not all(isinstance(value, str) for value in fields):
            raise ValueError
        signed_at = datetime.fromisoformat(data["signed_at"])
        if signed_at.tzinfo is None:
            raise ValueError
    except (ValueError, KeyError, TypeError, RecursionError):
        raise InputError(f"{source}: not an evidence audit checkpoint ({FORMAT})") from None
    return Checkpoint(count, head, signed_at, store_id, data["key_id"], data["public_key"], data["signature"])


def read_checkpoint_file(path: Path) -> Checkpoint:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CHECKPOINT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the checkpoint {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise InputError(f"{path}: not an evidence audit checkpoint (larger than {MAX_CHECKPOINT_BYTES} bytes)")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not an evidence audit checkpoint ({FORMAT})") from None
    return parse_checkpoint(text.strip(), path)


def write_new_file(path: Path, data: bytes, what: str) -> None:
    """Create `path` (0600) with `data`; never replaces anything that exists, not even a symlink."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    except FileExistsError:
        raise ConflictError(f"{path} already exists: the {what} is never written over an existing file") from None
    except OSError as exc:
        raise InputError(f"cannot create {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, PRIVATE_FILE_MODE)
        fsync_dir(path.absolute().parent)
    except OSError as exc:
        path.unlink(missing_ok=True)  # our own half-written file, created above
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def keep_in_store(store: BlobStore, checkpoint: Checkpoint, years: int) -> str:
    """Keep the checkpoint in the store under Object Lock to Dec 31 of its year + `years`; its URL.

    `years` is the store's retention period: the checkpoint outlives every record it vouches for.
    Each checkpoint is a new object (`checkpoints/<count>-<head>-<time>.json`), never written over.
    """
    signed = checkpoint.signed_at
    name = f"checkpoints/{checkpoint.count:08d}-{checkpoint.head_hash[:16]}-{signed:%Y%m%dT%H%M%SZ}.json"
    return store.keep_locked(name, (checkpoint.to_text() + "\n").encode("ascii"), date(signed.year + years, 12, 31))


def generate_key(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, 0600) to a new file; returns its fingerprint."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_new_file(Path(path), pem, "signing key")
    return fingerprint(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key at `path`; StoreError saying why it cannot be used."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(64 * 1024)
    except OSError as exc:
        raise StoreError(f"cannot read the signing key {path}: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{path} is not an unencrypted PEM private key (make one with `evidence log keygen`)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise StoreError(f"{path} is not an Ed25519 key (make one with `evidence log keygen`)")
    return key
