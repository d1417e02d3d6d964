"""Evidence files in an S3-compatible object store (AWS S3, MinIO, Ceph): EVIDENCE_STORE_URL=s3://bucket/prefix.

Same layout as the local folder, as object keys: <prefix>/sha256/<ab>/<64 hex digits>.

A file is hashed first (one local read), then uploaded straight to its final key and hashed again
on the way. Uploading to a temporary key and copying it into place would cost a server-side copy
and a delete per file, and in a bucket with Object Lock (always versioned) the temporary version
could not be deleted while a default retention holds it. Hashing first also means content that is
already stored costs a HEAD, not an upload. The server checks the SHA-256 as well (of the object,
or of every part of a multipart upload), and a file that changes between the two reads is refused
before its upload is completed, so no object ever holds content other than its name says.

Object Lock: when the bucket has it enabled, each object is written with a retention date, the end
(UTC) of its performance year's retain-until date; a later year's link raises it and legal holds
map to object legal holds, so not even an administrator can delete evidence early.

Settings: the endpoint from EVIDENCE_S3_ENDPOINT_URL (or boto3's own AWS_ENDPOINT_URL); region and
credentials from the standard AWS chain (environment, ~/.aws, instance roles); the lock mode from
EVIDENCE_S3_LOCK_MODE (GOVERNANCE by default, or COMPLIANCE). Credentials are never printed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from evidence.errors import ConflictError, StoreError
from evidence.store.blobstore import (
    ALGORITHM,
    CHUNK_SIZE,
    QUARANTINE_DIR,
    STORE_ID_FILE,
    BlobStore,
    Interrupted,
    LocalBlobStore,
    Staged,
    StoredBlob,
    open_regular,
)
from evidence.store.mediatype import sniff_media_type

if TYPE_CHECKING:
    # Only for mypy (boto3-stubs[s3]); at run time the client is whatever boto3 builds.
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import CompletedPartTypeDef, HeadObjectOutputTypeDef, ObjectLockRetentionTypeDef

ENDPOINT_ENV = "EVIDENCE_S3_ENDPOINT_URL"
LOCK_MODE_ENV = "EVIDENCE_S3_LOCK_MODE"
ADDRESSING_ENV = "EVIDENCE_S3_ADDRESSING_STYLE"
LockMode = Literal["GOVERNANCE", "COMPLIANCE"]
LOCK_MODES: tuple[LockMode, ...] = ("GOVERNANCE", "COMPLIANCE")
AddressingStyle = Literal["auto", "virtual", "path"]
ADDRESSING_STYLES: tuple[AddressingStyle, ...] = ("auto", "virtual", "path")

# Memory per upload is one part, whatever the file's size; S3 allows at most 10,000 parts.
PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000
# Another machine may have stored a file and not yet committed its rows (a batch of small files
# before a 4 GB one on a slow link): younger objects and uploads are neither orphans nor leftovers.
SETTLE_TIME = timedelta(hours=24)

_DIGEST = re.compile(r"[0-9a-f]{64}")
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
_DENIED = {"AccessDenied", "AllAccessDisabled", "403"}
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}


def parse_url(url: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> ("bucket", "some/prefix"); the prefix may be empty."""
    rest = url[len("s3://") :] if url.startswith("s3://") else ""
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StoreError(f"store URL {url!r} names no bucket: use s3://bucket/prefix")
    return bucket, prefix.strip("/")


def make_client() -> S3Client:
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
    except ImportError:
        raise StoreError("an s3:// store needs boto3: pip install 'evidence[s3]'") from None
    endpoint = os.environ.get(ENDPOINT_ENV) or None
    custom = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    # MinIO and Ceph answer on one host name: path-style keys, unless told otherwise.
    style = _addressing_style(os.environ.get(ADDRESSING_ENV) or ("path" if custom else "auto"))
    config = Config(s3={"addressing_style": style}, connect_timeout=10, read_timeout=120)
    try:
        return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)
    except (BotoCoreError, ValueError) as exc:
        raise StoreError(f"cannot set up the S3 client: {exc}") from None


def _addressing_style(text: str) -> AddressingStyle:
    for style in ADDRESSING_STYLES:
        if text == style:
            return style
    raise StoreError(f"{ADDRESSING_ENV}={text!r}: use auto, virtual or path")


def _lock_mode(text: str) -> LockMode:
    text = text.upper()
    for mode in LOCK_MODES:
        if text == mode:
            return mode
    raise StoreError(f"{LOCK_MODE_ENV}={text!r}: use GOVERNANCE or COMPLIANCE")


def _end_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


class S3BlobStore:
    """The BlobStore Protocol over one bucket and prefix."""

    def __init__(
        self, client: S3Client, bucket: str, prefix: str, *, work_dir: Path, lock_mode: LockMode = "GOVERNANCE"
    ):
        from botocore.exceptions import BotoCoreError, ClientError

        self._client_error, self._botocore_error = ClientError, BotoCoreError
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.base = f"{prefix}/" if prefix else ""
        self.lock_mode = lock_mode
        # Registrations, purge and repair on this machine coordinate as on the local store.
        self._local_lock = LocalBlobStore(work_dir)
        self._locking: bool | None = None

    @classmethod
    def from_url(cls, url: str, *, work_dir: Path) -> S3BlobStore:
        bucket, prefix = parse_url(url)
        mode = _lock_mode(os.environ.get(LOCK_MODE_ENV) or "GOVERNANCE")
        return cls(make_client(), bucket, prefix, work_dir=work_dir, lock_mode=mode)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key_for(self, digest: str) -> str:
        return f"{self.base}{ALGORITHM}/{digest[:2]}/{digest}"

    @property
    def location(self) -> str:
        return self.url

    # --- identity and quarantine (never deleting a file the database names) -------------------

    def read_store_id(self) -> str | None:
        self.locking  # noqa: B018
        with self._errors("reading the store id"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=f"{self.base}{STORE_ID_FILE}")["Body"]
            except self._client_error as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
            try:
                text = body.read(200)
            finally:
                body.close()
        return text.decode("ascii", errors="replace").strip() or None

    def write_store_id(self, store_id: str) -> None:
        self.locking  # noqa: B018
        data = f"{store_id}\n".encode("ascii")
        with self._errors("writing the store id"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=f"{self.base}{STORE_ID_FILE}",
                Body=data,
                ContentType="text/plain",
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(hashlib.sha256(data).digest()),
            )

    def keep_locked(self, name: str, data: bytes, until: date) -> str:
        """A new object `<prefix>/<name>` that Object Lock keeps to the end of `until`; its URL.

        Refused without Object Lock (the object could be removed by whoever can write the bucket)
        and over an existing object.
        """
        if not self.locking:
            raise StoreError(
                f"the bucket of {self.url} has no Object Lock: whoever can write it could remove the "
                "checkpoint; keep it with -o on other media"
            )
        key = f"{self.base}{name}"
        lock = self._retention(until)
        with self._errors(f"keeping {name}"):
            if self._head(key) is not None:
                raise ConflictError(f"s3://{self.bucket}/{key} already exists: it is never written over")
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(hashlib.sha256(data).digest()),
                **lock,
            )
        return f"s3://{self.bucket}/{key}"

    def quarantine(self, digest: str, day: date) -> str:
        """Copy the object under <prefix>/quarantine/<day>/sha256/, then remove the original.

        An object Object Lock keeps is left where it is (StoreError saying until when), uncopied:
        it is still an unnamed file of the store, reported again by the next verify.
        """
        self.locking  # noqa: B018
        key = self.key_for(digest)
        target = f"{self.base}{QUARANTINE_DIR}/{day.isoformat()}/{ALGORITHM}/{digest}"
        with self._errors(f"copying stored file {digest} to the quarantine"):
            head = self._head(key)
            if head is None:
                raise StoreError(f"stored file {digest} is no longer in {self.url}")
            until = head.get("ObjectLockRetainUntilDate")
            if head.get("ObjectLockLegalHoldStatus") == "ON":
                raise StoreError(
                    f"stored file {digest} is under a legal hold in the bucket's Object Lock; left in place"
                )
            if until is not None and until > datetime.now(UTC):  # no second locked copy of it: leave it, report it
                mode = head.get("ObjectLockMode") or "GOVERNANCE"
                raise StoreError(
                    f"the bucket's Object Lock ({mode}) keeps stored file {digest} until "
                    f"{until:%Y-%m-%d %H:%M:%S} UTC; left in place"
                )
            if self._head(target) is None:
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=target,
                    CopySource={"Bucket": self.bucket, "Key": key},
                    ChecksumAlgorithm="SHA256",
                )
        try:
            self.delete(digest)
        except StoreError as exc:
            raise StoreError(f"copied to s3://{self.bucket}/{target}, but the original stays: {exc.message}") from None
        return f"s3://{self.bucket}/{target}"

    def holds_files(self) -> bool:
        """Any stored object, however young (digests() leaves out those younger than SETTLE_TIME)."""
        self.locking  # noqa: B018
        with self._errors(f"listing {self.url}"):
            listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.base}sha256/", MaxKeys=1)
        return bool(listing.get("Contents"))

    def quarantined(self) -> list[str]:
        self.locking  # noqa: B018
        found: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.base}{QUARANTINE_DIR}/"
        )
        with self._errors(f"listing the quarantine of {self.url}"):
            for page in pages:
                found += [f"s3://{self.bucket}/{item['Key']}" for item in page.get("Contents", [])]
        return sorted(found)

    # --- errors -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """botocore's exceptions end here, as one line without credentials."""
        try:
            yield
        except self._client_error as exc:
            raise StoreError(self._describe(exc, doing)) from None
        except self._botocore_error as exc:
            raise StoreError(self._describe(exc, doing)) from None

    def _describe(self, exc: Exception, doing: str) -> str:
        from botocore.exceptions import (
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        where = self.client.meta.endpoint_url
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError)):
            return f"cannot reach the object store at {where} while {doing}"
        if isinstance(exc, ReadTimeoutError):
            return f"the object store at {where} did not answer in time while {doing}"
        if isinstance(exc, NoCredentialsError):
            return "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        code = _code(exc)
        if code == "NoSuchBucket":
            return f"no bucket {self.bucket!r} at {where}"
        if code in _BAD_CREDENTIALS:
            return f"the object store at {where} refused the credentials ({code}) while {doing}"
        if code in _DENIED:
            return f"access denied to {self.url} while {doing}: check the IAM permissions listed in docs/DEPLOYMENT.md"
        if isinstance(exc, self._client_error):
            message = exc.response.get("Error", {}).get("Message") or ""
            return f"the object store failed while {doing}: {code} {message}".rstrip()
        return f"object store error while {doing}: {exc}"

    # --- Object Lock ----------------------------------------------------------------------------

    @property
    def locking(self) -> bool:
        """Whether the bucket has Object Lock enabled. Asked once: it cannot be switched off.

        The first request of every operation, so a missing bucket is reported as such (a HEAD
        cannot tell a missing bucket from a missing object).
        """
        if self._locking is None:
            with self._errors(f"opening {self.url}"):
                try:
                    reply = self.client.get_object_lock_configuration(Bucket=self.bucket)
                except self._client_error as exc:
                    if _code(exc) not in {"ObjectLockConfigurationNotFoundError", "NotImplemented", "501"}:
                        raise
                    self._locking = False
                else:
                    self._locking = reply.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        return self._locking

    def _retention(self, until: date | None) -> dict[str, Any]:
        """Lock arguments for a new object; none once the date has passed (S3 refuses a past date)."""
        if until is None or not self.locking or _end_of_day(until) <= datetime.now(UTC):
            return {}
        return {"ObjectLockMode": self.lock_mode, "ObjectLockRetainUntilDate": _end_of_day(until)}

    def extend_retention(self, digest: str, until: date) -> None:
        """Keep the object locked at least to the end of `until` (UTC); never shortens a lock."""
        if not self.locking:
            return
        key = self.key_for(digest)
        with self._errors(f"extending the retention of stored file {digest}"):
            head = self._head(key)
            if head is None:
                raise StoreError(f"stored file {digest} is missing from {self.url}")
            self._extend(key, head, until)

    def _extend(self, key: str, head: HeadObjectOutputTypeDef | None, until: date) -> None:
        wanted = _end_of_day(until)
        current = head.get("ObjectLockRetainUntilDate") if head else None  # None: the object's head is unknown
        if wanted <= datetime.now(UTC) or (current is not None and current >= wanted):
            return
        # A COMPLIANCE lock stays COMPLIANCE: S3 refuses to weaken one, even while extending it.
        mode = (head.get("ObjectLockMode") if head else None) or self.lock_mode
        retention: ObjectLockRetentionTypeDef = {"Mode": mode, "RetainUntilDate": wanted}
        if head and head.get("VersionId"):
            self.client.put_object_retention(
                Bucket=self.bucket, Key=key, Retention=retention, VersionId=head["VersionId"]
            )
        else:
            self.client.put_object_retention(Bucket=self.bucket, Key=key, Retention=retention)

    def set_legal_hold(self, digest: str, on: bool) -> None:
        """Place or clear the object's legal hold (no time limit); nothing without Object Lock."""
        if not self.locking:
            return
        key = self.key_for(digest)
        with self._errors(f"{'placing' if on else 'releasing'} the legal hold on stored file {digest}"):
            if self._head(key) is None:
                raise StoreError(f"stored file {digest} is missing from {self.url}")
            self.client.put_object_legal_hold(Bucket=self.bucket, Key=key, LegalHold={"Status": "ON" if on else "OFF"})

    # --- storing ------------------------------------------------------------------------------------

    def put_file(self, source: Path, *, follow_symlinks: bool = False, retain_until: date | None = None) -> StoredBlob:
        """Upload `source` under its SHA-256; OSError for an unreadable or changing source.

        Content already stored is not uploaded again; its lock is raised to `retain_until` before
        the caller commits, so a purge running elsewhere can no longer delete it.
        """
        self.locking  # noqa: B018 - a missing bucket is an error before any work
        with os.fdopen(open_regular(source, follow_symlinks=follow_symlinks)[0], "rb") as handle:  # never blocks
            hasher, size, head = hashlib.sha256(), 0, b""
            while chunk := handle.read(CHUNK_SIZE):
                head = head or chunk[:8192]
                hasher.update(chunk)
                size += len(chunk)
            digest = hasher.hexdigest()
            key = self.key_for(digest)
            media_type = sniff_media_type(head)
            lock = self._retention(retain_until)
            with self._errors(f"storing {source.name}"):
                existing = self._head(key)
                if existing is not None:
                    if retain_until is not None and self.locking:
                        self._extend(key, existing, retain_until)
                    return StoredBlob(ALGORITHM, digest, size, media_type, created=False)
                handle.seek(0)
                if size <= PART_SIZE:
                    self._put_whole(handle, source, key, digest, media_type, lock)
                else:
                    self._put_parts(handle, source, key, digest, size, media_type, lock)
                    if lock and retain_until is not None:
                        # Some servers (moto among them) ignore lock headers on multipart uploads.
                        self._extend(key, self._head(key), retain_until)
        return StoredBlob(ALGORITHM, digest, size, media_type, created=True)

    def _put_whole(
        self, handle: BinaryIO, source: Path, key: str, digest: str, media_type: str, lock: dict[str, Any]
    ) -> None:
        data = handle.read(PART_SIZE + 1)  # a file that grew meanwhile is refused, not read whole
        checksum = hashlib.sha256(data).digest()
        if checksum.hex() != digest:
            raise _changed(source)
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=media_type,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(checksum),  # the server stores it only if the bytes match
            **lock,
        )

    def _put_parts(
        self, handle: BinaryIO, source: Path, key: str, digest: str, size: int, media_type: str, lock: dict[str, Any]
    ) -> None:
        part_size = max(PART_SIZE, -(-size // MAX_PARTS))
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=media_type, ChecksumAlgorithm="SHA256", **lock
        )
        upload_id = upload["UploadId"]
        try:
            hasher, remaining = hashlib.sha256(), size
            parts: list[CompletedPartTypeDef] = []
            while remaining and (chunk := handle.read(min(part_size, remaining))):
                remaining -= len(chunk)
                hasher.update(chunk)
                checksum = _b64(hashlib.sha256(chunk).digest())
                number = len(parts) + 1
                reply = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ChecksumSHA256=checksum,
                )
                parts.append({"PartNumber": number, "ETag": reply["ETag"], "ChecksumSHA256": checksum})
                del chunk, reply  # keep one part in memory, not two
            if remaining or handle.read(1) or hasher.hexdigest() != digest:
                raise _changed(source)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(self._client_error, self._botocore_error):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def stage(self, source: Path, *, follow_symlinks: bool = False, retain_until: date | None = None) -> Staged:
        """The upload itself: an object is durable and in place once its upload returns."""
        blob = self.put_file(source, follow_symlinks=follow_symlinks, retain_until=retain_until)
        return Staged(source, blob.digest, blob.size, blob.media_type, stored=blob)

    @staticmethod
    def publish(staged: Sequence[Staged]) -> None:
        """Nothing left to do: staging uploaded every object."""

    @staticmethod
    def discard(staged: Iterable[Staged]) -> None:
        """No temporaries: an upload either completed (a blob) or was aborted."""

    # --- reading ---------------------------------------------------------------------------------

    def _head(self, key: str) -> HeadObjectOutputTypeDef | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except self._client_error as exc:
            if _code(exc) in _MISSING:
                return None
            raise

    def exists(self, digest: str) -> bool:
        self.locking  # noqa: B018 - a missing bucket is an error, not a missing file
        with self._errors(f"looking up stored file {digest}"):
            return self._head(self.key_for(digest)) is not None

    def open(self, digest: str) -> BinaryIO:
        """A readable binary stream of the object, read as it is consumed."""
        self.locking  # noqa: B018
        with self._errors(f"reading stored file {digest}"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self.key_for(digest))["Body"]
            except self._client_error as exc:
                if _code(exc) in _MISSING:
                    raise StoreError(f"stored file {digest} is missing from {self.url}") from None
                raise
        return io.BufferedReader(_ObjectReader(self, body, digest), CHUNK_SIZE)

    def hash_of(self, digest: str) -> str | None:
        """Re-hash a stored object as it streams in; None if it is missing."""
        from botocore.exceptions import FlexibleChecksumError

        self.locking  # noqa: B018
        hasher = hashlib.sha256()
        with self._errors(f"reading stored file {digest}"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self.key_for(digest))["Body"]
            except self._client_error as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
            try:
                for chunk in body.iter_chunks(CHUNK_SIZE):
                    hasher.update(chunk)
            except FlexibleChecksumError:
                return ""  # botocore found the server's own checksum broken: corrupted
            finally:
                body.close()
        return hasher.hexdigest()

    def digests(self) -> Iterator[str]:
        """Every stored object older than SETTLE_TIME (younger ones may await a commit elsewhere)."""
        self.locking  # noqa: B018
        settled = datetime.now(UTC) - SETTLE_TIME
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{self.base}sha256/")
        with self._errors(f"listing {self.url}"):
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"].rsplit("/", 1)[-1]
                    if _DIGEST.fullmatch(name) and item["LastModified"] <= settled:
                        yield name

    def leftovers(self) -> list[IncompleteUpload]:
        """Multipart uploads never completed (a crash, a lost connection): invisible, but billed."""
        self.locking  # noqa: B018
        settled = datetime.now(UTC) - SETTLE_TIME
        found: list[IncompleteUpload] = []
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=f"{self.base}sha256/"
        )
        with self._errors(f"listing incomplete uploads in {self.url}"):
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] <= settled:
                        found.append(IncompleteUpload(self, upload["Key"], upload["UploadId"]))
        return sorted(found, key=lambda u: (u.key, u.upload_id))

    # --- deleting and coordination -------------------------------------------------------------

    def delete(self, digest: str) -> bool:
        """Remove every version of the object; False if there was none.

        A delete without a version id would only hide the object behind a delete marker, so each
        version is deleted by id; that is what Object Lock refuses before the retention date or
        under a legal hold, and the refusal is raised as a StoreError naming the date.
        """
        self.locking  # noqa: B018
        key = self.key_for(digest)
        with self._errors(f"deleting stored file {digest}"):
            versions: list[tuple[str, bool]] = []
            pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key)
            for page in pages:
                versions += [(v["VersionId"], True) for v in page.get("Versions", []) if v["Key"] == key]
                versions += [(m["VersionId"], False) for m in page.get("DeleteMarkers", []) if m["Key"] == key]
            for version_id, _ in versions:
                try:
                    self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
                except self._client_error as exc:
                    if _code(exc) in _DENIED:
                        raise StoreError(self._refusal(key, version_id, digest)) from None
                    raise
        return any(is_object for _, is_object in versions)

    def _refusal(self, key: str, version_id: str, digest: str) -> str:
        denied = f"deleting stored file {digest} was refused: check the IAM permissions listed in docs/DEPLOYMENT.md"
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        except (self._client_error, self._botocore_error):
            return denied
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return f"stored file {digest} is under a legal hold in the bucket's Object Lock; it cannot be deleted"
        until = head.get("ObjectLockRetainUntilDate")
        if until is not None and until > datetime.now(UTC):
            mode = head.get("ObjectLockMode") or "GOVERNANCE"
            return f"the bucket's Object Lock ({mode}) keeps stored file {digest} until {until:%Y-%m-%d %H:%M:%S} UTC"
        return denied

    def abort_upload(self, key: str, upload_id: str) -> None:
        with self._errors(f"aborting an incomplete upload in {self.url}"):
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except self._client_error as exc:
                if _code(exc) != "NoSuchUpload":
                    raise

    def writing(self) -> contextlib.AbstractContextManager[None]:
        return self._local_lock.writing()

    def maintenance(self) -> contextlib.AbstractContextManager[None]:
        return self._local_lock.maintenance()

    def try_maintenance(self) -> contextlib.AbstractContextManager[bool]:
        return self._local_lock.try_maintenance()

    # A killed upload leaves an incomplete multipart upload (a leftover) or an orphan object old
    # enough to be reported; no temporary files or intent markers of the local store's kind.
    def interrupted(self, *, all_dead: bool) -> Interrupted:
        return Interrupted([], {})

    def settle(self, digests: Iterable[str]) -> None:
        """Nothing to settle: see `interrupted`."""

    def strays(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class IncompleteUpload:
    """A leftover of the object store; like the local store's leftover Path, it has a name and unlink()."""

    store: S3BlobStore
    key: str
    upload_id: str

    @property
    def name(self) -> str:
        return f"incomplete upload of {self.key.rsplit('/', 1)[-1]}"

    def unlink(self, missing_ok: bool = False) -> None:
        self.store.abort_upload(self.key, self.upload_id)


class _ObjectReader(io.RawIOBase):
    """The object's streaming body, with network failures raised as StoreError."""

    def __init__(self, store: S3BlobStore, body: Any, digest: str):
        self._store, self._body, self._digest = store, body, digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with self._store._errors(f"reading stored file {self._digest}"):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _changed(source: Path) -> OSError:
    return OSError(f"{source} changed while it was being stored; register it again")


if TYPE_CHECKING:
    # mypy fails here, not at some caller, when S3BlobStore drifts from the Protocol.
    def _is_a_blob_store(store: S3BlobStore) -> BlobStore:
        return store
