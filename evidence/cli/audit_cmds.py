"""CMS audit requests: record one, see its clock and what is still missing, keep its journal, close it.

The response packet, `audit packet`, is its own module (evidence/cli/audit_packet.py) joining this
group; the name is kept free here.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import click

from evidence.app import App
from evidence.cli.audit_packet import packet_command
from evidence.cli.output import emit, emit_json, format_option, printable, use_colour
from evidence.cli.params import ACTIVITY, ISO_DATE, NPI, TEXT, TIN, YEAR, actor_option, changes_existing, read_only
from evidence.rules.cms import AUDIT_OUTCOMES, AUDIT_RESPONSE_DAYS
from evidence.support.text import plural

if TYPE_CHECKING:  # at run time the library is imported where it is used
    from evidence.records.audit_report import AuditReport
    from evidence.records.audits import AuditView


@click.group()
def audit() -> None:
    """CMS audit requests: record one, watch its clock, keep its journal, close it.

    An open audit keeps its TIN's performance year from a purge, as a legal hold does.

    \b
    Examples:
        evidence audit open --tin 000123456 --year 2023 --received 2024-11-20 --reference DVA-2023-0042
        evidence audit show 1
        evidence audit note 1 "Extension to Feb 1 granted by phone" --due 2025-02-01
        evidence audit close 1 --outcome passed --note "CMS letter of 2025-03-02"
    """


def _as_of(value: date | None) -> date:
    from evidence.support import clock

    return value or clock.today()


def _scope_line(view: AuditView) -> str:
    if not view.npis:
        return f"scope (group): {', '.join(view.activity_ids)}"
    by_npi = {npi: [e.activity_id for e in view.scope if e.npi == npi] for npi in view.npis}
    return "scope: " + "; ".join(f"NPI {npi}: {', '.join(ids)}" for npi, ids in by_npi.items())


def _clock(view: AuditView, as_of: date) -> str:
    if not view.is_open:
        return f"closed {view.closed_at:%Y-%m-%d} by {view.closed_by}: {view.outcome}"
    left = view.days_left(as_of)
    if left < 0:
        return f"OVERDUE by {plural(-left, 'day')} (due {view.due})"
    return "due today" if left == 0 else f"{plural(left, 'day')} left (due {view.due})"


def _mirror(app: App, view: AuditView, digests: set[str], *, on: bool) -> None:
    """After the commit: the store's own legal hold follows the audit (S3 Object Lock; nothing locally)."""
    from evidence.retention.policy import mirror_store_hold

    if digests:
        mirror_store_hold(app.blob_store, f"audit #{view.id}", digests, on=on)


@audit.command("open")
@click.option("--tin", type=TIN, required=True, help="The practice the request is addressed to.")
@click.option("--year", type=YEAR, required=True, help="The performance year audited.")
@click.option("--received", type=ISO_DATE, required=True, help="The day the notice arrived (YYYY-MM-DD).")
@click.option(
    "--due",
    type=ISO_DATE,
    help=f"The response's due date, if the notice gives one [default: --received + {AUDIT_RESPONSE_DAYS} days].",
)
@click.option(
    "--activity",
    "activities",
    type=ACTIVITY,
    multiple=True,
    help="An activity audited (repeatable) [default: every one attested at that level that year].",
)
@click.option(
    "--npi",
    "npis",
    type=NPI,
    multiple=True,
    help="An NPI audited individually (repeatable) [default: the group's own attestations].",
)
@click.option("--reference", type=TEXT, help="The request's reference or case number (200 characters at most).")
@click.option("--contact", type=TEXT, help="Who answers for the practice, e.g. the security official.")
@click.option("--reason", type=TEXT, help="Anything to note about the request (phase, how it arrived).")
@actor_option
@changes_existing
@click.pass_obj
def audit_open(
    app: App,
    tin: str,
    year: int,
    received: date,
    due: date | None,
    activities: tuple[str, ...],
    npis: tuple[str, ...],
    reference: str | None,
    contact: str | None,
    reason: str | None,
) -> None:
    """Record a CMS audit request: its clock starts at --received.

    The scope is the activities named (default: every activity attested that year), for the
    group, or with --npi for those clinicians' individual attestations. Until it is closed, the
    TIN's year is kept from a purge and its files are under the store's own legal hold.

    \b
    Example:
        evidence audit open --tin 000123456 --year 2023 --received 2024-11-20 \\
            --activity IA_PSPA_8 --reference DVA-2023-0042 --contact "J. Doe, security official"
    """
    from evidence.records.audits import open_audit, store_hold_digests

    with app.write() as session:
        view = open_audit(session, tin, year, received, due=due, activities=activities, npis=npis,
                          reference=reference, contact=contact, reason=reason, actor=app.actor)  # fmt: skip
        digests = store_hold_digests(session, view.id)
    label = f" ({view.reference})" if view.reference else ""
    click.echo(printable(f"audit #{view.id}{label} opened for {view.tin} PY{view.year}"))
    click.echo(f"received {view.received}, due {view.due} ({plural((view.due - view.received).days, 'day')})")
    click.echo(_scope_line(view))
    _mirror(app, view, digests, on=True)


def _list_row(view: AuditView, as_of: date) -> dict[str, Any]:
    status = ("overdue" if view.overdue(as_of) else "open") if view.is_open else f"closed: {view.outcome}"
    return {
        "id": view.id,
        "tin": view.tin,
        "year": view.year,
        "reference": view.reference,
        "received": view.received,
        "due": view.due,
        "days_left": view.days_left(as_of) if view.is_open else None,
        "status": status,
        "activities": len(view.activity_ids),
        "npis": ", ".join(view.npis),
        "contact": view.contact,
        "closed_on": view.closed_at.date() if view.closed_at else None,
    }


@audit.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only audits not yet closed.")
@click.option("--tin", type=TIN, help="Only this practice's audits.")
@click.option("--as-of", type=ISO_DATE, help="Count the days left from this date [default: today].")
@format_option
@read_only
@click.pass_obj
def audit_list(app: App, open_only: bool, tin: str | None, as_of: date | None, fmt: str) -> None:
    """List audit requests, soonest due first, with the days left (overdue ones red on a terminal).

    \b
    Example:
        evidence audit list --open
    """
    from evidence.records.audits import list_audits

    as_of = _as_of(as_of)
    with app.read() as session:
        views = list_audits(session, open_only=open_only, tin=tin)
    rows = [_list_row(view, as_of) for view in views]
    table = ["id", "tin", "year", "reference", "received", "due", "days_left", "status"]
    overdue = {view.id for view in views if view.overdue(as_of)}
    emit(rows, fmt, columns=table if fmt == "table" else None, alert=lambda row: row["id"] in overdue)


def _scope_rows(report: AuditReport) -> list[dict[str, Any]]:
    return [
        {
            "activity": status.entry.activity_id,
            "npi": status.entry.npi,
            "level": "individual" if status.entry.npi else "group",
            "attested": status.attested,
            "creditable": status.creditable,
            "documentation": status.activity.status.value if status.activity else None,
            "verdict": status.verdict,
            "missing": status.missing,
        }
        for status in report.scope
    ]


def _journal_rows(view: AuditView) -> list[dict[str, Any]]:
    return [
        {
            "noted_at": entry.noted_at.replace(microsecond=0),
            "by": entry.noted_by,
            "note": entry.text,
            "due_moved": f"{entry.due_before} -> {entry.due_after}" if entry.due_after else None,
        }
        for entry in view.journal
    ]


def _document(report: AuditReport) -> dict[str, Any]:
    view = report.audit
    return {
        "id": view.id,
        "tin": view.tin,
        "practice": view.practice_name,
        "year": view.year,
        "reference": view.reference,
        "contact": view.contact,
        "reason": view.reason,
        "received": view.received,
        "due": view.due,
        "as_of": report.as_of,
        "open": view.is_open,
        "days_left": report.days_left if view.is_open else None,
        "overdue": report.overdue,
        "ready": report.ready,
        "opened_at": view.opened_at,
        "opened_by": view.opened_by,
        "closed_at": view.closed_at,
        "closed_by": view.closed_by,
        "outcome": view.outcome,
        "close_note": view.close_note,
        "scope": _scope_rows(report),
        "journal": _journal_rows(view),
    }


@audit.command("show")
@click.argument("audit_id", type=int)
@click.option("--as-of", type=ISO_DATE, help="Count the days left from this date [default: today].")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="table for people; json for other tools.",
)
@read_only
@click.pass_obj
def audit_show(app: App, audit_id: int, as_of: date | None, fmt: str) -> None:
    """Show an audit: its clock, each requested activity's verdict and missing items, the journal.

    \b
    Example:
        evidence audit show 1 --as-of 2025-01-01
    """
    from evidence.records.audit_report import audit_report

    with app.read() as session:
        report = audit_report(session, audit_id, as_of=_as_of(as_of))
    if fmt == "json":
        emit_json(_document(report))
        return
    view = report.audit
    label = f" ({view.reference})" if view.reference else ""
    click.echo(printable(f"audit #{view.id}{label}: {view.tin} {view.practice_name}, PY{view.year}"))
    clock = printable(f"received {view.received}, {_clock(view, report.as_of)}")  # a closed one names its closer
    click.echo(click.style(clock, fg="red") if report.overdue and use_colour() else clock)
    for name, value in (("contact", view.contact), ("reason", view.reason)):
        if value:
            click.echo(printable(f"{name}: {value}"))
    click.echo(printable(f"opened {view.opened_at:%Y-%m-%d} by {view.opened_by}"))
    ready = sum(1 for s in report.scope if s.creditable)
    click.echo(
        f"\nscope: {plural(len(report.scope), 'requested activity', 'requested activities')}, {ready} creditable"
    )
    emit(_scope_rows(report), "table", columns=["activity", "level", "npi", "verdict", "missing"])
    click.echo("\njournal:")
    emit(_journal_rows(view), "table", columns=["noted_at", "by", "note", "due_moved"])
    if view.close_note:
        click.echo(printable(f"closing note: {view.close_note}"))


@audit.command("note")
@click.argument("audit_id", type=int)
@click.argument("text", type=TEXT)
@click.option("--due", type=ISO_DATE, help="Move the due date (an extension); the note is the reason.")
@actor_option
@changes_existing
@click.pass_obj
def audit_note(app: App, audit_id: int, text: str, due: date | None) -> None:
    """Add a dated journal entry (a call, an e-mail, an extension), moving the due date with --due.

    \b
    Example:
        evidence audit note 1 "Guidehouse granted 15 more days by e-mail" --due 2025-01-19
    """
    from evidence.records.audits import note_audit

    with app.write() as session:
        view = note_audit(session, audit_id, text, due=due, actor=app.actor)
    before = view.journal[-1].due_before  # the entry just added
    click.echo(f"audit #{view.id}: note added" + (f"; due {before} -> {view.due}" if before else ""))


@audit.command("close")
@click.argument("audit_id", type=int)
@click.option("--outcome", type=click.Choice(AUDIT_OUTCOMES), required=True, help="What CMS decided.")
@click.option("--note", type=TEXT, help="The closing note (CMS's letter, its date).")
@actor_option
@changes_existing
@click.pass_obj
def audit_close(app: App, audit_id: int, outcome: str, note: str | None) -> None:
    """Close an audit with CMS's outcome; its year is then purgeable again once its window ends.

    A legal hold or another open audit on the same TIN and year still keeps it.

    \b
    Example:
        evidence audit close 1 --outcome passed --note "CMS letter of 2025-03-02: no findings"
    """
    from evidence.records.audits import close_audit, store_hold_digests

    with app.write() as session:
        view = close_audit(session, audit_id, outcome, note=note, actor=app.actor)
        digests = store_hold_digests(session, view.id)
    click.echo(f"audit #{view.id} closed: {view.outcome}")
    _mirror(app, view, digests, on=False)


audit.add_command(packet_command)  # `audit packet`: the response (PDF, ZIP, XLSX), in its own module
