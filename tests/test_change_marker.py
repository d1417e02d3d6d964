"""The store's change marker (evidence.db.changes): it differs after every commit by anyone, and
only then; the web app keeps its answers under it."""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import text

from evidence.app import App
from evidence.config import resolve_settings
from tests.conftest import ON_POSTGRES


def _another_process_of(app: App) -> App:
    return App(resolve_settings(app.settings.home, None), actor="other")


def test_the_marker_stays_while_nobody_writes_and_moves_on_every_commit(app: App) -> None:
    other = _another_process_of(app)
    try:
        # PostgreSQL's marker is the cluster's snapshot: the other test workers' commits to their own
        # databases move it at any moment (harmless: a recomputed page), so "it stays" is SQLite's alone.
        stays = not ON_POSTGRES
        before = app.change_marker()
        assert before is not None
        assert app.change_marker() == before or not stays
        with app.read() as session:  # reading changes nothing
            session.execute(text("SELECT count(*) FROM practices")).one()
        assert app.change_marker() == before or not stays
        with other.engine.connect() as connection:  # a write rolled back is no change either
            connection.execute(text("INSERT INTO settings (key, value) VALUES ('scratch', '1')"))
            connection.rollback()
        assert app.change_marker() == before or not stays  # (PostgreSQL also gave that transaction an id)
        seen = {before, app.change_marker()}
        for value in ("1", "2"):  # a write no audited event records, then another
            with other.engine.begin() as connection:
                connection.execute(text("DELETE FROM settings WHERE key = 'scratch'"))
                connection.execute(text("INSERT INTO settings (key, value) VALUES ('scratch', :v)"), {"v": value})
            marker = app.change_marker()
            assert marker not in seen
            seen.add(marker)
        with app.write() as session:  # this process's own writes count too
            session.execute(text("DELETE FROM settings WHERE key = 'scratch'"))
        assert app.change_marker() not in seen
    finally:
        other.close()


@pytest.mark.skipif(ON_POSTGRES, reason="a database file replaced by a restore is SQLite's case")
def test_a_database_file_replaced_in_place_is_a_change(app: App, tmp_path) -> None:
    path = app.settings.sqlite_path
    assert path is not None
    app.engine.dispose()
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(path, copy)  # the same content: only the file is new
    before = app.change_marker()
    os.replace(copy, path)
    after = app.change_marker()
    assert after is not None and after != before
    assert app.change_marker() == after  # and the new file is watched from then on
