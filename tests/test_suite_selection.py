"""The PostgreSQL pass leaves out only tests that cannot reach a database, and a test that does reach one
without saying so fails every other run (tests/conftest.py, its docstring)."""

from __future__ import annotations

import pytest

import tests.conftest as shared

# An inner suite, run in this process with this suite's own conftest (its fixtures and hooks).
INNER = """
import subprocess
import sys

import pytest

from evidence.app import App
from evidence.config import resolve_settings
from evidence.db.engine import make_engine


def test_pure() -> None:
    assert 1 + 1 == 2


def test_opens_the_home_store_unasked() -> None:
    App(resolve_settings(None, None)).engine.dispose()


def test_starts_a_process_that_inherits_the_store() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_starts_a_process_with_a_database_of_its_own(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'own.sqlite3'}"
    subprocess.run([sys.executable, "-c", "pass"], check=True, env={"EVIDENCE_DATABASE_URL": url})


def test_opens_a_sqlite_file_of_its_own(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'own.sqlite3'}")
    engine.connect().close()
    engine.dispose()


@pytest.mark.postgresql
def test_marked() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_asks_for_the_app(app) -> None:
    app.engine  # noqa: B018


@pytest.fixture
def sample(run):
    return run


def test_asks_through_a_fixture(sample) -> None:
    sample("--version")


@pytest.mark.usefixtures("home")
def test_asks_by_usefixtures() -> None:
    App(resolve_settings(None, None)).engine.dispose()


@pytest.mark.browser
def test_in_a_browser(app) -> None:
    app.engine  # noqa: B018


@pytest.mark.backend_neutral
def test_a_backend_neutral_route(app) -> None:
    app.engine  # noqa: B018
"""
# A web route module as the real ones are: backend_neutral as a whole, its flows through the library marked.
NEUTRAL_MODULE = """
import pytest

pytestmark = pytest.mark.backend_neutral


def test_a_refusal_in_a_neutral_module(app) -> None:
    app.engine  # noqa: B018


@pytest.mark.postgresql
def test_a_flow_in_a_neutral_module(app) -> None:
    app.engine  # noqa: B018
"""

LEFT_OUT = {
    "test_pure",
    "test_opens_the_home_store_unasked",
    "test_starts_a_process_that_inherits_the_store",
    "test_starts_a_process_with_a_database_of_its_own",
    "test_opens_a_sqlite_file_of_its_own",
    "test_in_a_browser",  # asks for a store, but the browser tests run in the SQLite pass only
    "test_a_backend_neutral_route",  # asks for a store, but is marked to run in the SQLite pass only
    "test_a_refusal_in_a_neutral_module",  # so is its module
}
KEPT = {
    "test_marked",
    "test_asks_for_the_app",
    "test_asks_through_a_fixture",
    "test_asks_by_usefixtures",
    "test_a_flow_in_a_neutral_module",  # its own postgresql mark outranks its module's backend_neutral
}


@pytest.fixture
def inner(pytester: pytest.Pytester, home: object, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The inner suite beside a conftest that is this suite's (home: so this test runs on PostgreSQL too)."""
    monkeypatch.delenv("EVIDENCE_DATABASE_URL", raising=False)  # on PostgreSQL: the outer test's database
    pytester.makeconftest("from tests.conftest import *  # noqa: F403\n")
    pytester.makepyfile(test_inner=INNER, test_inner_neutral=NEUTRAL_MODULE)
    return pytester


def test_the_postgresql_pass_deselects_the_tests_that_ask_for_no_store(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared, "ON_POSTGRES", True)  # collection only: no server is reached
    result = inner.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    collected = {line.split("::")[-1] for line in result.outlines if "::" in line}
    assert collected == KEPT, result.outlines
    result.stdout.fnmatch_lines(
        [f"{len(KEPT)}/{len(KEPT) + len(LEFT_OUT)} tests collected ({len(LEFT_OUT)} deselected)*"]
    )


def test_elsewhere_a_left_out_test_that_reaches_a_store_fails(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared, "ON_POSTGRES", False)
    result = inner.runpytest_inprocess("-p", "no:cacheprovider", "-n", "0", "-rf")
    outcomes = {report.head_line: report.outcome for report in result.reprec.getreports("pytest_runtest_logreport")
                if report.when == "call"}  # fmt: skip
    assert outcomes == {
        **dict.fromkeys(KEPT | LEFT_OUT, "passed"),
        "test_opens_the_home_store_unasked": "failed",
        "test_starts_a_process_that_inherits_the_store": "failed",
    }, result.outlines
    result.stdout.fnmatch_lines([
        "*test_opens_the_home_store_unasked *connects to a store's database (sqlite:///*/evidence.sqlite3)*"
        "so the PostgreSQL pass would leave it out*mark it @pytest.mark.postgresql*",
        "*test_starts_a_process_that_inherits_the_store starts a process with no EVIDENCE_DATABASE_URL of its own*",
    ])  # fmt: skip
