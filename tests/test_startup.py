"""Start-up: a current store opens with one query; an older schema or a changed catalog still takes the full path."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select, text, update

from evidence.app import App
from evidence.catalog.store import shipped_fingerprint
from evidence.config import resolve_settings
from evidence.db import migrate
from evidence.db.engine import make_engine
from evidence.db.models import SHIPPED_CATALOG_SETTING, Activity, Event, Practice, Setting
from tests import factories
from tests.conftest import REPO, sqlite_only

ACTIVITY, YEAR = "IA_PM_7", 2020


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs while the test does (PRAGMAs on connect are the driver's own)."""
    seen: list[str] = []

    def listen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    yield seen
    event.remove(Engine, "before_cursor_execute", listen)


def _open(home: Path) -> App:
    app = App(resolve_settings(home, None), actor="tester")
    app.engine  # noqa: B018 - the start-up under test
    return app


def _sync_events(app: App) -> int:
    with app.read() as session:
        return len(session.scalars(select(Event.seq).where(Event.action == "catalog.sync")).all())


def _title(app: App) -> str:
    with app.read() as session:
        title = session.scalar(
            select(Activity.title).where(Activity.activity_id == ACTIVITY, Activity.performance_year == YEAR)
        )
    assert title is not None
    return title


def _stale_title(app: App) -> None:
    with app.write() as session:
        session.execute(
            update(Activity)
            .where(Activity.activity_id == ACTIVITY, Activity.performance_year == YEAR)
            .values(title="stale title")
        )


def test_a_current_store_opens_with_the_one_stamp_query(home: Path, statements: list[str]) -> None:
    app = _open(home)
    try:
        queries = [s for s in statements if s != "BEGIN"]  # SQLite's BEGIN is issued by our begin hook
        assert len(queries) == 1 and "alembic_version" in queries[0] and "settings" in queries[0], queries
    finally:
        app.close()


def test_a_current_store_loads_neither_alembic_nor_the_catalog_module(home: Path) -> None:
    probe = (
        "import sys; from evidence.app import App; from evidence.config import resolve_settings; "
        f"app = App(resolve_settings({str(home)!r}, None)); app.engine; "
        "print(sorted(m for m in ('alembic', 'evidence.catalog.store', 'jsonschema') if m in sys.modules))"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=environment, check=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_a_store_at_an_older_revision_still_migrates_keeping_its_facts(app: App, home: Path) -> None:
    with app.write() as session:
        factories.practice(session)
    app.close()
    engine = make_engine(app.settings.database_url)
    migrate.downgrade(engine, "0004")
    assert migrate.current_revision(engine) == "0004"
    engine.dispose()

    reopened = _open(home)
    try:
        assert migrate.current_revision(reopened.engine) == migrate.HEAD_REVISION
        with reopened.read() as session:
            assert session.scalar(select(Practice.tin)) == factories.TIN
    finally:
        reopened.close()


def test_a_changed_catalog_fingerprint_still_syncs(app: App, home: Path) -> None:
    shipped = _title(app)
    _stale_title(app)
    with app.write() as session:
        session.execute(
            update(Setting).where(Setting.key == SHIPPED_CATALOG_SETTING).values(value="0" * 64)
        )  # what a new release's catalog looks like to a store synced with the old one
    events = _sync_events(app)
    app.close()

    reopened = _open(home)
    try:
        assert _title(reopened) == shipped  # synced again from the shipped YAML
        assert _sync_events(reopened) == events + 1
        with reopened.read() as session:
            assert session.get(Setting, SHIPPED_CATALOG_SETTING).value == shipped_fingerprint()  # type: ignore[union-attr]
    finally:
        reopened.close()


def test_an_unchanged_catalog_is_not_synced_again(app: App, home: Path) -> None:
    """The other side of the stamp: with the fingerprint current, start-up reads nothing more and writes nothing."""
    _stale_title(app)
    events = _sync_events(app)
    app.close()

    reopened = _open(home)
    try:
        assert _title(reopened) == "stale title"
        assert _sync_events(reopened) == events
    finally:
        reopened.close()


@sqlite_only  # on PostgreSQL the fresh home would share the test's database, already at head
def test_a_store_whose_stamp_query_fails_takes_the_full_path(home: Path, tmp_path: Path) -> None:
    """A brand-new database has neither table: the stamp is no match, and the full path creates the schema."""
    fresh = _open(tmp_path / "fresh-home")
    try:
        assert migrate.current_revision(fresh.engine) == migrate.HEAD_REVISION
        with fresh.engine.connect() as connection:
            stored = connection.execute(
                text("SELECT value FROM settings WHERE key = :k"), {"k": SHIPPED_CATALOG_SETTING}
            ).scalar()
        assert stored == shipped_fingerprint()
    finally:
        fresh.close()


HEAVY = ("sqlalchemy", "weasyprint", "alembic", "jsonschema", "boto3", "yaml", "cryptography", "evidence.rules.cms")


@pytest.mark.postgresql  # the probe inherits the test's environment, its database URL too
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["packet", "--help"]])
def test_help_and_version_load_no_heavy_module(args: list[str]) -> None:
    """Lazy imports: the root help and version load none of these; a command's help loads only its own module's needs."""
    probe = (
        "import sys; from evidence.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, env=environment, check=True
    )
    loaded = result.stdout.strip().splitlines()[-1]
    if args[0] == "packet":  # the command module needs the App (SQLAlchemy), never WeasyPrint before it renders
        assert "weasyprint" not in loaded and "alembic" not in loaded, loaded
    else:
        assert loaded == "[]", loaded
