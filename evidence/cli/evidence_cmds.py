"""Registering evidence, listing it, withdrawing it, verifying the store, and the missing report."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evidence.app import App
from evidence.cli.output import document_format_option, emit, emit_json, format_option, printable
from evidence.cli.params import ACTIVITY, ISO_DATE, NPI, TEXT, TIN, YEAR, actor_option, changes_existing, read_only
from evidence.support.text import plural

if TYPE_CHECKING:  # at run time both are imported where they are used
    from tqdm import tqdm


def _progress(total: int) -> tqdm[Any]:
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="CSV or YAML manifest.")
@click.option("--tin", type=TIN, help="The practice.")
@click.option("--year", type=YEAR, help="Performance year.")
@click.option("--activity", type=ACTIVITY, help="The attested activity, e.g. IA_PM_7.")
@click.option("--item", "items", type=click.IntRange(min=1), multiple=True, help="Documentation item key (repeatable).")
@click.option("--npi", type=NPI, help="The clinician (individual attestation, or a group participant).")
@click.option(
    "--effective-date",
    type=ISO_DATE,
    help="The day the documented work happened [default: the file's modification date].",
)
@click.option("--effective-from", type=ISO_DATE, help="A document in force for a time (a policy): its first day.")
@click.option("--effective-until", type=ISO_DATE, help="... and its last day (with --effective-from).")
@click.option("--description", type=TEXT, help="What the file shows.")
@click.option(
    "--strict-dates",
    is_flag=True,
    help="Refuse the run (nothing registered) if a file is dated after its year or wholly outside its period.",
)
@click.option("--follow-symlinks", is_flag=True, help="Register the targets of symbolic links.")
@click.option("--allow-empty", is_flag=True, help="Accept zero-byte files.")
@click.option("--allow-outside", is_flag=True, help="Let a manifest name files outside its folder.")
@actor_option
@click.pass_obj
def register(
    app: App,
    paths: tuple[Path, ...],
    manifest: Path | None,
    tin: str | None,
    year: int | None,
    activity: str | None,
    items: tuple[int, ...],
    npi: str | None,
    effective_date: date | None,
    effective_from: date | None,
    effective_until: date | None,
    description: str | None,
    strict_dates: bool,
    follow_symlinks: bool,
    allow_empty: bool,
    allow_outside: bool,
) -> None:
    """Register evidence files and link them to an attestation's documentation items.

    Files are stored once by SHA-256 (owner-only), streamed and written atomically. A folder
    means every file in it. Registering a file again with a link it already has changes
    nothing ("already present"), so an interrupted run can simply be run again. Failures
    are listed at the end, and the exit code is 1 if there were any.

    Each registered file shows the effective date (or range) it got and where it came from.
    A file dated after the performance year, or wholly outside the attested period, gets a
    warning on stderr (--strict-dates: the run is refused). Known content given another date
    or description than its record is refused for that file, naming both values: correct the
    record with `evidence edit`.

    \b
    Examples:
        evidence register qcdr-q3.pdf --tin 000123456 --year 2020 --activity IA_PM_7 --effective-date 2020-10-05
        evidence register policy.pdf --tin 000123456 --year 2020 --activity IA_PSPA_20 \\
            --effective-from 2019-12-01 --effective-until 2020-12-31
        evidence register minutes/ --tin 000123456 --year 2020 --activity IA_PSPA_20 --item 2
        evidence register --manifest sample_evidence/manifest.yaml --strict-dates
    """
    from evidence.records.manifest import read_manifest
    from evidence.store.registration import (
        FileToRegister,
        LinkRequest,
        Outcome,
        OutcomeStatus,
        expand_paths,
        register_files,
    )

    dates = (effective_date, effective_from, effective_until)
    if manifest is not None:
        if paths or tin or year or activity or items or npi or any(dates) or description:
            raise click.UsageError(
                "--manifest takes the files, their links and dates from the manifest; give no PATH or "
                "--tin/--year/--activity/--item/--npi/--effective-date/--effective-from/--effective-until/--description"
            )
        files, problems = read_manifest(manifest, allow_outside=allow_outside, follow_symlinks=follow_symlinks)
        outcomes = [Outcome(p.path, OutcomeStatus.FAILED, f"{p.source}: {p.message}") for p in problems]
    else:
        if not (paths and tin and year and activity):
            missing = [
                name
                for name, value in (("PATH", paths), ("--tin", tin), ("--year", year), ("--activity", activity))
                if not value
            ]
            raise click.UsageError(f"missing {', '.join(missing)} (or use --manifest FILE)")
        start, until, date_source = _dates_given(effective_date, effective_from, effective_until)
        request = LinkRequest(tin, year, activity, tuple(items), npi)
        from evidence.store.registration import resolve_target

        with app.read() as session:
            resolve_target(session, request)  # a wrong target is one error, not one per file
        files = [
            FileToRegister(path, request, start, description, effective_until=until, date_source=date_source)
            for path in expand_paths(paths, follow_symlinks=follow_symlinks)
        ]
        outcomes = []
    store = app.blob_store
    with _progress(len(files)) as bar, app.write() as session:  # register_files commits batch by batch

        def advance(_outcome: Outcome) -> None:
            bar.update()

        outcomes += register_files(
            session,
            store,
            files,
            actor=app.actor,
            follow_symlinks=follow_symlinks,
            allow_empty=allow_empty,
            strict_dates=strict_dates,
            on_progress=advance,
        )
    done = [o for o in outcomes if o.status is OutcomeStatus.REGISTERED]
    present = sum(1 for o in outcomes if o.status is OutcomeStatus.PRESENT)
    failed = [o for o in outcomes if o.status is OutcomeStatus.FAILED]
    for outcome in done:
        if len(outcomes) <= 50:
            name, message, source = (printable(t) for t in (outcome.path.name, outcome.message, outcome.date_source))
            click.echo(f"registered {name}: {message}; effective {outcome.effective} (from {source})")
    if len(outcomes) > 50 and done:  # no line per file: where the dates came from, counted
        sources = Counter(o.date_source for o in done)
        click.echo("effective dates: " + ", ".join(f"{n} from {printable(s)}" for s, n in sources.most_common()))
    for outcome in done:
        if outcome.warning:
            click.echo(f"warning: {printable(outcome.warning)}", err=True)
    click.echo(f"{len(done)} registered, {present} already present, {len(failed)} failed")
    if failed:  # one error line; with several failures, one indented line per file
        from evidence.errors import InputError

        messages = [outcome.message for outcome in failed]
        if len(messages) == 1:
            raise InputError(messages[0])
        raise InputError(f"{len(messages)} files not registered", details=messages)


def _dates_given(
    effective_date: date | None, effective_from: date | None, effective_until: date | None
) -> tuple[date | None, date | None, str]:
    """The options as one start and until (None, None: the file's own date), and their name."""
    if effective_date is not None and (effective_from or effective_until):
        raise click.UsageError(
            "give --effective-date (one day) or --effective-from/--effective-until (a range), not both"
        )
    if effective_date is not None:
        return effective_date, None, "--effective-date"
    if effective_from is None and effective_until is None:
        return None, None, ""
    if effective_from is None or effective_until is None:
        given, absent = (
            ("--effective-from", "--effective-until") if effective_from else ("--effective-until", "--effective-from")
        )
        raise click.UsageError(f"{given} needs {absent} (a single day is --effective-date)")
    from evidence.rules.coverage import normalized_range

    start, until = normalized_range(effective_from, effective_until)  # until before from: one error line
    return start, until, "--effective-from/--effective-until"


@click.command("list")
@click.option("--tin", type=TIN, help="Only evidence linked to this practice.")
@click.option("--year", type=YEAR, help="Only this performance year.")
@click.option("--activity", type=ACTIVITY, help="Only this activity.")
@format_option
@read_only
@click.pass_obj
def list_(app: App, tin: str | None, year: int | None, activity: str | None, fmt: str) -> None:
    """List registered evidence and where it is linked.

    \b
    Example:
        evidence list --tin 000123456 --year 2020 --format csv
    """
    from evidence.records.listing import list_evidence

    with app.read() as session:
        views = list_evidence(session, tin=tin, year=year, activity=activity)
    from evidence.records.views import evidence_columns, evidence_rows

    rows = evidence_rows(views)
    emit(rows, fmt, columns=evidence_columns(rows, fmt))


@click.command()
@click.argument("evidence_id", type=int)
@document_format_option
@read_only
@click.pass_obj
def show(app: App, evidence_id: int, fmt: str) -> None:
    """Show one piece of evidence: file facts, who registered it, and its links.

    \b
    Examples:
        evidence show 3
        evidence show 3 --format json
    """
    import dataclasses

    from evidence.records.listing import evidence_detail

    with app.read() as session:
        v = evidence_detail(session, evidence_id)
    if fmt == "json":
        emit_json(dataclasses.asdict(v))
        return
    click.echo(f"Evidence {v.id}: {printable(v.original_name)}")
    if v.effective_until is None:
        click.echo(f"  effective date: {v.effective_date}")
    else:
        click.echo(f"  effective range: {v.effective}")
    click.echo(f"  size: {v.size} bytes, {v.media_type}")
    click.echo(f"  {v.hash_algorithm}: {v.digest}")
    click.echo(f"  registered by {printable(v.registered_by)} at {v.registered_at:%Y-%m-%d %H:%M:%S} UTC")
    if v.description:
        click.echo(f"  description: {printable(v.description)}")
    if v.withdrawn_at:
        by, why = printable(v.withdrawn_by or ""), printable(v.withdrawal_reason or "")
        click.echo(f"  WITHDRAWN by {by} at {v.withdrawn_at:%Y-%m-%d %H:%M:%S} UTC: {why}")
    click.echo("  links:" if v.links else "  links: none")
    for link in v.links:
        who = f" NPI {link.attestation_npi}" if link.attestation_npi else " group"
        about = f", participant {link.clinician_npi}" if link.clinician_npi else ""
        label = printable(link.item_label)
        click.echo(
            f"    link {link.link_id}: {link.tin} PY{link.year} {link.activity_id}{who}{about}: "
            f"item {link.item_key} ({label}), attestation {link.attestation_id}"
        )


@click.command()
@click.argument("evidence_id", type=int)
@click.option("--reason", type=TEXT, required=True, help="Why it was a mistake.")
@actor_option
@changes_existing
@click.pass_obj
def withdraw(app: App, evidence_id: int, reason: str) -> None:
    """Take a mistaken registration out of reports and packets (record and file are kept).

    \b
    Example:
        evidence withdraw 7 --reason "wrong practice's report"
    """
    from evidence.store.registration import withdraw as run

    with app.write() as session:
        evidence = run(session, evidence_id, reason, actor=app.actor)
    click.echo(f"evidence {evidence.id} ({printable(evidence.original_name)}) withdrawn: {printable(reason)}")


@click.command()
@click.option("--repair", is_flag=True, help="Quarantine orphaned files; remove leftovers of interrupted runs.")
@click.option(
    "--accept-rollback",
    is_flag=True,
    help="The database was restored from a backup on purpose: record it in the audit trail, then repair.",
)
@actor_option
@read_only
@click.pass_obj
def verify(app: App, repair: bool, accept_rollback: bool) -> None:
    """Re-hash every stored file; report missing, corrupted and orphaned files (exit 1 if any).

    Nothing is deleted: `--repair` moves files the database does not name to the quarantine
    folder (<home>/quarantine/<date>/sha256/), from which they can be registered again. A
    database older than the audit-head file (restored from a backup), or one that belongs to
    another store, is reported and nothing is repaired or written until `--accept-rollback`.

    \b
    Example:
        evidence verify
        evidence verify --repair
    """
    from evidence.store.verify import verify_store

    store = app.blob_store
    if accept_rollback:
        _accept_rollback(app)
        repair = True
    with app.read() as session:
        report = verify_store(session, store, repair=repair, home=app.settings.home, database=app.database_label)
    if report.identity:
        click.echo(f"store: {report.identity}")
    if report.rollback:
        click.echo(f"rollback: {report.rollback}")
    for problem in report.database:
        click.echo(f"database: {problem} (the database file is damaged; restore it from a backup)")
    for digest in report.missing:
        click.echo(f"missing: {digest} (in the database, not in the store)")
    for digest in report.corrupted:
        click.echo(f"corrupted: {digest} (content no longer matches its SHA-256)")
    orphan_hint = "--repair moves it to the quarantine" if report.repair_refused is None else "kept"
    for digest in report.orphaned:
        click.echo(f"orphaned: {digest} (in the store, not in the database; {orphan_hint})")
    for path in report.leftovers:
        click.echo(f"leftover: {path.name} (temporary file of an interrupted registration; --repair removes it)")
    for line in report.unreadable:
        click.echo(f"unreadable: {line}")
    for line in (*app.recovered, *report.recovered):
        click.echo(f"recovered: {line}")
    if repair and report.repair_refused is not None:
        click.echo("not repaired: nothing was moved or removed while the database is damaged, foreign or older")
    if report.rollback:
        click.echo("writes are refused until the officer runs `evidence verify --accept-rollback` (it is logged)")
    for line in report.repaired:
        click.echo(f"repaired: {line}")
    if report.quarantined:
        click.echo(
            f"quarantine: {plural(len(report.quarantined), 'file')} no database names, under "
            f"{Path(report.quarantined[0]).parent.parent.parent}; `evidence register FILE ...` adopts one again, "
            "and only you delete them"
        )
    problems = len(report.missing) + len(report.corrupted) + len(report.orphaned) + len(report.leftovers)
    problems += len(report.database) + len(report.unreadable) + bool(report.identity) + bool(report.rollback)
    click.echo(f"{plural(report.checked, 'stored file')} checked: {plural(problems, 'problem')}")
    if not report.ok:
        sys.exit(1)


def _accept_rollback(app: App) -> None:
    """Record, in the chain, that the officer accepts a database older than the audit-head mirror."""
    from evidence.errors import InputError
    from evidence.retention.audit import HEAD_FILE, head_mirror_problem, record

    with app.write(accept_rollback=True) as session:
        problem = head_mirror_problem(session, app.settings.home)
        if problem is None:
            raise InputError(f"there is no rollback to accept: the database is not older than {HEAD_FILE}")
        mirror = (app.settings.home / HEAD_FILE).read_text("utf-8", errors="replace").strip()
        record(session, app.actor, "rollback.accept", f"rollback accepted: {problem}", details={HEAD_FILE: mirror})
    click.echo(f"rollback accepted and recorded: {problem}")


@click.command()
@click.option("--tin", type=TIN, help="Only this practice.")
@click.option("--year", type=YEAR, help="Only this performance year.")
@click.option("--npi", type=NPI, help="Only this clinician's individual attestations.")
@click.option("--activity", type=ACTIVITY, help="Only this attested activity, e.g. IA_PM_7.")
@click.option("--level", type=click.Choice(("group", "individual")), help="Only group or only individual attestations.")
@click.option(
    "--status", type=click.Choice(("complete", "incomplete", "missing")), help="Only this documentation status."
)
@format_option
@click.option(
    "--fail-on-missing",
    is_flag=True,
    help="Exit 1 when any attested activity is not creditable: documentation, period or group rule (for scripts).",
)
@read_only
@click.pass_obj
def missing(
    app: App,
    tin: str | None,
    year: int | None,
    npi: str | None,
    activity: str | None,
    level: str | None,
    status: str | None,
    fmt: str,
    fail_on_missing: bool,
) -> None:
    """Attested activities whose documentation is missing or outside the attested period.

    Each activity shows its documentation status and its credit verdict: creditable only when
    the documentation rule, the attested period and, for a group, each participant's own
    period and the 50% participation rule (from PY2020) all hold; otherwise the reasons. The
    summary counts both.

    \b
    Example:
        evidence missing --tin 000123456 --year 2020
    """
    from evidence.cli.missing_view import render_missing
    from evidence.records.missing import missing_report

    with app.read() as session:
        report = missing_report(session, tin=tin, year=year, npi=npi).only(
            activity=activity, level=level, status=status
        )
    render_missing(report, fmt)
    if fail_on_missing and report.anything_not_creditable:
        sys.exit(1)
