"""The command line: parse, call the library, format. No domain logic lives here.

Subcommands are imported only when used, so `evidence --help` starts fast; their one-line
help is listed in COMMANDS (a test checks it matches each command's own help).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from evidence import __version__
from evidence.cli.params import TEXT
from evidence.errors import EvidenceError

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "catalog": (
        "evidence.cli.catalog",
        "catalog",
        "The IA inventory per performance year and its suggested documentation.",
    ),
    "db": ("evidence.cli.db", "db", "Create, upgrade and inspect the database schema."),
    "init": (
        "evidence.cli.init_cmd",
        "init",
        "Create the home folder, database and evidence store (nothing happens to an existing one).",
    ),
    "demo": ("evidence.cli.demo", "demo", "Run the main job on the bundled synthetic sample practice."),
    "practice": (
        "evidence.cli.practice",
        "practice",
        "Add, list, show and correct practices (TINs) and how they report each year.",
    ),
    "clinician": (
        "evidence.cli.practice",
        "clinician",
        "Add, list and update clinicians (NPIs) billing under a TIN in a year.",
    ),
    "attest": ("evidence.cli.practice", "attest", "Record a group or individual attestation to an activity."),
    "participate": (
        "evidence.cli.practice",
        "participate",
        "Record one clinician's own period for a group-attested activity.",
    ),
    "attestation": (
        "evidence.cli.corrections",
        "attestation",
        "Correct an attestation's period, or delete a mistaken attestation.",
    ),
    "participation": (
        "evidence.cli.corrections",
        "participation",
        "List, correct or delete clinicians' participation in group attestations.",
    ),
    "import": (
        "evidence.cli.practice",
        "import_",
        "Bulk-load practices, clinicians, attestations and participation from CSV.",
    ),
    "status": (
        "evidence.cli.score",
        "status",
        "Special statuses (small, rural, HPSA, non-patient facing, ...) with reasons.",
    ),
    "score": ("evidence.cli.score", "score", "The IA score the attestations earn, activity by activity."),
    "export-qpp": ("evidence.cli.score", "export_qpp", "The IA measurement set as QPP Submissions API JSON."),
    "register": (
        "evidence.cli.evidence_cmds",
        "register",
        "Register evidence files and link them to an attestation's documentation items.",
    ),
    "list": ("evidence.cli.evidence_cmds", "list_", "List registered evidence and where it is linked."),
    "show": (
        "evidence.cli.evidence_cmds",
        "show",
        "Show one piece of evidence: file facts, who registered it, and its links.",
    ),
    "link": (
        "evidence.cli.corrections",
        "link",
        "Link registered evidence to another attestation's documentation item.",
    ),
    "unlink": (
        "evidence.cli.corrections",
        "unlink",
        "Remove a mistaken evidence link (`evidence show ID` lists link ids); the evidence stays.",
    ),
    "edit": (
        "evidence.cli.edit_cmd",
        "edit",
        "Correct what a registration says: its effective date or range, or its description.",
    ),
    "withdraw": (
        "evidence.cli.evidence_cmds",
        "withdraw",
        "Take a mistaken registration out of reports and packets (record and file are kept).",
    ),
    "verify": (
        "evidence.cli.evidence_cmds",
        "verify",
        "Re-hash every stored file; report missing, corrupted and orphaned files (exit 1 if any).",
    ),
    "retention": (
        "evidence.cli.retention_cmds",
        "retention",
        "Show or lengthen the retention period (6 years by default, never less).",
    ),
    "hold": (
        "evidence.cli.retention_cmds",
        "hold",
        "Legal holds: keep a practice's records past their window (an audit, litigation).",
    ),
    "purge": (
        "evidence.cli.retention_cmds",
        "purge",
        "Show what has passed its retention window, and with --yes delete it.",
    ),
    "deadlines": (
        "evidence.cli.deadlines_cmd",
        "deadlines",
        "Every date that matters, soonest first, and the same dates as an ICS calendar.",
    ),
    "audit": (
        "evidence.cli.audit_cmds",
        "audit",
        "CMS audit requests: record one, watch its clock, keep its journal, close it.",
    ),
    "log": ("evidence.cli.log_cmds", "log", "The audit trail: every change to the store, who made it and when."),
    "missing": (
        "evidence.cli.evidence_cmds",
        "missing",
        "Attested activities whose documentation is missing or outside the attested period.",
    ),
    "backup": (
        "evidence.cli.backup",
        "backup",
        "Copy the database and every stored file into the new folder DEST, verified, with a manifest.",
    ),
    "restore": (
        "evidence.cli.backup",
        "restore",
        "Restore a backup made by `evidence backup` into the home folder (a new, empty one works).",
    ),
    "user": (
        "evidence.cli.access_cmds",
        "user",
        "Users who sign in to the web app: roles (admin, officer, viewer) and practice grants.",
    ),
    "token": (
        "evidence.cli.access_cmds",
        "token",
        "API tokens for the REST API (`evidence serve`): each with its own role and practices.",
    ),
    "serve": (
        "evidence.cli.serve",
        "serve",
        "Serve the web app: dashboards, uploads, corrections, packets, retention, the REST API.",
    ),
    "packet": (
        "evidence.cli.packet",
        "packet",
        "Render the audit-ready PDF packet for a TIN (or one NPI) and performance year.",
    ),
}


class EvidenceCommandError(click.ClickException):
    """A user-facing error: `Error: <one line>`, then one line per detail, exit code 1."""

    def __init__(self, error: EvidenceError):
        super().__init__(error.message)
        self.details = error.details

    def format_message(self) -> str:
        from evidence.cli.output import printable  # a message quoting user text stays one line per problem

        return "\n".join([printable(self.message), *(f"  {printable(line)}" for line in self.details)])


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS and name not in self.commands:
            from evidence.cli.params import add_store_options

            module, attribute, _ = COMMANDS[name]
            self.add_command(add_store_options(getattr(importlib.import_module(module), attribute)), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EvidenceError as exc:
            raise EvidenceCommandError(exc) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="evidence")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding the database and the evidence store [env: EVIDENCE_HOME; default: the user's app folder].",
)
@click.option(
    "--db",
    "database_url",
    metavar="URL",
    help="SQLAlchemy database URL [env: EVIDENCE_DATABASE_URL; default: SQLite in the home folder].",
)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="Evidence file store: s3://bucket/prefix [env: EVIDENCE_STORE_URL; default: store/ in the home folder].",
)
@click.option(
    "--actor",
    metavar="NAME",
    envvar="EVIDENCE_ACTOR",
    show_envvar=False,
    type=TEXT,
    help="Who is acting, for the records [env: EVIDENCE_ACTOR; default: the OS user].",
)
@click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ed25519 key that signs audit checkpoints, kept outside the home [env: EVIDENCE_SIGNING_KEY; default: none].",
)
@click.pass_context
def cli(
    ctx: click.Context,
    home: Path | None,
    database_url: str | None,
    store_url: str | None,
    actor: str | None,
    signing_key: Path | None,
) -> None:
    """Keep, check and hand over the documentation behind MIPS Improvement Activities.

    \b
    Quick start on the bundled synthetic practice:
        evidence demo
    Look up an activity:
        evidence catalog show IA_PM_7 --year 2020
    """
    from evidence.app import App
    from evidence.cli.params import STORE_OPTIONS
    from evidence.config import resolve_settings

    given = {"home": home, "database_url": database_url, "store_url": store_url, "signing_key": signing_key}
    ctx.meta[STORE_OPTIONS] = {name: value for name, value in given.items() if value is not None}
    app = App(resolve_settings(home, database_url, store_url, signing_key), actor)
    ctx.obj = app
    ctx.call_on_close(app.close)


def main() -> None:
    from evidence.support.collection import collect_in_batches

    collect_in_batches()
    cli(prog_name="evidence")
