"""The activity page's entry points (issue #15): what an attested activity holds, registering
uploaded files for it, and linking a file already registered. As in access.guarded: the
principal's permission and practice grant first, then the service.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from evidence.access.guarded import _readable
from evidence.access.policy import Permission, Principal, require
from evidence.errors import EvidenceError, InputError, NotFoundError
from evidence.records.links import LinkChange, link_evidence, protect_in_store
from evidence.records.listing import EvidenceView, evidence_detail, list_evidence
from evidence.records.manifest import item_keys
from evidence.records.missing import ActivityStatus, missing_report
from evidence.rules.coverage import normalized_range
from evidence.rules.identifiers import parse_activity_id, parse_iso_date, parse_npi, parse_year
from evidence.store.blobstore import BlobStore
from evidence.store.registration import FileToRegister, LinkRequest, Outcome, register_files, resolve_target


@dataclass(frozen=True)
class ActivityPage:
    tin: str
    year: int
    activity_id: str
    title: str
    npi: str | None  # the page was asked for one clinician
    attestations: list[ActivityStatus]  # group and/or individual, each with its items, evidence and verdict
    items: list[tuple[int, str]]  # the activity's suggested documentation: (key, label)
    npis: list[tuple[str, str]]  # (NPI, name) an upload may name: individual attesters and group participants
    linkable: list[EvidenceView]  # the practice-year's registered files, to link to another item
    may_register: bool
    may_link: bool


def activity_page(
    session: Session, principal: Principal, tin: str, year: int | str, activity: str, *, npi: str | None = None
) -> ActivityPage:
    """One attested activity of a practice and year, from the report `evidence missing` prints."""
    tin = _readable(session, principal, tin)
    year, activity_id = parse_year(year), parse_activity_id(activity)
    npi = None if npi is None else parse_npi(npi)
    report = missing_report(session, tin=tin, year=year, npi=npi).only(activity=activity_id)
    if not report.activities:
        whose = f"NPI {npi}" if npi else "anyone"
        raise NotFoundError(f"no attestation of {activity_id} by {whose} under TIN {tin} for {year}")
    first = report.activities[0]
    npis: dict[str, str] = {}
    for status in report.activities:
        if status.npi:
            npis[status.npi] = status.clinician_name or ""
        for participant in status.participation.participants if status.participation else ():
            npis.setdefault(participant.npi, participant.name)
    return ActivityPage(
        tin,
        year,
        activity_id,
        first.title,
        npi,
        report.activities,
        [(item.key, item.label) for item in first.items],
        sorted(npis.items()),
        [e for e in list_evidence(session, tin=tin, year=year) if e.withdrawn_at is None],
        principal.may(Permission.REGISTER),
        principal.may(Permission.LINK),
    )


@dataclass(frozen=True)
class UploadedFile:
    path: Path  # where the upload was spooled (owner-only, removed by the caller afterwards)
    name: str  # the name the browser or client gave


@dataclass(frozen=True)
class UploadFields:
    """What the form or the API call says about its files: the fields of a manifest entry."""

    tin: str
    year: str
    activity: str
    items: tuple[str, ...] = ()
    npi: str | None = None
    effective_date: str | None = None
    effective_from: str | None = None
    effective_until: str | None = None
    description: str | None = None


def may_upload(principal: Principal, tin: str | None = None) -> None:
    """Refused before a byte of the body is read: a viewer (403), a practice not granted (404)."""
    require(principal, Permission.REGISTER, tin=None if tin is None else _tin_or_none(tin))


def _tin_or_none(tin: str) -> str | None:
    from evidence.rules.identifiers import parse_tin

    try:
        return parse_tin(tin)
    except InputError:
        return None  # the service says what is wrong with it


def upload(
    session: Session,
    store: BlobStore,
    principal: Principal,
    fields: UploadFields,
    files: list[UploadedFile],
) -> list[Outcome]:
    """`evidence register` of uploaded files, all or nothing: one bad file and none is registered.

    Pass a writer session (register_files commits). Dates: effective_date, or effective_from
    with effective_until, as in a manifest; neither: the day of the upload.
    """
    require(principal, Permission.REGISTER)
    tin = _readable(session, principal, fields.tin)
    files = [f for f in files if f.name or os.path.getsize(f.path)]  # a browser's empty file input sends one
    if not files:
        raise InputError("choose at least one file to upload")
    request = LinkRequest(
        tin, parse_year(fields.year), parse_activity_id(fields.activity), _items(fields.items), _npi(fields.npi)
    )
    start, until, source = _dates(fields)
    description = " ".join((fields.description or "").split()) or None
    if description is not None and "\x00" in description:
        raise InputError("the description contains a NUL character")
    for file in files:
        _check_name(file.name)
    resolve_target(session, request)  # a wrong target is one error, not one per file
    session.rollback()  # register_files begins its own transactions
    items = [
        FileToRegister(
            file.path, request, start, description, effective_until=until, date_source=source, name=file.name
        )
        for file in files
    ]
    try:
        return register_files(session, store, items, actor=principal.name, all_or_nothing=True)
    except EvidenceError as exc:  # name each file as its sender did, not by its spool path
        raise type(exc)(_named(exc.message, files), details=[_named(d, files) for d in exc.details]) from None


def _items(given: tuple[str, ...]) -> tuple[int, ...]:
    keys = tuple(key for value in given for key in item_keys(value))
    if not keys:
        raise InputError("choose at least one documentation item")
    return keys


def _npi(given: str | None) -> str | None:
    given = (given or "").strip()
    return parse_npi(given, field="npi") if given else None


def _dates(fields: UploadFields) -> tuple[date | None, date | None, str]:
    day, start, until = (
        parse_iso_date(value.strip(), field=name) if value and value.strip() else None
        for name, value in (
            ("effective_date", fields.effective_date),
            ("effective_from", fields.effective_from),
            ("effective_until", fields.effective_until),
        )
    )
    if day is not None and (start or until):
        raise InputError("give an effective date (one day) or a start and end (a range), not both")
    if day is not None:
        return day, None, "the upload's effective date"
    if start is None and until is None:
        raise InputError("give the effective date, or the start and end of the range the files cover")
    if start is None or until is None:
        raise InputError("a range needs both its start and its end (a single day is the effective date)")
    first, last = normalized_range(start, until)
    return first, last, "the upload's range"


MAX_NAME = 255  # bytes: what a file system takes as one name, and what a packet can show


def _check_name(name: str) -> None:
    if not name.strip():
        raise InputError("an uploaded file has no name")
    if "\x00" in name or len(name.encode("utf-8", "replace")) > MAX_NAME:
        raise InputError(f"the file name {name[:60]!r} is not usable (a NUL character, or over {MAX_NAME} bytes)")


def _named(message: str, files: list[UploadedFile]) -> str:
    for file in files:
        message = message.replace(os.fspath(file.path), file.name)
    return message


def link_existing(
    session: Session,
    store: BlobStore,
    principal: Principal,
    evidence_id: int | str,
    fields: UploadFields,
    *,
    reason: str,
) -> LinkChange:
    """`evidence link ID --tin --year --activity --item [--npi] --reason`, for a file of the same
    practice and year (another practice's file answers as one that does not exist). Commits."""
    require(principal, Permission.LINK)
    tin = _readable(session, principal, fields.tin)
    year = parse_year(fields.year)
    try:
        wanted = int(str(evidence_id).strip())
    except ValueError:
        raise InputError(f"evidence id {str(evidence_id)[:40]!r} is not a number") from None
    if not any(e.id == wanted for e in list_evidence(session, tin=tin, year=year)):
        raise NotFoundError(f"no evidence with id {wanted} for TIN {tin} in {year}")
    request = LinkRequest(tin, year, parse_activity_id(fields.activity), _items(fields.items), _npi(fields.npi))
    change = link_evidence(session, wanted, request, reason=reason, actor=principal.name)
    session.commit()
    protect_in_store(store, change)
    return change


def upload_document(session: Session, principal: Principal, files: list[UploadedFile], outcomes: list[Outcome]) -> \
        list[dict[str, object]]:  # fmt: skip
    """What the API answers for each file of an upload it registered: its name, id, SHA-256 and
    status ("registered", or "present": this content already had every link asked for)."""
    require(principal, Permission.READ)
    by_path = {o.path: o for o in outcomes}
    shown = []
    for file in files:
        outcome = by_path[file.path]
        assert outcome.evidence_id is not None  # all or nothing: every outcome is a record
        view = evidence_detail(session, outcome.evidence_id)
        shown.append({"name": file.name, "id": view.id, "sha256": view.digest, "status": str(outcome.status)})
    return shown
