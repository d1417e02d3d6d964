"""Corrections: link and unlink evidence, edit or delete attestations and participations,
update a clinician's status inputs, set a practice's facts. Each needs a --reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click

from evidence.app import App
from evidence.cli.output import emit, format_option, printable
from evidence.cli.params import ACTIVITY, ISO_DATE, NPI, TEXT, TIN, YEAR, actor_option, changes_existing, read_only
from evidence.rules.cms import APM_KINDS, Program
from evidence.support.text import plural

_Command = TypeVar("_Command", bound=Callable[..., Any])
PROGRAMS = tuple(p.value for p in Program)


def _reason_option(func: _Command) -> _Command:
    return click.option(
        "--reason", type=TEXT, required=True, help="Why the record was wrong (kept in the audit trail)."
    )(func)


def _period_edit_options(func: _Command) -> _Command:
    func = click.option("--end", type=ISO_DATE, help="The corrected last day (YYYY-MM-DD).")(func)
    func = click.option("--start", type=ISO_DATE, help="The corrected first day (YYYY-MM-DD).")(func)
    return func


# --- Evidence links ---------------------------------------------------------------------------


@click.command()
@click.argument("evidence_id", type=int)
@click.option("--tin", type=TIN, required=True, help="The practice.")
@click.option("--year", type=YEAR, required=True, help="Performance year.")
@click.option("--activity", type=ACTIVITY, required=True, help="The attested activity, e.g. IA_PM_7.")
@click.option("--item", "items", type=click.IntRange(min=1), multiple=True, help="Documentation item key (repeatable).")
@click.option("--npi", type=NPI, help="The clinician (individual attestation, or a group participant).")
@_reason_option
@actor_option
@changes_existing
@click.pass_obj
def link(
    app: App, evidence_id: int, tin: str, year: int, activity: str, items: tuple[int, ...], npi: str | None, reason: str
) -> None:
    """Link registered evidence to another attestation's documentation item.

    The target is found exactly as `register` finds it. The evidence keeps its id and its
    other links; withdrawn evidence cannot be linked.

    \b
    Example:
        evidence link 4 --tin 000123456 --year 2020 --activity IA_CC_9 --item 1 \\
            --reason "the same minutes also document the care compact"
    """
    from evidence.records.links import link_evidence, protect_in_store
    from evidence.store.registration import LinkRequest

    request = LinkRequest(tin, year, activity, tuple(items), npi)
    with app.write() as session:
        change = link_evidence(session, evidence_id, request, reason=reason, actor=app.actor)
    ids = ", ".join(map(str, change.link_ids))
    click.echo(f"evidence {change.evidence_id} linked to {change.label} (link {ids})")
    protect_in_store(app.blob_store, change)


@click.command()
@click.argument("link_id", type=int)
@_reason_option
@actor_option
@changes_existing
@click.pass_obj
def unlink(app: App, link_id: int, reason: str) -> None:
    """Remove a mistaken evidence link (`evidence show ID` lists link ids); the evidence stays.

    \b
    Example:
        evidence unlink 12 --reason "linked to PY2020 by mistake, belongs to PY2019"
    """
    from evidence.records.links import unlink_evidence

    with app.write() as session:
        done = unlink_evidence(session, link_id, reason=reason, actor=app.actor)
    left = "no links left: it stays, listed without links" if not done.links_left else f"{done.links_left} left"
    click.echo(f"link {done.link_id} removed: evidence {done.evidence_id} from {done.attestation} ({left})")


# --- Attestations -----------------------------------------------------------------------------


@click.group()
def attestation() -> None:
    """Correct an attestation's period, or delete a mistaken attestation.

    Attestation ids are shown by `evidence practice show TIN` (#id) and `evidence show EVIDENCE_ID`.

    \b
    Examples:
        evidence attestation edit 3 --end 2020-11-30 --reason "QCDR contract ended in November"
        evidence attestation delete 5 --reason "attested the wrong activity"
    """


@attestation.command("edit")
@click.argument("attestation_id", type=int)
@_period_edit_options
@_reason_option
@actor_option
@changes_existing
@click.pass_obj
def attestation_edit(app: App, attestation_id: int, start: date | None, end: date | None, reason: str) -> None:
    """Correct an attestation's period (year, activity and TIN: delete it and attest again).

    \b
    Example:
        evidence attestation edit 3 --start 2020-02-01 --end 2020-11-30 --reason "dates from the QCDR contract"
    """
    from evidence.records.corrections import describe_attestation, edit_attestation

    with app.write() as session:
        row = edit_attestation(session, attestation_id, start=start, end=end, reason=reason, actor=app.actor)
        name = describe_attestation(row)
    click.echo(f"{name} now covers {row.start_date} to {row.end_date}")


@attestation.command("delete")
@click.argument("attestation_id", type=int)
@click.option("--unlink", "unlink_evidence", is_flag=True, help="Also remove the evidence links to it.")
@_reason_option
@actor_option
@changes_existing
@click.pass_obj
def attestation_delete(app: App, attestation_id: int, unlink_evidence: bool, reason: str) -> None:
    """Delete a mistaken attestation and its participations (refused while evidence links to it).

    With --unlink its evidence links are removed in the same audited change; the evidence
    itself stays. Refused while a legal hold covers the practice and year.

    \b
    Examples:
        evidence attestation delete 5 --reason "attested IA_BE_6 instead of IA_BE_4"
        evidence attestation delete 5 --unlink --reason "attested IA_BE_6 instead of IA_BE_4"
    """
    from evidence.records.corrections import delete_attestation

    with app.write() as session:
        done = delete_attestation(session, attestation_id, reason=reason, actor=app.actor, unlink=unlink_evidence)
    click.echo(
        f"{done.description} deleted, with {plural(done.participations, 'participation')} "
        f"and {plural(done.links, 'evidence link')}"
    )


# --- Participation ----------------------------------------------------------------------------


@click.group()
def participation() -> None:
    """List, correct or delete clinicians' participation in group attestations.

    \b
    Examples:
        evidence participation list --tin 000123456 --year 2020
        evidence participation edit 7 --end 2020-08-31 --reason "left the practice in August"
    """


@participation.command("list")
@click.option("--tin", type=TIN, required=True, help="The practice.")
@click.option("--year", type=YEAR, help="Only this performance year.")
@click.option("--activity", type=ACTIVITY, help="Only this activity.")
@format_option
@read_only
@click.pass_obj
def participation_list(app: App, tin: str, year: int | None, activity: str | None, fmt: str) -> None:
    """List participations with their ids (what `participation edit` and `delete` name).

    \b
    Example:
        evidence participation list --tin 000123456 --year 2020 --format csv
    """
    import dataclasses

    from evidence.records.practices import list_participations

    with app.read() as session:
        rows = [dataclasses.asdict(row) for row in list_participations(session, tin, year, activity)]
    emit(rows, fmt, columns=["id", "attestation_id", "year", "activity_id", "npi", "name", "start", "end"])


@participation.command("edit")
@click.argument("participation_id", type=int)
@_period_edit_options
@_reason_option
@actor_option
@changes_existing
@click.pass_obj
def participation_edit(app: App, participation_id: int, start: date | None, end: date | None, reason: str) -> None:
    """Correct one clinician's own period for a group-attested activity.

    \b
    Example:
        evidence participation edit 7 --start 2020-03-01 --reason "joined the QCDR in March"
    """
    from evidence.records.corrections import edit_participation

    with app.write() as session:
        row = edit_participation(session, participation_id, start=start, end=end, reason=reason, actor=app.actor)
        npi = row.clinician.npi
    click.echo(f"participation {row.id} (NPI {npi}) now covers {row.start_date} to {row.end_date}")


@participation.command("delete")
@click.argument("participation_id", type=int)
@_reason_option
@actor_option
@changes_existing
@click.pass_obj
def participation_delete(app: App, participation_id: int, reason: str) -> None:
    """Delete a mistaken participation (refused while a legal hold covers its year).

    \b
    Example:
        evidence participation delete 7 --reason "Dr. Osei did not take part"
    """
    from evidence.records.corrections import delete_participation

    with app.write() as session:
        name = delete_participation(session, participation_id, reason=reason, actor=app.actor)
    click.echo(f"{name} deleted")


# --- Clinicians and practices (subcommands of the `clinician` and `practice` groups) -----------


@click.command("update")
@click.argument("npi", type=NPI)
@click.option("--tin", type=TIN, required=True, help="The practice the clinician bills under.")
@click.option("--year", type=YEAR, required=True, help="Performance year.")
@click.option("--rural/--no-rural", default=None, help="Practices in a rural ZIP code, or not.")
@click.option("--hpsa/--no-hpsa", default=None, help="Practices in a Health Professional Shortage Area, or not.")
@click.option(
    "--patient-facing-encounters", "--encounters", type=click.IntRange(min=0), help="Medicare Part B encounters."
)
@click.option("--hospital-pos-pct", type=click.FloatRange(0, 100), help="% of services in POS 19/21/22/23.")
@click.option("--asc-pos-pct", type=click.FloatRange(0, 100), help="% of services in POS 24.")
@_reason_option
@actor_option
@changes_existing
@click.pass_obj
def clinician_update(
    app: App,
    npi: str,
    tin: str,
    year: int,
    rural: bool | None,
    hpsa: bool | None,
    patient_facing_encounters: int | None,
    hospital_pos_pct: float | None,
    asc_pos_pct: float | None,
    reason: str,
) -> None:
    """Correct a clinician's special-status inputs for one year; what is not given stays.

    \b
    Example:
        evidence clinician update 1234567893 --tin 000123456 --year 2020 --no-rural \\
            --encounters 1790 --reason "encounter count from the corrected claims file"
    """
    from evidence.records.corrections import StatusChanges, update_clinician

    changes = StatusChanges(rural, hpsa, patient_facing_encounters, hospital_pos_pct, asc_pos_pct)
    with app.write() as session:
        changed = update_clinician(session, tin, npi, year, changes, reason=reason, actor=app.actor)
    click.echo(f"clinician {npi} under {tin} in {year}: {changed.describe()}")


@click.command("set")
@click.argument("tin", type=TIN)
@click.option("--name", type=TEXT, help="The practice's corrected name.")
@click.option("--year", type=YEAR, help="The performance year the options below are facts of.")
@click.option("--npi", type=NPI, help="An NPI reporting that year individually under the TIN (default: the TIN).")
@click.option("--program", type=click.Choice(PROGRAMS), help="How the year is reported: mips, mvp (with --mvp) or app.")
@click.option(
    "--mvp",
    "mvp_id",
    type=TEXT,
    help="The MVP id, one of CMS's MVPs of --year, e.g. M0001 or G0053 (implies --program mvp).",
)
@click.option("--pcmh/--no-pcmh", default=None, help="Recognised patient-centered medical home that year, or not.")
@click.option("--pcmh-sites", type=click.IntRange(min=1), help="A group's practice sites (the 50%-of-sites rule).")
@click.option("--recognized-sites", type=click.IntRange(min=0), help="How many of them are recognised medical homes.")
@click.option(
    "--apm", type=click.Choice(APM_KINDS), help="APM participation: none, mips (scoring standard), other, app."
)
@_reason_option
@actor_option
@changes_existing
@click.pass_obj
def practice_set(
    app: App,
    tin: str,
    name: str | None,
    year: int | None,
    npi: str | None,
    program: str | None,
    mvp_id: str | None,
    pcmh: bool | None,
    pcmh_sites: int | None,
    recognized_sites: int | None,
    apm: str | None,
    reason: str,
) -> None:
    """Correct a practice's name, or record how it reports one performance year.

    Program, PCMH recognition and APM participation are facts of one --year, of the TIN or of
    one --npi under it; a year with nothing recorded is traditional MIPS, no medical home, no
    APM. Running it again with other values corrects them. Refused outside each program's
    years: the APM scoring standard (--apm mips) PY2017-2020, the APP from PY2021, MVPs from
    PY2023. `evidence practice years TIN` lists what is recorded.

    \b
    Examples:
        evidence practice set 000123456 --year 2020 --pcmh --pcmh-sites 3 --recognized-sites 2 \\
            --reason "NCQA recognition letters of 2020-03-02"
        evidence practice set 000123456 --year 2024 --mvp M0001 --reason "registered for the MVP"
        evidence practice set 000123456 --name "Riverbend Family Medicine" --reason "legal name"
    """
    from evidence.records.corrections import PracticeChanges, set_practice

    changes = PracticeChanges(name, year, npi, program, mvp_id, pcmh, pcmh_sites, recognized_sites, apm)
    with app.write() as session:
        changed = set_practice(session, tin, changes, reason=reason, actor=app.actor)
    where = f" PY{year}" + (f" NPI {npi}" if npi else "") if year else ""
    click.echo(f"practice {tin}{where}: {printable(changed.describe())}")
