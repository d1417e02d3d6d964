"""The audit log a page at a time, newest first, filtered (the web app's `/log`).

Keyset paging on the event number (`before`): a page costs one indexed query however long the
trail is, and events appended meanwhile do not shift the pages already seen.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, not_, or_, select, true
from sqlalchemy.orm import Session

from evidence.db.models import Event

# The access-management events: only whoever manages users and tokens reads them.
ACCESS_ACTIONS = ("user.", "token.")


@dataclass(frozen=True)
class EventFilter:
    action: str | None = None
    actor: str | None = None
    tin: str | None = None
    since: date | None = None  # on or after this day (UTC)
    until: date | None = None  # on or before this day (UTC)


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    before: int | None  # the `before` of the next (older) page; None on the last


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _access_event() -> ColumnElement[bool]:
    return or_(*(Event.action.startswith(prefix, autoescape=True) for prefix in ACCESS_ACTIONS))


def event_page(
    session: Session,
    wanted: EventFilter,
    *,
    tins: Collection[str] | None,
    practice_events_only: bool,
    before: int | None = None,
    limit: int = 50,
) -> EventPage:
    """The newest `limit` events before event #`before` matching `wanted`.

    `tins` limits them to those practices' events (None: every practice); with
    `practice_events_only` an event naming no practice, and every user or token event, is left out.
    """
    where: list[ColumnElement[bool]] = [true()]
    if practice_events_only:
        where += [Event.tin.is_not(None), not_(_access_event())]
    if tins is not None:
        where.append(Event.tin.in_(sorted(tins)))
    if wanted.action is not None:
        where.append(Event.action == wanted.action)
    if wanted.actor is not None:
        where.append(Event.actor == wanted.actor)
    if wanted.tin is not None:
        where.append(Event.tin == wanted.tin)
    if wanted.since is not None:
        where.append(Event.occurred_at >= _midnight(wanted.since))
    if wanted.until is not None and wanted.until < date.max:  # date.max: no end (nothing after it)
        where.append(Event.occurred_at < _midnight(wanted.until + timedelta(days=1)))
    if before is not None:
        where.append(Event.seq < before)
    query = select(Event).where(and_(*where)).order_by(Event.seq.desc()).limit(limit + 1)
    events = list(session.scalars(query))
    more = len(events) > limit
    events = events[:limit]
    return EventPage(events, events[-1].seq if more and events else None)


def event_actions(session: Session) -> list[str]:
    """Every action the trail holds, for the filter's choices."""
    return list(session.scalars(select(Event.action).distinct().order_by(Event.action)))
