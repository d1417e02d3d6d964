"""`evidence demo`: the main job, end to end, on the bundled synthetic practice."""

from __future__ import annotations

from pathlib import Path

import click

from evidence.app import App


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("evidence-demo"),
    show_default=True,
    help="Folder for the demo store, report and packet.",
)
@click.pass_obj
def demo(app: App, out: Path) -> None:
    """Run the main job on the bundled synthetic sample practice.

    Loads sample_evidence/ into a fresh SQLite store under --out, prints the
    missing-documentation report and writes an audit PDF packet per practice, year and
    reporting level into --out. Your own store is not touched.

    \b
    Example:
        evidence demo --out /tmp/evidence-demo
    """
    from evidence.cli.missing_view import render_missing
    from evidence.demo import run_demo

    run_demo(out, show_report=lambda report: render_missing(report, "table"), echo=click.echo)
