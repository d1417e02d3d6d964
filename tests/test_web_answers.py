"""The pages' kept answers (evidence.web.answers) and the paged missing page: a page is never
older than the store, whoever wrote to it, and the pages together show the whole report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from evidence.app import App
from evidence.web.routes import pages
from tests.access_helpers import cheap_argon2  # noqa: F401 - fixture
from tests.conftest import ON_POSTGRES
from tests.web_helpers import OTHER, TIN, Web, open_web, sign_in

# backend_neutral: the PostgreSQL pass runs only the tests marked postgresql here, each a flow through the
# library; the refusals stay in the SQLite pass (the rule: tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("cheap_argon2"), pytest.mark.backend_neutral]
DASHBOARD, MISSING = f"/dashboard?tin={TIN}&year=2020", f"/missing?tin={TIN}&year=2020"


@pytest.fixture
def web(run, app: App) -> Iterator[Web]:
    yield from open_web(run, app)


def _computed(web: Web) -> int:
    computed: int = web.client.app.state.answers.computed
    return computed


def _cli_in_another_process(home: Path, *args: str) -> None:
    """The CLI as a user runs it: its own process, its own connections to the store."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "EVIDENCE_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "evidence", *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# On PostgreSQL the marker is the cluster's snapshot (evidence.db.changes), which any database's commit
# moves: there the parallel workers' own databases drop the kept answers at random (never a stale page,
# only a recomputed one), so the count below holds on the embedded default alone.
@pytest.mark.skipif(ON_POSTGRES, reason="PostgreSQL's marker is cluster-wide: other workers' commits move it")
def test_a_page_asked_again_is_the_kept_answer(web: Web) -> None:
    client = web.fresh_client()
    sign_in(client, "olga")
    first = client.get(DASHBOARD).text
    computed = _computed(web)
    assert client.get(DASHBOARD).text == first
    assert client.get(MISSING).status_code == 200
    assert client.get(MISSING).status_code == 200
    assert _computed(web) == computed + 1  # the dashboard once, the missing page once


@pytest.mark.postgresql
def test_a_cli_write_in_another_process_makes_the_next_page_fresh(web: Web, home: Path, tmp_path: Path) -> None:
    client = web.fresh_client()
    sign_in(client, "olga")
    assert "fresh-proof.pdf" not in client.get(MISSING).text
    assert "Renamed Clinic" not in client.get(DASHBOARD).text
    proof = tmp_path / "fresh-proof.pdf"
    proof.write_bytes(b"%PDF-1.4 a new QCDR feedback report\n")
    _cli_in_another_process(home, "register", str(proof), "--tin", TIN, "--year", "2020", "--activity", "IA_PM_7",
                            "--item", "1", "--effective-date", "2020-11-02")  # fmt: skip
    assert "fresh-proof.pdf" in client.get(MISSING).text
    _cli_in_another_process(home, "practice", "set", TIN, "--name", "Renamed Clinic", "--reason", "legal name")
    assert "Renamed Clinic" in client.get(DASHBOARD).text


@pytest.mark.postgresql
def test_a_write_that_records_no_event_makes_the_next_page_fresh_too(web: Web, app: App) -> None:
    """The key is the database's own change marker, not the audit trail: even a write past the
    tool (another connection, no audited event) is seen."""
    client = web.fresh_client()
    sign_in(client, "olga")
    assert "Quietly Renamed" not in client.get(DASHBOARD).text
    with app.engine.begin() as connection:  # the test's own engine: not the web app's connections
        connection.execute(text("UPDATE practices SET name = 'Quietly Renamed' WHERE tin = :tin"), {"tin": TIN})
    assert "Quietly Renamed" in client.get(DASHBOARD).text


def test_a_kept_answer_is_shown_only_to_who_may_read_it(web: Web) -> None:
    officer = web.fresh_client()
    sign_in(officer, "olga")
    assert officer.get(DASHBOARD).status_code == 200  # now kept
    stranger = web.fresh_client()
    sign_in(stranger, "nog")  # a viewer of the other practice only
    for path in (DASHBOARD, MISSING, f"/missing.csv?tin={TIN}&year=2020"):
        refused = stranger.get(path)
        assert refused.status_code == 404 and "IA_PM_7" not in refused.text
    assert stranger.get(f"/dashboard?tin={OTHER}&year=2020").status_code == 200


def _shown(html: str) -> list[str]:
    return re.findall(r'<h2 id="a\d+"><span class="id">([^<]+)</span>', html)


@pytest.mark.postgresql
def test_the_missing_page_is_paged_and_the_pages_make_the_whole_report(
    web: Web, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = [
        a["activity"] for a in json.loads(run("missing", "--tin", TIN, "--year", "2020", "--format", "json").output)
    ]
    assert len(everything) >= 3
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    client = web.fresh_client()
    sign_in(client, "vic")
    shown, number = [], 1
    while True:
        html = client.get(f"{MISSING}&page={number}").text
        shown += _shown(html)
        first = 2 * (number - 1) + 1
        assert f"Activities {first} to {min(first + 1, len(everything))} of {len(everything)}" in html
        assert ('rel="prev"' in html) is (number > 1)
        if 'rel="next"' not in html:
            break
        number += 1
        assert f'href="/missing?tin={TIN}&amp;year=2020&amp;page={number}" rel="next"' in html
    assert shown == everything and number == -(-len(everything) // 2)
    assert _shown(client.get(MISSING).text) == everything[:2]  # no ?page= is the first page
    # The download is the whole report whatever page it is linked from.
    assert f'href="/missing.csv?tin={TIN}&amp;year=2020"' in client.get(f"{MISSING}&page=2").text
    cli_csv = run("missing", "--tin", TIN, "--year", "2020", "--format", "csv").stdout_bytes
    assert client.get(f"/missing.csv?tin={TIN}&year=2020&page=2").content == cli_csv


def test_a_filtered_missing_page_keeps_its_filters_from_page_to_page(
    web: Web, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = json.loads(run("missing", "--tin", TIN, "--year", "2020", "--level", "group", "--format", "json").output)
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)
    client = web.fresh_client()
    sign_in(client, "vic")
    html = client.get(f"{MISSING}&level=group").text
    assert len(group) > 1 and _shown(html) == [group[0]["activity"]]
    assert f'href="/missing?tin={TIN}&amp;year=2020&amp;level=group&amp;page=2" rel="next"' in html
    assert _shown(client.get(f"{MISSING}&level=group&page=2").text) == [group[1]["activity"]]


@pytest.mark.parametrize(
    ("page", "message"),
    [("0", "page: Input should be greater than or equal to 1"), ("two", "page: Input should be a valid integer"),
     ("999", "page 999 is past the last page (1)"), ("-1", "greater than or equal to 1")],
)  # fmt: skip
def test_a_bad_page_number_is_one_line_and_400(web: Web, page: str, message: str) -> None:
    client = web.fresh_client()
    sign_in(client, "vic")
    response = client.get(f"{MISSING}&page={page}")
    assert response.status_code == 400
    assert message in response.text and "Traceback" not in response.text
