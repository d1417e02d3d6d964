"""The entry points of the evidence page (issue #15): list, show, download and correct one piece of
evidence on behalf of a principal. Each checks the permission first, then the practice grant, then
calls the service with the principal as the audit trail's actor.

Evidence belongs to the practices of its links. A principal limited to some practices sees a piece
of evidence only when it is granted every one of them (so no page shows another practice's links
or history); evidence with no link left is seen only by a principal who sees every practice. What a
principal may not see is answered exactly like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from evidence.access.policy import Permission, Principal, require
from evidence.errors import InputError, NotFoundError
from evidence.records.evidence_edit import EvidenceEdit, edit_evidence
from evidence.records.evidence_record import (
    EvidenceFile,
    HistoryEntry,
    evidence_file,
    evidence_history,
    evidence_tins,
    no_such_evidence,
)
from evidence.records.links import LinkChange, Unlinked, link_evidence, protect_in_store, unlink_evidence
from evidence.records.listing import EvidenceView, evidence_detail, list_evidence
from evidence.records.practices import require_known_tin
from evidence.rules.identifiers import (
    parse_activity_id,
    parse_iso_date,
    parse_npi,
    parse_tin,
    parse_whole_number,
    parse_year,
)
from evidence.store.blobstore import BlobStore
from evidence.store.download import open_verified
from evidence.store.registration import LinkRequest
from evidence.store.registration import withdraw as withdraw_evidence

# After a link commits, the file's own lock follows it (records.links); the front end calls it with its store.
__all__ = ["LinkChange", "protect_in_store"]


def _may_see(principal: Principal, tins: frozenset[str]) -> bool:
    return principal.tins is None or (bool(tins) and tins <= principal.tins)


def _guard(session: Session, principal: Principal, permission: Permission, evidence_id: int) -> None:
    """The role first (403 says nothing about the record), then the grant (404 like a missing id)."""
    require(principal, permission)
    tins = evidence_tins(session, evidence_id)
    if tins is None or not _may_see(principal, tins):
        raise no_such_evidence(evidence_id)


def evidence_list(
    session: Session, principal: Principal, tin: str, year: int | str, *, activity: str | None = None
) -> list[EvidenceView]:
    """`evidence list --tin --year [--activity]`: the practice-year's evidence."""
    tin = parse_tin(tin)
    require(principal, Permission.READ, tin=tin)
    require_known_tin(session, tin)
    return list_evidence(
        session, tin=tin, year=parse_year(year), activity=None if activity is None else parse_activity_id(activity)
    )


@dataclass(frozen=True)
class EvidencePage:
    evidence: EvidenceView
    history: list[HistoryEntry]
    may_correct: bool
    may_link: bool
    may_withdraw: bool

    @property
    def may_change(self) -> bool:
        return self.evidence.withdrawn_at is None and (self.may_correct or self.may_link or self.may_withdraw)


def evidence_page(session: Session, principal: Principal, evidence_id: int) -> EvidencePage:
    """`evidence show ID` and the record's history in the audit trail."""
    _guard(session, principal, Permission.READ, evidence_id)
    view = evidence_detail(session, evidence_id)  # a purged record: its tombstone's NotFoundError
    return EvidencePage(
        view,
        evidence_history(session, evidence_id),
        principal.may(Permission.CORRECT),
        principal.may(Permission.LINK),
        principal.may(Permission.WITHDRAW),
    )


def download(session: Session, principal: Principal, evidence_id: int) -> EvidenceFile:
    """What to stream for `GET /evidence/{id}/file` (GoneError for withdrawn or purged evidence)."""
    _guard(session, principal, Permission.READ, evidence_id)
    return evidence_file(session, evidence_id)


def _date(value: str | None, field: str) -> date | None:
    return None if value is None else parse_iso_date(value, field=field)


def edit(
    session: Session,
    principal: Principal,
    evidence_id: int,
    *,
    reason: str,
    effective_date: str | None = None,
    effective_from: str | None = None,
    effective_until: str | None = None,
    description: str | None = None,
) -> EvidenceEdit:
    """`evidence edit ID` (CORRECT): dates as ISO text, None for a field left as it is."""
    _guard(session, principal, Permission.CORRECT, evidence_id)
    return edit_evidence(
        session,
        evidence_id,
        reason=reason,
        actor=principal.actor,
        effective_date=_date(effective_date, "effective date"),
        effective_from=_date(effective_from, "effective from"),
        effective_until=_date(effective_until, "effective until"),
        description=description,
    )


def _item_keys(text: str | None) -> tuple[int, ...]:
    """ "1, 2" -> (1, 2); empty: every item the activity has, as `register` reads no --item."""
    parts = [part for part in (text or "").replace(",", " ").split() if part]
    return tuple(parse_whole_number(part, field="item", low=1, high=999) for part in parts)


def link(
    session: Session,
    principal: Principal,
    evidence_id: int,
    *,
    tin: str,
    year: int | str,
    activity: str,
    items: str | None,
    npi: str | None,
    reason: str,
) -> LinkChange:
    """`evidence link ID --tin --year --activity [--item ...] [--npi]` (LINK, on both practices)."""
    _guard(session, principal, Permission.LINK, evidence_id)
    target_tin = parse_tin(tin)
    require(principal, Permission.LINK, tin=target_tin)
    request = LinkRequest(
        target_tin,
        parse_year(year),
        parse_activity_id(activity),
        _item_keys(items),
        None if npi is None else parse_npi(npi),
    )
    return link_evidence(session, evidence_id, request, reason=reason, actor=principal.actor)


def unlink(session: Session, principal: Principal, evidence_id: int, link_id: int, *, reason: str) -> Unlinked:
    """`evidence unlink LINK_ID` (LINK), for a link of this evidence only."""
    _guard(session, principal, Permission.LINK, evidence_id)
    if link_id not in {link.link_id for link in evidence_detail(session, evidence_id).links}:
        raise NotFoundError(f"evidence {evidence_id} has no link {link_id}")
    return unlink_evidence(session, link_id, reason=reason, actor=principal.actor)


def withdraw(session: Session, principal: Principal, evidence_id: int, *, reason: str) -> EvidenceView:
    """`evidence withdraw ID --reason` (WITHDRAW): the record and its file stay, out of reports."""
    _guard(session, principal, Permission.WITHDRAW, evidence_id)
    if not " ".join((reason or "").split()):
        raise InputError("a withdrawal needs a reason")
    withdraw_evidence(session, evidence_id, reason, actor=principal.actor)
    return evidence_detail(session, evidence_id)


def file_chunks(store: BlobStore, file: EvidenceFile) -> Iterator[bytes]:
    """The file of `download(...)`, read from the store and verified as it goes (store/download.py)."""
    return open_verified(store, file.digest, file.size)
