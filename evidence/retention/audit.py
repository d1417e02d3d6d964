"""The tamper-evident audit trail: every change appends an event to a hash chain.

Each event's hash covers its own fields and the previous event's hash, so editing,
inserting or deleting an event breaks the chain at that point. The newest position is
kept in the one-row `audit_head` table, which appenders lock (so concurrent writers stay
in one line), and mirrored to `audit-head` in the home folder so that cutting events off
the end is noticed too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence.db.models import AuditHead, Event
from evidence.db.types import utcnow

GENESIS = "0" * 64
HEAD_FILE = "audit-head"


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    tin: str | None,
    year: int | None,
    summary: str,
    details: str,
    prev_hash: str,
) -> str:
    payload = canonical([seq, occurred_at.isoformat(), actor, action, tin, year, summary, details, prev_hash])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewEvent:
    action: str
    summary: str
    tin: str | None = None
    year: int | None = None
    details: dict[str, Any] | None = None


def record(
    session: Session,
    actor: str,
    action: str,
    summary: str,
    *,
    tin: str | None = None,
    year: int | None = None,
    details: dict[str, Any] | None = None,
) -> Event:
    """Append one event in the caller's transaction: it commits or rolls back with the change."""
    return record_many(session, actor, [NewEvent(action, summary, tin, year, details)])[0]


def record_many(session: Session, actor: str, new_events: list[NewEvent]) -> list[Event]:
    """Append several events with one lock of the chain head and one flush (bulk registration)."""
    if not new_events:
        return []
    session.info["audit_appended"] = True
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    now = utcnow()
    occurred_at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # same on every backend
    events = []
    seq, previous = head.seq, head.hash
    for new in new_events:
        seq += 1
        detail_text = canonical(new.details or {})
        digest = event_hash(seq, occurred_at, actor, new.action, new.tin, new.year, new.summary, detail_text, previous)
        events.append(
            Event(
                seq=seq,
                occurred_at=occurred_at,
                actor=actor,
                action=new.action,
                tin=new.tin,
                performance_year=new.year,
                summary=new.summary,
                details=detail_text,
                prev_hash=previous,
                hash=digest,
            )
        )
        previous = digest
    session.add_all(events)
    head.seq, head.hash = seq, previous
    session.flush()
    return events


def write_head_file(home: Path, session: Session) -> None:
    """Mirror the chain head outside the database (after commit; best effort)."""
    from evidence.support.fsutil import atomic_write_bytes

    head = session.get(AuditHead, 1)
    if head is not None:
        atomic_write_bytes(home / HEAD_FILE, f"{head.seq} {head.hash}\n".encode())


@dataclass(frozen=True)
class ChainCheck:
    events: int
    problem: str | None  # the first broken event, in words; None when intact

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(session: Session, home: Path | None = None) -> ChainCheck:
    """Recompute every hash in order; name the first event that does not fit."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for event in session.scalars(select(Event).order_by(Event.seq)):
        count += 1
        if event.seq != expected_seq:
            return ChainCheck(count, f"event #{expected_seq} is missing (found #{event.seq} next): deleted?")
        if event.prev_hash != expected_prev:
            return ChainCheck(count, f"event #{event.seq} does not follow event #{event.seq - 1}: inserted or deleted?")
        recomputed = event_hash(
            event.seq,
            event.occurred_at,
            event.actor,
            event.action,
            event.tin,
            event.performance_year,
            event.summary,
            event.details,
            event.prev_hash,
        )
        if recomputed != event.hash:
            return ChainCheck(count, f"event #{event.seq} was altered (its content no longer matches its hash)")
        expected_prev, expected_seq = event.hash, expected_seq + 1
    last_seq = expected_seq - 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq, head.hash) != (last_seq, expected_prev):
        problem = f"the chain ends at event #{last_seq} but its head records #{head.seq}: events deleted?"
        return ChainCheck(count, problem)
    if home is not None and (behind := head_mirror_problem(session, home, damaged_too=True)) is not None:
        return ChainCheck(count, behind)
    return ChainCheck(count, None)


def head_mirror_problem(session: Session, home: Path, *, damaged_too: bool = False) -> str | None:
    """The database is older than the `audit-head` mirror (a restored backup, a cut tail), or not its database.

    The mirror may lag the chain (it is written after the commit), but the event it names must
    then be the chain's event of that number. Without `damaged_too`, an unreadable mirror is no
    rollback (the chain check reports it).
    """
    path = home / HEAD_FILE
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot read {HEAD_FILE}: {exc.strerror or exc}" if damaged_too else None
    seq_text, _, hash_text = text.strip().partition(" ")
    if not (seq_text.isascii() and seq_text.isdigit()):
        return f"{HEAD_FILE} is damaged: it no longer holds the last event's number and hash" if damaged_too else None
    mirrored = int(seq_text)
    head = session.get(AuditHead, 1)
    last_seq = head.seq if head is not None else 0
    if mirrored > last_seq:
        return (
            f"the database is older than {HEAD_FILE}: the chain ends at event #{last_seq} but {HEAD_FILE} records "
            f"#{mirrored} (restored from a backup, or events deleted?)"
        )
    recorded = session.scalar(select(Event.hash).where(Event.seq == mirrored)) if mirrored else None
    if mirrored and recorded != hash_text:
        return (
            f"event #{mirrored} differs from the hash recorded in {HEAD_FILE}: another database, or a rewritten trail?"
        )
    return None


def list_events(
    session: Session, *, tin: str | None = None, year: int | None = None, since: datetime | None = None
) -> list[Event]:
    query = select(Event).order_by(Event.seq)
    if tin is not None:
        query = query.where(Event.tin == tin)
    if year is not None:
        query = query.where(Event.performance_year == year)
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    return list(session.scalars(query))


def ids(rows: Iterable[Any]) -> list[int]:
    return sorted(row.id for row in rows)
