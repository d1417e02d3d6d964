"""`evidence catalog`: look up, validate and import the IA inventory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evidence.app import App
from evidence.cli.output import document_format_option, emit, emit_json, format_option, printable
from evidence.cli.params import ACTIVITY, TEXT, YEAR, actor_option, read_only
from evidence.rules.cms import UNWEIGHTED, Weight, weight_label
from evidence.support.text import plural

if TYPE_CHECKING:
    from evidence.catalog.qpp import QppPreview
    from evidence.catalog.store import ActivityDetail

WEIGHT_CHOICES = (*(weight.value for weight in Weight), UNWEIGHTED)


@click.group()
def catalog() -> None:
    """The IA inventory per performance year and its suggested documentation.

    \b
    Examples:
        evidence catalog list --year 2020 --weight high
        evidence catalog show IA_PSPA_20 --year 2020
        evidence catalog import-qpp measures-data.json --year 2027
    """


@catalog.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(file: Path) -> None:
    """Check a catalog YAML file against the schema and the year rules.

    Every problem is listed with its line, activity and field; exit code 1 if any.

    \b
    Example:
        evidence catalog validate evidence/catalog/data/suggested_documentation.yaml
    """
    from evidence.catalog.model import load_catalog_file

    parsed = load_catalog_file(file)
    activities = sum(len(y.activities) for y in parsed.years.values())
    years = sorted(parsed.years)
    click.echo(
        f"{file}: valid: {plural(len(years), 'performance year')} ({years[0]}-{years[-1]}), "
        f"{plural(activities, 'activity entry', 'activity entries')}, "
        f"suggested documentation for {plural(len(parsed.documentation), 'activity')}"
    )


def _default_year(app: App) -> int:
    """The current calendar year's inventory, or the nearest loaded one."""
    from evidence.catalog.store import catalog_years

    with app.read() as session:
        years = catalog_years(session)
    from evidence.support import clock

    today = clock.today().year
    return max((y for y in years if y <= today), default=years[0] if years else today)


@catalog.command("list")
@click.option("--year", type=YEAR, help="Performance year [default: this year's inventory].")
@click.option("--subcategory", type=TEXT, help="CMS subcategory id, e.g. populationManagement.")
@click.option(
    "--weight",
    type=click.Choice(WEIGHT_CHOICES),
    help="Only activities of this weight: high, medium or none through PY2024; unweighted from PY2025.",
)
@format_option
@read_only
@click.pass_obj
def list_(app: App, year: int | None, subcategory: str | None, weight: str | None, fmt: str) -> None:
    """List a performance year's activities with their documentation rule.

    \b
    Example:
        evidence catalog list --year 2020 --subcategory populationManagement
    """
    from evidence.catalog.store import list_activities

    year = year or _default_year(app)
    with app.read() as session:
        rows = list_activities(session, year, subcategory=subcategory, weight=weight)
    emit(
        [
            {
                "year": r.year,
                "activity": r.activity_id,
                "weight": weight_label(r.weight),
                "subcategory": r.subcategory,
                "documentation": "generic"
                if r.generic
                else f"{r.rule} of {r.items}"
                if r.rule != "single"
                else "single",
                "status": f"suspended {r.suspended_since}" if r.suspended_since else "",
                "title": r.title,
            }
            for r in rows
        ],
        fmt,
        columns=["year", "activity", "weight", "subcategory", "documentation", "status", "title"],
    )


@catalog.command()
@click.argument("activity_id", type=ACTIVITY)
@click.option("--year", type=YEAR, help="Only this performance year.")
@document_format_option
@read_only
@click.pass_obj
def show(app: App, activity_id: str, year: int | None, fmt: str) -> None:
    """Show an activity: title, weight, subcategory and programs per year, its own minimum period or
    suspension where CMS set one, and its suggested documentation.

    \b
    Example:
        evidence catalog show IA_PM_15 --year 2020
        evidence catalog show IA_MVP --year 2025 --format json
    """
    from evidence.catalog.store import activity_detail, subcategory_names

    with app.read() as session:
        detail = activity_detail(session, activity_id, year)
        names = subcategory_names(session)
    if fmt == "json":
        emit_json(_show_document(detail))
        return
    latest = detail.years[-1]
    click.echo(f"{activity_id}: {printable(latest.title)}")
    sub = latest.subcategory
    click.echo(f"Subcategory: {names.get(sub, sub) if sub else 'none (APM / medical home)'}")
    click.echo("Performance years:")
    for row in detail.years:
        title = "" if row.title == latest.title else f"  (title: {printable(row.title)})"
        click.echo(f"  PY{row.performance_year}: weight {weight_label(row.weight)}{title}")
        split = detail.programs_and_mvps(row.performance_year)
        if split is not None:
            others, mvps = split
            click.echo(f"    programs: {printable(', '.join(others)) or 'MVP reporters only'}"
                       + (f"; MVPs: {printable(', '.join(mvps))}" if mvps else ""))  # fmt: skip
        types = detail.registration_types(row.performance_year)
        if types is not None:
            click.echo(f"    registration types: {printable(', '.join(types))}")
    _show_terms(detail)
    if latest.description:
        click.echo(f"Description (CMS, PY{latest.performance_year}):")
        # An imported CMS file may carry any text: each of its lines is shown inert, then wrapped.
        inert = "\n".join(printable(line) for line in latest.description.splitlines())
        click.echo(click.wrap_text(inert, width=96, initial_indent="  ", subsequent_indent="  "))
    requirement = detail.requirement
    rule_words = {
        "all": "all of these items are needed",
        "any": "any one of these items is enough",
        "single": "one item",
    }
    kind = "generic (CMS suggests no specific documentation)" if requirement.generic else rule_words[requirement.rule]
    click.echo(f"Suggested documentation: {kind}")
    for item in requirement.items:
        click.echo(f"  {item.key}) {printable(item.label)}: {printable(item.description)}")


def _show_document(detail: ActivityDetail) -> dict[str, Any]:
    def listed(ids: tuple[str, ...] | None) -> list[str] | None:
        return None if ids is None else list(ids)

    requirement = detail.requirement
    return {
        "activity": detail.activity_id,
        "years": [
            {
                "year": row.performance_year,
                "title": row.title,
                "subcategory": row.subcategory,
                "weight": weight_label(row.weight),
                "allowed_programs": listed(detail.programs(row.performance_year)),
                "allowed_registration_types": listed(detail.registration_types(row.performance_year)),
                "latest_start": detail.latest_start(row.performance_year),
            }
            for row in detail.years
        ],
        "minimum_periods": [
            {
                "first_year": t.first_year,
                "last_year": t.last_year,
                "minimum_months": t.minimum_months,
                "minimum_days": t.minimum_days,
                "cms_text": t.sentence,
                "source": t.source,
            }
            for t in detail.terms
        ],
        "schedules": [
            {
                "first_year": s.first_year,
                "last_year": s.last_year,
                "schedule": s.schedule,
                "cms_text": s.sentence,
                "checked": False,
                "source": s.source,
            }
            for s in detail.schedules
        ],
        "suspensions": [
            {"year": s.year, "since": s.since, "rule": s.rule, "cms_text": s.sentence, "source": s.source}
            for s in detail.suspensions
        ],
        "documentation": {
            "rule": requirement.rule,
            "generic": requirement.generic,
            "items": [{"key": i.key, "label": i.label, "description": i.description} for i in requirement.items],
        },
    }


def _span(first: int, last: int) -> str:
    return f"PY{first}-PY{last}" if last > first else f"PY{first}"


def _show_terms(detail: ActivityDetail) -> None:
    """What the activity's own CMS text demands, and CMS's suspensions, for the years shown."""
    for term in detail.terms:
        years = _span(term.first_year, term.last_year)
        latest = detail.latest_start(min(max(r.performance_year for r in detail.years), term.last_year))
        click.echo(f"Minimum period ({years}): {term.words}, not 90 days; latest start PY{latest.year}: {latest}")
        click.echo(f'  CMS: "{printable(term.sentence)}"')
    for schedule in detail.schedules:
        years = _span(schedule.first_year, schedule.last_year)
        click.echo(f"Schedule ({years}): {schedule.schedule} (shown, not checked by the tool)")
        click.echo(f'  CMS: "{printable(schedule.sentence)}"')
    for suspension in detail.suspensions:
        click.echo(f"Suspended (PY{suspension.year}): from {suspension.since}; {suspension.rule}")
        click.echo(f"  Source: {suspension.source}")


@catalog.command("import-qpp")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=YEAR, required=True, help="The performance year the file describes.")
@click.option("--dry-run", is_flag=True, help="Only show what would change; write nothing.")
@click.option("--yes", is_flag=True, help="Apply even though activities would be removed from the year.")
@format_option
@actor_option
@click.pass_obj
def import_qpp(app: App, file: Path, year: int, dry_run: bool, yes: bool, fmt: str) -> None:
    """Load a performance year's inventory from CMS's qpp-measures-data file.

    Takes a `measures-data.json` (IA entries are picked out of all the measures) or a file of
    just its IA entries. Ids, titles, descriptions, weights and subcategories replace that
    year's inventory; suggested documentation stays attached by activity id. The whole file
    is checked first: one bad entry refuses it and nothing changes.

    Every run first lists what would change: activities added, changed (with the fields) and
    removed. Removing any activity needs --yes; removing one that attestations refer to is
    refused. With --dry-run nothing is written.

    \b
    Examples:
        evidence catalog import-qpp measures/2027/measures-data.json --year 2027 --dry-run
        evidence catalog import-qpp measures/2027/measures-data.json --year 2027 --yes
    """
    from evidence.catalog.qpp import import_qpp as run_import
    from evidence.catalog.qpp import preview_qpp
    from evidence.errors import ConflictError

    if dry_run:
        app.open_existing_only()  # a preview never creates a store
    with app.read() as session:
        preview = preview_qpp(session, file, year)
    _show_preview(preview, fmt)
    if dry_run:
        _emit_document(preview, fmt, applied=False)
        refusal = preview.refusal(confirm_removal=True)
        if refusal is not None:
            raise ConflictError(refusal)
        needs_yes = " (applying it needs --yes: it removes activities)" if preview.diff.removed else ""
        _note(fmt, f"dry run: nothing changed{needs_yes}")
        return
    try:
        with app.write() as session:
            run_import(session, file, year, actor=app.actor, confirm_removal=yes, previewed=preview.diff)
    except ConflictError:
        _emit_document(preview, fmt, applied=False)
        raise
    _emit_document(preview, fmt, applied=True)
    _note(fmt, f"PY{year}: imported from {printable(file.name)}")


def _show_preview(preview: QppPreview, fmt: str) -> None:
    """The diff: one row per added, changed or removed activity (unchanged ones are only counted)."""
    diff = preview.diff
    summary = (
        f"PY{preview.year}: {plural(preview.activities, 'activity')} in {printable(preview.file_name)} "
        f"({'weighted' if preview.weighted else 'unweighted'}): {len(diff.added)} added, "
        f"{len(diff.changed)} changed, {len(diff.removed)} removed, {diff.unchanged} unchanged"
    )
    if fmt == "json":  # one document, written once the outcome is known (_emit_document)
        return
    rows = [
        *({"change": "added", "activity": a, "fields": ""} for a in diff.added),
        *({"change": "changed", "activity": a, "fields": ", ".join(fields)} for a, fields in diff.changed),
        *({"change": "removed", "activity": a, "fields": ""} for a in diff.removed),
    ]
    if fmt == "csv":
        emit(rows, fmt, columns=PREVIEW_COLUMNS)
        click.echo(summary, err=True)
        return
    if rows:
        emit(rows, fmt, columns=PREVIEW_COLUMNS)
    click.echo(summary)


PREVIEW_COLUMNS = ["change", "activity", "fields"]


def _emit_document(preview: QppPreview, fmt: str, *, applied: bool) -> None:
    if fmt != "json":
        return
    diff = preview.diff
    document: dict[str, Any] = {
        "year": preview.year,
        "file": preview.file_name,
        "activities": preview.activities,
        "weighted": preview.weighted,
        "added": list(diff.added),
        "changed": [{"activity": a, "fields": list(fields)} for a, fields in diff.changed],
        "removed": list(diff.removed),
        "unchanged": diff.unchanged,
        "applied": applied,
    }
    emit_json(document)


def _note(fmt: str, line: str) -> None:
    """The outcome line: on stdout for a table, on stderr beside JSON or CSV (stdout stays parseable)."""
    click.echo(line, err=fmt != "table")
