"""The guarded entry points of packets and CMS audit requests (issue #15 part "packets", issue #16):
each checks the principal's permission and practice grant first, then calls the library the CLI
calls (`evidence packet`, `evidence audit ...`) with the principal as actor.

An audit request of a practice not granted answers exactly like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from evidence.access.policy import Permission, Principal, require
from evidence.errors import InputError, NotFoundError
from evidence.packet import content as packets
from evidence.packet import response as responses
from evidence.records import audit_report as reports
from evidence.records import audits
from evidence.records.practices import require_known_tin
from evidence.retention.policy import mirror_store_hold
from evidence.rules.identifiers import parse_iso_date, parse_npi, parse_tin, parse_year
from evidence.store.blobstore import BlobStore


def parse_generated_at(text: str | None) -> datetime | None:
    """The CLI's `--generated-at` (evidence/cli/packet.py IsoTimestampType): ISO 8601, naive means UTC."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            moment.astimezone(UTC)  # the packet is stamped in UTC: that time must exist too
    except (ValueError, OverflowError):
        raise InputError(
            f"generated_at {value[:40]!r} is not an ISO 8601 timestamp such as 2021-03-01T12:00:00Z"
        ) from None
    return moment


def _granted(session: Session, principal: Principal, permission: Permission, tin: str) -> str:
    """The TIN, parsed, once the role may do `permission` on it and it exists (one NotFoundError for both)."""
    tin = parse_tin(tin)
    require(principal, permission, tin=tin)
    require_known_tin(session, tin)
    return tin


def check_packet_page(session: Session, principal: Principal, tin: str, year: int | str) -> tuple[str, int]:
    """The packet page is shown to whoever may read the practice (making one needs PACKET)."""
    return _granted(session, principal, Permission.READ, tin), parse_year(year)


def check_packet(
    session: Session, principal: Principal, tin: str, year: int | str, npi: str | None = None
) -> tuple[str, int, str | None]:
    """Refuse now what a packet job would refuse for who asks (role, grant, TIN, year, NPI): parsed values."""
    tin = _granted(session, principal, Permission.PACKET, tin)
    return tin, parse_year(year), None if npi is None else parse_npi(npi)


def build_packet(
    session: Session,
    store: BlobStore,
    principal: Principal,
    tin: str,
    year: int | str,
    npi: str | None = None,
    *,
    generated_at: datetime | None = None,
    attachments: bool = True,
) -> packets.Packet:
    """`evidence packet --tin --year [--npi] [--generated-at] [--no-attachments]`, rendered in memory."""
    tin, year, npi = check_packet(session, principal, tin, year, npi)
    return packets.build_packet(session, store, tin, year, npi, generated_at=generated_at, attachments=attachments)


def record_packet(
    session: Session, principal: Principal, packet: packets.Packet, outputs: list[packets.WrittenOutput]
) -> None:
    """The `packet.generate` event the CLI records, with the principal as actor."""
    require(principal, Permission.PACKET, tin=packet.content.tin)
    packets.record_packet(session, packet, outputs, actor=principal.actor)


# CMS audit requests ---------------------------------------------------------------------------


def _no_such_audit(audit_id: int) -> NotFoundError:
    # The very message of records.audits.require_audit: a request not granted looks like none at all.
    return NotFoundError(f"no audit request #{audit_id}; `evidence audit list` shows them")


def _visible_audit(session: Session, principal: Principal, audit_id: int, permission: Permission) -> audits.AuditView:
    require(principal, permission)  # the role first: a 403 says nothing about the request
    view = audits.get_audit(session, audit_id)
    if not principal.sees(view.tin):
        raise _no_such_audit(audit_id)
    return view


def list_audits(session: Session, principal: Principal, tin: str) -> list[audits.AuditView]:
    """`evidence audit list` for one practice (by due date, soonest first)."""
    tin = _granted(session, principal, Permission.READ, tin)
    return audits.list_audits(session, tin=tin)


def audit_report(session: Session, principal: Principal, audit_id: int, *, as_of: date) -> reports.AuditReport:
    """`evidence audit show ID`: the clock, each requested activity's verdict, the journal."""
    _visible_audit(session, principal, audit_id, Permission.READ)
    return reports.audit_report(session, audit_id, as_of=as_of)


def _optional_date(value: str | None, what: str) -> date | None:
    return parse_iso_date(value.strip(), field=what) if value and value.strip() else None


def open_audit(
    session: Session,
    principal: Principal,
    tin: str,
    year: int | str,
    received: str,
    *,
    due: str | None = None,
    activities: Iterable[str] = (),
    npis: Iterable[str] = (),
    reference: str | None = None,
    contact: str | None = None,
    reason: str | None = None,
) -> tuple[audits.AuditView, set[str]]:
    """`evidence audit open --tin --year --received [--due --activity --npi --reference --contact --reason]`;
    with the digests its hold covers, for `mirror_audit_hold` once committed."""
    tin = _granted(session, principal, Permission.AUDITS, tin)
    received_on = _optional_date(received, "received")
    if received_on is None:
        raise InputError("received is required: the date of CMS's notice (YYYY-MM-DD)")
    view = audits.open_audit(
        session,
        tin,
        parse_year(year),
        received_on,
        due=_optional_date(due, "due"),
        activities=activities,
        npis=npis,
        reference=reference,
        contact=contact,
        reason=reason,
        actor=principal.actor,
    )
    return view, audits.store_hold_digests(session, view.id)


def note_audit(
    session: Session, principal: Principal, audit_id: int, text: str, *, due: str | None = None
) -> audits.AuditView:
    """`evidence audit note ID TEXT [--due]`."""
    _visible_audit(session, principal, audit_id, Permission.AUDITS)
    return audits.note_audit(session, audit_id, text, due=_optional_date(due, "due"), actor=principal.actor)


def close_audit(
    session: Session, principal: Principal, audit_id: int, outcome: str, *, note: str | None = None
) -> tuple[audits.AuditView, set[str]]:
    """`evidence audit close ID --outcome [--note]`; with the digests whose hold it releases."""
    _visible_audit(session, principal, audit_id, Permission.AUDITS)
    view = audits.close_audit(session, audit_id, outcome, note=note, actor=principal.actor)
    return view, audits.store_hold_digests(session, view.id)


def mirror_audit_hold(store: BlobStore, view: audits.AuditView, digests: set[str], *, on: bool) -> None:
    """After the commit, as `evidence audit open|close` does: the store's own legal hold follows the
    audit (S3 Object Lock; nothing for a local store)."""
    if digests:
        mirror_store_hold(store, f"audit #{view.id}", digests, on=on)


def check_response(session: Session, principal: Principal, audit_id: int) -> audits.AuditView:
    """Refuse now what a response job would refuse for who asks: the request, its grant, PACKET."""
    return _visible_audit(session, principal, audit_id, Permission.PACKET)


def build_response(
    session: Session,
    store: BlobStore,
    principal: Principal,
    audit_id: int,
    *,
    generated_at: datetime | None = None,
    attachments: bool = True,
    allow_incomplete: bool = False,
) -> responses.ResponsePacket:
    """`evidence audit packet ID [--allow-incomplete] [--no-attachments] [--generated-at]`, in memory."""
    check_response(session, principal, audit_id)
    return responses.build_response(
        session,
        store,
        audit_id,
        generated_at=generated_at,
        attachments=attachments,
        allow_incomplete=allow_incomplete,
    )


def record_response(
    session: Session, principal: Principal, packet: responses.ResponsePacket, outputs: list[packets.WrittenOutput]
) -> None:
    """The `audit.packet` event the CLI records, with the principal as actor."""
    require(principal, Permission.PACKET, tin=packet.content.audit.tin)
    responses.record_response(session, packet, outputs, actor=principal.actor)
