"""The tamper-evident audit trail: every change appends an event to a hash chain.

Each event's hash covers its own fields and the previous event's hash, so editing,
inserting or deleting an event breaks the chain at that point. The newest position is
kept in the one-row `audit_head` table, which appenders lock (so concurrent writers stay
in one line), and mirrored to `audit-head` in the home folder so that cutting events off
the end is noticed too.

With a signing key configured (`evidence log keygen`, EVIDENCE_SIGNING_KEY), every append also
records a signed checkpoint of the new head (evidence.retention.checkpoint): an anchor that a
consistent rewrite of the whole database, hashes recomputed, cannot move. docs/AUDIT-TRAIL.md
says what this does and does not catch.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from evidence.db.models import AuditCheckpoint, AuditHead, Event, Setting
from evidence.db.types import utcnow
from evidence.errors import ConflictError
from evidence.support.text import plural

if TYPE_CHECKING:  # cryptography is imported only where a key is used
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from evidence.retention.checkpoint import Checkpoint

GENESIS = "0" * 64
HEAD_FILE = "audit-head"
# The store id of evidence.store.identity (database and store both carry it); made at the first
# event when no command has given it yet, so a mirror and a checkpoint always name their store.
STORE_ID_SETTING = "store_id"
KEY_ID_SETTING = "audit_key_id"  # the fingerprint of the key that signed the first checkpoint
# Set by the caller that owns the unit of work (App.write) in Session.info:
SIGNER_INFO = "audit_signer"  # an Ed25519PrivateKey, or absent: no checkpoints
HOME_INFO = "audit_home"  # the home folder whose audit-head mirror is compared before the first append
# Events that record an output handed out (a packet, a QPP export) and change no record: a packet
# reports the chain up to the newest other event, so recording one packet never changes the next.
PACKET_ACTION = "packet.generate"
QPP_EXPORT_ACTION = "qpp.export"
AUDIT_RESPONSE_ACTION = "audit.packet"  # the response to an audit request (evidence.packet.response)
OUTPUT_ACTIONS = (PACKET_ACTION, QPP_EXPORT_ACTION, AUDIT_RESPONSE_ACTION)


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
) -> None:
    """Append one event in the caller's transaction: it commits or rolls back with the change."""
    record_many(session, actor, [NewEvent(action, summary, tin, year, details)])


def record_many(session: Session, actor: str, new_events: list[NewEvent]) -> None:
    """Append several events with one lock of the chain head and one multi-row INSERT (bulk registration)."""
    if not new_events:
        return
    session.info["audit_appended"] = True
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    store_id = _store_id(session)
    home = session.info.get(HOME_INFO)
    if home is not None:
        rollback = _rollback_event(session, Path(home), head, store_id)
        if rollback is not None:
            new_events = [rollback, *new_events]
    now = utcnow()
    occurred_at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # same on every backend
    rows = []
    seq, previous = head.seq, head.hash
    for new in new_events:
        seq += 1
        detail_text = canonical(new.details or {})
        digest = event_hash(seq, occurred_at, actor, new.action, new.tin, new.year, new.summary, detail_text, previous)
        rows.append(
            {
                "seq": seq,
                "occurred_at": occurred_at,
                "actor": actor,
                "action": new.action,
                "tin": new.tin,
                "performance_year": new.year,
                "summary": new.summary,
                "details": detail_text,
                "prev_hash": previous,
                "hash": digest,
            }
        )
        previous = digest
    session.execute(insert(Event), rows)  # one executemany, not one INSERT per event
    head.seq, head.hash = seq, previous
    signer = session.info.get(SIGNER_INFO)
    if signer is not None:
        _add_checkpoint(session, signer, seq, previous, occurred_at, store_id)
    session.flush()


def _setting(session: Session, key: str) -> str | None:
    row = session.get(Setting, key)
    return row.value if row is not None else None


def _store_id(session: Session) -> str:
    value = _setting(session, STORE_ID_SETTING)
    if value is None:
        value = uuid.uuid4().hex
        session.add(Setting(key=STORE_ID_SETTING, value=value))
    return value


def store_id(session: Session) -> str | None:
    """This store's id (made with its first event), or None before any event."""
    return _setting(session, STORE_ID_SETTING)


def recorded_key_id(session: Session) -> str | None:
    """The fingerprint of the key this store's checkpoints are signed with (recorded at the first one)."""
    return _setting(session, KEY_ID_SETTING)


def check_signing_key(session: Session, key_id: str) -> None:
    """ConflictError when the store's checkpoints are signed with another key."""
    recorded = recorded_key_id(session)
    if recorded is not None and recorded != key_id:
        raise ConflictError(
            f"the signing key (fingerprint {key_id}) is not this store's signing key ({recorded}): "
            "use the key this store was signed with (EVIDENCE_SIGNING_KEY or --signing-key)"
        )


def _add_checkpoint(
    session: Session, signer: Ed25519PrivateKey, seq: int, head_hash: str, at: datetime, store: str
) -> None:
    from evidence.retention.checkpoint import fingerprint, sign

    key_id = fingerprint(signer.public_key())
    check_signing_key(session, key_id)
    if recorded_key_id(session) is None:
        session.add(Setting(key=KEY_ID_SETTING, value=key_id))
    signed = sign(signer, seq, head_hash, at, store)
    session.add(
        AuditCheckpoint(
            seq=seq,
            head_hash=head_hash,
            signed_at=at,
            store_id=store,
            key_id=signed.key_id,
            public_key=signed.public_key,
            signature=signed.signature,
        )
    )


def sign_current_head(session: Session, signer: Ed25519PrivateKey, at: datetime) -> Checkpoint:
    """A fresh checkpoint of the chain as it stands (for `log checkpoint`; nothing is written)."""
    from evidence.retention.checkpoint import fingerprint, sign

    check_signing_key(session, fingerprint(signer.public_key()))
    head = session.get(AuditHead, 1)
    seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    return sign(signer, seq, head_hash, at, store_id(session))


def newest_record_event(session: Session) -> Event | None:
    """The newest event that is not an output's (OUTPUT_ACTIONS): the state of the records."""
    query = select(Event).where(Event.action.not_in(OUTPUT_ACTIONS)).order_by(Event.seq.desc()).limit(1)
    return session.scalars(query).first()


def checkpoint_at(session: Session, seq: int, head_hash: str) -> Checkpoint | None:
    """The signed checkpoint recorded at event #seq with that hash, if the chain was signed then."""
    query = select(AuditCheckpoint).where(AuditCheckpoint.seq == seq, AuditCheckpoint.head_hash == head_hash)
    row = session.scalars(query.order_by(AuditCheckpoint.id.desc())).first()
    return _from_row(row) if row is not None else None


def latest_checkpoint(session: Session) -> Checkpoint | None:
    row = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
    ).first()
    return _from_row(row) if row is not None else None


def _from_row(row: AuditCheckpoint) -> Checkpoint:
    from evidence.retention.checkpoint import Checkpoint

    return Checkpoint(row.seq, row.head_hash, row.signed_at, row.store_id, row.key_id, row.public_key, row.signature)


# --- The audit-head mirror ------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadFile:
    seq: int
    hash: str
    store_id: str | None
    checkpoint: str | None  # the latest checkpoint's text, unparsed


class DamagedHeadFile(Exception):
    pass


def head_file_facts(home: Path) -> tuple[int, int, int] | None:
    """The mirror's inode, size and modification time (None when there is none): a chain check kept
    by a front end is made again when these or the database change."""
    try:
        info = (home / HEAD_FILE).lstat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def read_head_file(home: Path) -> HeadFile | None:
    """The mirror, or None when there is none; DamagedHeadFile when it is not one."""
    path = home / HEAD_FILE
    if not path.exists() and not path.is_symlink():
        return None
    try:
        text = path.read_bytes()[:65536].decode("utf-8", errors="replace")
    except OSError as exc:
        raise DamagedHeadFile(exc.strerror or str(exc)) from exc
    lines = text.splitlines()
    seq_text, _, hash_text = (lines[0] if lines else "").strip().partition(" ")
    if not (seq_text.isascii() and seq_text.isdigit()):
        raise DamagedHeadFile("no event number")
    store, checkpoint = None, None
    for line in lines[1:]:
        name, _, value = line.partition(" ")
        if name == "store":
            store = value.strip()
        elif name == "checkpoint":
            checkpoint = value.strip()
    return HeadFile(int(seq_text), hash_text.strip(), store, checkpoint)


def write_head_file(home: Path, session: Session, *, replace_foreign: bool = False) -> None:
    """Mirror the chain head outside the database (after commit; best effort).

    Another store's mirror (a mistyped --db) is never written over: that store's `log verify`
    then says so, and this one's says its own mirror is foreign. A restore, whose chain records
    the mirror it replaces, passes `replace_foreign`.
    """
    from evidence.support.fsutil import atomic_write_bytes

    head = session.get(AuditHead, 1)
    if head is None:
        return
    ours = store_id(session)
    try:
        existing = read_head_file(home)
    except DamagedHeadFile:
        existing = None
    if existing is not None and existing.store_id is not None and existing.store_id != ours and not replace_foreign:
        return
    lines = [f"{head.seq} {head.hash}"]
    if ours is not None:
        lines.append(f"store {ours}")
    checkpoint = latest_checkpoint(session)
    if checkpoint is not None and (checkpoint.count, checkpoint.head_hash) == (head.seq, head.hash):
        lines.append(f"checkpoint {checkpoint.to_text()}")
    atomic_write_bytes(home / HEAD_FILE, ("\n".join(lines) + "\n").encode())


def _rollback_event(session: Session, home: Path, head: AuditHead, store: str) -> NewEvent | None:
    """When this store's mirror is ahead of (or off) the chain, say so in the chain before moving on.

    A database restored from an older copy (or a deleted tail) would otherwise be covered up by
    the next write rewriting the mirror.
    """
    try:
        mirror = read_head_file(home)
    except DamagedHeadFile:
        return None
    if mirror is None or (mirror.store_id is not None and mirror.store_id != store):
        return None
    if mirror.seq < head.seq and _hash_at(session, mirror.seq) == mirror.hash:
        return None  # behind but on the chain: another machine's writes, or a failed best-effort mirror
    if (mirror.seq, mirror.hash) == (head.seq, head.hash):
        return None
    return NewEvent(
        "audit.rollback",
        f"the database ended at event #{head.seq}, but {HEAD_FILE} recorded #{mirror.seq}: "
        "restored from an older copy, or events deleted",
        details={"database_seq": head.seq, "database_hash": head.hash, "mirror_seq": mirror.seq,
                 "mirror_hash": mirror.hash},
    )  # fmt: skip


def _hash_at(session: Session, seq: int) -> str | None:
    if seq == 0:
        return GENESIS
    return session.scalar(select(Event.hash).where(Event.seq == seq))


@dataclass(frozen=True)
class ChainCheck:
    events: int
    problem: str | None  # the first problem, in words; None when intact
    problems: list[str] = field(default_factory=list)  # every problem found (the first is `problem`)
    notes: list[str] = field(default_factory=list)  # what the check rested on (checkpoints, key)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(
    session: Session,
    home: Path | None = None,
    checkpoints: Sequence[tuple[str, Checkpoint]] = (),
    trusted_key: Ed25519PublicKey | None = None,
) -> ChainCheck:
    """Recompute every hash in order; name the first event that does not fit.

    Then hold the chain against its anchors: the head row, the audit-head mirror in `home`
    (missing or foreign is a problem), every signed checkpoint in the database and in the mirror,
    and `checkpoints` (files kept elsewhere, named by their source). `trusted_key` is the
    configured signing key; without it, the fingerprint recorded by the store's first checkpoint.
    """
    events = list(session.execute(select(Event.seq, Event.hash).order_by(Event.seq)))
    stored = {seq: digest for seq, digest in events}
    problems: list[str] = []
    chain_problem, last_seq, last_hash = _walk(session)
    if chain_problem is not None:
        problems.append(chain_problem)
    head = session.get(AuditHead, 1)
    if chain_problem is None and head is not None and (head.seq, head.hash) != (last_seq, last_hash):
        problems.append(f"the chain ends at event #{last_seq} but its head records #{head.seq}: events deleted?")
    ours = store_id(session)
    anchors: list[tuple[str, Checkpoint]] = [(f"checkpoint of event #{row.seq} in the database", _from_row(row))
                                             for row in session.scalars(select(AuditCheckpoint))]  # fmt: skip
    if home is not None:
        problems += _check_head_file(home, stored, last_seq, ours, anchors)
    anchors += checkpoints
    notes: list[str] = []
    trusted_id = _trusted_key_id(session, trusted_key, problems)
    end = max(stored, default=0)
    signed_upto = 0
    for source, checkpoint in anchors:
        problem = _check_checkpoint(source, checkpoint, stored, end, ours, trusted_id)
        if problem is not None:
            problems.append(problem)
        else:
            signed_upto = max(signed_upto, checkpoint.count)
    if checkpoints:
        notes.append(f"held against {plural(len(checkpoints), 'checkpoint file')}")
    if trusted_id is None:
        notes.append("unsigned: no signing key, so a consistent rewrite of the whole log cannot be detected")
    elif signed_upto < end:
        notes.append(f"signed by {trusted_id} up to event #{signed_upto}; events after it carry no checkpoint")
    else:
        notes.append(f"signed by {trusted_id} up to event #{signed_upto}")
    return ChainCheck(len(events), problems[0] if problems else None, problems, notes)


def _walk(session: Session) -> tuple[str | None, int, str]:
    """The first break of the chain (or None), and the last event and hash before it."""
    expected_prev, expected_seq = GENESIS, 1
    # Plain rows, not ORM objects: building 10k Event instances cost as much as hashing them.
    columns = (Event.seq, Event.occurred_at, Event.actor, Event.action, Event.tin, Event.performance_year,
               Event.summary, Event.details, Event.prev_hash, Event.hash)  # fmt: skip
    for event in session.execute(select(*columns).order_by(Event.seq)):
        if event.seq != expected_seq:
            return (
                f"event #{expected_seq} is missing (found #{event.seq} next): deleted?",
                expected_seq - 1,
                expected_prev,
            )
        if event.prev_hash != expected_prev:
            problem = f"event #{event.seq} does not follow event #{event.seq - 1}: inserted or deleted?"
            return problem, expected_seq - 1, expected_prev
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
            problem = f"event #{event.seq} was altered (its content no longer matches its hash)"
            return problem, expected_seq - 1, expected_prev
        expected_prev, expected_seq = event.hash, expected_seq + 1
    return None, expected_seq - 1, expected_prev


def _check_head_file(
    home: Path, stored: dict[int, str], last_seq: int, ours: str | None, anchors: list[tuple[str, Checkpoint]]
) -> list[str]:
    from evidence.errors import InputError
    from evidence.retention.checkpoint import parse_checkpoint

    try:
        mirror = read_head_file(home)
    except DamagedHeadFile:
        return [f"{HEAD_FILE} is damaged: it no longer holds the last event's number and hash"]
    if mirror is None:
        if not stored:
            return []
        return [
            f"{HEAD_FILE} is missing from {home}, but the database holds {len(stored)} events: "
            "the mirror was removed, or this database is not this home's"
        ]
    if mirror.store_id is not None and ours is not None and mirror.store_id != ours:
        return [f"{HEAD_FILE} belongs to another store (store {mirror.store_id}; this database is store {ours})"]
    if mirror.checkpoint is not None:
        try:
            anchors.append((HEAD_FILE, parse_checkpoint(mirror.checkpoint, HEAD_FILE)))
        except InputError:
            return [f"{HEAD_FILE} is damaged: its checkpoint line is not a checkpoint"]
    if mirror.seq > last_seq:
        return [
            f"the database is older than {HEAD_FILE}: the chain ends at event #{last_seq} but {HEAD_FILE} records "
            f"#{mirror.seq} (restored from a backup, or events deleted?)"
        ]
    if mirror.seq == last_seq and mirror.hash != stored.get(last_seq, GENESIS):
        return [f"event #{last_seq} differs from the hash recorded in {HEAD_FILE}"]
    if (stored.get(mirror.seq) if mirror.seq else GENESIS) != mirror.hash:
        return [
            f"{HEAD_FILE} is not from this chain: its event #{mirror.seq} is not this database's "
            "(another store's mirror, or the log was rewritten)"
        ]
    return []


def _trusted_key_id(session: Session, trusted_key: Ed25519PublicKey | None, problems: list[str]) -> str | None:
    recorded = recorded_key_id(session)
    if trusted_key is None:
        return recorded
    from evidence.retention.checkpoint import fingerprint

    configured = fingerprint(trusted_key)
    if recorded is not None and recorded != configured:
        problems.append(f"the configured signing key ({configured}) is not this store's ({recorded})")
    return configured


def _check_checkpoint(
    source: str, checkpoint: Checkpoint, stored: dict[int, str], end: int, ours: str | None, trusted_id: str | None
) -> str | None:
    signed = f"{source} (event #{checkpoint.count}, signed {checkpoint.signed_at.isoformat(timespec='seconds')})"
    if not checkpoint.signature_valid():
        return f"{source}: the signature does not match its content (forged or damaged)"
    if trusted_id is not None and checkpoint.key_id != trusted_id:
        return f"{source} is signed by another key ({checkpoint.key_id}), not this store's ({trusted_id})"
    if checkpoint.store_id is not None and ours is not None and checkpoint.store_id != ours:
        return f"{source} belongs to another store (store {checkpoint.store_id}; this database is store {ours})"
    if checkpoint.count > end:
        return (
            f"the chain ends at event #{end} but {signed} vouches for #{checkpoint.count}: events deleted from the end"
        )
    at = stored.get(checkpoint.count) if checkpoint.count else GENESIS
    if at != checkpoint.head_hash:
        return f"event #{checkpoint.count} does not match {signed}: the log was rewritten"
    return None


def head_mirror_problem(session: Session, home: Path, *, damaged_too: bool = False) -> str | None:
    """The database is older than the `audit-head` mirror (a restored backup, a cut tail), or not its database.

    The mirror may lag the chain (it is written after the commit), but the event it names must
    then be the chain's event of that number. Without `damaged_too`, an unreadable mirror is no
    rollback (the chain check reports it).
    """
    try:
        mirror = read_head_file(home)
    except DamagedHeadFile:
        return f"{HEAD_FILE} is damaged: it no longer holds the last event's number and hash" if damaged_too else None
    except OSError as exc:
        return f"cannot read {HEAD_FILE}: {exc.strerror or exc}" if damaged_too else None
    if mirror is None:
        return None
    mirrored, hash_text = mirror.seq, mirror.hash
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
