"""`evidence user ...` and `evidence token ...` end to end: output, refusals that change nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from evidence.access.tokens import authenticate_token
from evidence.access.users import authenticate_password
from evidence.app import App
from evidence.cli import cli
from evidence.db import migrate
from evidence.db.engine import make_engine
from evidence.db.models import Event
from tests.access_helpers import PASSWORD, cheap_argon2  # noqa: F401

pytestmark = pytest.mark.usefixtures("cheap_argon2")

A, B = "000123456", "000222222"


@pytest.fixture
def practices(run) -> None:
    run("practice", "add", A, "--name", "Clinic A")
    run("practice", "add", B, "--name", "Clinic B")


def _add(run, name: str, *args: str, expect: int = 0, password: str = PASSWORD):
    return run("user", "add", name, *args, "--password-stdin", input=f"{password}\n", expect=expect)


def test_add_list_and_sign_in(run, app: App, practices: None, wide: None) -> None:
    assert _add(run, "ann", "--role", "officer", "--practice", A).output == (
        f"user ann added as officer (practices: {A})\n"
    )
    _add(run, "boss", "--role", "admin")
    table = run("user", "list").output
    assert "ann" in table and "officer" in table and A in table and "enabled" in table
    listed = json.loads(run("user", "list", "--format", "json").output)
    assert [(u["name"], u["role"], u["practices"], u["status"]) for u in listed] == [
        ("ann", "officer", A, "enabled"),
        ("boss", "admin", "all", "enabled"),
    ]
    csv_lines = run("user", "list", "--format", "csv").output.splitlines()
    assert csv_lines[0].startswith("id,name,role,practices,status,")
    for output in (table, json.dumps(listed), "\n".join(csv_lines)):
        assert "argon2" not in output and PASSWORD not in output
    with app.write() as session:
        assert authenticate_password(session, "ann", PASSWORD).tins == frozenset({A})


def test_the_password_is_prompted_twice_hidden(run, app: App) -> None:
    result = run("user", "add", "ann", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    with app.write() as session:
        assert authenticate_password(session, "ann", PASSWORD).name == "ann"


def test_two_different_passwords_at_the_prompt_add_nobody(run, dump) -> None:
    before = dump()
    result = run("user", "add", "ann", "--role", "viewer", input=f"{PASSWORD}\nsomething else entirely\n", expect=1)
    assert "do not match" in result.output
    assert dump() == before


def test_password_stdin_takes_the_line_without_its_line_end(run, app: App) -> None:
    run("user", "add", "ann", "--role", "viewer", "--password-stdin", input=f"{PASSWORD}\r\n")
    with app.write() as session:
        assert authenticate_password(session, "ann", PASSWORD).name == "ann"


def test_grant_revoke_disable(run, app: App, practices: None) -> None:
    _add(run, "boss", "--role", "admin")
    _add(run, "ann", "--role", "viewer")
    assert run("user", "grant", "ann", "--practice", A).output == f"user ann now sees practices: {A}\n"
    assert run("user", "grant", "ANN", "--practice", B).output == f"user ann now sees practices: {A} {B}\n"
    assert run("user", "revoke", "ann", "--practice", A).output == f"user ann now sees practices: {B}\n"
    assert run("user", "disable", "ann", "--actor", "boss").output == "user ann disabled\n"
    listed = json.loads(run("user", "list", "--format", "json").output)
    assert (listed[0]["name"], listed[0]["status"], listed[0]["disabled_by"]) == ("ann", "disabled", "boss")
    with app.read() as session:
        actions = session.scalars(select(Event.action).order_by(Event.seq)).all()[-6:]
    assert actions == ["user.add", "user.add", "user.grant", "user.grant", "user.revoke", "user.disable"]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("user", "add", "ann", "--role", "viewer"), PASSWORD, "a user named ann already exists"),
        (("user", "add", "ANN", "--role", "viewer"), PASSWORD, "a user named ANN already exists"),
        (("user", "add", "cy", "--role", "viewer"), "too short", "the password is 9 characters; at least 15"),
        (("user", "add", "cy", "--role", "viewer"), "", "the password is empty"),
        (("user", "add", "cy", "--role", "viewer"), f"{PASSWORD}\n{PASSWORD}", "control character"),
        (("user", "add", "c y", "--role", "viewer"), PASSWORD, "the user name contains whitespace"),
        (("user", "add", "cy\x1b[2J", "--role", "viewer"), PASSWORD, "control or invisible character"),
        (("user", "add", "", "--role", "viewer"), PASSWORD, "the user name is empty"),
        (("user", "add", "cy", "--role", "viewer", "--practice", "000999999"), PASSWORD, "no practice with TIN"),
        (("user", "add", "cy", "--role", "admin", "--practice", A), PASSWORD, "an admin sees every practice"),
        (("user", "grant", "ann", "--practice", A), None, f"user ann is already granted practice {A}"),
        (("user", "grant", "nobody", "--practice", A), None, "no user named nobody"),
        (("user", "grant", "ann", "--practice", "000999999"), None, "no practice with TIN 000999999"),
        (("user", "revoke", "ann", "--practice", B), None, f"user ann has no grant for practice {B}"),
        (("user", "revoke", "ann", "--practice", A), None, "last grant"),
        (("user", "disable", "nobody"), None, "no user named nobody"),
        (("user", "disable", "gone"), None, "user gone is already disabled"),
        (("user", "disable", "boss"), None, "user boss is the last enabled admin"),
        (("token", "create", "a b", "--role", "viewer"), None, "the token name contains whitespace"),
        (("token", "create", "sync", "--role", "viewer", "--practice", "000999999"), None, "no practice with TIN"),
        (("token", "revoke", "99"), None, "no API token 99"),
        (("token", "revoke", "1"), None, "API token 1 is already revoked"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(
    run, dump, practices: None, args: tuple[str, ...], password: str | None, message: str
) -> None:
    _add(run, "boss", "--role", "admin")
    _add(run, "ann", "--role", "viewer", "--practice", A)
    _add(run, "gone", "--role", "viewer")
    run("user", "disable", "gone")
    run("token", "create", "old", "--role", "viewer")
    run("token", "revoke", "1")
    before = dump()
    extra = ("--password-stdin",) if password is not None else ()
    stdin = f"{password}\n" if password is not None else None
    result = run(*args, *extra, input=stdin, expect=1)
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert "\x1b" not in result.output
    assert dump() == before


@pytest.mark.parametrize(
    "args",
    [
        ("user", "add", "cy", "--role", "root", "--password-stdin"),
        ("user", "add", "cy", "--password-stdin"),
        ("user", "grant", "ann", "--practice", "12-345"),
        ("token", "create", "sync", "--role", "superuser"),
        ("token", "revoke", "abc"),
        ("token", "revoke", "0"),
    ],
)
def test_usage_errors_change_nothing(run, dump, args: tuple[str, ...]) -> None:
    before = dump()
    run(*args, input=f"{PASSWORD}\n", expect=2)
    assert dump() == before


def test_a_token_is_printed_once_on_stdout_with_a_warning_on_stderr(run, app: App, practices: None) -> None:
    result = CliRunner().invoke(cli, ["token", "create", "sync", "--role", "viewer", "--practice", B])
    assert result.exit_code == 0, result.output
    (token,) = result.stdout.splitlines()
    assert token.startswith("evd_1_") and len(token) == len("evd_1_") + 43
    assert "shown once" in result.stderr and token not in result.stderr
    with app.read() as session:
        principal = authenticate_token(session, token)
    assert principal.tins == frozenset({B})
    listed = run("token", "list", "--format", "json").output
    assert token.split("_", 2)[2] not in listed
    assert [(t["id"], t["name"], t["practices"], t["status"]) for t in json.loads(listed)] == [(1, "sync", B, "active")]
    assert run("token", "revoke", "1").output == "API token 1 (sync) revoked\n"
    assert json.loads(run("token", "list", "--format", "json").output)[0]["status"] == "revoked"


def test_migration_0010_keeps_a_0009_store_and_adds_empty_access_tables(tmp_path) -> None:
    """A store at 0009 with a practice and an event: after 0010 both are there, the new tables empty."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0009")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO practices (id, tin, name, created_at) "
                                "VALUES (7, '000123456', 'Clinic', '2026-01-01 00:00:00')"))  # fmt: skip
        connection.execute(text("INSERT INTO events (id, seq, occurred_at, actor, action, tin, summary, details, "
                                "prev_hash, hash) VALUES (3, 1, '2026-01-01 00:00:00', 'x', 'practice.add', "
                                "'000123456', 'added', '{}', 'p', 'h')"))  # fmt: skip
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.HEAD_REVISION == "0010"
    with engine.begin() as connection:
        assert connection.execute(text("SELECT id, tin, name FROM practices")).all() == [(7, "000123456", "Clinic")]
        assert connection.execute(text("SELECT id, seq, action FROM events")).all() == [(3, 1, "practice.add")]
        for table in ("users", "user_practices", "api_tokens", "token_practices"):
            assert connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0
        connection.execute(text("INSERT INTO users (name, name_key, role, password_hash, session_epoch, created_at, "
                                "created_by) VALUES ('ann', 'ann', 'viewer', 'h', 0, '2026-01-01 00:00:00', 'x')"))  # fmt: skip
        connection.execute(text("INSERT INTO user_practices (user_id, practice_id) VALUES (1, 7)"))
    migrate.downgrade(engine, "0009")  # and back: the older rows stay
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, tin FROM practices")).all() == [(7, "000123456")]
    engine.dispose()
