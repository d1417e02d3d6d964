"""The access layer (evidence.access): roles x permissions, practice grants, authentication, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from evidence.access import passwords
from evidence.access.grants import parse_name
from evidence.access.policy import Permission, Principal, practice_filter, require, visible_tins
from evidence.access.tokens import authenticate_token, create_token, list_tokens, note_use, revoke_token
from evidence.access.users import (
    SIGN_IN_REFUSED,
    add_user,
    authenticate_password,
    disable_user,
    grant,
    list_users,
    revoke,
    set_password,
)
from evidence.app import App
from evidence.db.models import Event, Practice, Role, User
from evidence.errors import AuthenticationError, ConflictError, ForbiddenError, InputError, NotFoundError
from tests import factories
from tests.access_helpers import PASSWORD, SHIPPED_HASHER, CountingHasher, cheap_argon2  # noqa: F401
from tests.conftest import sqlite_only

pytestmark = pytest.mark.usefixtures("cheap_argon2")

A, B, ABSENT = "000123456", "000222222", "000999999"

# Issue #15's roles, written out by hand (not derived from evidence.access.policy): one row per
# permission, one column per role.
MATRIX = """
permission  viewer  officer  admin
read        yes     yes      yes
records     no      yes      yes
register    no      yes      yes
correct     no      yes      yes
link        no      yes      yes
withdraw    no      yes      yes
packet      no      yes      yes
audits      no      yes      yes
users       no      no       yes
retention   no      no       yes
holds       no      no       yes
purge       no      no       yes
"""


def _matrix() -> list[tuple[Role, Permission, bool]]:
    header, *lines = MATRIX.strip().splitlines()
    roles = [Role(r) for r in header.split()[1:]]
    return [
        (role, Permission(line.split()[0]), cell == "yes")
        for line in lines
        for role, cell in zip(roles, line.split()[1:], strict=True)
    ]


def test_the_matrix_covers_every_role_and_permission() -> None:
    assert {(r, p) for r, p, _ in _matrix()} == {(r, p) for r in Role for p in Permission}


@pytest.mark.parametrize(("role", "permission", "allowed"), _matrix(), ids=lambda v: str(v))
def test_role_permission(role: Role, permission: Permission, allowed: bool) -> None:
    principal = Principal(name="ann", role=role, tins=None)
    if allowed:
        require(principal, permission, tin=A)
    else:
        with pytest.raises(ForbiddenError, match=f"^ann is an? {role} and may not "):
            require(principal, permission, tin=A)


def _practices(app: App) -> None:
    with app.write() as session:
        factories.practice(session, A)
        factories.practice(session, B)


def test_a_tin_not_granted_is_refused_as_one_that_does_not_exist(app: App, run) -> None:
    _practices(app)
    viewer = Principal(name="vic", role=Role.VIEWER, tins=frozenset({A}))
    require(viewer, Permission.READ, tin=A)
    with pytest.raises(NotFoundError) as not_granted:
        require(viewer, Permission.READ, tin=B)
    with pytest.raises(NotFoundError) as absent:
        require(viewer, Permission.READ, tin=ABSENT)
    # The service's own answer for a TIN that is not there, with the TIN swapped in.
    missing_line = run("missing", "--tin", ABSENT, "--year", "2024", expect=1).output.strip()
    assert missing_line == f"Error: {absent.value}"
    assert str(not_granted.value) == str(absent.value).replace(ABSENT, B)
    assert "exist" not in str(not_granted.value) and "grant" not in str(not_granted.value)


def test_the_role_is_checked_before_the_practice(app: App) -> None:
    viewer = Principal(name="vic", role=Role.VIEWER, tins=frozenset({A}))
    for tin in (B, ABSENT):  # the same 403 for a practice that exists and one that does not
        with pytest.raises(ForbiddenError, match=r"^vic is a viewer and may not register evidence$"):
            require(viewer, Permission.REGISTER, tin=tin)


@pytest.mark.parametrize(
    ("role", "grants", "seen"),
    [
        (Role.VIEWER, [A], [A]),
        (Role.OFFICER, [B], [B]),
        (Role.OFFICER, [A, B], [A, B]),
        (Role.VIEWER, [], [A, B]),  # no grants: a one-practice install, every practice
        (Role.ADMIN, [], [A, B]),
    ],
)
def test_grants_limit_what_a_user_sees(app: App, role: Role, grants: list[str], seen: list[str]) -> None:
    _practices(app)
    with app.write() as session:
        add_user(session, "ann", role, PASSWORD, practices=grants, actor="boss")
        principal = authenticate_password(session, "ann", PASSWORD)
        assert visible_tins(principal, session) == seen
        listed = session.scalars(select(Practice.tin).where(practice_filter(principal)).order_by(Practice.tin))
        assert list(listed) == seen
        for tin in (A, B):
            assert principal.sees(tin) == (tin in seen)


def test_a_token_has_its_own_role_and_grants(app: App) -> None:
    _practices(app)
    with app.write() as session:
        view, secret = create_token(session, "sync", "viewer", practices=[B], actor="boss")
        principal = authenticate_token(session, secret)
    assert (principal.role, principal.tins, principal.token_id) == (Role.VIEWER, frozenset({B}), view.id)
    assert principal.actor == f"token {view.id} (sync)"
    with pytest.raises(NotFoundError):
        require(principal, Permission.READ, tin=A)
    with pytest.raises(ForbiddenError):
        require(principal, Permission.REGISTER, tin=B)


# --- Authentication ----------------------------------------------------------------------------


def test_sign_in_refusals_say_the_same_and_cost_the_same(app: App) -> None:
    hasher = passwords.HASHER
    assert isinstance(hasher, CountingHasher)
    with app.write() as session:
        add_user(session, "ann", "officer", PASSWORD, actor="boss")
    refusals = (("ann", PASSWORD + "x"), ("nobody", PASSWORD), ("x" * 500, PASSWORD), ("ann", "x" * 10**6))
    for name, password in refusals:
        before = hasher.verified
        with app.write() as session, pytest.raises(AuthenticationError) as refused:
            authenticate_password(session, name, password)
        assert str(refused.value) == SIGN_IN_REFUSED
        assert hasher.verified == before + 1  # one Argon2 verification, known name or not


def test_sign_in_ignores_the_case_of_the_name_and_returns_the_principal(app: App) -> None:
    with app.write() as session:
        add_user(session, "Ann", "officer", PASSWORD, actor="boss")
        principal = authenticate_password(session, "aNN", PASSWORD)
    assert principal == Principal(name="Ann", role=Role.OFFICER, tins=None, session_epoch=0)


def test_a_disabled_user_is_refused_and_their_sessions_end(app: App) -> None:
    with app.write() as session:
        add_user(session, "boss", "admin", PASSWORD, actor="setup")
        add_user(session, "ann", "officer", PASSWORD, actor="boss")
        epoch = authenticate_password(session, "ann", PASSWORD).session_epoch
        disable_user(session, "ann", actor="boss")
    with app.write() as session, pytest.raises(AuthenticationError, match=r"^user ann is disabled$"):
        authenticate_password(session, "ann", PASSWORD)
    with app.write() as session, pytest.raises(AuthenticationError, match=f"^{SIGN_IN_REFUSED}$"):
        authenticate_password(session, "ann", "a wrong password, long enough")  # no hint without the password
    with app.read() as session:
        assert session.scalar(select(User.session_epoch).where(User.name == "ann")) == epoch + 1


def test_a_new_password_replaces_the_old_and_moves_the_session_epoch(app: App) -> None:
    new = "another passphrase, long enough"
    with app.write() as session:
        add_user(session, "ann", "viewer", PASSWORD, actor="boss")
        set_password(session, "ann", new, actor="ann")
    with app.write() as session:
        assert authenticate_password(session, "ann", new).session_epoch == 1
        with pytest.raises(AuthenticationError):
            authenticate_password(session, "ann", PASSWORD)


def test_a_hash_with_old_parameters_is_upgraded_at_sign_in(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    with app.write() as session:
        add_user(session, "ann", "viewer", PASSWORD, actor="boss")
    monkeypatch.setattr(passwords, "HASHER", CountingHasher(time_cost=2))
    with app.write() as session:
        authenticate_password(session, "ann", PASSWORD)
    with app.read() as session:
        assert ",t=2," in (session.scalar(select(User.password_hash)) or "")
        assert session.scalars(select(Event.action).order_by(Event.seq)).all()[-1] == "user.rehash"


def _token_of(app: App, name: str = "sync") -> str:
    with app.write() as session:
        return create_token(session, name, "officer", actor="boss")[1]


def test_a_token_authenticates_until_it_is_revoked(app: App) -> None:
    secret = _token_of(app)
    token_id = int(secret.split("_")[1])
    with app.write() as session:
        assert authenticate_token(session, secret).token_id == token_id
        revoke_token(session, token_id, actor="boss")
    with app.read() as session, pytest.raises(AuthenticationError, match="not valid"):
        authenticate_token(session, secret)


def test_a_secret_presented_under_another_token_id_is_refused(app: App) -> None:
    first, second = _token_of(app, "one"), _token_of(app, "two")
    swapped = f"evd_{second.split('_')[1]}_{first.split('_', 2)[2]}"
    with app.read() as session, pytest.raises(AuthenticationError):
        authenticate_token(session, swapped)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "evd_",
        "evd_1_",
        "evd_1_short",
        "evd_0_" + "a" * 43,
        "evd_99_" + "a" * 43,  # an id nobody has
        "EVD_1_" + "a" * 43,
        "Bearer evd_1_" + "a" * 43,
        "evd_1_" + "a" * 43 + "\n",
        "evd_1_" + "é" * 43,
        "evd_" + "9" * 40 + "_" + "a" * 43,
    ],
)
def test_malformed_or_unknown_tokens_are_refused(app: App, presented: str) -> None:
    _token_of(app)
    with app.read() as session, pytest.raises(AuthenticationError, match=r"^the API token is not valid"):
        authenticate_token(session, presented)


def test_a_tampered_secret_is_refused(app: App) -> None:
    secret = _token_of(app)
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with app.read() as session, pytest.raises(AuthenticationError):
        authenticate_token(session, tampered)


def test_token_use_is_stamped_at_most_hourly(app: App) -> None:
    secret = _token_of(app)
    with app.write() as session:
        principal = authenticate_token(session, secret)
        note_use(session, principal)
        first = list_tokens(session)[0].last_used_at
        note_use(session, principal)
        assert first is not None and list_tokens(session)[0].last_used_at == first


# --- What is stored, and what is refused --------------------------------------------------------


def test_argon2_is_argon2id_with_rfc_9106_low_memory_parameters() -> None:
    assert (SHIPPED_HASHER.time_cost, SHIPPED_HASHER.memory_cost, SHIPPED_HASHER.parallelism) == (3, 65536, 4)
    stored = SHIPPED_HASHER.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_passwords_and_token_secrets_are_never_stored_or_logged(app: App, home: Path) -> None:
    _practices(app)
    with app.write() as session:
        add_user(session, "ann", "officer", PASSWORD, practices=[A], actor="boss")
        set_password(session, "ann", "a second passphrase here", actor="boss")
        _, token = create_token(session, "sync", "viewer", actor="boss")
        stored_hash = session.scalar(select(User.password_hash))
    secret = token.split("_", 2)[2]
    with app.read() as session:
        events = "\n".join(f"{e.summary} {e.details}" for e in session.scalars(select(Event)))
    assert stored_hash is not None and stored_hash.startswith("$argon2id$")
    for needle in (PASSWORD, "a second passphrase here", secret, stored_hash, "argon2"):
        assert needle not in events
    with app.engine.connect() as connection:
        every_value = "\n".join(
            repr(tuple(row))
            for table in ("users", "api_tokens", "events", "settings")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
        )
    for needle in (PASSWORD, "a second passphrase here", secret, token):
        assert needle not in every_value


@sqlite_only
def test_the_database_files_hold_no_password_or_secret(app: App, home: Path) -> None:
    with app.write() as session:
        add_user(session, "ann", "officer", PASSWORD, actor="boss")
        _, token = create_token(session, "sync", "viewer", actor="boss")
    app.close()
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite3" for p in files)
    for path in files:
        data = path.read_bytes()
        for needle in (PASSWORD, token.split("_", 2)[2]):
            assert needle.encode() not in data, path


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("", "the password is empty"),
        (" " * 20, "the password is empty"),
        ("fourteen chars", "is 14 characters; at least 15"),
        ("tab\tinside the password", "control character"),
        ("line end inside\nthe password", "control character"),
        ("x" * 1025, "longer than 1024"),
    ],
)
def test_passwords_refused(password: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        passwords.accepted(password)


@pytest.mark.parametrize(
    "password",
    ["fifteen chars!!", "spaces are fine here", "ü" * 15, "x" * 1024, "密码" * 8],
)
def test_passwords_accepted(password: str) -> None:
    assert passwords.accepted(password) == password


def test_a_password_is_compared_after_nfkc_normalisation(app: App) -> None:
    with app.write() as session:
        add_user(session, "ann", "viewer", "ｆｕｌｌｗｉｄｔｈ　ｐａｓｓｗｏｒｄ", actor="boss")
        assert authenticate_password(session, "ann", "fullwidth password").name == "ann"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        ("ann smith", "whitespace"),
        ("ann\n", "whitespace"),
        ("ann\x1b[31m", "control"),
        ("ann\u202egro", "control or invisible"),
        ("-ann", "must be 1 to 64"),
        ("a" * 65, "must be 1 to 64"),
        ("anné", "must be 1 to 64"),
    ],
)
def test_names_refused(name: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_name(name, "user name")


@pytest.mark.parametrize("name", ["ann", "Ann.O_Neil-2", "ann@clinic.example", "a" * 64, "7"])
def test_names_accepted(name: str) -> None:
    assert parse_name(name, "user name") == name


def test_refusals_of_the_services(app: App) -> None:
    _practices(app)
    with app.write() as session:
        add_user(session, "boss", "admin", PASSWORD, actor="setup")
        add_user(session, "ann", "viewer", PASSWORD, practices=[A], actor="boss")
    cases = [
        (lambda s: add_user(s, "ANN", "viewer", PASSWORD, actor="boss"), ConflictError, "already exists"),
        (lambda s: add_user(s, "cy", "root", PASSWORD, actor="boss"), InputError, "is not one of admin"),
        (lambda s: add_user(s, "cy", "viewer", PASSWORD, practices=[ABSENT], actor="b"), NotFoundError, ABSENT),
        (lambda s: add_user(s, "cy", "viewer", PASSWORD, practices=[A, A], actor="b"), InputError, "twice"),
        (lambda s: add_user(s, "cy", "admin", PASSWORD, practices=[A], actor="b"), InputError, "every practice"),
        (lambda s: grant(s, "ann", A, actor="boss"), ConflictError, "already granted"),
        (lambda s: grant(s, "nobody", A, actor="boss"), NotFoundError, "no user named nobody"),
        (lambda s: grant(s, "boss", A, actor="boss"), InputError, "every practice"),
        (lambda s: revoke(s, "ann", B, actor="boss"), NotFoundError, "no grant for practice"),
        (lambda s: revoke(s, "ann", A, actor="boss"), ConflictError, "last grant"),
        (lambda s: disable_user(s, "boss", actor="boss"), ConflictError, "last enabled admin"),
        (lambda s: revoke_token(s, 1, actor="boss"), NotFoundError, "no API token 1"),
        (lambda s: create_token(s, "a b", "viewer", actor="boss"), InputError, "whitespace"),
    ]
    for call, error, message in cases:
        with app.write() as session, pytest.raises(error, match=message):
            call(session)
    with app.read() as session:
        assert [(u.name, u.role, u.practices) for u in list_users(session)] == [
            ("ann", "viewer", (A,)),
            ("boss", "admin", ()),
        ]


def test_every_change_is_an_audited_event(app: App) -> None:
    _practices(app)
    with app.write() as session:
        add_user(session, "boss", "admin", PASSWORD, actor="setup")
        add_user(session, "ann", "viewer", PASSWORD, practices=[A], actor="boss")
        grant(session, "ann", B, actor="boss")
        revoke(session, "ann", A, actor="boss")
        set_password(session, "ann", "yet another passphrase", actor="ann")
        disable_user(session, "ann", actor="boss")
        view, _ = create_token(session, "sync", "viewer", actor="boss")
        revoke_token(session, view.id, actor="boss")
    with app.read() as session:
        events = [(e.actor, e.action, e.tin) for e in session.scalars(select(Event).order_by(Event.seq))][-8:]
    assert events == [
        ("setup", "user.add", None),
        ("boss", "user.add", None),
        ("boss", "user.grant", B),
        ("boss", "user.revoke", A),
        ("ann", "user.password", None),
        ("boss", "user.disable", None),
        ("boss", "token.create", None),
        ("boss", "token.revoke", None),
    ]


def test_a_revoked_grant_id_is_never_handed_out_again(app: App) -> None:
    from evidence.db.models import UserPractice

    _practices(app)
    with app.write() as session:
        add_user(session, "ann", "viewer", PASSWORD, practices=[A, B], actor="boss")
        revoked = session.scalar(select(UserPractice.id).order_by(UserPractice.id.desc()))
        revoke(session, "ann", B, actor="boss")
        grant(session, "ann", B, actor="boss")
        regranted = session.scalar(select(UserPractice.id).order_by(UserPractice.id.desc()))
    assert revoked is not None and regranted is not None and regranted > revoked
