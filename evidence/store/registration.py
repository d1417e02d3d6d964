"""Register evidence files: store each blob once, link it to an attestation's documentation items.

Files are registered in batches: every blob of a batch is stored and made durable with one
flush (data, intent markers, renames, folders) and then the batch's rows are committed. Each
file is still all-or-nothing: if the transaction fails, a blob this run created is removed
again; a kill before the commit leaves temporaries and blobs with intent markers, which the
next command removes (evidence.store.recovery). Re-running a bulk registration is safe: links
that already exist are reported as already present.

Dates are honest: each registered file says which effective date (or range) it got and where it
came from; one dated after its performance year or wholly outside its attested period is
warned about (or, with strict_dates, refuses the whole run before anything is stored). Known
content registered again with another date or description than its record is refused for that
file, naming both values and the `evidence edit` that would correct the record: the record is
never silently kept nor silently changed.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from evidence.catalog.store import requirement_for
from evidence.db.engine import translated_errors
from evidence.db.models import Attestation, Blob, Clinician, Evidence, EvidenceLink, Participation, Tombstone
from evidence.db.types import utcnow
from evidence.errors import ConflictError, EvidenceError, InputError, NotFoundError
from evidence.records.corrections import refuse_if_held
from evidence.records.practices import Lookup, find_attestation
from evidence.retention import audit
from evidence.retention.policy import held_attestations, retention_years
from evidence.rules import cms as rules
from evidence.rules import coverage
from evidence.rules.identifiers import parse_activity_id, parse_npi, parse_tin
from evidence.store.blobstore import BlobStore, Staged, StoredBlob
from evidence.store.recovery import recover


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
    tin: str
    year: int
    period_start: date  # the period evidence is checked against: the attestation's, or the
    period_end: date  # participant's own period when it documents one participant


@dataclass(frozen=True)
class FileToRegister:
    path: Path
    request: LinkRequest
    effective_date: date | None = None  # the day, or a range's first day; None: the file's date
    description: str | None = None
    source: str = ""  # e.g. "manifest.yaml line 12", for error messages
    effective_until: date | None = None  # a range's last day (a policy in force until then)
    date_source: str = ""  # where the date came from, e.g. "--effective-date", "the manifest"
    name: str | None = None  # the name to record when the path's is not the file's own (a browser upload)


class OutcomeStatus(StrEnum):
    REGISTERED = "registered"
    PRESENT = "present"  # every link it asked for existed already
    FAILED = "failed"


@dataclass
class Outcome:
    path: Path
    status: OutcomeStatus
    message: str = ""
    evidence_id: int | None = None
    effective: str = ""  # registered: "2020-10-05", or "2019-12-01 to 2020-12-31"
    date_source: str = ""  # ... and where it came from: "--effective-date", "the manifest", ...
    warning: str | None = None  # registered: its date is after the year or outside the period


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
    item_ids = tuple(by_key[k].id for k in sorted(set(keys)))
    period = (attestation.start_date, attestation.end_date)
    if link_clinician is not None:  # the missing report checks a participant's evidence against their own period
        own = session.execute(
            select(Participation.start_date, Participation.end_date).where(
                Participation.attestation_id == attestation.id, Participation.clinician_id == link_clinician
            )
        ).first()
        period = (own[0], own[1]) if own is not None else period
    return LinkTarget(attestation.id, item_ids, link_clinician, label, tin, request.year, *period)


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
    except (OSError, ValueError) as exc:  # a name too long, a file used as a folder, a NUL character
        raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        if not follow_symlinks:
            raise InputError(f"{path}: is a symbolic link (use --follow-symlinks to register its target)")
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise InputError(f"{path}: symbolic link to a missing file") from None
        except OSError as exc:  # a loop of links
            raise InputError(f"{path}: cannot follow the symbolic link: {exc.strerror or exc}") from None
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
        try:
            is_dir = path.is_dir() and (follow_symlinks or not path.is_symlink())
        except OSError:  # a name too long: check_source reports it
            is_dir = False
        if is_dir:
            for root, dirs, files in os.walk(path, followlinks=follow_symlinks):
                dirs.sort()
                for name in sorted(files):
                    yield Path(root) / name
            continue
        yield path


@dataclass(frozen=True)
class RowsToRecord:
    """One stored file and what it documents, ready to be written as rows."""

    blob: StoredBlob
    target: LinkTarget
    original_name: str
    effective_date: date
    description: str | None
    effective_until: date | None = None
    dates_given: bool = False  # the dates were given (not the file's own date): a record must match them


@dataclass
class EvidenceRecord:
    """An evidence row as registration compares it: read from the database, or about to be inserted."""

    id: int  # 0 until a new row is inserted
    original_name: str
    effective_date: date
    effective_until: date | None
    description: str | None


class Recorded(NamedTuple):
    evidence: EvidenceRecord
    changed: bool
    conflict: str | None = None  # known content whose record says otherwise: nothing was changed


def record_batch(session: Session, entries: list[RowsToRecord], *, actor: str) -> list[Recorded]:
    """Rows for many stored files with a handful of statements; one Recorded per entry.

    Idempotent: a file whose links all exist already is reported unchanged, unless the dates or
    description it was given differ from that record's: then it is a conflict (nothing changes;
    `evidence edit` corrects a record, with a reason). The same content is one Blob row; its
    registrations reuse an Evidence row with the same name, effective range and (where given)
    description, otherwise get their own.

    Whatever the batch size, the same statements: three SELECTs of what exists (blobs, their
    records, their links), and one multi-row INSERT per table (blobs, evidence, links, events),
    each but the events' followed by one SELECT of the new ids.
    """
    if not entries:
        return []
    digests = sorted({e.blob.digest for e in entries})
    blob_ids = _blob_ids(session, digests)
    new_blobs = {e.blob.digest: e.blob for e in entries if e.blob.digest not in blob_ids}
    if new_blobs:
        now = utcnow()
        session.execute(
            insert(Blob),
            [
                {
                    "hash_algorithm": b.algorithm,
                    "digest": b.digest,
                    "size": b.size,
                    "media_type": b.media_type,
                    "stored_at": now,
                }
                for b in new_blobs.values()
            ],
        )
        blob_ids |= _blob_ids(session, sorted(new_blobs))
    candidates: dict[int, list[EvidenceRecord]] = {}
    blob_of: dict[int, int] = {}  # id(record) -> its blob id
    for row in session.execute(
        select(
            Evidence.id,
            Evidence.blob_id,
            Evidence.original_name,
            Evidence.effective_date,
            Evidence.effective_until,
            Evidence.description,
        )
        .where(Evidence.blob_id.in_(set(blob_ids.values())), Evidence.withdrawn_at.is_(None))
        .order_by(Evidence.id)
    ):
        record = EvidenceRecord(row.id, row.original_name, row.effective_date, row.effective_until, row.description)
        candidates.setdefault(row.blob_id, []).append(record)
        blob_of[id(record)] = row.blob_id
    linked: dict[int, set[tuple[int, int]]] = {}  # id(record) -> {(attestation, item)}
    by_id = {r.id: r for group in candidates.values() for r in group}
    if by_id:
        for evidence_id, attestation_id, item_id in session.execute(
            select(EvidenceLink.evidence_id, EvidenceLink.attestation_id, EvidenceLink.item_id).where(
                EvidenceLink.evidence_id.in_(by_id)
            )
        ):
            linked.setdefault(id(by_id[evidence_id]), set()).add((attestation_id, item_id))

    results: list[Recorded] = []
    new_records: list[EvidenceRecord] = []
    new_links: list[tuple[EvidenceRecord, RowsToRecord, int]] = []
    for entry in entries:
        blob_id = blob_ids[entry.blob.digest]
        group = candidates.setdefault(blob_id, [])
        wanted = {(entry.target.attestation_id, item_id) for item_id in entry.target.item_ids}
        holders = [e for e in group if wanted <= linked.get(id(e), set())]
        if holders:  # a record that says what this run says, else the first one, in conflict
            conflicts = [_conflict(e, entry) for e in holders]
            agreeing = next((e for e, c in zip(holders, conflicts, strict=True) if c is None), None)
            results.append(Recorded(agreeing or holders[0], False, None if agreeing else conflicts[0]))
            continue
        evidence = next((e for e in group if _same_record(e, entry)), None)
        if evidence is None:
            evidence = EvidenceRecord(
                0, entry.original_name, entry.effective_date, entry.effective_until, entry.description
            )
            new_records.append(evidence)
            blob_of[id(evidence)] = blob_id
            group.append(evidence)
        have = linked.setdefault(id(evidence), set())
        for pair in sorted(wanted - have):
            new_links.append((evidence, entry, pair[1]))
        have |= wanted
        results.append(Recorded(evidence, True))
    now = utcnow()
    evidence_ids = _insert_in_order(
        session,
        Evidence,
        [
            {
                "blob_id": blob_of[id(r)],
                "original_name": r.original_name,
                "effective_date": r.effective_date,
                "effective_until": r.effective_until,
                "description": r.description,
                "registered_by": actor,
                "registered_at": now,
            }
            for r in new_records
        ],
        key=("blob_id", "original_name"),
    )
    for record, evidence_id in zip(new_records, evidence_ids, strict=True):
        record.id = evidence_id
    link_ids = _insert_in_order(
        session,
        EvidenceLink,
        [
            {
                "evidence_id": evidence.id,
                "attestation_id": entry.target.attestation_id,
                "item_id": item_id,
                "clinician_id": entry.target.clinician_id,
                "created_by": actor,
                "created_at": now,
            }
            for evidence, entry, item_id in new_links
        ],
        key=("evidence_id", "attestation_id", "item_id"),
    )
    links_of: dict[int, list[int]] = defaultdict(list)
    for (evidence, _, _), link_id in zip(new_links, link_ids, strict=True):
        links_of[evidence.id].append(link_id)
    keep_years = retention_years(session)  # chained with the links, so a purge can check the rows against it
    audit.record_many(
        session,
        actor,
        [
            audit.NewEvent(
                "register",
                f"registered evidence {evidence.id} ({entry.blob.size} bytes): {entry.target.label}",  # no file name
                entry.target.tin,
                entry.target.year,
                {
                    "evidence": evidence.id,
                    "sha256": entry.blob.digest,
                    "size": entry.blob.size,
                    "links": sorted(links_of[evidence.id]),
                    "attestation": entry.target.attestation_id,
                    "retain_until": rules.retain_until(entry.target.year, keep_years).isoformat(),
                    "effective": coverage.describe(evidence.effective_date, evidence.effective_until),
                },
            )
            for (evidence, changed, _), entry in zip(results, entries, strict=True)
            if changed
        ],
    )
    return results


_IN_CHUNK = 500  # values per IN (...): well under any backend's limit on bound parameters


def _blob_ids(session: Session, digests: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(digests), _IN_CHUNK):
        part = digests[start : start + _IN_CHUNK]
        query = select(Blob.digest, Blob.id).where(Blob.hash_algorithm == "sha256", Blob.digest.in_(part))
        found.update((digest, blob_id) for digest, blob_id in session.execute(query))
    return found


def _insert_in_order(
    session: Session, model: type[Evidence] | type[EvidenceLink], rows: list[dict[str, Any]], key: tuple[str, ...]
) -> list[int]:
    """Insert rows with one multi-row statement; their ids, in the order of `rows`.

    Neither backend promises the order of RETURNING rows, so the ids are read back instead: in
    this transaction we hold the writer lock (BEGIN IMMEDIATE, or the advisory lock), and ids
    only ever grow (AUTOINCREMENT, a sequence), so the rows above the largest id before the
    insert are exactly these, in insertion order. The `key` columns read back with them prove it.
    """
    if not rows:
        return []
    column = model.id
    before = session.scalar(select(func.max(column))) or 0
    session.execute(insert(model), rows)
    query = select(column, *(getattr(model, name) for name in key)).where(column > before).order_by(column)
    found = session.execute(query).all()
    if [tuple(row[1:]) for row in found] != [tuple(r[name] for name in key) for r in rows]:
        raise ConflictError(  # another writer despite the lock: never guess which row is whose
            f"{model.__tablename__}: the new rows read back are not those inserted; nothing was registered"
        )
    return [row[0] for row in found]


def _same_record(evidence: EvidenceRecord, entry: RowsToRecord) -> bool:
    """A registration of known content for a new link reuses a record that says the same."""
    same = (evidence.original_name, evidence.effective_date, evidence.effective_until) == (
        entry.original_name,
        entry.effective_date,
        entry.effective_until,
    )
    return same and (entry.description is None or entry.description == evidence.description)


def _conflict(evidence: EvidenceRecord, entry: RowsToRecord) -> str | None:
    """What a re-registration of recorded content says differently (old vs new), and the way to correct it."""
    differences, fix = [], []
    old = coverage.describe(evidence.effective_date, evidence.effective_until)
    new = coverage.describe(entry.effective_date, entry.effective_until)
    if entry.dates_given and new != old:
        differences.append(f"effective {old} (this run: {new})")
        if entry.effective_until is None:
            fix.append(f"--effective-date {entry.effective_date}")
        else:
            fix.append(f"--effective-from {entry.effective_date} --effective-until {entry.effective_until}")
    if entry.description is not None and entry.description != evidence.description:
        differences.append(f"description {evidence.description!r} (this run: {entry.description!r})")
        fix.append('--description "..."')
    if not differences:
        return None
    return (
        f"already registered as evidence {evidence.id} with {' and '.join(differences)}; nothing changed. "
        f'To correct the record: evidence edit {evidence.id} {" ".join(fix)} --reason "..."'
    )


# A batch shares one transaction and one durable flush (its files' data, its intent markers, each
# touched folder): many small files register several times faster, and a kill loses at most the
# batch in flight. Each file is still all-or-nothing: its blob is durable before the commit that
# names it, and a failed batch is retried file by file to isolate the bad one.
BATCH_FILES = 200
BATCH_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class _Prepared:
    item: FileToRegister
    target: LinkTarget
    effective_date: date
    size: int
    effective_until: date | None = None
    date_source: str = ""
    date_problem: str | None = None  # after the year, or wholly outside the period


def register_files(
    session: Session,
    store: BlobStore,
    items: Iterable[FileToRegister],
    *,
    actor: str,
    follow_symlinks: bool = False,
    allow_empty: bool = False,
    strict_dates: bool = False,
    all_or_nothing: bool = False,
    on_progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Register every file; bad files are reported in their Outcome, never raised.

    A registered file dated after its performance year or wholly outside its attested period
    carries a warning in its Outcome. With strict_dates such a file is refused instead: every
    file is checked before any is stored, and an InputError naming each one is raised with
    nothing registered.

    This function commits, batch by batch: pass a writer session with nothing pending
    (`with app.write() as session:`). Each batch of up to BATCH_FILES files is one
    transaction, so what was registered stays registered if a later batch is interrupted.
    No transaction is open while files are stored: every read ends with a commit, so the
    writer lock is held only for the rows. Each blob is fsynced and renamed into place
    before the commit that names it, under the store's shared lock, which is held from
    storing a blob until its rows are committed.

    With all_or_nothing (a browser upload: the user sends the files together) every file is
    checked first and they are stored and committed as one transaction: any file that fails
    raises an InputError naming it, and nothing is registered (blobs this call created are removed).
    """
    with translated_errors():
        recover(session, store)  # what a killed run left: its temporary files and uncommitted blobs
    targets: dict[LinkRequest, LinkTarget] = {}
    outcomes: list[Outcome] = []

    def done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_progress is not None:
            on_progress(outcome)

    def prepared_files() -> Iterator[_Prepared]:
        for item in items:
            try:
                yield _prepare(session, item, targets, follow_symlinks=follow_symlinks, allow_empty=allow_empty)
            except EvidenceError as exc:
                done(_failed(item, exc))

    checked: Iterable[_Prepared] = prepared_files()
    if strict_dates or all_or_nothing:  # every file is checked before the first is stored
        checked = list(checked)
        if all_or_nothing:
            _refuse_failures(outcomes)
        if strict_dates:
            _refuse_bad_dates(checked)
    if all_or_nothing:
        _register_batch(session, store, list(checked), follow_symlinks, done, actor=actor, all_or_nothing=True)
        return outcomes
    batch: list[_Prepared] = []
    batch_bytes = 0
    for prepared in checked:
        batch.append(prepared)
        batch_bytes += prepared.size
        if len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
            _register_batch(session, store, batch, follow_symlinks, done, actor=actor)
            batch, batch_bytes = [], 0
    if batch:
        _register_batch(session, store, batch, follow_symlinks, done, actor=actor)
    return outcomes


def _refuse_bad_dates(prepared: list[_Prepared]) -> None:
    refused = [f"{p.item.path}: {p.date_problem}" for p in prepared if p.date_problem]
    if len(refused) == 1:
        raise InputError(f"{refused[0]}; --strict-dates: nothing was registered")
    if refused:
        raise InputError(
            f"--strict-dates: {len(refused)} files dated outside their attested period or year; nothing was registered",
            details=refused,
        )


def _refuse_failures(outcomes: list[Outcome]) -> None:
    """all_or_nothing: one failed file refuses them all, before (or instead of) any commit."""
    failed = [o.message for o in outcomes if o.status is OutcomeStatus.FAILED]
    if len(failed) == 1:
        raise InputError(f"{failed[0]}; nothing was registered")
    if failed:
        raise InputError(f"{len(failed)} files refused, nothing was registered: {failed[0]}", details=failed)


def _failed(item: FileToRegister, exc: EvidenceError) -> Outcome:
    prefix = f"{item.source}: " if item.source else ""
    return Outcome(item.path, OutcomeStatus.FAILED, prefix + exc.message)


def _prepare(
    session: Session,
    item: FileToRegister,
    targets: dict[LinkRequest, LinkTarget],
    *,
    follow_symlinks: bool,
    allow_empty: bool,
) -> _Prepared:
    info = check_source(item.path, follow_symlinks=follow_symlinks, allow_empty=allow_empty)
    target = targets.get(item.request)
    if target is None:
        try:
            with translated_errors():
                target = targets[item.request] = resolve_target(session, item.request)
        finally:
            _end_transaction(session)
    if item.effective_date is not None:
        effective, until = coverage.normalized_range(item.effective_date, item.effective_until)
        source = item.date_source or "given"
    elif item.effective_until is not None:
        raise InputError(f"{item.path}: an effective until needs its start (effective from)")
    else:
        effective, until, source = file_date(item.path, info), None, "the file's modification time"
    problem = coverage.placement_problem(effective, until, target.period_start, target.period_end, target.year)
    return _Prepared(item, target, effective, info.st_size, until, source, problem)


def file_date(path: Path, info: os.stat_result) -> date:
    """The file's own date (its modification time, local time), the default effective date.

    A time the platform cannot turn into a date (year 10000, or before year 1) is refused for
    this file alone, with the way out.
    """
    try:
        return datetime.fromtimestamp(info.st_mtime).date()
    except (ValueError, OverflowError, OSError):
        raise InputError(
            f"{path}: its modification time (about year {1970 + info.st_mtime / 31_556_952:.0f}) is out of range; "
            "give its date with --effective-date (or effective_date in a manifest)"
        ) from None


def _end_transaction(session: Session) -> None:
    """End a read-only transaction, releasing the writer lock before any slow work."""
    session.rollback()


def _register_batch(
    session: Session,
    store: BlobStore,
    batch: list[_Prepared],
    follow_symlinks: bool,
    done: Callable[[Outcome], None],
    *,
    actor: str,
    all_or_nothing: bool = False,
) -> None:
    """Store a batch with one durable flush, then commit its rows; the durability order is:

    every file staged (hashed and copied to a temporary, larger ones in parallel threads), then
    published (data fsynced, intent markers made durable, renamed into place, folders fsynced),
    then the rows committed, then the markers dropped. A kill anywhere before the commit leaves
    only temporaries and marked blobs, which the next command's recovery removes.
    """
    staged: list[tuple[_Prepared, Staged]] = []
    stored: list[tuple[_Prepared, StoredBlob]] = []
    results: list[
        tuple[_Prepared, int, bool, str | None]
    ] = []  # (file, evidence id, changed, conflict), read before the next rollback
    committed = False
    try:
        with translated_errors():  # an object store with Object Lock keeps each file until this date
            keep_years = retention_years(session)
    finally:
        _end_transaction(session)  # no transaction, nor writer lock, while files are stored
    try:
        with store.writing():
            refused: list[Outcome] = []
            report = refused.append if all_or_nothing else done
            _stage_all(store, batch, follow_symlinks, keep_years, report, into=staged)
            store.publish([s for _, s in staged])  # every blob durable before the commit that names it
            for prepared, item in staged:
                if item.error is not None:
                    report(_failed(prepared.item, _cannot_store(prepared, item.error)))
                elif item.stored is not None:
                    stored.append((prepared, item.stored))
            _refuse_failures(refused)  # the finally below removes what this batch stored
            try:
                with translated_errors():
                    rows = record_batch(session, [_rows(p, blob) for p, blob in stored], actor=actor)
                    if all_or_nothing:  # known content recorded otherwise refuses the upload, not one file
                        conflicts = [_failed(p.item, InputError(f"{p.item.path}: {row.conflict}"))
                                     for (p, _), row in zip(stored, rows, strict=True) if row.conflict]  # fmt: skip
                        _refuse_failures(conflicts)
                    session.commit()
                results = [
                    (p, row.evidence.id, row.changed, row.conflict) for (p, _), row in zip(stored, rows, strict=True)
                ]
                committed = True
            except EvidenceError:
                session.rollback()
                if all_or_nothing:
                    raise
            if not committed:  # isolate the file that failed; the others still register
                for prepared, blob in stored:
                    try:
                        with translated_errors():
                            row = record_batch(session, [_rows(prepared, blob)], actor=actor)[0]
                            session.commit()
                        results.append((prepared, row.evidence.id, row.changed, row.conflict))
                    except EvidenceError as exc:  # the database refused it (full, damaged): name the file
                        session.rollback()
                        done(_failed(prepared.item, InputError(_why_not_recorded(session, prepared, exc))))
            committed = True
            recorded = {id(p) for p, *_ in results}
            store.settle(blob.digest for p, blob in stored if id(p) in recorded)  # named by committed rows now
    finally:
        store.discard(s for _, s in staged)  # temporaries of files never published
        if not committed:  # interrupted or a database error: leave no blob that nothing names
            _rollback_quietly(session)
            for digest in _created(staged):
                _forget_unreferenced_blob(session, store, digest)
    for prepared, evidence_id, changed, conflict in results:
        if conflict is not None:
            done(_failed(prepared.item, InputError(f"{prepared.item.path}: {conflict}")))
            continue
        status = OutcomeStatus.REGISTERED if changed else OutcomeStatus.PRESENT
        message = f"evidence {evidence_id}: {prepared.target.label}"
        effective = coverage.describe(prepared.effective_date, prepared.effective_until)
        warning = f"{prepared.item.path}: {prepared.date_problem}" if prepared.date_problem and changed else None
        done(Outcome(prepared.item.path, status, message, evidence_id, effective, prepared.date_source, warning))
    _forget_unused(session, store, _created(staged))
    digest_of = {id(p): blob.digest for p, blob in stored}
    _hold_if_held(session, store, [(p.target.attestation_id, digest_of[id(p)]) for p, *_ in results])


# Files at least this large are staged in parallel threads (hashlib and file I/O release the GIL);
# smaller ones cost mostly Python, which threads would only contend for, and stay in order.
PARALLEL_BYTES = 1024 * 1024
STAGE_THREADS = 2


def _stage_all(
    store: BlobStore,
    batch: list[_Prepared],
    follow_symlinks: bool,
    keep_years: int,
    done: Callable[[Outcome], None],
    *,
    into: list[tuple[_Prepared, Staged]],
) -> None:
    """Stage every file of the batch into `into` (so the caller can discard them on any error).

    A file that cannot be stored is reported by `done` and left out; failures are reported in
    the batch's order whichever thread staged the file.
    """

    def stage(prepared: _Prepared) -> Staged:
        retain = rules.retain_until(prepared.target.year, keep_years)
        return store.stage(prepared.item.path, follow_symlinks=follow_symlinks, retain_until=retain)

    large = [p for p in batch if p.size >= PARALLEL_BYTES]
    pool = None
    if len(large) > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(min(STAGE_THREADS, len(large)))
    futures = {id(p): pool.submit(stage, p) for p in large} if pool is not None else {}
    try:
        for prepared in batch:
            try:
                future = futures.pop(id(prepared), None)
                into.append((prepared, future.result() if future is not None else stage(prepared)))
            except InputError as exc:  # not a regular file once opened, or changed while it was read
                done(_failed(prepared.item, exc))
            except OSError as exc:
                done(_failed(prepared.item, _cannot_store(prepared, exc)))
    finally:
        if pool is not None:  # interrupted: what the threads still stage is discarded, not left behind
            for future in futures.values():
                future.cancel()
            pool.shutdown(wait=True)
            for future in futures.values():
                if not future.cancelled() and future.exception() is None:
                    store.discard([future.result()])


def _cannot_store(prepared: _Prepared, exc: OSError) -> InputError:
    return InputError(f"{prepared.item.path}: cannot store: {exc.strerror or exc}")


def _created(staged: list[tuple[_Prepared, Staged]]) -> list[str]:
    """Digests of the blobs this batch put in the store (they may need removing again)."""
    return sorted({s.digest for _, s in staged if s.stored is not None and s.stored.created})


def _why_not_recorded(session: Session, prepared: _Prepared, exc: EvidenceError) -> str:
    """The database refused a file's rows: a purge that took its attestation meanwhile, in words.

    A purge cannot run while blobs are stored (it waits for the store's lock), but it can run
    between finding the attestation and storing the files; the raw "FOREIGN KEY constraint
    failed" would say nothing useful.
    """
    path, target = prepared.item.path, prepared.target
    try:
        with translated_errors():
            gone = session.scalar(select(Attestation.id).where(Attestation.id == target.attestation_id)) is None
            purged = gone and session.scalar(
                select(Tombstone.id)
                .where(Tombstone.kind == "attestation", Tombstone.record_id == target.attestation_id)
                .limit(1)
            )
    except EvidenceError:
        gone = False
    finally:
        _rollback_quietly(session)
    if not gone:
        return f"{path}: cannot record: {exc.message}"
    what = target.label.rsplit(" item ", 1)[0]
    return (
        f"the attestation {what} (id {target.attestation_id}) was {'purged' if purged else 'deleted'} "
        f"while registering; nothing was registered for {path}"
    )


def _rows(prepared: _Prepared, blob: StoredBlob) -> RowsToRecord:
    item = prepared.item
    return RowsToRecord(
        blob,
        prepared.target,
        item.name or item.path.name,
        prepared.effective_date,
        item.description,
        prepared.effective_until,
        dates_given=item.effective_date is not None,
    )


def _rollback_quietly(session: Session) -> None:
    with contextlib.suppress(SQLAlchemyError):  # the connection is gone: closing the session discards it anyway
        session.rollback()


def _forget_unused(session: Session, store: BlobStore, digests: list[str]) -> None:
    """Blobs this batch stored whose file then failed on its own: remove them if unnamed."""
    if not digests:
        return
    try:
        with translated_errors():
            known = set(session.scalars(select(Blob.digest).where(Blob.digest.in_(digests))))
    finally:
        _end_transaction(session)
    for digest in digests:
        if digest not in known:
            _forget_unreferenced_blob(session, store, digest)


def _hold_if_held(session: Session, store: BlobStore, committed: list[tuple[int, str]]) -> None:
    """A file registered for a practice-year under a legal hold gets the store's own hold too.

    Files already present are held again as well, so re-running a registration mends a hold
    that an object-store error interrupted.
    """
    if not committed:
        return
    try:
        with translated_errors():
            held = held_attestations(session, {attestation_id for attestation_id, _ in committed})
    finally:
        _end_transaction(session)  # the object store is not called under the writer lock
    for digest in sorted({digest for attestation_id, digest in committed if attestation_id in held}):
        store.set_legal_hold(digest, True)


def _forget_unreferenced_blob(session: Session, store: BlobStore, digest: str) -> None:
    """Remove a blob whose rows never committed, unless another registration now uses it.

    Under the exclusive lock no other process is between storing a blob and committing it,
    so "not in the database" really means unreferenced. (The lock order is the store's
    lock, then the database's, as everywhere.)
    """
    try:
        with store.maintenance():
            try:
                unnamed = session.scalar(select(Blob.id).where(Blob.digest == digest)) is None
            finally:
                _rollback_quietly(session)
            if unnamed:
                store.delete(digest)
            store.settle([digest])  # gone, or named by another registration
    except (EvidenceError, OSError, SQLAlchemyError):
        pass  # its intent marker stays: the next command's recovery removes it


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
    # Withdrawing takes the file out of what the practice shows CMS: frozen, as unlinking is, while
    # a legal hold or an open audit covers any practice-year it documents.
    for attestation in {link.attestation_id: link.attestation for link in evidence.links}.values():
        refuse_if_held(session, attestation, f"withdraw evidence {evidence_id}")
    evidence.withdrawn_at, evidence.withdrawn_by, evidence.withdrawal_reason = utcnow(), actor, reason
    session.flush()
    audit.record(session, actor, "withdraw", f"evidence {evidence.id} withdrawn: {reason}",
                 details={"evidence": evidence.id})  # fmt: skip
    return evidence
