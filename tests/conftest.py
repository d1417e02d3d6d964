"""Every test gets its own home folder under tmp_path; nothing touches the user's store.

With EVIDENCE_TEST_DATABASE_URL set to a PostgreSQL URL (as .ci/run does), the whole suite
runs a second time against PostgreSQL: each test gets its own database, cloned from a
migrated template, instead of the SQLite file in its home folder.

The PostgreSQL pass runs only the tests that can reach its database. A test runs there if it
requests, directly or through its own fixtures, one of STORE_FIXTURES (template_home, home, app,
dump, run; the autouse `home` every test gets does not count), or is marked
@pytest.mark.postgresql; every other test is deselected there (pure rules, identifiers, text,
fonts, templates, docs and layer checks: the same code on either backend). The real-browser tests
(@pytest.mark.browser, slow too: .ci/run's slow step) run on SQLite only: they prove what a browser
shows, not the backend, and they cost a browser launch per module. The web route modules are marked @pytest.mark.backend_neutral
and run in the SQLite pass only too: the web layer holds no SQL, and their every query is a library call
that the PostgreSQL pass runs through the CLI's and the library's own tests. What does run there of them
is each page's own flow through the library (an upload, each correction, a hold, a purge, a record added
and corrected, an import, a packet job, a page made fresh by a write): those tests are marked
@pytest.mark.postgresql themselves, which puts a test on the PostgreSQL pass whatever its module says.
Their refusals (roles, grants, CSRF, bad input) stay in the SQLite pass: they are decided before or by
the same library calls. So that this rule can
never drop a test that does reach a store, every other run fails such a test (unless sqlite_only
skips it on PostgreSQL anyway) when it connects to a store's database (a server, or a SQLite file
named evidence.sqlite3 as a home's is; a file the test names itself is its own) or starts a
process without an EVIDENCE_DATABASE_URL of its own (the child would open the store of the
inherited EVIDENCE_HOME: on PostgreSQL, the test's database). Such a test requests the store
fixture it uses, or is marked postgresql; tests/test_suite_selection.py proves both halves.

Some tests compare against CMS's own reference files in ../shared/reference/qpp-measures-data
(beside the clone). Where that folder is missing they skip, say so in the header and the
summary of the run, and with CI=true the run fails at once instead.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings
from sqlalchemy import Connection, Engine, event

from evidence.app import App
from evidence.cli import cli
from evidence.config import DATABASE_FILE, DATABASE_URL_ENV, resolve_settings

# pytester: tests/test_suite_selection.py runs an inner suite with these fixtures and hooks.
pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference" / "qpp-measures-data"
SAMPLE = REPO / "sample_evidence"


ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# On CI the generated cases are the same on every run (a failure there reproduces), and a slow shared
# machine never fails a test on hypothesis's per-example deadline; developers' runs keep exploring.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if ON_CI:
    settings.load_profile("ci")
MISSING_REFERENCE = (
    f"CMS reference data not found at {REFERENCE}: the tests that compare with CMS's files and the seeds "
    "are skipped (put the project's shared/ folder beside the clone; with CI=true this is a failure)"
)


def shared_file(folder: Path, pattern: str) -> Path:
    """The first file in ../shared matching pattern; skipped loudly where it is absent, a failure on CI."""
    path = next(iter(sorted(folder.glob(pattern))), None)
    if path is None:
        if ON_CI:
            pytest.fail(f"{folder / pattern} not present, and CI=true: CI must have ../shared beside the repository")
        pytest.skip(f"{folder / pattern} not present: needs the project's shared/ folder beside the clone")
    return path


def reference_file(year: int) -> Path:
    """CMS's IA file for a year, from ../shared/reference/qpp-measures-data."""
    return shared_file(REFERENCE, f"ia-{year}.json")


def pytest_configure(config: pytest.Config) -> None:
    if ON_CI and not REFERENCE.is_dir():
        raise pytest.UsageError(f"CI=true but {MISSING_REFERENCE}")
    # Here, not at import: test modules import this file again as tests.conftest, and one watch is enough.
    sys.addaudithook(_audit)  # for the life of the process; it does nothing while no test is watched
    event.listen(Engine, "engine_connect", _engine_connect)


def pytest_unconfigure(config: pytest.Config) -> None:
    event.remove(Engine, "engine_connect", _engine_connect)
    for engine in _admin_engines:
        engine.dispose()


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"CMS reference data: {REFERENCE}" if REFERENCE.is_dir() else f"WARNING: {MISSING_REFERENCE}"]
    if ON_POSTGRES:  # pytest-xdist's summary does not count deselected tests: say why the items are fewer
        lines.append("PostgreSQL: only the tests that can reach a database run (the rule: tests/conftest.py)")
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    if not REFERENCE.is_dir():
        terminalreporter.write_sep("=", "CMS reference data missing", yellow=True, bold=True)
        terminalreporter.write_line(f"WARNING: {MISSING_REFERENCE}", yellow=True, bold=True)


# A packet may not be dated before the newest change it reports, and the tests record theirs just
# now: noon UTC tomorrow is after all of them, and one fixed value per run (same value, same bytes).
PACKET_TIME = (datetime.now(UTC) + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
GENERATED_AT = PACKET_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")

POSTGRES_URL = os.environ.get("EVIDENCE_TEST_DATABASE_URL") or None
ON_POSTGRES = POSTGRES_URL is not None
SQLITE_ONLY = "about the embedded SQLite file itself"
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason=SQLITE_ONLY)


# The fixtures that open a store: a test that requests none of them (and is not marked postgresql)
# runs the same code on either backend, so the PostgreSQL pass leaves it out.
STORE_FIXTURES = frozenset({"template_home", "home", "app", "dump", "run"})


def _requested_fixtures(item: pytest.Item) -> set[str]:
    """The fixtures a test asks for itself (arguments, usefixtures) and theirs, transitively.

    item.fixturenames would include the autouse `home`, which every test gets whether or not it
    uses a store; the walk starts from the test's own requests instead.
    """
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    pending = [*info.argnames, *(name for mark in item.iter_markers("usefixtures") for name in mark.args)]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            for fixturedef in info.name2fixturedefs.get(name, ()):  # every override: each may be called
                pending.extend(fixturedef.argnames)
    return seen


def reaches_a_store(item: pytest.Item) -> bool:
    """Whether the test can reach a store's database (the rule in the module docstring)."""
    return item.get_closest_marker("postgresql") is not None or bool(_requested_fixtures(item) & STORE_FIXTURES)


def runs_on_postgres(item: pytest.Item) -> bool:
    """Whether the PostgreSQL pass runs this test: never a browser test; always one marked postgresql
    itself (not only by its module); otherwise one that reaches a store and is not backend_neutral."""
    if item.get_closest_marker("browser") is not None:
        return False
    if any(mark.name == "postgresql" for mark in getattr(item, "own_markers", ())):
        return True
    return reaches_a_store(item) and item.get_closest_marker("backend_neutral") is None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not ON_POSTGRES:
        return
    kept = [item for item in items if runs_on_postgres(item)]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if not runs_on_postgres(item)])
        items[:] = kept


# What the running test did that reaches a store, while it is one the PostgreSQL pass would leave out
# (None: not watching). Set and read by the hooks below, one test at a time per process.
_unseen_store_use: list[str] | None = None


def _store_use(what: str) -> None:
    if _unseen_store_use is not None and what not in _unseen_store_use:
        _unseen_store_use.append(what)


@contextmanager
def _unwatched() -> Iterator[None]:
    global _unseen_store_use
    watching, _unseen_store_use = _unseen_store_use, None
    try:
        yield
    finally:
        _unseen_store_use = watching


# A child process with no database URL of its own opens the store of its EVIDENCE_HOME: on PostgreSQL
# that is the test's database, inherited through EVIDENCE_DATABASE_URL. The position of the child's
# environment in each audit event's arguments (None: no such argument, the whole environment is inherited).
_PROCESS_ENVIRONMENT = {"subprocess.Popen": 3, "os.posix_spawn": 2, "os.spawn": 3, "os.exec": 2, "os.system": None}


def _audit(name: str, args: tuple[object, ...]) -> None:
    if _unseen_store_use is None:
        return
    if name == "sqlite3.connect" and Path(os.fsdecode(str(args[0]))).name == DATABASE_FILE:
        _store_use(f"opens a store's SQLite file ({args[0]})")
    elif name in ("os.fork", "os.forkpty"):
        _store_use("forks (the child has the test's whole environment)")
    elif name in _PROCESS_ENVIRONMENT:
        where = _PROCESS_ENVIRONMENT[name]
        environment = args[where] if where is not None else None
        if not isinstance(environment, Mapping) or not (
            DATABASE_URL_ENV in environment or DATABASE_URL_ENV.encode() in environment
        ):
            _store_use(f"starts a process with no {DATABASE_URL_ENV} of its own ({name})")


def _engine_connect(connection: Connection) -> None:
    """A store's database: any server, or a SQLite file with the name a home gives it (named files are the test's own)."""
    url = connection.engine.url
    if url.get_backend_name() != "sqlite" or Path(url.database or "").name == DATABASE_FILE:
        _store_use(f"connects to a store's database ({url.render_as_string(hide_password=True)})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _unseen_store_use
    skipped_on_postgres = any(mark.kwargs.get("reason") == SQLITE_ONLY for mark in item.iter_markers("skipif"))
    _unseen_store_use = None if ON_POSTGRES or skipped_on_postgres or reaches_a_store(item) else []
    try:
        return (yield)
    finally:
        _unseen_store_use = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if _unseen_store_use and call.when in ("call", "teardown") and report.passed:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} {'; '.join(_unseen_store_use)}, but requests no store fixture ({', '.join(sorted(STORE_FIXTURES))}), "
            "so the PostgreSQL pass would leave it out: request the one it uses, or mark it @pytest.mark.postgresql "
            "(tests/conftest.py)"
        )
        _unseen_store_use.clear()
    return report


_admin_engines: list[Engine] = []  # one per process: a connection per statement cost more than the statement


def _postgres_admin(statement: str) -> None:
    from sqlalchemy import create_engine, text

    if not _admin_engines:
        _admin_engines.append(create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True))
    with _admin_engines[0].connect() as connection:
        if " TEMPLATE " in statement and connection.dialect.server_version_info >= (15,):
            # Copy the template's files instead of writing them through the WAL: half the time for
            # these small databases (fsync is off on the throwaway server, so its checkpoints are cheap).
            statement += " STRATEGY FILE_COPY"
        connection.execute(text(statement))


def _postgres_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


TEMPLATE_DATABASE = f"evidence_template_{os.getpid()}"


@pytest.fixture(scope="session")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A migrated store with the shipped catalog loaded, built once and copied per test."""
    home = tmp_path_factory.mktemp("template") / "home"
    database_url = None
    if ON_POSTGRES:
        _postgres_admin(f"DROP DATABASE IF EXISTS {TEMPLATE_DATABASE} WITH (FORCE)")
        _postgres_admin(f"CREATE DATABASE {TEMPLATE_DATABASE}")
        database_url = _postgres_url(TEMPLATE_DATABASE)
    with _unwatched():  # the autouse `home` needs it: the first test of each worker sets it up, whichever it is
        app = App(resolve_settings(home, database_url), actor="tester")
        app.engine  # noqa: B018 - creates schema and catalog
        app.close()
    from tests import stores  # not at the top: it imports this module (as tests.conftest)

    stores.BUILT_IN[:] = [home.parent]
    yield home
    if ON_POSTGRES:
        for database in stores.built_databases():
            _postgres_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        _postgres_admin(f"DROP DATABASE IF EXISTS {TEMPLATE_DATABASE} WITH (FORCE)")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, template_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    target = tmp_path / "home"
    shutil.copytree(template_home, target)
    monkeypatch.setenv("EVIDENCE_HOME", str(target))
    monkeypatch.delenv("EVIDENCE_STORE_URL", raising=False)
    monkeypatch.setenv("EVIDENCE_ACTOR", "tester")
    if not ON_POSTGRES:
        monkeypatch.delenv("EVIDENCE_DATABASE_URL", raising=False)
        yield target
        return
    database = f"evidence_test_{uuid.uuid4().hex}"  # unique without a counter shared between tests
    _postgres_admin(f"CREATE DATABASE {database} TEMPLATE {TEMPLATE_DATABASE}")
    monkeypatch.setenv("EVIDENCE_DATABASE_URL", _postgres_url(database))
    yield target
    _postgres_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough that every table row and report line stays one line (tables wrap to $COLUMNS)."""
    monkeypatch.setenv("COLUMNS", "1000")


@pytest.fixture
def app(home: Path) -> Iterator[App]:
    app = App(resolve_settings(home, None), actor="tester")
    yield app
    app.close()


@pytest.fixture
def run() -> Callable[..., Result]:
    """Invoke the CLI; a user mistake must never end in a Python traceback."""

    def invoke(*args: str, expect: int | None = 0, input: str | None = None) -> Result:
        result = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert "Traceback" not in result.output
        if expect is not None:
            assert result.exit_code == expect, result.output
        return result

    return invoke


def dump_database(app: App) -> list[str]:
    """Every row of every table, to prove a refused command changed nothing."""
    from sqlalchemy import inspect, text

    lines: list[str] = []
    with app.engine.connect() as connection:
        for table in sorted(inspect(connection).get_table_names()):
            for row in connection.execute(text(f'SELECT * FROM "{table}" ORDER BY 1')):
                lines.append(f"{table}: {tuple(row)}")
    return lines


@pytest.fixture
def dump(app: App) -> Callable[[], list[str]]:
    return lambda: dump_database(app)
