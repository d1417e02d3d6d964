"""`evidence status`, `evidence score`, `evidence export-qpp`: what the attestations are worth."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from evidence.app import App
from evidence.cli.output import emit, emit_json, fit_lines, format_option, printable, render_table
from evidence.cli.params import NPI, TEXT, TIN, YEAR, read_only
from evidence.rules.cms import weight_label
from evidence.support.text import plural

if TYPE_CHECKING:
    from evidence.rules.scoring import ScoreReport

F = TypeVar("F", bound=Callable[..., Any])


def entity_options(func: F) -> F:
    """--tin, --year and --npi: the reporting entity (the TIN, or one NPI billing under it)."""
    func = click.option("--npi", type=NPI, help="Report for this NPI (individual) instead of the whole TIN (group).")(
        func
    )
    func = click.option("--year", type=YEAR, required=True, help="Performance year, e.g. 2020.")(func)
    return click.option("--tin", type=TIN, required=True, help="The practice's TIN: 9 digits, leading zeros kept.")(
        func
    )


def _number(value: Fraction) -> str:
    """11.25, 15, 7.5: exact values shown without float noise."""
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


STATUS_COLUMNS = ["level", "status", "label", "applies", "doubles_ia_points", "reason"]


# --- status ------------------------------------------------------------------------------------


@click.command()
@entity_options
@format_option
@read_only
@click.pass_obj
def status(app: App, tin: str, year: int, npi: str | None, fmt: str) -> None:
    """Special statuses (small, rural, HPSA, non-patient facing, ...) with reasons.

    Shows the TIN's group-level statuses and, with --npi, that clinician's own. Only small
    practice, rural, HPSA and non-patient facing double IA points; hospital-based and
    ASC-based are shown but change nothing in IA scoring. CSV has one row per status.

    \b
    Examples:
        evidence status --tin 000123456 --year 2020 --npi 1234567893
        evidence status --tin 000123456 --year 2020 --format csv
    """
    from evidence.rules.status import special_statuses

    with app.read() as session:
        report = special_statuses(session, tin, year, npi)
    rows = [
        {
            "level": s.level,
            "status": s.status,
            "label": s.label,
            "applies": s.applies,
            "doubles_ia_points": s.doubles_ia_points,
            "reason": s.reason,
        }
        for s in [*report.individual, *report.group]
    ]
    if fmt == "json":
        document = {
            "tin": report.tin,
            "performance_year": report.year,
            "npi": report.npi,
            "clinicians": report.clinicians,
            "statuses": rows,
        }
        emit_json(document)
        return
    if fmt == "csv":
        entity = {"tin": report.tin, "performance_year": report.year, "npi": report.npi}
        emit([{**entity, **row} for row in rows], fmt, columns=[*entity, *STATUS_COLUMNS])
        return
    who = f"NPI {report.npi} under TIN {report.tin}" if report.npi else f"TIN {report.tin}"
    _echo_fitted(f"{who}, PY{report.year}: {report.clinicians} clinicians billing under the TIN")
    table = [{**row, "status": row["label"], "doubles IA points": row["doubles_ia_points"]} for row in rows]
    click.echo(render_table(table, ["level", "status", "applies", "doubles IA points", "reason"], max_width=200))
    doubling = [s.label for s in report.doubling()]
    level = "individual" if report.npi else "group"
    if doubling:
        _echo_fitted(f"IA points are doubled ({level}): {', '.join(doubling)}")
    else:
        click.echo(f"No special status doubles IA points at the {level} level.")


def _echo_fitted(line: str) -> None:
    click.echo("\n".join(fit_lines([printable(line)])))


# --- score -------------------------------------------------------------------------------------


@click.command()
@entity_options
@format_option
@read_only
@click.pass_obj
def score(app: App, tin: str, year: int, npi: str | None, fmt: str) -> None:
    """The IA score the attestations earn, activity by activity.

    A group score (no --npi) counts the TIN's group attestations with its group-level
    statuses; an individual score counts that NPI's own attestations under the TIN with its
    own statuses. Each activity says what it earned and why: weight, doubling, its period,
    for a group the clinician participation rule (50% from PY2020), and its documentation.
    Medical-home and APM credit are added and the total is capped at 40. Points claimed are
    shown beside points documented (activities whose suggested documentation is covered
    inside the attested period) and the points at risk. CSV has one row per activity, with
    the entity's totals on each row.

    \b
    Examples:
        evidence score --tin 000123456 --year 2020
        evidence score --tin 000123456 --year 2024 --npi 1234567893 --format json
    """
    from evidence.rules.scoring import score as compute_score

    with app.read() as session:
        report = compute_score(session, tin, year, npi)
    if fmt == "json":
        from evidence.records.views import score_document

        emit_json(score_document(report))
    elif fmt == "csv":
        emit(_score_rows(report), fmt, columns=SCORE_COLUMNS)
    else:
        click.echo(_score_text(report))


SCORE_COLUMNS = [
    "tin",
    "performance_year",
    "npi",
    "level",
    "activity",
    "title",
    "weight",
    "base_points",
    "doubled",
    "points",
    "counted",
    "reasons",
    "total_points",
    "category_score",
    "creditable",
    "documented_points",
    "points_at_risk",
    "risks",
    "total_documented_points",
]


def _score_rows(report: ScoreReport) -> list[dict[str, Any]]:
    """One flat row per attested activity; a spreadsheet sums `points` where `counted`."""
    entity = {"tin": report.tin, "performance_year": report.year, "npi": report.npi, "level": report.level}
    totals = {"total_points": report.points, "category_score": float(report.category_score)}
    return [
        {
            **entity,
            "activity": a.activity_id,
            "title": a.title,
            "weight": weight_label(a.weight),
            "base_points": a.base_points,
            "doubled": a.doubled,
            "points": a.points,
            "counted": a.counted,
            "reasons": "; ".join(a.reasons),
            **totals,
            "creditable": a.creditable,
            "documented_points": a.documented_points,
            "points_at_risk": a.points_at_risk,
            "risks": "; ".join(a.risks),
            "total_documented_points": report.documented_points,
        }
        for a in report.activities
    ]


def _score_text(report: ScoreReport) -> str:
    who = f"NPI {report.npi} under TIN {report.tin}" if report.npi else f"TIN {report.tin}"
    lines = [f"IA score, {report.level} reporting: {who}, PY{report.year}"]
    statuses = [f"{s.label}{'' if s.doubles_ia_points else ' (no IA effect)'}" for s in report.special_statuses]
    lines.append(f"Special statuses: {', '.join(statuses) or 'none'}")
    lines.append(f"Program: {report.program.program_name} - {report.program.requirement}")
    lines.append("Activities:" if report.activities else "Activities: none attested")
    for a in report.activities:
        weight = weight_label(a.weight)
        verdict = "counted" if a.counted else "NOT counted"
        if a.points_at_risk:
            verdict += f", NOT fully documented ({a.points_at_risk} points at risk)"
        lines.append(f"  {a.activity_id} ({weight}): {a.points} points, {verdict} - {a.title}")
        lines += [f"    - {reason}" for reason in a.reasons]
    lines.append("Credits:")
    lines.append(f"  PCMH: {report.pcmh.points} points - {report.pcmh.reason}")
    lines.append(f"  APM ({report.apm.kind}): {report.apm.points} points - {report.apm.reason}")
    lines += _headline(report)
    lines += [f"Note: {note}" for note in report.notes]
    return "\n".join(fit_lines(printable(line) for line in lines))  # titles and reasons may quote imported text


def _headline(report: ScoreReport) -> list[str]:
    """Claimed and documented side by side whenever they differ: never a bare "40 of 40" over a risk."""
    maximum = report.score_maximum
    category = f"{_number(report.category_score * 100)}%"
    final = f"{_number(report.final_score_points)} of {report.final_score_weight} final-score points"
    if not report.points_at_risk:
        return [
            f"Points: {report.points} of {maximum} (raw {report.raw_points}), none at risk",
            f"Category score: {category} -> {final}",
        ]
    documented = report.documented_category_score
    documented_final = report.documented_final_score_points
    return [
        f"Points documented: {report.documented_points} of {maximum}; claimed {report.points} "
        f"(raw {report.raw_points}); at risk {report.points_at_risk}",
        f"Category score: {_number(documented * 100)}% documented -> {_number(documented_final)} of "
        f"{report.final_score_weight} final-score points (claimed: {category} -> {final})",
    ]


# --- export-qpp --------------------------------------------------------------------------------


@click.command("export-qpp")
@entity_options
@click.option(
    "--entity-type",
    type=click.Choice(["individual", "group", "virtual-group", "apm-entity", "subgroup"]),
    help="Who submits (default: individual with --npi, else group). A virtual group, APM entity or "
    "subgroup submits the TIN's group attestations under --entity-id.",
)
@click.option(
    "--entity-id",
    type=TEXT,
    help="The virtual group, APM entity or subgroup id CMS assigned (subgroup: SG- and 8 digits).",
)
@click.option(
    "--submission-method",
    type=TEXT,
    default="registry",
    show_default=True,
    help="CMS submissionMethod: registry (not QRDA) or electronicHealthRecord (QRDA III).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True, path_type=Path),
    help="Write the JSON to this file (owner-only, 0600) instead of standard output (-).",
)
@click.option("--force", is_flag=True, help="Replace an existing regular file at -o (never a link or device).")
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse (exit 1, nothing written) when a submitted activity is not fully documented.",
)
@read_only
@click.pass_obj
def export_qpp(
    app: App,
    tin: str,
    year: int,
    npi: str | None,
    entity_type: str | None,
    entity_id: str | None,
    submission_method: str,
    output: Path | None,
    force: bool,
    strict: bool,
) -> None:
    """The IA measurement set as QPP Submissions API JSON.

    Only activities that earn credit are submitted (sorted by activity id); each one left
    out is listed on standard error with the reason. A submitted activity whose documentation
    does not cover it inside the attested period is named on standard error with the reason;
    --strict refuses to export it. Exit code 1 if nothing qualifies.

    The document carries CMS's entityType (individual, group, virtualGroup, apm, subgroup) with
    its ids, the programName of the entity's program (mips, app1 or the MVP id) and the
    submissionMethod; a recognised medical home submits IA_PCMH. What CMS would refuse for the
    year (a subgroup before PY2023 or outside an MVP, a malformed entity id, a method CMS does not
    take for IA) and anything the shipped JSON Schema refuses is one error line; nothing is written.
    Each export is recorded in the audit log (`qpp.export`, with the JSON's SHA-256).

    \b
    Examples:
        evidence export-qpp --tin 000123456 --year 2020 -o ia-2020-group.json
        evidence export-qpp --tin 000123456 --year 2020 --npi 1234567893
        evidence export-qpp --tin 000123456 --year 2024 --entity-type virtual-group --entity-id VG1234
    """
    from evidence.rules.qpp_export import (
        ENTITY_TYPES,
        build_submission,
        left_out_line,
        record_export,
        undocumented_line,
    )

    target = None if output is None else app.output_guard().target(output, force=force, what="the export")
    app.ensure_writable()  # the export is recorded once written: refuse now what the record would refuse
    with app.read() as session:
        submission = build_submission(
            session,
            tin,
            year,
            npi,
            entity_type=None if entity_type is None else ENTITY_TYPES[entity_type],
            entity_id=entity_id,
            submission_method=submission_method,
            strict=strict,
        )
    for activity in submission.left_out:
        click.echo(printable(left_out_line(activity)), err=True)
    for activity in submission.undocumented:
        click.echo(printable(undocumented_line(activity)), err=True)
    if target is None or target.is_stdout:
        click.echo(submission.to_json(), nl=False)
    else:
        try:
            target.write_bytes(submission.to_json().encode())
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    with app.write() as session:
        record_export(session, submission, target="standard output" if target is None else str(target), actor=app.actor)
    if target is not None and not target.is_stdout:
        click.echo(f"Wrote {plural(len(submission.measure_ids), 'activity')} to {target}", err=True)
