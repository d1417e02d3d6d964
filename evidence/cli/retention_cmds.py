"""Retention period, legal holds, purge, and the audit log."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import click

from evidence.app import App
from evidence.cli.output import emit, format_option, printable
from evidence.cli.params import ISO_DATE, TEXT, TIN, YEAR, actor_option, changes_existing, read_only
from evidence.support.text import plural

if TYPE_CHECKING:  # at run time it is imported where it is used
    from evidence.retention.policy import PurgePlan


@click.group()
def retention() -> None:
    """Show or lengthen the retention period (6 years by default, never less).

    \b
    Example:
        evidence retention set --years 10
    """


@retention.command("show")
@read_only
@click.pass_obj
def retention_show(app: App) -> None:
    """Show the retention period and what it means for each performance year.

    \b
    Example:
        evidence retention show
    """
    from evidence.retention.policy import retention_years, what_keeps
    from evidence.rules.cms import FIRST_PERFORMANCE_YEAR, purgeable_on, retain_until
    from evidence.support import clock

    today = clock.today()
    with app.read() as session:
        years = retention_years(session)
        span = range(FIRST_PERFORMANCE_YEAR, today.year + 1)
        keeps = {year: what_keeps(session, year) for year in span if purgeable_on(year, years, today)}
    click.echo(f"retention period: {years} years after the end of each performance year")
    for year in span:
        until = retain_until(year, years)
        state = "purgeable" if purgeable_on(year, years, today) else "kept"
        click.echo(f"  PY{year}: kept through {until} ({state})")
        for line in keeps.get(year, []):  # a purge keeps these TINs' records of the year
            click.echo(printable(f"    kept: {line}"))


@retention.command("set")
@click.option(
    "--years",
    type=int,
    required=True,
    help="Years after the end of the performance year (longer than the current period).",
)
@actor_option
@click.pass_obj
def retention_set(app: App, years: int) -> None:
    """Lengthen the retention period; a shorter or equal one is refused (6 years at least).

    Every change is an event of the audit trail; a period can never be shortened again.

    \b
    Example:
        evidence retention set --years 10
    """
    from evidence.retention.policy import set_retention_years, stored_retention_dates

    with app.write() as session:
        previous = set_retention_years(session, years, actor=app.actor)
        dates = stored_retention_dates(session) if years > previous else {}
    click.echo(f"retention period: {previous} -> {years} years")
    _extend_locks(app, dates)


def _extend_locks(app: App, dates: dict[str, date]) -> None:
    """After the commit, the store's own lock follows a longer period (S3 Object Lock; nothing locally)."""
    from evidence.errors import StoreError

    if not dates:
        return
    store = app.blob_store
    failed: list[str] = []
    for digest, until in sorted(dates.items()):
        try:
            store.extend_retention(digest, until)
        except StoreError as exc:  # one missing file must not leave the others on the old lock
            failed.append(exc.message)
    if failed:
        raise StoreError(
            f"the retention period is recorded, but the file store could not extend the lock of "
            f"{len(failed)} of {plural(len(dates), 'file')}: {failed[0]}"
        )


@click.group()
def hold() -> None:
    """Legal holds: keep a practice's records past their window (an audit, litigation).

    \b
    Examples:
        evidence hold add --tin 000123456 --year 2020 --reason "CMS data validation audit"
        evidence hold release 1 --reason "audit closed"
    """


@hold.command("add")
@click.option("--tin", type=TIN, required=True, help="The practice.")
@click.option("--year", type=YEAR, help="Only this performance year [default: every year].")
@click.option("--reason", type=TEXT, required=True, help="Why (audit letter, litigation...).")
@click.option("--review-by", type=ISO_DATE, help="When to look at the hold again (`evidence deadlines` lists it).")
@actor_option
@click.pass_obj
def hold_add(app: App, tin: str, year: int | None, reason: str, review_by: date | None) -> None:
    """Place a legal hold: nothing it covers is purged until it is released.

    \b
    Example:
        evidence hold add --tin 000123456 --year 2020 --reason "CMS audit letter of 2026-11-02" --review-by 2027-06-30
    """
    from evidence.retention.policy import add_hold, hold_digests

    with app.write() as session:
        row = add_hold(session, tin, year, reason, review_on=review_by, actor=app.actor)
        digests = hold_digests(session, row.practice_id, year)
    click.echo(f"legal hold {row.id} placed on {tin} {'PY' + str(year) if year else 'all years'}")
    _mirror_hold(app, row.id, digests, on=True)


@hold.command("release")
@click.argument("hold_id", type=int)
@click.option("--reason", type=TEXT, required=True, help="Why the hold can end.")
@actor_option
@changes_existing
@click.pass_obj
def hold_release(app: App, hold_id: int, reason: str) -> None:
    """Release a legal hold; its records become purgeable again once their window ends.

    \b
    Example:
        evidence hold release 1 --reason "audit closed, letter of 2027-02-01"
    """
    from evidence.retention.policy import digests_to_release, release_hold

    with app.write() as session:
        row = release_hold(session, hold_id, reason, actor=app.actor)
        digests = digests_to_release(session, row)
    click.echo(f"legal hold {hold_id} released")
    _mirror_hold(app, hold_id, digests, on=False)


@hold.command("review")
@click.argument("hold_id", type=int)
@click.option("--on", "review_on", type=ISO_DATE, required=True, help="The new review date (today or later).")
@click.option("--reason", type=TEXT, required=True, help="Why this date (the lawyer's letter, the audit's phase).")
@actor_option
@changes_existing
@click.pass_obj
def hold_review(app: App, hold_id: int, review_on: date, reason: str) -> None:
    """Set or move an active hold's review date (an event of the audit trail).

    \b
    Example:
        evidence hold review 1 --on 2027-03-01 --reason "counsel asks to look again after the hearing"
    """
    from evidence.retention.policy import review_hold

    with app.write() as session:
        previous = review_hold(session, hold_id, review_on, reason, actor=app.actor)
    click.echo(f"legal hold {hold_id}: review date {f'{previous} -> ' if previous else 'set to '}{review_on}")


def _mirror_hold(app: App, hold_id: int, digests: set[str], *, on: bool) -> None:
    """After the commit, the store's own legal hold (S3 Object Lock; nothing for the local folder)."""
    from evidence.retention.policy import mirror_store_hold

    if digests:  # the store is not even opened for a hold on nothing
        mirror_store_hold(app.blob_store, f"legal hold {hold_id}", digests, on=on)


@hold.command("list")
@format_option
@read_only
@click.pass_obj
def hold_list(app: App, fmt: str) -> None:
    """List legal holds, active and released, each with its id.

    \b
    Example:
        evidence hold list --format json
    """
    from evidence.retention.policy import list_holds

    with app.read() as session:
        rows = [
            {
                "id": h.id,
                "tin": h.practice.tin,
                "year": h.performance_year or "all",
                "status": "released" if h.released_at else "active",
                "reason": h.reason,
                "placed_by": h.created_by,
                "placed_at": h.created_at.replace(microsecond=0),
                "released_by": h.released_by,
                "released_at": h.released_at.replace(microsecond=0) if h.released_at else None,
                "review_on": h.review_on,
                "release_reason": h.release_reason,
            }
            for h in list_holds(session)
        ]
    columns = ["id", "tin", "year", "status", "reason", "placed_by", "placed_at", "review_on", "released_at"]
    emit(rows, fmt, columns=columns if fmt == "table" else list(rows[0]) if rows else columns)


def _size(n: int) -> str:
    size: float = n
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


@click.command()
@click.option("--as-of", type=ISO_DATE, help="Plan as of this date [default: today]; --yes only up to today.")
@click.option("--yes", is_flag=True, help="Carry out the purge (without it nothing is deleted).")
@actor_option
@read_only
@click.pass_obj
def purge(app: App, as_of: date | None, yes: bool) -> None:
    """Show what has passed its retention window, and with --yes delete it.

    Without --yes nothing is deleted. Records under a legal hold or an open audit request
    (`evidence audit list --open`) are kept, each with what keeps it. Rows go in one transaction
    with a tombstone each; files are removed after the commit.

    \b
    Examples:
        evidence purge --as-of 2027-01-01
        evidence purge --yes
    """
    from evidence.errors import InputError, StoreError
    from evidence.retention.policy import check_purge_date, execute_purge, plan_purge, remove_purged_files
    from evidence.support import clock

    today = clock.today()
    as_of = as_of or today
    if yes:
        try:
            check_purge_date(as_of, today)  # the library's rule, checked before any work
        except InputError as exc:
            raise click.UsageError(exc.message) from exc
    store = app.blob_store
    with store.maintenance():  # no registration may re-use a file between our commit and its removal
        with app.write() as session:
            plan = plan_purge(session, as_of, home=app.settings.home)
            _show_plan(plan)
            if not yes or plan.empty:
                session.rollback()
                if not plan.empty:
                    click.echo("Nothing was deleted. Run again with --yes to purge.")
                return
            digests = execute_purge(session, plan, actor=app.actor, today=today)
        removed, kept = remove_purged_files(store, digests)
    records = sum(u.records for u in plan.units)
    click.echo(f"purged {plural(records, 'record')} and {plural(removed, 'file')}; tombstones kept")
    if kept:
        raise StoreError(f"{plural(len(kept), 'file')} could not be removed and remain as orphans: {kept[0]}")


def _show_plan(plan: PurgePlan) -> None:
    click.echo(f"Retention: {plan.retention_years} years. As of {plan.as_of}:")
    if plan.empty and not plan.held:
        click.echo("  nothing has passed its retention window")
    for unit in plan.units:
        if not unit.records and not unit.blobs:
            continue
        click.echo(
            f"  {unit.tin} PY{unit.year} (kept through {unit.retain_until}): "
            f"{plural(len(unit.attestations), 'attestation')}, {plural(len(unit.participations), 'participation')}, "
            f"{plural(len(unit.memberships), 'clinician-year')}, {plural(len(unit.links), 'evidence link')}, "
            f"{plural(len(unit.evidence), 'evidence record')}, {plural(len(unit.blobs), 'file')} ({_size(unit.bytes)})"
        )
    for unit in plan.held:
        keepers = [f"legal hold {', '.join(f'#{h}' for h in unit.held_by)}"] if unit.held_by else []
        keepers += [audit.describe() for audit in unit.audits]
        click.echo(printable(f"  {unit.tin} PY{unit.year}: past its window but kept: {'; '.join(keepers)}"))
