"""How the missing-documentation report is shown: a readable table, JSON or CSV."""

from __future__ import annotations

import click

from evidence.cli.output import emit, emit_json, fit_lines, printable
from evidence.records.missing import ActivityStatus, DocumentationStatus, ItemState, MissingReport
from evidence.records.reporting import describe
from evidence.records.views import missing_document, missing_rows
from evidence.support.text import plural

MARK = {ItemState.COVERED: "[x]", ItemState.MISSING: "[ ]", ItemState.OUTSIDE: "[!]"}


def summary_line(report: MissingReport) -> str:
    total = len(report.activities)
    counts = ", ".join(f"{report.count(status)} {status}" for status in DocumentationStatus)
    creditable = report.creditable_count
    return (
        f"{plural(total, 'attested activity')}: {counts}; {creditable} creditable, {total - creditable} not creditable"
    )


def render_missing(report: MissingReport, fmt: str) -> None:
    if fmt == "json":
        emit_json(missing_document(report))
        return
    if fmt == "csv":
        emit(missing_rows(report), "csv")
        return
    if not report.activities:
        click.echo("No attestations match.")
        return
    click.echo("\n".join(fit_lines(table_lines(report))))


def table_lines(report: MissingReport) -> list[str]:
    """The report for people; built as one list and written once (large reports have 100,000 lines)."""
    lines: list[str] = []
    add = lines.append
    current = None
    for a in report.activities:
        heading = (a.tin, a.year)
        if heading != current:
            add(f"\n{a.tin}  {printable(a.practice_name)}  PY{a.year}")
            if a.reporting is not None and a.reporting.source != "default":
                add(f"  reports: {describe(a.reporting)}")
            current = heading
        who = f"individual {a.npi} ({printable(str(a.clinician_name))})" if a.npi else "group"
        complete = a.status is DocumentationStatus.COMPLETE
        state = a.status.upper() + ("" if complete else f": {printable(a.missing_text)}")
        add(f"  {a.activity_id}  {who}, {a.start} to {a.end}, rule '{a.rule}'  {state}")
        for item in a.items:
            add(f"    {MARK[item.status]} {item.key}) {printable(item.label)}")
            for e in item.evidence:
                if e.in_period:
                    about = f" [NPI {e.clinician_npi}]" if e.clinician_npi else ""
                    add(f"          {printable(e.name)} ({e.effective}){about}")
                else:
                    period = f"{e.period_start} to {e.period_end}"
                    add(f"          {printable(e.name)} ({e.effective}): outside the attested period {period}")
            if not item.evidence:
                add("          none (not needed: the 'any' rule is met)" if complete else "          MISSING")
        if a.participation is not None:
            add(f"    participation: {a.participation.describe()}")
        add(f"    credit: {'CREDITABLE' if a.creditable else 'NOT CREDITABLE'}{_why(a)}")
    add("\n" + summary_line(report))
    return lines


def _why(a: ActivityStatus) -> str:
    return "" if a.creditable else ": " + printable("; ".join(a.verdict.reasons))
