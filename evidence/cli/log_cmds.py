"""The audit log: list it, verify it against signed checkpoints, make keys and checkpoints."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from evidence.app import App
from evidence.cli.output import emit, format_option
from evidence.cli.params import ISO_DATE, TIN, YEAR, read_only


@click.group(invoke_without_command=True)
@click.option("--tin", type=TIN, help="Only events of this practice.")
@click.option("--year", type=YEAR, help="Only events of this performance year.")
@click.option("--since", type=ISO_DATE, help="Only events on or after this date.")
@format_option
@read_only
@click.pass_context
def log(ctx: click.Context, tin: str | None, year: int | None, since: date | None, fmt: str) -> None:
    """The audit trail: every change to the store, who made it and when.

    \b
    Examples:
        evidence log --tin 000123456 --since 2026-01-01
        evidence log verify --checkpoint /media/officer/checkpoint-2026-11.json
    """
    if ctx.invoked_subcommand is not None:
        return
    from evidence.retention.audit import list_events

    app: App = ctx.obj
    start = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    with app.read() as session:
        rows = [
            {
                "seq": e.seq,
                "at": e.occurred_at.replace(microsecond=0),
                "actor": e.actor,
                "action": e.action,
                "tin": e.tin,
                "year": e.performance_year,
                "summary": e.summary,
                "details": e.details,
                "hash": e.hash,
            }
            for e in list_events(session, tin=tin, year=year, since=start)
        ]
    columns = ["seq", "at", "actor", "action", "tin", "year", "summary"]
    emit(rows, fmt, columns=columns if fmt == "table" else list(rows[0]) if rows else columns, max_width=90)


@log.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A signed checkpoint kept elsewhere (`log checkpoint -o`); repeatable.",
)
@click.pass_obj
def log_verify(app: App, checkpoint_files: tuple[Path, ...]) -> None:
    """Check the audit chain against its head, the audit-head mirror and signed checkpoints (exit 1).

    Names the first edited, inserted or deleted event, a truncated tail, a consistent rewrite
    (hashes recomputed) that a checkpoint no longer matches, and a missing or foreign audit-head.

    \b
    Examples:
        evidence log verify
        evidence log verify --checkpoint /media/officer/checkpoint-2026-11.json
    """
    from evidence.retention.audit import verify_chain
    from evidence.retention.checkpoint import read_checkpoint_file

    checkpoints = [(str(path), read_checkpoint_file(path)) for path in checkpoint_files]  # before opening the store
    key = app.signing_key.public_key() if app.signing_key is not None else None
    with app.read() as session:
        check = verify_chain(session, app.settings.home, checkpoints, trusted_key=key)
    if check.ok:
        click.echo(f"audit trail intact: {check.events} events")
        for note in check.notes:
            click.echo(f"  {note}")
        return
    click.echo(f"audit trail BROKEN: {check.problem}")
    for problem in check.problems[1:]:
        click.echo(f"  also: {problem}")
    sys.exit(1)


@log.command("keygen")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def log_keygen(path: Path) -> None:
    """Write a new Ed25519 signing key to PATH (0600; never over an existing file).

    Keep it outside the home folder and the store, and point EVIDENCE_SIGNING_KEY (or
    --signing-key) at it: every change then records a signed checkpoint of the audit chain.
    The store remembers the fingerprint of the first key that signs it and refuses another.

    \b
    Example:
        evidence log keygen /etc/evidence/audit-signing.key
    """
    from evidence.retention.checkpoint import generate_key

    key_id = generate_key(path)
    click.echo(f"signing key written to {path}")
    click.echo(f"public key fingerprint: {key_id}")


@log.command("checkpoint")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write it to this new file (never over an existing one) [default: print it].",
)
@click.option(
    "--to-store",
    is_flag=True,
    help="Also keep it in the S3 store under Object Lock, to Dec 31 of this year + the retention period.",
)
@click.pass_obj
def log_checkpoint(app: App, output: Path | None, to_store: bool) -> None:
    """Sign the current head of the audit chain; keep the file somewhere the store cannot reach.

    `log verify --checkpoint FILE` later proves that none of the events it covers was changed,
    removed or rewritten. The chain is verified first: a broken chain is never signed. With
    --to-store it is also kept as a new object `checkpoints/<count>-<head>-<time>.json` of an S3
    store with Object Lock (refused for a local store or a bucket without Object Lock).

    \b
    Examples:
        evidence log checkpoint -o /media/officer/checkpoint-2026-11.json
        evidence --store s3://evidence-bucket/main log checkpoint --to-store
    """
    from evidence.errors import ConflictError, StoreError
    from evidence.retention.audit import check_signing_key, sign_current_head, verify_chain
    from evidence.retention.checkpoint import fingerprint, write_new_file

    if app.signing_key is None:
        raise StoreError("no signing key: set EVIDENCE_SIGNING_KEY or --signing-key (make one with `log keygen`)")
    if output is not None and (output.exists() or output.is_symlink()):
        raise ConflictError(f"{output} already exists: the checkpoint is never written over an existing file")
    with app.read() as session:
        check_signing_key(session, fingerprint(app.signing_key.public_key()))  # a foreign key, before all else
        check = verify_chain(session, app.settings.home, trusted_key=app.signing_key.public_key())
        if not check.ok:
            raise ConflictError(f"the audit trail is broken, so it is not signed: {check.problem}")
        checkpoint = sign_current_head(session, app.signing_key, datetime.now(UTC).replace(microsecond=0))
        if to_store:
            from evidence.retention.checkpoint import keep_in_store
            from evidence.retention.policy import retention_years

            kept = keep_in_store(app.blob_store, checkpoint, retention_years(session))
            click.echo(f"checkpoint of event #{checkpoint.count} kept under Object Lock: {kept}")
    text = checkpoint.to_text() + "\n"
    if to_store and output is None:
        return
    if output is None:
        click.echo(text, nl=False)
        return
    write_new_file(output, text.encode("ascii"), "checkpoint")
    click.echo(f"checkpoint of event #{checkpoint.count} ({checkpoint.head_hash}) signed by {checkpoint.key_id}")
    click.echo(f"written to {output}: keep it where whoever can write the store cannot")
