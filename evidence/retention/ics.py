"""The deadlines as an iCalendar file (RFC 5545) that Outlook and Google Calendar import.

One all-day VEVENT per dated deadline (DTSTART is a DATE, DTEND the next day), its stable uid as
UID so a re-import updates the event instead of adding a copy, and a display alarm 7 days before.
The text is made inert first (a control character becomes a visible [U+001B] marker; a line
break stays one), then the icalendar library escapes what RFC 5545 reserves (`;` `,` `\\` and
line breaks).
DTSTAMP is midnight UTC of the as-of day, so the same store on the same day gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from icalendar import Alarm, Calendar, Event

from evidence.retention.deadlines import Deadline
from evidence.support.inert import marker, neutralise

PRODID = "-//evidence//MIPS IA deadlines//EN"
REMINDER = timedelta(days=-7)


def _text(value: str) -> str:
    """Each line inert; the line breaks themselves are the library's to escape (as \\n)."""
    return "\n".join(neutralise(line, marker) for line in value.splitlines())


def deadlines_ics(rows: Iterable[Deadline], *, as_of: date) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "MIPS IA deadlines")
    stamp = datetime.combine(as_of, time(0, 0), tzinfo=UTC)
    for row in rows:
        if row.day is None:
            continue  # a hold without a review date has no day to put in a calendar
        event = Event()
        event.add("uid", row.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", row.day)
        if row.day < date.max:  # an all-day event ends the next day; RFC 5545 lets DTEND go
            event.add("dtend", row.day + timedelta(days=1))
        event.add("summary", _text(("OVERDUE: " if row.overdue else "") + row.title))
        event.add("description", _text(row.detail))
        event.add("categories", [row.kind])
        event.add("transp", "TRANSPARENT")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", REMINDER)
        alarm.add("description", _text(row.title))
        event.add_component(alarm)
        calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical
