"""`evidence edit`: correct a record's effective date or range, or its description, with a reason."""

from __future__ import annotations

from datetime import date

import click

from evidence.app import App
from evidence.cli.output import printable
from evidence.cli.params import ISO_DATE, TEXT, actor_option, changes_existing


@click.command()
@click.argument("evidence_id", type=int)
@click.option("--effective-date", type=ISO_DATE, help="The day the documented work happened (a single day).")
@click.option("--effective-from", type=ISO_DATE, help="First day a document was in force (keeps the recorded end).")
@click.option("--effective-until", type=ISO_DATE, help="Last day a document was in force (keeps the recorded start).")
@click.option("--description", type=TEXT, help="What the file shows.")
@click.option("--reason", type=TEXT, required=True, help="Why the record was wrong (kept in the audit trail).")
@actor_option
@changes_existing
@click.pass_obj
def edit(
    app: App,
    evidence_id: int,
    effective_date: date | None,
    effective_from: date | None,
    effective_until: date | None,
    description: str | None,
    reason: str,
) -> None:
    """Correct what a registration says: its effective date or range, or its description.

    The file, its hash and its links stay as they are. The change is an `evidence.edit` event
    of the audit trail with the old and the new values and the reason. Withdrawn evidence is
    not edited.

    \b
    Examples:
        evidence edit 7 --effective-date 2020-10-05 --reason "date of the report, not of the scan"
        evidence edit 7 --effective-from 2019-12-01 --effective-until 2020-12-31 --reason "policy in force all 2020"
        evidence edit 7 --effective-until 2021-06-30 --reason "the policy was renewed"
        evidence edit 7 --description "Q3 QCDR feedback report" --reason "typo"
    """
    from evidence.records.evidence_edit import edit_evidence

    with app.write() as session:
        change = edit_evidence(
            session,
            evidence_id,
            reason=reason,
            actor=app.actor,
            effective_date=effective_date,
            effective_from=effective_from,
            effective_until=effective_until,
            description=description,
        )
    click.echo(f"evidence {change.evidence_id} ({printable(change.name)}) edited: {printable(change.describe())}")
    click.echo(f"  reason: {printable(change.reason)}")
