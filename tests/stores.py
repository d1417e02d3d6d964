"""Stores that many tests start from, built once per process and copied into each test's home.

Importing the sample practice and registering its manifest costs about half a second a test on
either backend; a copy costs a few milliseconds. The copy is the whole home folder (database file,
store with its STORE-ID, audit-head mirror, any keys) and, on PostgreSQL, the test's database made
again by CREATE DATABASE ... TEMPLATE from the built one: a faithful, independent store, as if
the test had built it itself (the audit trail's times are those of the build).

Shared state lives here, not in conftest.py: test modules import that file again as tests.conftest,
and a second copy would build a second set of stores.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar, cast

from click.testing import CliRunner
from sqlalchemy.engine import make_url

from evidence.app import App
from evidence.cli import cli
from evidence.config import AUDIT_HEAD_FILE, DATABASE_URL_ENV, HOME_ENV
from tests.conftest import ON_POSTGRES, SAMPLE, TEMPLATE_DATABASE, _postgres_admin, _postgres_url

T = TypeVar("T")

BUILT_IN: list[Path] = []  # the folder of template_home (tests/conftest.py sets it): the built stores go beside it
# key -> (the built home, its PostgreSQL database or None, what build returned)
_BUILT: dict[object, tuple[Path, str | None, object]] = {}


def built_databases() -> list[str]:
    return [database for _, database, _ in _BUILT.values() if database is not None]


@contextmanager
def _environment(home: Path, database_url: str | None) -> Iterator[None]:
    """EVIDENCE_HOME and the database URL of the store being built, for the CLI and App alike."""
    saved = {name: os.environ.get(name) for name in (HOME_ENV, DATABASE_URL_ENV)}
    os.environ[HOME_ENV] = str(home)
    os.environ.pop(DATABASE_URL_ENV, None)
    if database_url is not None:
        os.environ[DATABASE_URL_ENV] = database_url
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def untouched(home: Path) -> bool:
    """Whether a test's home is still the migrated template: every write moves the audit head."""
    template = BUILT_IN[0] / "home"
    return (home / AUDIT_HEAD_FILE).read_bytes() == (template / AUDIT_HEAD_FILE).read_bytes()


def copy_built_store(home: Path, key: object, build: Callable[[Path], T]) -> T:
    """Make `home`, a test's untouched home with no app open on it, a private copy of what build(home) makes.

    The first call in a process (per key) builds the store in a home of its own, with EVIDENCE_HOME
    and on PostgreSQL EVIDENCE_DATABASE_URL pointing at it meanwhile; every call copies it and
    returns what build returned. Only a test that reaches a store calls this (it replaces the
    store of the autouse `home`), so the PostgreSQL pass runs it.
    """
    if key not in _BUILT:
        built = Path(tempfile.mkdtemp(prefix="built-", dir=BUILT_IN[0])) / "home"
        shutil.copytree(BUILT_IN[0] / "home", built)
        database = None
        if ON_POSTGRES:
            database = f"evidence_built_{uuid.uuid4().hex}"
            _postgres_admin(f"CREATE DATABASE {database} TEMPLATE {TEMPLATE_DATABASE}")
        with _environment(built, _postgres_url(database) if database else None):
            result = build(built)
        _BUILT[key] = (built, database, result)
    built, database, result = _BUILT[key]
    shutil.rmtree(home)
    shutil.copytree(built, home)
    if database is not None:  # the test's own database, by the name the autouse `home` gave it
        own = make_url(os.environ[DATABASE_URL_ENV]).database
        _postgres_admin(f"DROP DATABASE IF EXISTS {own} WITH (FORCE)")
        _postgres_admin(f"CREATE DATABASE {own} TEMPLATE {database}")
    return cast(T, result)


def cli_in(home: Path, *args: object) -> None:
    """One CLI command on `home` as the tester; it must succeed."""
    result = CliRunner().invoke(cli, ["--home", str(home), "--actor", "tester", *map(str, args)])
    assert result.exit_code == 0 and result.exception is None, result.output


def sample_practice(home: Path, *, register: bool = True) -> None:
    """The bundled sample practice imported and (by default) its manifest registered, as a user would (the CLI)."""
    cli_in(home, "import", SAMPLE / "practice.csv")
    if register:
        cli_in(home, "register", "--manifest", SAMPLE / "manifest.yaml")


def sample_imported(home: Path) -> None:
    sample_practice(home, register=False)


def use_sample_practice(app: App, *, register: bool = True) -> None:
    """The sample practice in the test's store: a private copy of one built once per process, or built
    in place where the test already wrote to its store or opened its app (a copy would replace them)."""
    home = app.settings.home
    if "engine" in app.__dict__ or not untouched(home):
        sample_practice(home, register=register)
    elif register:
        copy_built_store(home, "sample practice", sample_practice)
    else:
        copy_built_store(home, "sample practice, imported only", sample_imported)
