"""Users and API tokens: who may sign in to the web app and with what role."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from evidence.app import App
from evidence.cli.output import emit, format_option, printable
from evidence.cli.params import TEXT, TIN, actor_option, changes_existing, read_only

if TYPE_CHECKING:
    from evidence.access.tokens import TokenView
    from evidence.access.users import UserView

ROLE = click.Choice(["admin", "officer", "viewer"])
PRACTICE_HELP = "A practice (TIN) the user may see; repeat for several [default: every practice]."


def _scope(practices: tuple[str, ...]) -> str:
    return " ".join(practices) if practices else "all"


@click.group()
def user() -> None:
    """Users who sign in to the web app: roles (admin, officer, viewer) and practice grants.

    An officer or viewer with no practice granted sees every practice (a one-practice
    install); with grants, only those. An admin sees every practice.

    \b
    Examples:
        evidence user add ann --role officer --practice 000123456
        printf '%s\\n' "$PASSWORD" | evidence user add bob --role viewer --password-stdin
    """


@user.command("add")
@click.argument("name", type=TEXT)
@click.option("--role", type=ROLE, required=True, help="What the user may do.")
@click.option("--practice", "practices", type=TIN, multiple=True, help=PRACTICE_HELP)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (one line) instead of prompting twice.",
)
@actor_option
@click.pass_obj
def user_add(app: App, name: str, role: str, practices: tuple[str, ...], password_stdin: bool) -> None:
    """Add a user NAME with a role and, for officers and viewers, the practices they may see.

    NAME is 1 to 64 ASCII letters, digits, '.', '_', '@' or '-' (unique, ignoring case). The
    password needs at least 15 characters (NIST SP 800-63B-4 for a password that is the only
    factor); it is kept only as an Argon2id hash.

    \b
    Example:
        evidence user add ann --role officer --practice 000123456
    """
    from evidence.access.users import add_user

    password = (
        _read_password() if password_stdin else click.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    with app.write() as session:
        view = add_user(session, name, role, password, practices=practices, actor=app.actor)
    click.echo(f"user {view.name} added as {view.role} (practices: {_scope(view.practices)})")


def _read_password() -> str:
    text: str = sys.stdin.read()  # one line: its line end is not part of the password
    return text.removesuffix("\n").removesuffix("\r")


@user.command("list")
@format_option
@read_only
@click.pass_obj
def user_list(app: App, fmt: str) -> None:
    """List users, their roles, practices and whether they are enabled (never a password hash).

    \b
    Example:
        evidence user list --format json
    """
    from evidence.access.users import list_users

    with app.read() as session:
        users = list_users(session)
    emit([_user_row(u) for u in users], fmt)


def _user_row(view: UserView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "role": view.role,
        "practices": _scope(view.practices),
        "status": "enabled" if view.enabled else "disabled",
        "created_at": view.created_at,
        "created_by": view.created_by,
        "disabled_at": view.disabled_at,
        "disabled_by": view.disabled_by,
    }


@user.command("disable")
@click.argument("name", type=TEXT)
@actor_option
@changes_existing
@click.pass_obj
def user_disable(app: App, name: str) -> None:
    """Disable a user: they can no longer sign in, and their sessions end. The record stays.

    \b
    Example:
        evidence user disable ann
    """
    from evidence.access.users import disable_user

    with app.write() as session:
        view = disable_user(session, name, actor=app.actor)
    click.echo(f"user {view.name} disabled")


@user.command("grant")
@click.argument("name", type=TEXT)
@click.option("--practice", type=TIN, required=True, help="The practice (TIN) the user may see.")
@actor_option
@changes_existing
@click.pass_obj
def user_grant(app: App, name: str, practice: str) -> None:
    """Let an officer or viewer see one more practice (the first grant limits them to it).

    \b
    Example:
        evidence user grant ann --practice 000123456
    """
    from evidence.access.users import grant

    with app.write() as session:
        view = grant(session, name, practice, actor=app.actor)
    click.echo(f"user {view.name} now sees practices: {_scope(view.practices)}")


@user.command("revoke")
@click.argument("name", type=TEXT)
@click.option("--practice", type=TIN, required=True, help="The practice (TIN) to take away.")
@actor_option
@changes_existing
@click.pass_obj
def user_revoke(app: App, name: str, practice: str) -> None:
    """Take a practice away from a user (not their last one: with none they would see all).

    \b
    Example:
        evidence user revoke ann --practice 000123456
    """
    from evidence.access.users import revoke

    with app.write() as session:
        view = revoke(session, name, practice, actor=app.actor)
    click.echo(f"user {view.name} now sees practices: {_scope(view.practices)}")


@click.group()
def token() -> None:
    """API tokens for the REST API (`evidence serve`): each with its own role and practices.

    \b
    Examples:
        evidence token create billing-sync --role viewer --practice 000123456
        evidence token revoke 3
    """


@token.command("create")
@click.argument("name", type=TEXT)
@click.option("--role", type=ROLE, required=True, help="What the token may do.")
@click.option("--practice", "practices", type=TIN, multiple=True, help=PRACTICE_HELP)
@actor_option
@click.pass_obj
def token_create(app: App, name: str, role: str, practices: tuple[str, ...]) -> None:
    """Create an API token NAME and print it once, on standard output (only its hash is kept).

    \b
    Example:
        evidence token create billing-sync --role viewer --practice 000123456 > token.txt
    """
    from evidence.access.tokens import create_token

    with app.write() as session:
        view, secret = create_token(session, name, role, practices=practices, actor=app.actor)
    click.echo(
        f"API token {view.id} ({printable(view.name)}, {view.role}, practices: {_scope(view.practices)}) "
        "created; it is shown once and cannot be shown again:",
        err=True,
    )
    click.echo(secret)


@token.command("list")
@format_option
@read_only
@click.pass_obj
def token_list(app: App, fmt: str) -> None:
    """List API tokens: id, name, role, practices, last use, revocation (never the token itself).

    \b
    Example:
        evidence token list
    """
    from evidence.access.tokens import list_tokens

    with app.read() as session:
        tokens = list_tokens(session)
    emit([_token_row(t) for t in tokens], fmt)


def _token_row(view: TokenView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "role": view.role,
        "practices": _scope(view.practices),
        "status": "active" if view.revoked_at is None else "revoked",
        "created_at": view.created_at,
        "created_by": view.created_by,
        "last_used_at": view.last_used_at,
        "revoked_at": view.revoked_at,
        "revoked_by": view.revoked_by,
    }


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
@actor_option
@changes_existing
@click.pass_obj
def token_revoke(app: App, token_id: int) -> None:
    """Revoke an API token: it is refused from now on. The record stays.

    \b
    Example:
        evidence token revoke 3
    """
    from evidence.access.tokens import revoke_token

    with app.write() as session:
        view = revoke_token(session, token_id, actor=app.actor)
    click.echo(f"API token {view.id} ({printable(view.name)}) revoked")
