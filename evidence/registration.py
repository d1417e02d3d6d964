"""Register evidence files: store each blob once, link it to an attestation's documentation items.

Each file is its own unit of work: its blob is stored (fsynced, renamed into place) and then
its rows are committed in one transaction. If the transaction fails, a blob this run created
is removed again, so a file is either fully registered or leaves no trace; a crash between
the two leaves only an orphaned blob, which `evidence verify` reports. Re-running a bulk
registration is safe: links that already exist are reported as already present.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.app import App
from evidence.blobstore import LocalBlobStore, StoredBlob
from evidence.catalog.store import requirement_for
from evidence.db.models import Attestation, Blob, Clinician, Evidence, EvidenceLink
from evidence.db.types import utcnow
from evidence.errors import EvidenceError, InputError, NotFoundError
from evidence.identifiers import parse_activity_id, parse_npi, parse_tin
from evidence.practices import Lookup, find_attestation


@dataclass(frozen=True)
class LinkRequest:
    """What a file documents, as the user named it."""

    tin: str
    year: int
    activity_id: str
    item_keys: tuple[int, ...] = ()
    npi: str | None = None


@dataclass(frozen=True)
class LinkTarget:
    attestation_id: int
    item_ids: tuple[int, ...]
    clinician_id: int | None
    label: str


@dataclass(frozen=True)
class FileToRegister:
    path: Path
    request: LinkRequest
    effective_date: date | None = None
    description: str | None = None
    source: str = ""  # e.g. "manifest.yaml line 12", for error messages


@dataclass
class Outcome:
    path: Path
    status: str  # registered | present | failed
    message: str = ""
    evidence_id: int | None = None


@dataclass
class RegistrationSummary:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def resolve_target(session: Session, request: LinkRequest, lookup: Lookup | None = None) -> LinkTarget:
    """Find the attestation and documentation items a file is meant to satisfy."""
    lookup = lookup or Lookup(session)
    tin, activity_id = parse_tin(request.tin), parse_activity_id(request.activity_id)
    practice = lookup.require_practice(tin)
    activity = lookup.activity(activity_id, request.year)
    clinician: Clinician | None = None
    attestation: Attestation | None = None
    if request.npi:
        clinician = lookup.require_member(practice, parse_npi(request.npi), request.year)
        attestation = find_attestation(session, practice, activity, clinician)
    if attestation is None:
        attestation = find_attestation(session, practice, activity, None)
    if attestation is None:
        whose = f"NPI {request.npi} or the group" if request.npi else "the group"
        raise InputError(
            f"no attestation of {activity_id} by {whose} under TIN {tin} for {request.year}; "
            "record it first with `evidence attest`"
        )
    requirement = requirement_for(session, activity_id)
    by_key = {item.key: item for item in requirement.items}
    listing = "; ".join(f"{item.key}) {item.label}" for item in requirement.items)
    keys = request.item_keys
    if not keys:
        if len(by_key) > 1:
            raise InputError(f"{activity_id} has {len(by_key)} documentation items; choose with --item: {listing}")
        keys = tuple(by_key)
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise InputError(f"{activity_id} has no documentation item {unknown[0]} (items: {listing})")
    # Evidence for a group attestation may document one participating clinician.
    link_clinician = clinician.id if clinician is not None and attestation.clinician_id is None else None
    label = f"{tin} PY{request.year} {activity_id} item {', '.join(map(str, sorted(set(keys))))}"
    return LinkTarget(attestation.id, tuple(by_key[k].id for k in sorted(set(keys))), link_clinician, label)


def check_source(path: Path, *, follow_symlinks: bool, allow_empty: bool) -> os.stat_result:
    """Refuse what must not be registered silently; one clear reason naming the path."""
    try:
        os.fsdecode(path).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{os.fsdecode(path)!r}: file name is not valid UTF-8") from None
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    if stat.S_ISLNK(info.st_mode):
        if not follow_symlinks:
            raise InputError(f"{path}: is a symbolic link (use --follow-symlinks to register its target)")
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise InputError(f"{path}: symbolic link to a missing file") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file")
    if info.st_size == 0 and not allow_empty:
        raise InputError(f"{path}: empty file (use --allow-empty to register it anyway)")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: not readable (permission denied)")
    return info


def expand_paths(paths: Iterable[Path], *, follow_symlinks: bool) -> Iterator[Path]:
    """Files as given; a directory means every file below it, in a stable order."""
    for path in paths:
        if path.is_dir() and (follow_symlinks or not path.is_symlink()):
            for root, dirs, files in os.walk(path, followlinks=follow_symlinks):
                dirs.sort()
                for name in sorted(files):
                    yield Path(root) / name
            continue
        yield path


def _link_rows(session: Session, evidence_ids: list[int], attestation_id: int) -> set[tuple[int, int]]:
    if not evidence_ids:
        return set()
    rows = session.execute(
        select(EvidenceLink.evidence_id, EvidenceLink.item_id).where(
            EvidenceLink.evidence_id.in_(evidence_ids), EvidenceLink.attestation_id == attestation_id
        )
    )
    return {(e, i) for e, i in rows}


def record_registration(
    session: Session,
    blob: StoredBlob,
    target: LinkTarget,
    *,
    original_name: str,
    effective_date: date,
    description: str | None,
    actor: str,
) -> tuple[Evidence, bool]:
    """Rows for one stored file; (evidence, changed). Idempotent for links it already has."""
    blob_row = session.scalar(select(Blob).where(Blob.hash_algorithm == blob.algorithm, Blob.digest == blob.digest))
    if blob_row is None:
        blob_row = Blob(hash_algorithm=blob.algorithm, digest=blob.digest, size=blob.size, media_type=blob.media_type)
        session.add(blob_row)
        session.flush()
    candidates = list(
        session.scalars(
            select(Evidence)
            .where(Evidence.blob_id == blob_row.id, Evidence.withdrawn_at.is_(None))
            .order_by(Evidence.id)
        )
    )
    existing_links = _link_rows(session, [e.id for e in candidates], target.attestation_id)
    for evidence in candidates:
        if all((evidence.id, item_id) in existing_links for item_id in target.item_ids):
            return evidence, False
    evidence = next(
        (e for e in candidates if (e.original_name, e.effective_date) == (original_name, effective_date)), None
    )
    if evidence is None:
        evidence = Evidence(
            blob_id=blob_row.id,
            original_name=original_name,
            effective_date=effective_date,
            description=description,
            registered_by=actor,
        )
        session.add(evidence)
        session.flush()
    for item_id in target.item_ids:
        if (evidence.id, item_id) not in existing_links:
            session.add(
                EvidenceLink(
                    evidence_id=evidence.id,
                    attestation_id=target.attestation_id,
                    item_id=item_id,
                    clinician_id=target.clinician_id,
                    created_by=actor,
                )
            )
    session.flush()
    return evidence, True


def register_one(
    app: App,
    store: LocalBlobStore,
    item: FileToRegister,
    *,
    follow_symlinks: bool = False,
    allow_empty: bool = False,
    target_cache: dict[LinkRequest, LinkTarget] | None = None,
) -> Outcome:
    """Register one file in its own transaction; never raises for a bad file, reports it."""
    path = item.path
    try:
        info = check_source(path, follow_symlinks=follow_symlinks, allow_empty=allow_empty)
        target = (target_cache or {}).get(item.request)
        if target is None:
            with app.read() as session:
                target = resolve_target(session, item.request)
            if target_cache is not None:
                target_cache[item.request] = target
        effective = item.effective_date or datetime.fromtimestamp(info.st_mtime).date()
        blob: StoredBlob | None = None
        try:
            with store.writing():
                try:
                    blob = store.put_file(path, follow_symlinks=follow_symlinks)
                except OSError as exc:
                    raise InputError(f"{path}: cannot store: {exc.strerror or exc}") from None
                with app.write() as session:
                    evidence, changed = record_registration(
                        session,
                        blob,
                        target,
                        original_name=path.name,
                        effective_date=effective,
                        description=item.description,
                        actor=app.actor,
                    )
        except BaseException:
            if blob is not None and blob.created:
                _forget_unreferenced_blob(app, store, blob.digest)
            raise
    except EvidenceError as exc:
        prefix = f"{item.source}: " if item.source else ""
        return Outcome(path, "failed", prefix + exc.message)
    status = "registered" if changed else "present"
    return Outcome(path, status, f"evidence {evidence.id}: {target.label}", evidence.id)


def _forget_unreferenced_blob(app: App, store: LocalBlobStore, digest: str) -> None:
    """Remove a blob whose rows never committed, unless another registration now uses it.

    Under the exclusive lock no other process is between storing a blob and committing it,
    so "not in the database" really means unreferenced.
    """
    try:
        with store.maintenance(), app.read() as session:
            if session.scalar(select(Blob.id).where(Blob.digest == digest)) is None:
                store.delete(digest)
    except (EvidenceError, OSError):
        pass  # left as an orphan; `evidence verify --repair` removes it


def withdraw(session: Session, evidence_id: int, reason: str, *, actor: str) -> Evidence:
    """Take a mistaken registration out of reports and packets; the record and file stay."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise InputError("a withdrawal needs a --reason")
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFoundError(f"no evidence with id {evidence_id}")
    if evidence.withdrawn_at is not None:
        raise InputError(f"evidence {evidence_id} was already withdrawn on {evidence.withdrawn_at:%Y-%m-%d}")
    evidence.withdrawn_at, evidence.withdrawn_by, evidence.withdrawal_reason = utcnow(), actor, reason
    session.flush()
    return evidence
