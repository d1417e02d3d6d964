"""Packets and CMS audit requests in the browser (issue #15 "packet", issue #16's web pages):
background jobs with their progress page and downloads (the CLI's bytes), GET /api/v1/packet,
and the audit pages (open, note, close, response), for every role that matters."""

from __future__ import annotations

import io
import json
import re
import stat
import threading
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from evidence.app import App
from evidence.web.jobs import FOLDER, JobContext, JobRunner
from tests.access_helpers import cheap_argon2  # noqa: F401 - fixture
from tests.web_helpers import HOSTILE, OTHER, TIN, Web, csrf_of, open_web, sign_in

# backend_neutral: the PostgreSQL pass runs only the tests marked postgresql here, each a flow through the
# library; the refusals stay in the SQLite pass (the rule: tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("cheap_argon2"), pytest.mark.backend_neutral]

# Later than anything the sample store records, so the CLI and the web accept it alike.
STAMP = "2030-01-02T03:04:05Z"
ESCAPED_SCRIPT = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


@pytest.fixture
def web(run, app: App) -> Iterator[Web]:
    yield from open_web(run, app)


def signed_in(web: Web, name: str) -> TestClient:
    client = web.fresh_client()
    assert sign_in(client, name).status_code == 303
    return client


def runner(web: Web) -> JobRunner:
    jobs: JobRunner = web.client.app.state.jobs
    return jobs


def job_id_of(response: Any) -> str:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/packet/jobs/([A-Za-z0-9_-]+)", response.headers["location"])
    assert match, response.headers["location"]
    return match[1]


def finished(web: Web, job_id: str, owner: str) -> None:
    assert runner(web).get(job_id, owner).wait(60), "the job did not finish"


def post_packet(client: TestClient, **fields: str) -> Any:
    form = client.get(f"/packet?tin={fields.get('tin', TIN)}&year={fields.get('year', '2020')}")
    data = {"tin": TIN, "year": "2020", "csrf_token": csrf_of(form.text), **fields}
    return client.post("/packet", data=data)


def events(run, action: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    rows: list[dict[str, Any]] = json.loads(run("log", "--format", "json").output)
    found = [row for row in rows if row["action"] == action]
    for row in found:
        row["details"] = json.loads(row["details"])
    return found


# The packet job ---------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_a_packet_job_runs_to_downloads_with_the_clis_very_bytes(web: Web, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(web, "olga")
    page = client.get(f"/packet?tin={TIN}&year=2020")
    assert page.status_code == 200
    assert 'name="generated_at"' in page.text and '<label for="generated_at">' in page.text
    job_id = job_id_of(post_packet(client, generated_at=STAMP, zip="1"))
    finished(web, job_id, "olga")
    done = client.get(f"/packet/jobs/{job_id}")
    assert done.status_code == 200
    assert 'http-equiv="refresh"' not in done.text  # finished: no more refreshing
    pdf = client.get(f"/packet/jobs/{job_id}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="packet-{TIN}-PY2020.pdf"'
    run("packet", "--tin", TIN, "--year", "2020", "-o", tmp_path / "cli.pdf", "--generated-at", STAMP)
    assert pdf.content == (tmp_path / "cli.pdf").read_bytes()  # byte for byte the CLI's packet
    pages = len(PdfReader(io.BytesIO(pdf.content)).pages)
    assert pages > 3 and f"{pages} pages" in done.text
    digest = events(run, "packet.generate")[0]["details"]["pdf_sha256"]
    assert digest in done.text  # the SHA-256 shown is the one recorded
    archive = client.get(f"/packet/jobs/{job_id}/zip")
    assert archive.headers["content-type"] == "application/zip"
    assert archive.headers["content-disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert opened.read(f"packet-{TIN}-PY2020.pdf") == pdf.content
        assert "manifest.json" in opened.namelist()
    # Recorded as the CLI's packet is, with the signed-in user as actor (the CLI's own run follows).
    web_event, cli_event = events(run, "packet.generate")
    assert (web_event["actor"], cli_event["actor"]) == ("olga", "tester")
    assert web_event["details"]["pdf_sha256"] == cli_event["details"]["pdf_sha256"]
    assert [o["kind"] for o in web_event["details"]["outputs"]] == ["pdf", "zip"]
    # Owner-only, beside (never inside) the evidence store, and only complete files.
    folder = web.app.settings.home / FOLDER / job_id
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == [f"packet-{TIN}-PY2020.pdf", f"packet-{TIN}-PY2020.zip"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    # The job is its starter's: another user of the same practice, and an admin, are told there is none.
    for name in ("vic", "ada"):
        other = signed_in(web, name)
        for path in (f"/packet/jobs/{job_id}", f"/packet/jobs/{job_id}/pdf"):
            response = other.get(path)
            assert response.status_code == 404 and "no such packet job" in response.text


def _blocked_job(web: Web, owner: str) -> tuple[str, threading.Event]:
    release = threading.Event()

    def work(job: JobContext) -> None:
        job.stage("rendering section 3 of 7")
        release.wait(30)

    job = runner(web).submit(owner, "Packet of TIN 000123456, PY2020", work)
    for _ in range(200):  # until the worker has picked it up
        if job.stage != "queued":
            break
        threading.Event().wait(0.01)
    return job.id, release


def test_a_running_job_shows_its_stage_and_refreshes_itself(web: Web) -> None:
    job_id, release = _blocked_job(web, "olga")
    try:
        running = signed_in(web, "olga").get(f"/packet/jobs/{job_id}")
        assert running.status_code == 200
        assert '<meta http-equiv="refresh" content="2">' in running.text
        assert "rendering section 3 of 7" in running.text
        assert "/pdf" not in running.text  # nothing is offered before it is complete
        assert signed_in(web, "olga").get(f"/packet/jobs/{job_id}/pdf").status_code == 404
    finally:
        release.set()
    assert runner(web).get(job_id, "olga").wait(30)


def test_a_finished_job_and_its_folder_are_removed_after_the_keep_time(web: Web) -> None:
    job_id, release = _blocked_job(web, "olga")
    release.set()
    assert runner(web).get(job_id, "olga").wait(30)
    folder = web.app.settings.home / FOLDER / job_id
    assert folder.is_dir()
    web.clock.now += 3600 + 1
    assert signed_in(web, "olga").get(f"/packet/jobs/{job_id}").status_code == 404
    assert not folder.exists()


def test_a_failing_job_shows_the_librarys_message_and_offers_nothing(web: Web, run) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(web, "olga")
    job_id = job_id_of(post_packet(client, generated_at="2001-01-01T00:00:00Z"))
    finished(web, job_id, "olga")
    page = client.get(f"/packet/jobs/{job_id}")
    assert page.status_code == 200
    assert "--generated-at 2001-01-01 00:00:00 UTC is before" in page.text
    assert "Failed" in page.text and "/pdf" not in page.text
    assert client.get(f"/packet/jobs/{job_id}/pdf").status_code == 404
    assert events(run, "packet.generate") == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"year": "20x0"}, "year"),
        ({"npi": "123"}, "NPI"),
        ({"generated_at": "yesterday"}, "generated_at &#39;yesterday&#39; is not an ISO 8601 timestamp"),
    ],
)
def test_bad_packet_input_reshows_the_form_with_one_line_and_starts_nothing(
    web: Web, fields: dict[str, str], message: str
) -> None:
    client = signed_in(web, "olga")
    form = client.get(f"/packet?tin={TIN}&year=2020")
    response = client.post("/packet", data={"tin": TIN, "year": "2020", "csrf_token": csrf_of(form.text), **fields})
    assert response.status_code == 400
    assert 'class="problem"' in response.text and message in response.text
    assert not any((web.app.settings.home / FOLDER).iterdir())


def test_the_packet_page_refuses_a_bad_year_in_one_line(web: Web) -> None:
    response = signed_in(web, "olga").get(f"/packet?tin={TIN}&year=<b>1</b>")
    assert response.status_code == 400 and "&lt;b&gt;1&lt;/b&gt;" in response.text and "<b>1</b>" not in response.text


def test_who_may_see_and_make_packets(web: Web) -> None:
    assert web.client.get(f"/packet?tin={TIN}&year=2020").headers["location"].startswith("/sign-in?next=/packet")
    viewer = signed_in(web, "vic")
    page = viewer.get(f"/packet?tin={TIN}&year=2020")
    assert page.status_code == 200 and "may read this practice but not make packets" in page.text
    refused = viewer.post("/packet", data={"tin": TIN, "year": "2020", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403 and "may not make packets" in refused.text
    # Not granted the sample practice: as if it did not exist (a viewer's POST is refused for its role first).
    for name, post_status in (("nog", 403), ("ogre", 404)):
        client = signed_in(web, name)
        hidden = client.get(f"/packet?tin={TIN}&year=2020")
        assert hidden.status_code == 404 and f"no practice with TIN {TIN}" in hidden.text
        token = csrf_of(client.get("/").text)
        answer = client.post("/packet", data={"tin": TIN, "year": "2020", "csrf_token": token})
        assert answer.status_code == post_status
    officer = signed_in(web, "olga")
    assert officer.post("/packet", data={"tin": TIN, "year": "2020"}).status_code == 403  # no CSRF token
    assert not any((web.app.settings.home / FOLDER).iterdir())


# GET /api/v1/packet ---------------------------------------------------------------------------


def _bearer(web: Web, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {web.tokens[name]}"}


def test_the_api_answers_the_packet_pdf_and_refuses_in_json(web: Web, run) -> None:  # type: ignore[no-untyped-def]
    path = f"/api/v1/packet?tin={TIN}&year=2020&no_attachments=true&generated_at={STAMP}"
    response = web.client.get(path, headers=_bearer(web, "olga"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="packet-{TIN}-PY2020.pdf"'
    assert len(PdfReader(io.BytesIO(response.content)).pages) > 3
    (event,) = events(run, "packet.generate")
    assert event["actor"] == "token 2 (olga-token)" and event["details"]["generated_at"] == "2030-01-02T03:04:05+00:00"
    refusals = [
        (path, "vic", 403, "may not make packets"),
        (path, "ogre", 404, f"no practice with TIN {TIN}"),
        (f"/api/v1/packet?tin={TIN}&year=20x0", "olga", 400, "year"),
        (f"/api/v1/packet?tin={TIN}&year=2020&generated_at=soon", "olga", 400, "ISO 8601"),
        (f"/api/v1/packet?tin={TIN}", "olga", 400, "year"),
    ]
    for url, name, status, message in refusals:
        refused = web.client.get(url, headers=_bearer(web, name))
        assert (refused.status_code, refused.headers["content-type"]) == (status, "application/json"), url
        assert message in refused.json()["error"]
    assert web.client.get(path).status_code == 401
    assert len(events(run, "packet.generate")) == 1  # nothing refused was recorded
    operation = web.client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/packet"]["get"]
    assert "application/pdf" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"tin", "year", "npi", "generated_at"}


# CMS audit requests -----------------------------------------------------------------------------


def _open_audit(client: TestClient, **fields: str) -> Any:
    form = client.get(f"/audits?tin={TIN}")
    received = (date.today() - timedelta(days=5)).isoformat()
    data = {"tin": TIN, "year": "2020", "received": received, "csrf_token": csrf_of(form.text), **fields}
    return client.post("/audits", data=data)


@pytest.mark.postgresql
def test_an_audit_is_opened_noted_and_closed_through_the_pages(web: Web, run) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(web, "olga")
    opened = _open_audit(client, reference=HOSTILE, contact="J. Doe", activities="IA_PM_7, IA_CC_9")
    assert (opened.status_code, opened.headers["location"]) == (303, "/audits/1")
    page = client.get("/audits/1")
    assert page.status_code == 200
    assert ESCAPED_SCRIPT in page.text and "<script>" not in page.text and "\u202e" not in page.text
    assert "[U+202E]" in page.text  # the bidi override shown, not obeyed
    assert "2 requested activities, 1 creditable" in page.text
    assert re.search(r"IA_CC_9</td><td>group</td><td></td><td>not creditable: documentation incomplete", page.text)
    token = csrf_of(page.text)
    later = (date.today() + timedelta(days=90)).isoformat()
    noted = client.post("/audits/1/note", data={"text": "Extension <b>granted</b>", "due": later, "csrf_token": token})
    assert (noted.status_code, noted.headers["location"]) == (303, "/audits/1")
    page = client.get("/audits/1")
    assert "Extension &lt;b&gt;granted&lt;/b&gt;" in page.text and f"-&gt; {later}" in page.text
    listing = client.get(f"/audits?tin={TIN}")
    assert '<a href="/audits/1">#1</a>' in listing.text and ESCAPED_SCRIPT in listing.text
    closed = client.post("/audits/1/close", data={"outcome": "passed", "note": "no findings", "csrf_token": token})
    assert closed.status_code == 303
    page = client.get("/audits/1")
    assert "by olga: passed" in page.text and 'action="/audits/1/note"' not in page.text
    again = client.post("/audits/1/close", data={"outcome": "passed", "csrf_token": token})
    assert again.status_code == 409 and "already closed" in again.text
    actors = {
        action: [e["actor"] for e in events(run, action)] for action in ("audit.open", "audit.note", "audit.close")
    }
    assert actors == {"audit.open": ["olga"], "audit.note": ["olga"], "audit.close": ["olga"]}


def test_an_overdue_audit_is_marked_in_words_and_linked_from_the_dashboard(web: Web) -> None:
    client = signed_in(web, "olga")
    assert _open_audit(client, received="2021-01-04", due="2021-02-18", reference="DVA-1").status_code == 303
    listing = client.get(f"/audits?tin={TIN}")
    assert re.search(r'<tr class="overdue">\s*<td><a href="/audits/1">#1</a>', listing.text)
    assert "<strong>overdue</strong> by" in listing.text
    board = client.get(f"/dashboard?tin={TIN}&year=2020")
    assert '<a href="/audits/1">#1</a>' in board.text and f'href="/packet?tin={TIN}&amp;year=2020"' in board.text


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"due": "2020-01-01"}, 400, "before --received"),
        ({"received": "01/05/2021"}, 400, "is not an ISO date"),
        ({"received": ""}, 400, "received is required"),
        ({"activities": "IA_NOPE_1"}, 400, "IA_NOPE_1"),
        ({"year": "2020", "reference": "x" * 300}, 400, "reference"),
    ],
)
def test_a_bad_audit_request_is_reshown_with_one_line_and_nothing_written(
    web: Web, dump, fields: dict[str, str], status: int, message: str
) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(web, "olga")
    before = dump()
    response = _open_audit(client, **fields)
    assert response.status_code == status and message in response.text
    assert 'class="problem"' in response.text and "Traceback" not in response.text
    assert dump() == before


def test_who_may_see_and_change_audit_requests(web: Web) -> None:
    assert _open_audit(signed_in(web, "olga"), reference="DVA-7").status_code == 303
    assert web.client.get("/audits/1").headers["location"] == "/sign-in?next=/audits/1"
    viewer = signed_in(web, "vic")
    page = viewer.get("/audits/1")
    assert page.status_code == 200 and 'action="/audits/1/note"' not in page.text
    token = csrf_of(page.text)
    for path, data in [
        ("/audits/1/note", {"text": "hi"}),
        ("/audits/1/close", {"outcome": "passed"}),
        ("/audits/1/response", {}),
        ("/audits", {"tin": TIN, "year": "2020", "received": "2021-02-01"}),
    ]:
        assert viewer.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    unknown = signed_in(web, "ogre").get("/audits/999")
    for name in ("nog", "ogre"):
        client = signed_in(web, name)
        hidden = client.get("/audits/1")
        assert hidden.status_code == 404
        assert re.search(r'<p class="problem">(.*)</p>', hidden.text)[1] == re.search(  # type: ignore[index]
            r'<p class="problem">(.*)</p>', unknown.text
        )[1].replace("999", "1")  # the same answer as an id that does not exist
        assert client.get(f"/audits?tin={TIN}").status_code == 404
    ogre = signed_in(web, "ogre")
    token = csrf_of(ogre.get(f"/audits?tin={OTHER}").text)
    assert ogre.post("/audits/1/note", data={"text": "x", "csrf_token": token}).status_code == 404
    assert signed_in(web, "olga").post("/audits/1/note", data={"text": "no token"}).status_code == 403


@pytest.mark.postgresql
def test_the_audit_response_job_writes_pdf_zip_and_workbook_or_says_what_is_missing(web: Web, run) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(web, "olga")
    assert _open_audit(client, reference="DVA-9").status_code == 303
    token = csrf_of(client.get("/audits/1").text)
    refused = job_id_of(client.post("/audits/1/response", data={"csrf_token": token}))
    finished(web, refused, "olga")
    page = client.get(f"/packet/jobs/{refused}")
    assert "no response was written" in page.text and "IA_CC_9" in page.text and "/pdf" not in page.text
    job_id = job_id_of(
        client.post("/audits/1/response", data={"csrf_token": token, "allow_incomplete": "1", "no_attachments": "1"})
    )
    finished(web, job_id, "olga")
    done = client.get(f"/packet/jobs/{job_id}")
    assert "INCOMPLETE response" in done.text
    pdf = client.get(f"/packet/jobs/{job_id}/pdf")
    assert pdf.headers["content-disposition"] == 'attachment; filename="audit-1-response.pdf"'
    assert "INCOMPLETE" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    xlsx = client.get(f"/packet/jobs/{job_id}/xlsx")
    assert xlsx.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert zipfile.ZipFile(io.BytesIO(xlsx.content)).testzip() is None
    assert client.get(f"/packet/jobs/{job_id}/zip").headers["content-type"] == "application/zip"
    assert client.get(f"/packet/jobs/{job_id}/exe").status_code == 404
    (event,) = events(run, "audit.packet")
    assert event["actor"] == "olga" and [o["kind"] for o in event["details"]["outputs"]] == ["pdf", "zip", "xlsx"]
    assert signed_in(web, "ada").get(f"/packet/jobs/{job_id}").status_code == 404
