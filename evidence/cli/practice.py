"""Practices, clinicians, attestations, participation and the CSV bulk import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from evidence.app import App
from evidence.cli.corrections import clinician_update, practice_set
from evidence.cli.output import emit, format_option, printable
from evidence.cli.params import ACTIVITY, ISO_DATE, NPI, TEXT, TIN, YEAR, actor_option, read_only
from evidence.rules.cms import APM_KINDS
from evidence.support.text import plural

_Command = TypeVar("_Command", bound=Callable[..., Any])
YEAR_COLUMNS = ["year", "npi", "program", "program_name", "pcmh", "pcmh_attested", "pcmh_sites", "recognized_sites",
                "apm", "problems"]  # fmt: skip


@click.group()
def practice() -> None:
    """Add, list, show and correct practices (TINs) and how they report each year.

    \b
    Examples:
        evidence practice add 000123456 --name "Riverbend Family Medicine"
        evidence practice show 000123456 --year 2020
        evidence practice set 000123456 --year 2020 --pcmh --reason "NCQA recognition letter of 2020-03-02"
        evidence practice years 000123456
    """


@practice.command("add")
@click.argument("tin", type=TIN)
@click.option("--name", type=TEXT, required=True, help="The practice's name.")
@click.option("--pcmh", is_flag=True, help="Recognised patient-centered medical home in --year (full IA credit).")
@click.option(
    "--apm",
    type=click.Choice(APM_KINDS),
    default="none",
    show_default=True,
    help="APM participation in --year: mips (APM scoring standard), app (APP reporter), other APM, or none.",
)
@click.option("--year", type=YEAR, help="The performance year --pcmh and --apm are facts of (required with them).")
@actor_option
@click.pass_obj
def practice_add(app: App, tin: str, name: str, pcmh: bool, apm: str, year: int | None) -> None:
    """Add a practice (TIN: 9 digits, leading zeros kept).

    --pcmh and --apm record one performance year (--year); later years are recorded with
    `evidence practice set TIN --year Y ...`.

    \b
    Example:
        evidence practice add 000123456 --name "Riverbend Family Medicine" --apm other --year 2020
    """
    from evidence.records.practices import add_practice

    with app.write() as session:
        row, _ = add_practice(session, tin, name, pcmh=pcmh, apm=apm, year=year, actor=app.actor)
    facts = f" (PY{year}: pcmh={pcmh}, apm={apm})" if year and (pcmh or apm != "none") else ""
    click.echo(f"practice {row.tin} added: {printable(row.name)}{facts}")


@practice.command("list")
@format_option
@read_only
@click.pass_obj
def practice_list(app: App, fmt: str) -> None:
    """List practices with their clinician, attestation and reporting-year counts.

    \b
    Example:
        evidence practice list --format csv
    """
    from evidence.records.practices import list_practices

    with app.read() as session:
        rows = list_practices(session)
    emit(rows, fmt, columns=["tin", "name", "clinicians", "attestations", "reporting_years"])


@practice.command("years")
@click.argument("tin", type=TIN)
@click.option("--year", type=YEAR, help="Only this performance year.")
@format_option
@read_only
@click.pass_obj
def practice_years(app: App, tin: str, year: int | None, fmt: str) -> None:
    """List how the TIN (and NPIs under it) report each recorded year.

    One row per recorded year: program and its QPP programName, PCMH (pcmh: recognised with
    the group rule applied; pcmh_attested: as recorded), APM participation, and what CMS does
    not allow in it. Years not listed are traditional MIPS, no medical home, no APM.

    \b
    Example:
        evidence practice years 000123456 --format csv
    """
    from evidence.records.reporting import list_years, year_row

    with app.read() as session:
        rows = [year_row(facts) for facts in list_years(session, tin, year)]
    emit(rows, fmt, columns=YEAR_COLUMNS)


@practice.command("show")
@click.argument("tin", type=TIN)
@click.option("--year", type=YEAR, help="Only this performance year.")
@read_only
@click.pass_obj
def practice_show(app: App, tin: str, year: int | None) -> None:
    """Show a practice: clinicians and attestations (#id) per performance year.

    \b
    Example:
        evidence practice show 000123456 --year 2020
    """
    from evidence.records.practices import get_practice, list_attestations, list_clinicians
    from evidence.records.reporting import describe, list_years

    with app.read() as session:
        row = get_practice(session, tin)
        members = list_clinicians(session, tin, year)
        attestations = list_attestations(session, tin, year)
        reporting = list_years(session, tin, year)
    click.echo(f"{row.tin}  {printable(row.name)}")
    years = sorted({m.performance_year for m in members} | {a.year for a in attestations} | {r.year for r in reporting})
    if not years:
        click.echo("No clinicians, attestations or reporting years recorded" + (f" for {year}." if year else "."))
    for y in years:
        in_year = [m for m in members if m.performance_year == y]
        click.echo(f"\nPY{y}: {plural(len(in_year), 'clinician')}")
        recorded = [r for r in reporting if r.year == y]
        if not any(r.npi is None for r in recorded):
            click.echo("  reports: program mips, PCMH no, APM none (nothing recorded)")
        for r in recorded:
            click.echo(f"  reports{f' (NPI {r.npi})' if r.npi else ''}: {describe(r)}")
        for m in in_year:
            click.echo(f"  {m.clinician.npi}  {printable(m.clinician.name)}")
        for a in (a for a in attestations if a.year == y):
            who = f"individual {a.npi}" if a.npi else f"group, {a.participants} participating"
            click.echo(f"  #{a.id:<5} {a.activity_id:<12} {a.start} to {a.end}  ({who})")


@click.group()
def clinician() -> None:
    """Add, list and update clinicians (NPIs) billing under a TIN in a year.

    \b
    Examples:
        evidence clinician add 1234567893 --tin 000123456 --name "Dr. Avery Chen" --year 2020
        evidence clinician update 1234567893 --tin 000123456 --year 2020 --rural --reason "ZIP is rural"
    """


@clinician.command("add")
@click.argument("npi", type=NPI)
@click.option("--tin", type=TIN, required=True, help="The practice the clinician bills under.")
@click.option("--name", type=TEXT, required=True, help="The clinician's name.")
@click.option("--year", type=YEAR, required=True, help="Performance year.")
@click.option("--rural", is_flag=True, help="Practices in a rural ZIP code.")
@click.option("--hpsa", is_flag=True, help="Practices in a Health Professional Shortage Area.")
@click.option("--patient-facing-encounters", type=click.IntRange(min=0), help="Medicare Part B encounters.")
@click.option("--hospital-pos-pct", type=click.FloatRange(0, 100), help="% of services in POS 19/21/22/23.")
@click.option("--asc-pos-pct", type=click.FloatRange(0, 100), help="% of services in POS 24.")
@actor_option
@click.pass_obj
def clinician_add(
    app: App,
    npi: str,
    tin: str,
    name: str,
    year: int,
    rural: bool,
    hpsa: bool,
    patient_facing_encounters: int | None,
    hospital_pos_pct: float | None,
    asc_pos_pct: float | None,
) -> None:
    """Record that a clinician bills under a TIN in a year, with special-status inputs.

    \b
    Example:
        evidence clinician add 1234567893 --tin 000123456 --name "Dr. Avery Chen" \\
            --year 2020 --patient-facing-encounters 1810 --hospital-pos-pct 9
    """
    from evidence.records.practices import StatusInputs, add_clinician

    inputs = StatusInputs(rural, hpsa, patient_facing_encounters, hospital_pos_pct, asc_pos_pct)
    with app.write() as session:
        add_clinician(session, tin, npi, name, year, inputs, actor=app.actor)
    click.echo(f"clinician {npi} ({printable(name)}) bills under {tin} in {year}")


@clinician.command("list")
@click.option("--tin", type=TIN, required=True, help="The practice.")
@click.option("--year", type=YEAR, help="Only this performance year.")
@format_option
@read_only
@click.pass_obj
def clinician_list(app: App, tin: str, year: int | None, fmt: str) -> None:
    """List the clinicians billing under a TIN, per year, with their status inputs.

    \b
    Example:
        evidence clinician list --tin 000123456 --year 2020
    """
    from evidence.records.practices import list_clinicians
    from evidence.records.views import clinician_rows

    with app.read() as session:
        rows = clinician_rows(list_clinicians(session, tin, year))
    emit(rows, fmt, columns=list(rows[0]) if rows else ["year", "npi", "name"])


practice.add_command(practice_set)
clinician.add_command(clinician_update)


def _period_options(func: _Command) -> _Command:
    func = click.option("--end", type=ISO_DATE, required=True, help="Last day (YYYY-MM-DD).")(func)
    func = click.option("--start", type=ISO_DATE, required=True, help="First day (YYYY-MM-DD).")(func)
    func = click.option("--year", type=YEAR, required=True, help="Performance year.")(func)
    func = click.option("--activity", type=ACTIVITY, required=True, help="IA activity id, e.g. IA_PM_7.")(func)
    return func


@click.command()
@click.option("--tin", type=TIN, required=True, help="The practice.")
@click.option("--npi", type=NPI, help="For an individual attestation; omit for the group's.")
@_period_options
@actor_option
@click.pass_obj
def attest(app: App, tin: str, npi: str | None, activity: str, year: int, start: date, end: date) -> None:
    """Record a group or individual attestation to an activity.

    The period must be at least 90 consecutive days inside the performance year, and the
    activity must be in that year's inventory.

    \b
    Example:
        evidence attest --tin 000123456 --activity IA_PM_7 --year 2020 \\
            --start 2020-01-01 --end 2020-12-31
    """
    from evidence.records.practices import attest as record

    with app.write() as session:
        record(session, tin, activity, year, start, end, actor=app.actor, npi=npi)
    who = f"NPI {npi}" if npi else f"group {tin}"
    click.echo(f"{who} attested {activity} for {year}: {start} to {end}")


@click.command()
@click.option("--tin", type=TIN, required=True, help="The practice whose group attestation this is.")
@click.option("--npi", type=NPI, required=True, help="The participating clinician.")
@_period_options
@actor_option
@click.pass_obj
def participate(app: App, tin: str, npi: str, activity: str, year: int, start: date, end: date) -> None:
    """Record one clinician's own period for a group-attested activity.

    From PY2020 a group earns an activity only if at least 50% of its clinicians each
    performed it for 90 consecutive days of their own.

    \b
    Example:
        evidence participate --tin 000123456 --npi 1234567893 --activity IA_PM_7 \\
            --year 2020 --start 2020-02-01 --end 2020-07-31
    """
    from evidence.records.practices import participate as record

    with app.write() as session:
        record(session, tin, npi, activity, year, start, end, actor=app.actor)
    click.echo(f"NPI {npi} participated in {activity} ({year}): {start} to {end}")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@actor_option
@click.pass_obj
def import_(app: App, file: Path) -> None:
    """Bulk-load practices, clinicians, attestations and participation from CSV.

    \b
    Columns (header row; empty cells where a column does not apply):
      record    practice | clinician | attestation | participation
      tin, npi, name, year, activity, start, end (ISO dates)
      pcmh, apm                      practice rows
      rural, hpsa (yes/no), patient_facing_encounters,
      hospital_pos_pct, asc_pos_pct  clinician rows
    All rows are checked first; one bad row refuses the whole file and every bad row is
    named by line and column. Rows already stored identically count as unchanged.

    \b
    Example:
        evidence import sample_evidence/practice.csv
    """
    from evidence.records.importer import import_csv

    with app.write() as session:
        summary = import_csv(session, file, actor=app.actor)
    parts = [plural(summary.created[k], k) for k in ("practice", "clinician", "attestation", "participation")]
    unchanged = sum(summary.unchanged.values())
    click.echo(f"{printable(file.name)}: added {', '.join(parts)}; {plural(unchanged, 'row')} already present")
