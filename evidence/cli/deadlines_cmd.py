"""`evidence deadlines`: every date that matters, soonest first, and the same as an ICS calendar."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from evidence.app import App
from evidence.cli.output import emit, format_option
from evidence.cli.params import ISO_DATE, TIN, read_only

COLUMNS = ["date", "days_left", "kind", "tin", "year", "title", "detail"]
TABLE_COLUMNS = ["date", "days_left", "kind", "title", "detail"]


def _days(left: int | None) -> str:
    if left is None:
        return "-"
    if left < 0:
        return f"OVERDUE {-left}d"
    return "today" if left == 0 else f"{left}d"


@click.command()
@click.option("--as-of", type=ISO_DATE, help="List the deadlines as of this day [default: today].")
@click.option("--tin", type=TIN, help="Only this practice's deadlines (and those every practice shares).")
@click.option("--all", "include_all", is_flag=True, help="Also retention dates more than a year away.")
@click.option(
    "--ics",
    type=click.Path(allow_dash=True, path_type=Path),
    help="Also write the dated deadlines as an iCalendar file (0600), or - for standard output. "
    "Never inside the home folder or store.",
)
@click.option("--force", is_flag=True, help="Replace an existing regular file at --ics (never a link or device).")
@format_option
@read_only
@click.pass_obj
def deadlines(
    app: App, as_of: date | None, tin: str | None, include_all: bool, ics: Path | None, force: bool, fmt: str
) -> None:
    """Every date that matters, soonest first, and the same dates as an ICS calendar.

    Open audits' due dates, the last day to start an activity this year (October 3 for 90
    days, earlier for an attested activity with a longer term), the end of each MIPS
    submission window not yet closed (CMS's date, with its extensions), retention ends and
    purge dates, and legal holds' review dates (a hold without one is listed last, undated).

    An overdue audit stays listed (red on a terminal); other past dates drop off. Retention
    dates more than a year away are left out unless --all. The ICS file has one all-day event
    per dated deadline with a reminder 7 days before; its DTSTAMP is midnight UTC of --as-of,
    so the same store on the same day gives the same file.

    \b
    Examples:
        evidence deadlines
        evidence deadlines --tin 000123456 --as-of 2026-12-01 --format json
        evidence deadlines --ics deadlines.ics
    """
    from evidence.retention.deadlines import deadlines as list_deadlines
    from evidence.support import clock

    as_of = as_of or clock.today()
    target = None if ics is None else app.output_guard().target(ics, force=force, what="the calendar")
    with app.read() as session:
        rows = list_deadlines(session, as_of=as_of, tin=tin, include_all=include_all)
    if target is not None:
        from evidence.retention.ics import deadlines_ics

        target.write_bytes(deadlines_ics(rows, as_of=as_of))
        dated = sum(1 for row in rows if row.day is not None)
        if target.is_stdout:
            return
        click.echo(f"wrote {target} ({dated} events)", err=fmt != "table")
    listed: list[dict[str, Any]] = [
        {
            "date": row.day,
            "days_left": row.days_left(as_of) if fmt != "table" else _days(row.days_left(as_of)),
            "kind": row.kind,
            "tin": row.tin,
            "year": row.year,
            "title": row.title,
            "detail": row.detail,
            "overdue": row.overdue,
            "uid": row.uid,
        }
        for row in rows
    ]
    if fmt == "table":
        emit(listed, fmt, columns=TABLE_COLUMNS, alert=lambda row: bool(row["overdue"]))
    else:
        emit(listed, fmt, columns=[*COLUMNS, "overdue", "uid"])
