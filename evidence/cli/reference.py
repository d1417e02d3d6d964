"""docs/CLI.md, generated from the commands' own --help so the reference never drifts.

    python -m evidence.cli.reference > docs/CLI.md

A test regenerates it and compares.
"""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

WIDTH = 100


def _commands(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx, info_name=name), (*path, name))


def render_reference() -> str:
    from evidence.cli import cli

    runner = CliRunner()
    parts = [
        "# Command reference",
        "",
        "Generated from each command's `--help` by `python -m evidence.cli.reference > docs/CLI.md`;",
        "a test checks it is current.",
        "",
    ]
    for path in [(), *_commands(cli, click.Context(cli, info_name="evidence"))]:
        result = runner.invoke(cli, [*path, "--help"], prog_name="evidence", terminal_width=WIDTH)
        title = " ".join(("evidence", *path))
        parts += [f"## {title}", "", "```text", result.output.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render_reference(), end="")
