"""The suite's built-once stores (tests/stores.py): each test's copy is a whole store of its own."""

from __future__ import annotations

import json

import pytest

from evidence.app import App
from tests import stores
from tests.access_helpers import cheap_argon2  # noqa: F401 - fixture
from tests.conftest import SAMPLE, dump_database
from tests.stores import use_sample_practice
from tests.web_helpers import OTHER, USERS, open_web

pytestmark = pytest.mark.usefixtures("cheap_argon2")  # as test_web.py: the same built web store


def _evidence(run) -> list[object]:  # type: ignore[no-untyped-def]
    return list(json.loads(run("list", "--format", "json").output))


def test_a_copy_is_a_whole_store_that_verifies_and_takes_writes(run, app: App, tmp_path) -> None:  # type: ignore[no-untyped-def]
    use_sample_practice(app)
    run("verify")  # audit chain, files, store id: the copy is the store the build made
    listed = len(_evidence(run))
    assert listed >= 12
    again = run("register", "--manifest", SAMPLE / "manifest.yaml").output
    assert "0 registered, 12 already present, 0 failed" in again
    new = tmp_path / "note.txt"
    new.write_text("a new file, in this copy only\n")
    run("register", new, "--tin", "000123456", "--year", 2020, "--activity", "IA_PM_7", "--item", 1,
        "--effective-date", "2020-03-01")  # fmt: skip
    run("verify")
    assert len(_evidence(run)) == listed + 1


def test_what_one_test_writes_reaches_neither_the_built_store_nor_the_next_copy(run, app: App) -> None:  # type: ignore[no-untyped-def]
    use_sample_practice(app)
    before = dump_database(app)
    run("practice", "add", "000999888", "--name", "Only here")
    app.close()
    fresh = App(app.settings, actor="tester")
    try:
        assert dump_database(fresh) != before
        built_home = next(home for home, _, _ in stores._BUILT.values() if (home / "store").is_dir())
        assert (built_home / "audit-head").read_bytes() != (app.settings.home / "audit-head").read_bytes()
    finally:
        fresh.close()


def test_a_store_already_written_to_gets_the_sample_built_in_place(run, app: App) -> None:  # type: ignore[no-untyped-def]
    run("practice", "add", "000999888", "--name", "Added first")
    use_sample_practice(app)
    practices = {row["tin"] for row in json.loads(run("practice", "list", "--format", "json").output)}
    assert {"000999888", "000123456"} <= practices  # nothing the test wrote was replaced


def test_open_web_gives_each_test_its_users_and_working_tokens(run, app: App) -> None:  # type: ignore[no-untyped-def]
    web = open_web(run, app)
    opened = next(web)
    try:
        assert set(opened.tokens) == set(USERS)
        for name in USERS:
            response = opened.client.get(
                "/api/v1/practices", headers={"Authorization": f"Bearer {opened.tokens[name]}"}
            )
            assert response.status_code == 200, (name, response.text)
        tins = {
            row["tin"]
            for row in opened.client.get(
                "/api/v1/practices", headers={"Authorization": f"Bearer {opened.tokens['ada']}"}
            ).json()
        }
        assert {"000123456", OTHER} <= tins
    finally:
        next(web, None)  # the rest of open_web: closes the client and the web app's engine
