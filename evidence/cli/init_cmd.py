"""`evidence init`: create the home folder, the database and the evidence store."""

from __future__ import annotations

import click

from evidence.app import App
from evidence.cli.output import printable
from evidence.cli.params import actor_option


@click.command()
@actor_option
@click.pass_obj
def init(app: App) -> None:
    """Create the home folder, database and evidence store (nothing happens to an existing one).

    Read commands (list, show, missing, score, log, ...) never create a store; this command, or
    any command that records something, does. Running it again changes nothing.

    \b
    Examples:
        evidence init
        evidence --home /srv/evidence init
    """
    from evidence.db.migrate import HEAD_REVISION

    with app.write():  # creates what is missing, then checks the database and the store belong together
        pass
    store = app.settings.store_url or str(app.settings.store_dir)
    click.echo(f"store ready in {printable(str(app.settings.home))}")
    click.echo(f"database: {printable(app.database_label)} (revision {HEAD_REVISION})")
    click.echo(f"evidence files: {printable(store)}")
