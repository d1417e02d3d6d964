"""Every test gets its own home folder under tmp_path; nothing touches the user's store."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evidence.app import App
from evidence.cli import cli
from evidence.config import resolve_settings

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference" / "qpp-measures-data"
SAMPLE = REPO / "sample_evidence"


def reference_file(year: int) -> Path:
    path = REFERENCE / f"ia-{year}.json"
    if not path.exists():
        pytest.skip(f"{path} not present (CI has ../shared beside the repository)")
    return path


@pytest.fixture(scope="session")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated store with the shipped catalog loaded, built once and copied per test."""
    home = tmp_path_factory.mktemp("template") / "home"
    app = App(resolve_settings(home, None), actor="tester")
    app.engine  # noqa: B018 - creates schema and catalog
    app.close()
    return home


@pytest.fixture(autouse=True)
def home(tmp_path: Path, template_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "home"
    shutil.copytree(template_home, target)
    monkeypatch.setenv("EVIDENCE_HOME", str(target))
    monkeypatch.delenv("EVIDENCE_DATABASE_URL", raising=False)
    monkeypatch.setenv("EVIDENCE_ACTOR", "tester")
    return target


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
