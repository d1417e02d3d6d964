"""Today's date and the current time, in one place so tests can move the calendar."""

from __future__ import annotations

from datetime import date


def today() -> date:
    return date.today()
