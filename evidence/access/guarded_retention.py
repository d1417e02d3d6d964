"""The guarded entry points of retention, legal holds, purge, the audit log and deadlines (issue #15).

As in access.guarded: each checks the principal's permission (and practice grant) first, then
calls the retention library with the principal as actor. Purge and the store's own holds run
after the caller's commit, so they are separate calls taking the BlobStore.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from evidence.access.policy import Permission, Principal, require
from evidence.db.models import LegalHold
from evidence.errors import InputError, NotFoundError
from evidence.records.practices import require_known_tin
from evidence.retention import policy
from evidence.retention.audit import ChainCheck, head_file_facts, verify_chain
from evidence.retention.deadlines import Deadline, deadlines, soonest_first
from evidence.retention.ics import deadlines_ics
from evidence.retention.log_view import ACCESS_ACTIONS, EventFilter, EventPage, event_actions, event_page
from evidence.retention.overview import RetentionOverview, retention_overview
from evidence.rules.identifiers import parse_iso_date, parse_tin, parse_year
from evidence.store.blobstore import BlobStore
from evidence.support.text import plural

LOG_PAGE_SIZE = 50


def _known(session: Session, principal: Principal, permission: Permission, tin: str) -> str:
    """The TIN once the role may act (403 before a malformed TIN's 400) and the practice is seen (one 404)."""
    require(principal, permission)
    tin = parse_tin(tin)
    require(principal, permission, tin=tin)
    require_known_tin(session, tin)
    return tin


# --- Retention and holds -----------------------------------------------------------------------


def overview(session: Session, principal: Principal, *, as_of: date) -> RetentionOverview:
    """`evidence retention show`, per practice-year, limited to the practices the principal sees."""
    require(principal, Permission.READ)
    return retention_overview(session, as_of, tins=principal.tins)


def holds(session: Session, principal: Principal) -> list[LegalHold]:
    """`evidence hold list` (active and released) of the practices the principal sees."""
    require(principal, Permission.READ)
    return [h for h in policy.list_holds(session) if principal.sees(h.practice.tin)]


@dataclass(frozen=True)
class HoldChange:
    hold_id: int
    tin: str
    digests: set[str]  # the files whose store-side hold follows (mirror_hold, after the commit)


def _optional(value: str | None) -> str | None:
    """An empty form field: not given."""
    return value.strip() or None if value is not None else None


def add_hold(
    session: Session,
    principal: Principal,
    tin: str,
    year: int | str | None,
    reason: str,
    *,
    review_on: date | str | None = None,
) -> HoldChange:
    """`evidence hold add`; a year or review date given as text (a form's) is parsed, empty is none."""
    tin = _known(session, principal, Permission.HOLDS, tin)
    if isinstance(year, str):
        given_year = _optional(year)
        year = parse_year(given_year) if given_year else None
    if isinstance(review_on, str):
        given = _optional(review_on)
        review_on = parse_iso_date(given, field="review-by date") if given else None
    row = policy.add_hold(session, tin, year, reason, review_on=review_on, actor=principal.actor)
    return HoldChange(row.id, tin, policy.hold_digests(session, row.practice_id, year))


def _hold(session: Session, principal: Principal, hold_id: int) -> LegalHold:
    """The hold, once the principal may manage holds of its practice (one NotFoundError otherwise)."""
    require(principal, Permission.HOLDS)
    row = session.get(LegalHold, hold_id)
    if row is None or not principal.sees(row.practice.tin):
        raise NotFoundError(f"no legal hold with id {hold_id}")
    return row


def release_hold(session: Session, principal: Principal, hold_id: int, reason: str) -> HoldChange:
    """`evidence hold release`."""
    tin = _hold(session, principal, hold_id).practice.tin
    row = policy.release_hold(session, hold_id, reason, actor=principal.actor)
    return HoldChange(row.id, tin, policy.digests_to_release(session, row))


def review_hold(
    session: Session, principal: Principal, hold_id: int, review_on: date | str, reason: str
) -> date | None:
    """`evidence hold review`; returns the previous review date."""
    _hold(session, principal, hold_id)
    if isinstance(review_on, str):
        given = _optional(review_on)
        if not given:
            raise InputError("a hold's review needs the new review date")
        review_on = parse_iso_date(given, field="review date")
    return policy.review_hold(session, hold_id, review_on, reason, actor=principal.actor)


def mirror_hold(store: BlobStore, principal: Principal, change: HoldChange, *, on: bool) -> None:
    """After the commit, the store's own legal hold (S3 Object Lock; nothing for a local folder)."""
    require(principal, Permission.HOLDS, tin=change.tin)
    if change.digests:
        policy.mirror_store_hold(store, f"legal hold {change.hold_id}", change.digests, on=on)


# --- Purge ---------------------------------------------------------------------------------------


def purge_preview(session: Session, principal: Principal, *, as_of: date, home: Path) -> list[policy.PurgePlan]:
    """`evidence purge --as-of` (nothing deleted), one plan per practice with a year past its window:
    each is exactly what purging that practice alone deletes (a file another practice links stays)."""
    require(principal, Permission.PURGE)
    expired = sorted({row.tin for row in retention_overview(session, as_of, tins=principal.tins).years if row.expired})
    return [policy.plan_purge(session, as_of, home=home, tin=tin) for tin in expired]


def may_purge(principal: Principal) -> None:
    """Refuse (403) before the store is locked or anything planned."""
    require(principal, Permission.PURGE)


@dataclass(frozen=True)
class PurgeDone:
    tin: str
    plan: policy.PurgePlan
    digests: list[str]  # the files to remove after the commit (remove_files)

    @property
    def records(self) -> int:
        return sum(u.records for u in self.plan.units)


def purge_practice(
    session: Session,
    principal: Principal,
    tin: str,
    *,
    typed_tin: str,
    fingerprint: str,
    today: date,
    home: Path,
) -> PurgeDone:
    """`evidence purge --yes` for one practice, once its TIN is typed again and the plan is still the
    one previewed (`fingerprint`): nothing is deleted otherwise. The caller commits, then removes the files."""
    tin = _known(session, principal, Permission.PURGE, tin)
    typed = "".join(typed_tin.split())
    if not typed:
        raise InputError(f"type the TIN {tin} to confirm the purge; nothing was deleted")
    if typed != tin:
        raise InputError(f"the TIN typed ({typed[:20]!r}) is not {tin}; nothing was deleted")
    plan = policy.plan_purge(session, today, home=home, tin=tin)
    if plan.empty:
        raise InputError(f"nothing of {tin} has passed its retention window as of {today}; nothing was deleted")
    if plan.fingerprint() != fingerprint:
        raise InputError(f"what {tin}'s purge would delete has changed since the preview; preview it again")
    return PurgeDone(tin, plan, policy.execute_purge(session, plan, actor=principal.actor, today=today))


def remove_files(store: BlobStore, principal: Principal, done: PurgeDone) -> tuple[int, list[str]]:
    """After the purge's commit, its files (those that cannot go stay as orphans, each with why)."""
    require(principal, Permission.PURGE, tin=done.tin)
    return policy.remove_purged_files(store, done.digests)


def kept_files_message(kept: list[str]) -> str:
    return f"{plural(len(kept), 'file')} could not be removed and remain as orphans: {kept[0]}"


# --- The audit log and deadlines -------------------------------------------------------------


def log_page(session: Session, principal: Principal, wanted: EventFilter, *, before: int | None = None) -> EventPage:
    """`evidence log`, newest first, a page at a time: an admin reads every event; anyone else only the
    events naming a practice they see, and no user or token event."""
    require(principal, Permission.READ)
    if any("\x00" in (value or "") for value in (wanted.action, wanted.actor)):
        raise InputError("a filter of the log contains a NUL character")
    if wanted.tin is not None:
        wanted = EventFilter(wanted.action, wanted.actor, parse_tin(wanted.tin), wanted.since, wanted.until)
        require(principal, Permission.READ, tin=wanted.tin)
    return event_page(
        session,
        wanted,
        tins=principal.tins,
        practice_events_only=not principal.may(Permission.USERS),
        before=before,
        limit=LOG_PAGE_SIZE,
    )


def log_actions(session: Session, principal: Principal) -> list[str]:
    require(principal, Permission.READ)
    actions = event_actions(session)
    if principal.may(Permission.USERS):
        return actions
    return [a for a in actions if not a.startswith(ACCESS_ACTIONS)]


def verify_log(
    session: Session, principal: Principal, *, home: Path, trusted_key: Ed25519PublicKey | None = None
) -> ChainCheck:
    """`evidence log verify` (without checkpoint files): the chain, its head, the mirror, stored checkpoints."""
    require(principal, Permission.READ)
    return verify_chain(session, home, trusted_key=trusted_key)


def verify_log_question(home: Path) -> tuple[object, ...]:
    """What a kept `verify_log` answer depends on besides the database: the audit-head mirror file."""
    return ("log.verify", head_file_facts(home))


def deadline_rows(session: Session, principal: Principal, *, as_of: date, tin: str | None = None) -> list[Deadline]:
    """`evidence deadlines [--tin]`; a principal granted some practices gets theirs (and the shared dates)."""
    require(principal, Permission.READ)
    if tin is not None:
        return deadlines(session, as_of=as_of, tin=_known(session, principal, Permission.READ, tin))
    if principal.tins is None:
        return deadlines(session, as_of=as_of)
    rows: dict[str, Deadline] = {}
    for granted in sorted(principal.tins):
        try:
            listed = deadlines(session, as_of=as_of, tin=granted)
        except NotFoundError:  # granted before the practice was added
            continue
        for row in listed:
            rows.setdefault(row.uid, row)
    return soonest_first(list(rows.values()))


def deadlines_calendar(session: Session, principal: Principal, *, as_of: date, tin: str | None = None) -> bytes:
    """`evidence deadlines [--tin] --as-of --ics -`, byte for byte."""
    return deadlines_ics(deadline_rows(session, principal, as_of=as_of, tin=tin), as_of=as_of)
