"""`evidence db`: the schema is managed for you; these commands show and force it."""

from __future__ import annotations

import click

from evidence.app import App
from evidence.cli.params import read_only


@click.group()
def db() -> None:
    """Create, upgrade and inspect the database schema.

    The schema is created and upgraded automatically on first use; these commands are for
    checking a store or upgrading it ahead of time.

    \b
    Example:
        evidence db current
    """


@db.command()
@click.pass_obj
def upgrade(app: App) -> None:
    """Upgrade the database schema to the newest version.

    \b
    Example:
        evidence --home /srv/evidence db upgrade
    """
    from evidence.db.migrate import HEAD_REVISION

    app.engine  # noqa: B018 - opening the store upgrades it
    click.echo(f"database at revision {HEAD_REVISION} (newest)")


@db.command()
@read_only
@click.pass_obj
def current(app: App) -> None:
    """Show the database URL and its schema revision.

    \b
    Example:
        evidence db current
    """
    from sqlalchemy.exc import DBAPIError

    from evidence.app import describe_db_error
    from evidence.db.engine import make_engine
    from evidence.db.migrate import HEAD_REVISION, current_revision
    from evidence.errors import StoreError
    from evidence.support.text import redact_url

    app.require_existing_store()  # a read: a missing home or --db file is reported, never created
    engine = make_engine(app.settings.database_url)
    try:
        revision = current_revision(engine)
    except DBAPIError as exc:
        raise StoreError(f"cannot open the database: {describe_db_error(exc)}") from exc
    finally:
        engine.dispose()
    state = "newest" if revision == HEAD_REVISION else f"newest is {HEAD_REVISION}; run `evidence db upgrade`"
    click.echo(f"database: {redact_url(app.settings.database_url)}")
    click.echo(f"revision: {revision or 'none (empty database)'} ({state})")
