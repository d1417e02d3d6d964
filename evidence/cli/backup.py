"""`evidence backup` and `evidence restore`: a verified copy of the store, and a restore that deletes nothing."""

from __future__ import annotations

from pathlib import Path

import click

from evidence import __version__
from evidence.app import App
from evidence.cli.params import read_only
from evidence.support.text import plural

SHOWN = 10  # digests listed by name before "... and N more"


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@read_only
@click.pass_obj
def backup(app: App, dest: Path) -> None:
    """Copy the database and every stored file into the new folder DEST, verified, with a manifest.

    SQLite is copied with sqlite3's online backup API (other commands may keep running);
    PostgreSQL with pg_dump (on PATH; credentials passed through PGPASSWORD). Every file is
    re-read and re-hashed before manifest.json (SHA-256 and size of each file, the database's
    SHA-256, the audit chain head, the tool version and the time) is written, last: a folder
    without it is an interrupted backup. DEST must be new (or an empty folder) and outside the
    home folder and the store. Exit code 1 if the store lacks files its database knows.

    \b
    Examples:
        evidence backup /mnt/offsite/evidence-2026-12-01
    """
    from evidence.db.types import utcnow
    from evidence.store.backup import create_backup

    guard = app.output_guard()
    guard.new_folder(dest)  # refused before the store is even opened
    store = app.blob_store
    with app.read() as session:
        result = create_backup(
            session,
            store,
            dest,
            guard=guard,
            database_url=app.settings.database_url,
            tool_version=__version__,
            now=utcnow(),
        )
    click.echo(
        f"backed up {plural(result.files, 'stored file')} ({result.size} bytes) and the database "
        f"(audit chain: {plural(result.events, 'event')}, head {result.head[:16]}) to {result.folder}; "
        "every file re-read and verified"
    )
    problems = 0
    if result.chain_problem:
        click.echo(f"Warning: the audit chain is broken: {result.chain_problem}", err=True)
    for label, digests in (
        ("known to the database but missing from the store", result.missing),
        ("corrupted in the store (not copied)", result.corrupted),
    ):
        if digests:
            problems += len(digests)
            shown = ", ".join(digests[:SHOWN]) + (f" and {len(digests) - SHOWN} more" if len(digests) > SHOWN else "")
            click.echo(f"Warning: {plural(len(digests), 'file')} {label}: {shown}; run `evidence verify`", err=True)
    if problems:
        click.get_current_context().exit(1)


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--replace-newer",
    is_flag=True,
    help="Restore even over a database with more audit events than the backup, or another chain (it is kept aside).",
)
@click.pass_obj
def restore(app: App, src: Path, replace_newer: bool) -> None:
    """Restore a backup made by `evidence backup` into the home folder (a new, empty one works).

    The backup is verified first (every SHA-256 in its manifest). A current database with more
    audit events than the backup, or a different chain, is refused unless --replace-newer.
    Nothing is deleted: the current database keeps a second name,
    evidence.sqlite3.before-restore-<time>, and store files the backup lacks (registered after
    it) are kept and listed. The restore is recorded in the restored database's audit trail.
    A SIGKILL at any moment leaves the old database or the restored one, whole: the next
    command finishes or undoes an interrupted restore. SQLite and the local store only.

    \b
    Examples:
        evidence --home ~/evidence-restored restore /mnt/offsite/evidence-2026-12-01
        evidence restore /mnt/offsite/evidence-2026-12-01 --replace-newer
    """
    from evidence.db.types import utcnow
    from evidence.store.restore import restore_home

    settings = app.settings
    result = restore_home(
        src,
        home=settings.home,
        database=settings.sqlite_path,
        store_dir=settings.store_dir,
        store_url=settings.store_url,
        replace_newer=replace_newer,
        actor=app.actor,
        signer=app.signing_key,
        now=utcnow(),
    )
    manifest = result.manifest
    click.echo(
        f"restored {src}: the database ({plural(manifest.events, 'audit event')}), "
        f"{plural(result.restored_files, 'file')} copied into the store, {result.present_files} already there"
    )
    for path in result.moved_aside:
        click.echo(f"kept aside: {path}")
    if result.kept_newer:
        digests = result.kept_newer
        shown = ", ".join(digests[:SHOWN]) + (f" and {len(digests) - SHOWN} more" if len(digests) > SHOWN else "")
        click.echo(
            f"kept {plural(len(digests), 'stored file')} the restored database does not know "
            f"(registered after the backup; nothing was deleted): {shown}"
        )
