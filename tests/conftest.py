"""Every test gets its own home folder under tmp_path; nothing touches the user's store.

With EVIDENCE_TEST_DATABASE_URL set to a PostgreSQL URL (as .ci/run does), the whole suite
runs a second time against PostgreSQL: each test gets its own database, cloned from a
migrated template, instead of the SQLite file in its home folder.

Some tests compare against CMS's own reference files in ../shared/reference/qpp-measures-data
(beside the clone). Where that folder is missing they skip, say so in the header and the
summary of the run, and with CI=true the run fails at once instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from evidence.app import App
from evidence.cli import cli
from evidence.config import resolve_settings

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


def pytest_report_header(config: pytest.Config) -> str:
    if REFERENCE.is_dir():
        return f"CMS reference data: {REFERENCE}"
    return f"WARNING: {MISSING_REFERENCE}"


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
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="about the embedded SQLite file itself")


def _postgres_admin(statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


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
    app = App(resolve_settings(home, database_url), actor="tester")
    app.engine  # noqa: B018 - creates schema and catalog
    app.close()
    yield home
    if ON_POSTGRES:
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
