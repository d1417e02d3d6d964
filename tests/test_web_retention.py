"""Retention, legal holds, purge, the audit log and deadlines in the browser (issue #15): every role,
CSRF, the library's refusals in one line with nothing written, and the CLI's own bytes for the ICS."""

from __future__ import annotations

import dataclasses
import html as markup
import json
import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from evidence.app import App
from evidence.db.models import Event, Evidence, Tombstone
from tests.access_helpers import cheap_argon2  # noqa: F401 - fixture
from tests.conftest import ON_POSTGRES, SAMPLE
from tests.web_helpers import HOSTILE, OTHER, TIN, Web, csrf_of, open_web, sign_in

# backend_neutral: the PostgreSQL pass runs only the tests marked postgresql here, each a flow through the
# library; the refusals stay in the SQLite pass (the rule: tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("cheap_argon2"), pytest.mark.backend_neutral]

TODAY = date(2026, 6, 1)  # PY2019 ended its window on 2025-12-31; PY2020 is kept through 2026-12-31
FAR = "2099-01-01"  # a review date that stays in the future (the library checks it against the real day)


@pytest.fixture
def web(run, app: App) -> Iterator[Web]:
    for opened in open_web(run, app):
        state = opened.client.app.state
        state.web_settings = dataclasses.replace(state.web_settings, today=lambda: TODAY)
        yield opened


def _signed_in(web: Web, name: str) -> TestClient:
    client = web.fresh_client()
    assert sign_in(client, name).status_code == 303
    return client


def _post(client: TestClient, path: str, data: dict[str, str], *, csrf: bool = True) -> object:
    token = csrf_of(client.get("/retention").text) if csrf else None
    return client.post(path, data={**data, **({"csrf_token": token} if token else {})})


def _holds(run) -> list[dict[str, object]]:
    return json.loads(run("hold", "list", "--format", "json").output)


def _problem(html: str) -> str:
    match = re.search(r'<p class="problem"[^>]*>([^<]*)</p>', html)
    assert match, "no one-line problem on the page"
    return markup.unescape(match[1])


# --- The retention page ------------------------------------------------------------------------


@pytest.mark.postgresql
def test_retention_page_shows_each_practice_year_and_what_is_purgeable(web: Web) -> None:
    html = _signed_in(web, "vic").get("/retention").text
    assert "kept 6 years after the end of each performance year" in html
    assert re.search(r"PY2019</td><td>2025-12-31</td>\s*<td><strong>purgeable</strong> since 2026-01-01", html)
    assert re.search(
        r"PY2020</td><td>2026-12-31</td>\s*<td>kept: within its window \(purgeable from 2027-01-01\)", html
    )


def test_a_hold_shows_what_keeps_an_expired_year(web: Web, run) -> None:
    run("hold", "add", "--tin", TIN, "--year", "2019", "--reason", HOSTILE)
    html = _signed_in(web, "vic").get("/retention").text
    assert "PY2019</td><td>2025-12-31</td>\n      <td>past its window but kept: legal hold #1" in html
    assert "<script>" not in html and "&lt;script&gt;alert" in html and "[U+202E]" in html


def test_retention_page_of_another_practice_user_lists_none_of_the_sample(web: Web, run) -> None:
    run("hold", "add", "--tin", TIN, "--reason", "kept for litigation")
    html = _signed_in(web, "nog").get("/retention").text
    assert TIN not in html and "kept for litigation" not in html
    assert "No legal hold has been placed." in html


def test_anonymous_pages_go_to_sign_in(web: Web) -> None:
    for path in ("/retention", "/retention/purge", "/log", "/deadlines", "/deadlines.ics"):
        response = web.client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/sign-in?next=/")


# --- Holds ---------------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_admin_places_reviews_and_releases_a_hold(web: Web, run) -> None:
    client = _signed_in(web, "ada")
    placed = _post(
        client, "/retention/holds", {"tin": TIN, "year": "2019", "reason": "CMS audit letter", "review_by": ""}
    )
    assert placed.status_code == 303 and placed.headers["location"] == "/retention#hold-1"
    [hold] = _holds(run)
    assert (hold["tin"], hold["year"], hold["status"], hold["placed_by"]) == (TIN, 2019, "active", "ada")
    reviewed = _post(client, "/retention/holds/1/review", {"review_on": FAR, "reason": "after the hearing"})
    assert reviewed.status_code == 303
    assert _holds(run)[0]["review_on"] == FAR
    released = _post(client, "/retention/holds/1/release", {"reason": "audit closed"})
    assert released.status_code == 303
    [hold] = _holds(run)
    assert (hold["status"], hold["released_by"], hold["release_reason"]) == ("released", "ada", "audit closed")
    actions = [e["action"] for e in json.loads(run("log", "--format", "json").output)][-3:]
    assert actions == ["hold.add", "hold.review", "hold.release"]
    html = client.get("/retention").text
    assert 'id="hold-1"' in html and "released" in html and "audit closed" in html


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("/retention/holds", {"tin": TIN, "reason": "  "}, 400, "a legal hold needs a --reason"),
        ("/retention/holds", {"tin": TIN, "reason": "a\x00b"}, 400, "the reason contains a NUL character"),
        ("/retention/holds", {"tin": TIN, "year": "2016", "reason": "r"}, 400, "2016"),
        ("/retention/holds", {"tin": TIN, "year": "20x9", "reason": "r"}, 400, "year '20x9' is not a four-digit"),
        ("/retention/holds", {"tin": TIN, "reason": "r", "review_by": "2001-01-01"}, 400, "is in the past"),
        ("/retention/holds", {"tin": "12", "reason": "r"}, 400, "TIN"),
        ("/retention/holds", {"tin": "999999999", "reason": "r"}, 404, "no practice with TIN 999999999"),
        ("/retention/holds/7/release", {"reason": "r"}, 404, "no legal hold with id 7"),
        ("/retention/holds/1/release", {"reason": ""}, 400, "releasing a legal hold needs a --reason"),
        ("/retention/holds/1/review", {"review_on": "2001-01-01", "reason": "r"}, 400, "is in the past"),
        ("/retention/holds/1/review", {"review_on": "", "reason": "r"}, 400, "needs the new review date"),
        ("/retention/holds/x/review", {"review_on": FAR, "reason": "r"}, 400, "hold id 'x' is not a whole number"),
    ],
)
def test_a_refused_hold_change_is_one_line_and_writes_nothing(
    web: Web, run, dump, path: str, data: dict[str, str], status: int, message: str
) -> None:
    run("hold", "add", "--tin", TIN, "--reason", "existing hold")
    client = _signed_in(web, "ada")
    before = dump()
    response = _post(client, path, data)
    assert response.status_code == status
    assert message in _problem(response.text)
    assert dump() == before


def test_releasing_a_released_hold_is_a_conflict(web: Web, run) -> None:
    run("hold", "add", "--tin", TIN, "--reason", "r")
    run("hold", "release", "1", "--reason", "done")
    response = _post(_signed_in(web, "ada"), "/retention/holds/1/release", {"reason": "again"})
    assert response.status_code == 409 and "was already released" in _problem(response.text)


@pytest.mark.parametrize("name", ["olga", "vic", "nog"])
@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/retention/holds", {"tin": TIN, "reason": "r"}),
        ("/retention/holds", {"tin": "not a tin", "year": "x", "reason": ""}),  # the role first, then the input
        ("/retention/holds/1/release", {"reason": "r"}),
        ("/retention/holds/1/review", {"review_on": FAR, "reason": "r"}),
    ],
)
def test_only_an_admin_changes_holds(web: Web, run, dump, name: str, path: str, data: dict[str, str]) -> None:
    run("hold", "add", "--tin", TIN, "--reason", "existing hold")
    client = _signed_in(web, name)
    assert "Place a legal hold" not in client.get("/retention").text
    before = dump()
    response = _post(client, path, data)
    assert response.status_code == 403 and "may not place or release legal holds" in response.text
    assert dump() == before


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/retention/holds", {"tin": TIN, "reason": "r"}),
        ("/retention/holds/1/release", {"reason": "r"}),
        ("/retention/holds/1/review", {"review_on": FAR, "reason": "r"}),
        ("/retention/purge", {"tin": TIN, "confirm_tin": TIN, "plan": "x"}),
    ],
)
def test_a_post_without_the_csrf_token_is_refused(web: Web, run, dump, path: str, data: dict[str, str]) -> None:
    run("hold", "add", "--tin", TIN, "--reason", "existing hold")
    client = _signed_in(web, "ada")
    before = dump()
    assert _post(client, path, data, csrf=False).status_code == 403
    assert dump() == before


# --- Purge ---------------------------------------------------------------------------------------


def _preview(client: TestClient) -> tuple[str, str]:
    html = client.get("/retention/purge").text
    match = re.search(r'name="plan" value="([0-9a-f]{64})"', html)
    assert match, "no confirmation form"
    return html, match[1]


def test_purge_preview_shows_what_goes_and_what_is_kept(web: Web, run) -> None:
    run("hold", "add", "--tin", OTHER, "--reason", "kept anyway")  # OTHER holds no records: nothing to plan
    client = _signed_in(web, "ada")
    assert "Preview purge" in client.get("/retention").text
    html, _ = _preview(client)
    # PY2019 of the sample: 2 attestations, 4 clinician-years, 3 links, 3 evidence records, 3 files
    assert re.search(
        r"<td>PY2019</td><td>2025-12-31</td><td>2</td><td>0</td>\s*<td>4</td><td>3</td><td>3</td><td>3</td>", html
    )
    assert "PY2020" not in html
    assert html.count('class="purge-confirm"') == 1 and 'value="000123456"' in html


def test_purge_preview_names_the_hold_that_keeps_a_year(web: Web, run) -> None:
    run("hold", "add", "--tin", TIN, "--year", "2019", "--reason", "audit")
    html = _signed_in(web, "ada").get("/retention/purge").text
    assert "<td>PY2019</td><td>2025-12-31</td>\n        <td>legal hold #1</td>" in html
    assert 'class="purge-confirm"' not in html and "Nothing can be purged now." in html


@pytest.mark.parametrize("typed", ["", "000123457", OTHER, "   ", "<b>000123456</b>"])
def test_purge_with_a_wrong_or_missing_tin_deletes_nothing(web: Web, dump, home, typed: str) -> None:
    client = _signed_in(web, "ada")
    _, plan = _preview(client)
    before, files = dump(), sorted(p.name for p in home.rglob("*") if p.is_file())
    response = _post(client, "/retention/purge", {"tin": TIN, "confirm_tin": typed, "plan": plan})
    assert response.status_code == 400
    assert "nothing was deleted" in _problem(response.text)
    assert "<b>" not in response.text
    assert dump() == before and sorted(p.name for p in home.rglob("*") if p.is_file()) == files


@pytest.mark.postgresql
def test_purge_refuses_a_plan_that_changed_since_the_preview(web: Web, run, dump) -> None:
    client = _signed_in(web, "ada")
    _, plan = _preview(client)
    run("hold", "add", "--tin", TIN, "--year", "2019", "--reason", "a letter arrived meanwhile")
    before = dump()
    response = _post(client, "/retention/purge", {"tin": TIN, "confirm_tin": TIN, "plan": plan})
    assert response.status_code == 400
    assert "nothing of 000123456 has passed its retention window" in _problem(response.text)
    assert dump() == before
    run("hold", "release", "1", "--reason", "no")
    response = _post(client, "/retention/purge", {"tin": TIN, "confirm_tin": TIN, "plan": "0" * 64})
    assert response.status_code == 400 and "has changed since the preview" in _problem(response.text)
    assert len(dump()) > len(before)  # the release's rows, and nothing purged


@pytest.mark.postgresql
def test_purge_with_the_right_tin_deletes_records_and_files_with_tombstones(web: Web, run, app: App) -> None:
    listed = json.loads(run("list", "--year", "2019", "--format", "json").output)
    digests = {e["sha256"] for e in listed}
    assert len(digests) == 3 and all(app.blob_store.exists(d) for d in digests)
    client = _signed_in(web, "ada")
    _, plan = _preview(client)
    response = _post(client, "/retention/purge", {"tin": TIN, "confirm_tin": f" {TIN} ", "plan": plan})
    assert response.status_code == 303 and response.headers["location"] == "/retention/purged"
    done = client.get("/retention/purged").text
    assert "<strong>12</strong> records" in done and "<strong>3</strong> files" in done and "PY2019" in done
    assert "No purge result to show" in client.get("/retention/purged").text  # shown once
    assert not any(app.blob_store.exists(d) for d in digests)
    assert json.loads(run("list", "--year", "2019", "--format", "json").output) == []
    with app.read() as db:
        stones = dict(db.execute(select(Tombstone.kind, func.count()).group_by(Tombstone.kind)).all())
        by = set(db.scalars(select(Tombstone.purged_by)))
        event = db.scalars(select(Event).order_by(Event.seq.desc())).first()
        left = db.scalar(select(func.count()).select_from(Evidence))
    assert stones == {"attestation": 2, "membership": 4, "evidence_link": 3, "evidence": 3, "file": 3}
    assert by == {"ada"} and event is not None and (event.action, event.actor, event.tin) == ("purge", "ada", TIN)
    assert left and left > 0  # PY2020's and PY2024's evidence stays
    run("log", "verify")
    run("verify")


@pytest.mark.parametrize("name", ["olga", "vic", "nog", "ogre"])
def test_no_purge_button_and_403_for_anyone_but_an_admin(web: Web, dump, name: str) -> None:
    admin = _signed_in(web, "ada")
    _, plan = _preview(admin)
    client = _signed_in(web, name)
    html = client.get("/retention").text
    assert "Preview purge" not in html and "purge-confirm" not in html and "/retention/purge" not in html
    assert client.get("/retention/purge").status_code == 403
    before = dump()
    response = _post(client, "/retention/purge", {"tin": TIN, "confirm_tin": TIN, "plan": plan})
    assert response.status_code == 403 and "may not purge records" in response.text
    assert dump() == before


# --- The audit log -------------------------------------------------------------------------------


def _seqs(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"<tr>\s*<td>#(\d+)</td>", html)]


def test_log_pages_newest_first_fifty_at_a_time(web: Web, run, app: App) -> None:
    for n in range(60):
        run("hold", "add", "--tin", TIN, "--reason", f"hold {n}")
    with app.read() as db:
        last = db.scalar(select(func.max(Event.seq)))
    client = _signed_in(web, "ada")
    first = client.get("/log").text
    assert _seqs(first) == list(range(last, last - 50, -1))
    older = re.search(r'href="/log\?before=(\d+)"', first)
    assert older and int(older[1]) == last - 49
    second = client.get(f"/log?before={older[1]}").text
    assert _seqs(second) == list(range(last - 50, 0, -1))[:50]
    assert "Intact:" in first and f"all {last} events" in first


@pytest.mark.postgresql
def test_log_filters_by_action_actor_tin_and_dates(web: Web, run) -> None:
    run("--actor", "mallory", "hold", "add", "--tin", TIN, "--reason", HOSTILE)
    client = _signed_in(web, "ada")
    html = client.get("/log?action=hold.add&actor=&tin=&since=&until=").text
    assert len(_seqs(html)) == 1 and "mallory" in html
    assert "&lt;script&gt;alert" in html and "<script>" not in html and "[U+202E]" in html
    assert _seqs(client.get("/log?actor=mallory").text) == _seqs(html)
    assert _seqs(client.get("/log?actor=nobody").text) == []
    assert len(_seqs(client.get(f"/log?tin={OTHER}").text)) >= 1  # its practice.add and user grants
    today = date.today().isoformat()
    assert _seqs(client.get(f"/log?action=hold.add&since={today}&until={today}").text) == _seqs(html)
    assert _seqs(client.get("/log?action=hold.add&until=2000-01-01").text) == []
    assert client.get("/log?actor=%00").status_code == 400
    assert client.get("/log?before=0").status_code == 400
    bad = client.get("/log?since=yesterday")
    assert bad.status_code == 400 and "since 'yesterday' is not an ISO date" in markup.unescape(bad.text)


@pytest.mark.postgresql
def test_log_shows_each_user_only_their_practices_events(web: Web, run) -> None:
    run("hold", "add", "--tin", TIN, "--reason", "sample hold")
    nog = _signed_in(web, "nog")
    html = nog.get("/log").text
    assert TIN not in html and "sample hold" not in html and "user.add" not in html
    assert all(f'<span class="tin">{OTHER}</span>' in row for row in re.findall(r"<tr>\s*<td>#.*?</tr>", html, re.S))
    assert nog.get(f"/log?tin={TIN}").status_code == 404
    vic = _signed_in(web, "vic").get("/log").text
    assert "sample hold" in vic and OTHER not in vic and "user.add" not in vic
    assert "user.add" in _signed_in(web, "ada").get("/log").text  # events naming no practice: admins only


def test_log_shows_the_chain_broken_after_an_event_is_edited(web: Web, app: App) -> None:
    client = _signed_in(web, "vic")
    assert "Intact:" in client.get("/log").text
    with app.engine.begin() as connection:
        connection.execute(text("UPDATE events SET summary = 'nothing happened' WHERE seq = 3"))
    html = client.get("/log").text
    assert "BROKEN:" in html and "event #3 was altered" in html and "Intact:" not in html


def test_the_kept_chain_check_is_made_again_when_the_head_mirror_changes(web: Web, app: App) -> None:
    client = _signed_in(web, "vic")
    assert "Intact:" in client.get("/log").text
    computed = web.client.app.state.answers.computed
    assert "Intact:" in client.get("/log").text  # nothing changed: the check is kept
    # (PostgreSQL's marker is the cluster's: other test workers' commits may drop the kept check there)
    assert web.client.app.state.answers.computed == computed or ON_POSTGRES
    mirror = app.settings.home / "audit-head"
    mirror.write_text("1 " + "0" * 64 + "\n")  # cut back to event 1, the database untouched
    html = client.get("/log").text
    assert "BROKEN:" in html and "Intact:" not in html


# --- Deadlines -----------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_deadlines_page_soonest_first_with_overdue_in_words(web: Web, run) -> None:
    run("audit", "open", "--tin", TIN, "--year", "2020", "--received", "2026-04-01", "--due", "2026-05-01",
        "--activity", "IA_PM_7", "--reference", HOSTILE)  # fmt: skip
    html = _signed_in(web, "olga").get(f"/deadlines?tin={TIN}").text
    dates = re.findall(r"<tr[^>]*>\s*<td>(\d{4}-\d\d-\d\d)</td>", html)
    assert dates and dates == sorted(dates) and dates[0] == "2026-05-01"
    assert '<tr class="overdue">' in html and "<strong>OVERDUE</strong> by 31 days" in html
    assert "&lt;script&gt;alert" in html and "<script>" not in html


def test_deadlines_of_a_practice_not_granted_are_404(web: Web) -> None:
    assert _signed_in(web, "nog").get(f"/deadlines?tin={TIN}").status_code == 404
    assert _signed_in(web, "nog").get(f"/deadlines.ics?tin={TIN}").status_code == 404


@pytest.mark.parametrize(("name", "tin"), [("ada", None), ("olga", TIN), ("vic", None)])
def test_the_ics_download_is_the_clis_file(web: Web, run, name: str, tin: str | None) -> None:
    run("hold", "add", "--tin", TIN, "--reason", "audit", "--review-by", FAR)
    query = f"?tin={tin}" if tin else ""
    response = _signed_in(web, name).get(f"/deadlines.ics{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="deadlines-{TODAY}.ics"'
    cli_tin = ["--tin", TIN] if tin or name == "vic" else []  # vic is granted the sample practice only
    cli = run("deadlines", *cli_tin, "--as-of", TODAY.isoformat(), "--ics", "-").stdout_bytes
    assert response.content == cli and b"BEGIN:VEVENT" in cli


@pytest.mark.postgresql
def test_purging_one_practice_keeps_a_file_another_practice_still_holds(web: Web, run, app: App) -> None:
    shared = "leadership-role-descriptions.pdf"
    run(
        "attest",
        "--tin",
        OTHER,
        "--activity",
        "IA_PM_7",
        "--year",
        "2019",
        "--start",
        "2019-01-01",
        "--end",
        "2019-12-31",
    )
    path = next(p for p in (SAMPLE / "files/2019").iterdir() if p.name == shared)
    run("register", path, "--tin", OTHER, "--year", "2019", "--activity", "IA_PM_7", "--effective-date", "2019-03-04")
    digest = next(e["sha256"] for e in json.loads(run("list", "--format", "json").output) if e["name"] == shared)
    client = _signed_in(web, "ada")
    html = client.get("/retention/purge").text
    plans = dict(
        re.findall(r'name="tin" value="(\d{9})">\s*<input type="hidden" name="plan" value="([0-9a-f]{64})"', html)
    )
    assert set(plans) == {TIN, OTHER}
    done = _post(client, "/retention/purge", {"tin": TIN, "confirm_tin": TIN, "plan": plans[TIN]})
    assert done.status_code == 303
    assert "<strong>2</strong> files" in client.get("/retention/purged").text  # the third is OTHER's too
    assert app.blob_store.exists(digest)
    [kept] = [e for e in json.loads(run("list", "--format", "json").output) if e["sha256"] == digest]
    assert kept["links"] == f"{OTHER} PY2019 IA_PM_7 item 1"
    _, plan = _preview(client)
    assert _post(client, "/retention/purge", {"tin": OTHER, "confirm_tin": OTHER, "plan": plan}).status_code == 303
    assert not app.blob_store.exists(digest)
