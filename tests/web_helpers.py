"""Shared by the web tests: a sample store with users and tokens of every role, and an app over it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from fastapi.testclient import TestClient

from evidence.access import passwords
from evidence.access.tokens import create_token
from evidence.access.users import add_user
from evidence.app import App
from evidence.config import resolve_settings
from evidence.web.app import create_app
from evidence.web.settings import WebSettings
from tests.access_helpers import PASSWORD
from tests.conftest import SAMPLE
from tests.stores import cli_in, copy_built_store, sample_practice, untouched

TIN = "000123456"  # the sample practice
OTHER = "000222333"  # a second practice, with a hostile name
HOSTILE = '<script>alert("x")</script> & "Sons" \u202egpj.exe'
# name -> (role, granted TINs)
USERS = {
    "ada": ("admin", ()),
    "olga": ("officer", (TIN,)),
    "vic": ("viewer", (TIN,)),
    "nog": ("viewer", (OTHER,)),  # not granted the sample practice
    "ogre": ("officer", (OTHER,)),  # nor this one
}


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Web:
    app: App
    client: TestClient
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def fresh_client(self) -> TestClient:
        return TestClient(self.client.app, base_url="http://testserver", follow_redirects=False)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match[1]


def sign_in(client: TestClient, name: str, password: str = PASSWORD, next_path: str = "/") -> object:
    form = client.get("/sign-in")
    return client.post(
        "/sign-in", data={"name": name, "password": password, "next": next_path, "csrf_token": csrf_of(form.text)}
    )


def _add_people(app: App) -> dict[str, str]:
    """A user and a token of each kind in USERS: the tokens' secrets by user name."""
    tokens = {}
    with app.write() as session:
        for name, (role, tins) in USERS.items():
            add_user(session, name, role, PASSWORD, practices=tins, actor="tester")
            tokens[name] = create_token(session, f"{name}-token", role, practices=tins, actor="tester")[1]
    return tokens


def _web_store(home: Path) -> dict[str, str]:
    sample_practice(home)
    cli_in(home, "practice", "add", OTHER, "--name", HOSTILE)
    app = App(resolve_settings(home, None), actor="tester")
    try:
        return _add_people(app)
    finally:
        app.close()


def _web_store_then(home: Path, then: Callable[[Path], None]) -> dict[str, str]:
    tokens = _web_store(home)
    then(home)
    return tokens


def open_web(run, app: App, *, copy: bool = True, then: Callable[[Path], None] | None = None) -> Iterator[Web]:
    """The sample practice, a hostile-named second one, a user and a token of each kind, and the app.

    The store is built once per process and each test gets a private copy of it (tests/conftest.py
    copy_built_store), while the test's home is untouched and its app not yet open; otherwise, or
    with copy=False, it is built in the test's own store. The passwords are hashed with the hasher
    in effect (cheap_argon2 or the shipped one): each hasher's store is built apart. `then(home)`, if
    given, adds what a module's every test needs (as CLI commands on home): it is part of the built store.
    """
    if copy and "engine" not in app.__dict__ and untouched(app.settings.home):
        hasher = passwords.HASHER
        key = ("web", type(hasher), hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len)
        build = _web_store
        if then is not None:
            key, build = (*key, then.__module__, then.__qualname__), partial(_web_store_then, then=then)
        tokens = dict(copy_built_store(app.settings.home, key, build))
    else:
        run("import", SAMPLE / "practice.csv")
        run("register", "--manifest", SAMPLE / "manifest.yaml")
        run("practice", "add", OTHER, "--name", HOSTILE)
        tokens = _add_people(app)
        if then is not None:
            then(app.settings.home)
    clock = Clock()
    settings = WebSettings(store=app.settings, secret_key="k" * 64, now=clock)
    client = TestClient(create_app(settings), base_url="http://testserver", follow_redirects=False)
    yield Web(app, client, clock, tokens)
    client.close()
    client.app.state.evidence.close()  # the app's own engine (no lifespan runs without `with TestClient`)
