"""The activity page, browser uploads (multipart, streamed, all or nothing), linking an existing
file, and POST /api/v1/evidence: every role, CSRF on multipart, the size limit, hostile text."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence.app import App
from evidence.web.app import create_app
from tests.access_helpers import cheap_argon2  # noqa: F401 - fixture
from tests.web_helpers import HOSTILE, OTHER, TIN, Web, csrf_of, open_web, sign_in

# backend_neutral: the PostgreSQL pass runs only the tests marked postgresql here, each a flow through the
# library; the refusals stay in the SQLite pass (the rule: tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("cheap_argon2"), pytest.mark.backend_neutral]

# IA_BE_6 in 2020: a group attestation (2020-07-01 to 2020-12-31) with two documentation items.
ACTIVITY = "IA_BE_6"
PAGE = f"/activity?tin={TIN}&year=2020&activity={ACTIVITY}"
UPLOAD = f"/activity/upload?tin={TIN}&year=2020&activity={ACTIVITY}"
FIELDS = {"item": ["1"], "effective_date": "2020-08-03", "description": "survey export"}


@pytest.fixture
def web(run, app: App) -> Iterator[Web]:
    yield from open_web(run, app)


def _signed_in(web: Web, name: str) -> TestClient:
    client = web.fresh_client()
    sign_in(client, name)
    return client


def _post_upload(
    client: TestClient, files: list[tuple[str, bytes]], fields: dict[str, Any] | None = None, csrf: bool = True
) -> Any:
    data: dict[str, Any] = {"csrf_token": csrf_of(client.get(PAGE).text)} if csrf else {}
    data |= FIELDS if fields is None else fields
    return client.post(UPLOAD, data=data, files=[("file", (name, body, "application/pdf")) for name, body in files])


def _listed(run) -> list[dict[str, Any]]:
    return json.loads(run("list", "--tin", TIN, "--year", "2020", "--format", "json").output)


def _names(run) -> set[str]:
    return {e["name"] for e in _listed(run)}


@pytest.mark.postgresql
def test_the_activity_page_shows_items_evidence_period_flags_and_verdicts(web: Web) -> None:
    html = _signed_in(web, "vic").get(PAGE).text
    assert "IA_BE_6" in html and "Group: 2020-07-01 to 2020-12-31" in html
    assert "patient-experience-survey-2020.csv" in html and "2020-11-30" in html
    # the plan is dated 2021-02-10, after the attested period: the report's flag, shown
    assert "patient-experience-improvement-plan.pdf" in html and "outside: after 2020-12-31" in html
    assert "not creditable" in html and "Documentation (rule" in html
    assert '<a href="/evidence/' in html


def test_the_dashboard_links_each_activity_to_its_page(web: Web) -> None:
    html = _signed_in(web, "vic").get(f"/dashboard?tin={TIN}&year=2020").text
    assert f'href="/activity?tin={TIN}&amp;year=2020&amp;activity=IA_BE_6"' in html


def test_a_viewer_sees_no_upload_or_link_form_an_officer_does(web: Web) -> None:
    viewer = _signed_in(web, "vic").get(PAGE).text
    officer = _signed_in(web, "olga").get(PAGE).text
    assert 'enctype="multipart/form-data"' not in viewer and 'action="/activity/link"' not in viewer
    assert 'enctype="multipart/form-data"' in officer and 'action="/activity/link"' in officer
    # the token is the form's first field: the CSRF check reads only that part of the body
    form = officer[officer.index('enctype="multipart/form-data"') :]
    assert form.index('name="csrf_token"') < form.index('name="file"')
    assert '<label for="file">' in form and 'type="file" id="file" name="file" multiple' in form


@pytest.mark.postgresql
def test_an_officer_uploads_two_files_seen_on_the_page_and_in_evidence_list(web: Web, run) -> None:
    client = _signed_in(web, "olga")
    response = _post_upload(client, [("survey-a.pdf", b"%PDF-1.4 one"), ("survey-b.pdf", b"%PDF-1.4 two")])
    assert response.status_code == 303 and response.headers["location"] == PAGE
    html = client.get(PAGE).text
    assert "survey-a.pdf" in html and "survey-b.pdf" in html
    listed = {e["name"]: e for e in _listed(run)}
    assert {"survey-a.pdf", "survey-b.pdf"} <= set(listed)
    assert listed["survey-a.pdf"]["sha256"] == hashlib.sha256(b"%PDF-1.4 one").hexdigest()
    assert listed["survey-a.pdf"]["effective_date"] == "2020-08-03"


@pytest.mark.postgresql
def test_an_upload_with_a_range_and_an_npi_records_them(web: Web, run) -> None:
    client = _signed_in(web, "olga")
    fields = {"item": ["1", "2"], "effective_from": "2020-07-01", "effective_until": "2020-12-31"}
    response = _post_upload(client, [("policy.pdf", b"%PDF-1.4 policy")], fields)
    assert response.status_code == 303
    (entry,) = [e for e in _listed(run) if e["name"] == "policy.pdf"]
    assert (entry["effective_date"], entry["effective_until"]) == ("2020-07-01", "2020-12-31")
    assert len(entry["links"].split("; ")) == 2


@pytest.mark.postgresql
def test_one_bad_file_refuses_the_whole_upload_nothing_is_registered(web: Web, run, dump) -> None:
    client = _signed_in(web, "olga")
    before = dump()
    response = _post_upload(client, [("good.pdf", b"%PDF-1.4 good"), ("empty.pdf", b"")])
    assert response.status_code == 400
    assert "empty.pdf: empty file" in response.text and "nothing was registered" in response.text
    assert "good.pdf" not in _names(run)
    assert dump() == before


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"effective_date": "2020-08-03"}, "choose at least one documentation item"),
        ({"item": ["1"]}, "give the effective date, or the start and end"),
        ({"item": ["1"], "effective_date": "2020-08-03", "effective_from": "2020-07-01"}, "not both"),
        ({"item": ["1"], "effective_from": "2020-07-01"}, "needs both its start and its end"),
        ({"item": ["9"], "effective_date": "2020-08-03"}, "has no documentation item 9"),
        ({"item": ["1"], "effective_date": "2020-13-45"}, "effective_date"),
        ({"item": ["1"], "effective_date": "2020-08-03", "npi": "123"}, "npi"),
    ],
)
def test_a_bad_form_is_shown_again_with_one_line_and_nothing_registered(
    web: Web, run, dump, fields: dict[str, Any], problem: str
) -> None:
    client = _signed_in(web, "olga")
    before = dump()
    response = _post_upload(client, [("x.pdf", b"%PDF-1.4 x")], fields)
    assert response.status_code == 400
    assert problem in response.text and 'class="problem" role="alert"' in response.text
    assert dump() == before


def test_no_file_chosen_is_refused(web: Web, dump) -> None:
    client = _signed_in(web, "olga")
    before = dump()
    response = _post_upload(client, [("", b"")])  # what a browser sends for an empty file input
    assert response.status_code == 400 and "choose at least one file" in response.text
    assert dump() == before


def test_a_multipart_post_without_the_csrf_token_is_403(web: Web, dump) -> None:
    client = _signed_in(web, "olga")
    before = dump()
    response = _post_upload(client, [("a.pdf", b"%PDF-1.4 a")], csrf=False)
    assert response.status_code == 403 and "CSRF" in response.text
    assert dump() == before


def test_a_multipart_post_whose_first_part_is_not_the_csrf_token_is_403(web: Web, dump) -> None:
    client = _signed_in(web, "olga")
    token = csrf_of(client.get(PAGE).text)
    before = dump()
    data = {**FIELDS, "csrf_token": token}  # the right token, but after the other fields
    response = client.post(UPLOAD, data=data, files=[("file", ("a.pdf", b"%PDF-1.4 a", "application/pdf"))])
    assert response.status_code == 403
    wrong = {"csrf_token": "x" * 43, **FIELDS}
    response = client.post(UPLOAD, data=wrong, files=[("file", ("a.pdf", b"%PDF-1.4 a", "application/pdf"))])
    assert response.status_code == 403
    assert dump() == before


def test_a_first_part_longer_than_a_few_kb_is_403(web: Web) -> None:
    client = _signed_in(web, "olga")
    token = csrf_of(client.get(PAGE).text)
    response = client.post(UPLOAD, data={"csrf_token": token + "A" * 10_000, **FIELDS})
    assert response.status_code == 403


def test_a_viewer_posting_anyway_is_403_and_another_practice_404(web: Web, dump) -> None:
    before = dump()
    assert _post_upload(_signed_in(web, "vic"), [("a.pdf", b"%PDF-1.4 a")]).status_code == 403
    stranger = _signed_in(web, "ogre")  # an officer of OTHER only
    assert stranger.get(PAGE).status_code == 404
    token = csrf_of(stranger.get("/").text)
    files = [("file", ("a.pdf", b"%PDF-1.4 a", "application/pdf"))]
    response = stranger.post(UPLOAD, data={"csrf_token": token, **FIELDS}, files=files)
    assert response.status_code == 404 and f"no practice with TIN {TIN}" in response.text
    assert dump() == before


def test_anonymous_page_and_upload_are_sent_to_sign_in(web: Web) -> None:
    client = web.fresh_client()
    response = client.get(PAGE)
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in?next=/activity")


def test_an_unattested_activity_is_404(web: Web) -> None:
    response = _signed_in(web, "olga").get(f"/activity?tin={TIN}&year=2020&activity=IA_AHE_1")
    assert response.status_code == 404 and "no attestation of IA_AHE_1" in response.text


def _limited(web: Web, spool: Path, limit: int) -> TestClient:
    settings = replace(web.client.app.state.web_settings, max_upload_bytes=limit, upload_dir=spool)
    client = TestClient(create_app(settings), base_url="http://testserver", follow_redirects=False)
    sign_in(client, "olga")
    return client


def test_over_the_size_limit_is_413_nothing_stored_no_temporary_left(web: Web, run, dump, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    client = _limited(web, spool, 50_000)
    try:
        before, blobs = dump(), set(web.app.blob_store.digests())
        token = csrf_of(client.get(PAGE).text)
        files = [("file", ("big.pdf", b"%PDF-1.4 " + b"x" * 60_000, "application/pdf"))]
        declared = client.post(UPLOAD, data={"csrf_token": token, **FIELDS}, files=files)  # Content-Length
        assert declared.status_code == 413 and "limit of" in declared.text

        boundary = "Mixed-Case-B0undary"  # case-sensitive (RFC 2046)
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="item"\r\n\r\n1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="effective_date"\r\n\r\n2020-08-03\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n\r\n'
        ).encode()

        def body() -> Iterator[bytes]:  # no Content-Length: the streamed count decides
            yield head
            for _ in range(20):
                yield b"y" * 8192
            yield f"\r\n--{boundary}--\r\n".encode()

        streamed = client.post(
            UPLOAD, content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert streamed.status_code == 413 and "limit of" in streamed.text
        assert list(spool.iterdir()) == []  # the request's private spool folder is gone
        assert dump() == before and set(web.app.blob_store.digests()) == blobs
        assert "big.pdf" not in _names(run)
    finally:
        client.close()
        client.app.state.evidence.close()


def test_under_the_limit_the_spool_is_owner_only_and_removed(web: Web, run, tmp_path: Path, monkeypatch) -> None:
    from evidence.access import guarded_upload

    spool = tmp_path / "spool"
    spool.mkdir()
    client = _limited(web, spool, 10**6)
    seen: list[tuple[int, int]] = []
    upload = guarded_upload.upload

    def spying(session, store, principal, fields, files):
        seen.extend((f.path.parent.stat().st_mode & 0o777, f.path.stat().st_mode & 0o777) for f in files)
        return upload(session, store, principal, fields, files)

    monkeypatch.setattr(guarded_upload, "upload", spying)
    try:
        assert _post_upload(client, [("ok.pdf", b"%PDF-1.4 ok")]).status_code == 303
        assert seen == [(0o700, 0o600)]
        assert list(spool.iterdir()) == []
        assert "ok.pdf" in _names(run)
    finally:
        client.close()
        client.app.state.evidence.close()


def test_hostile_file_names_and_descriptions_are_escaped(web: Web, run) -> None:
    client = _signed_in(web, "olga")
    name = '<img src=x onerror="alert(1)"> & \u202egpj.exe.pdf'  # no "/": a file name cannot hold one
    fields = {**FIELDS, "description": HOSTILE}
    assert _post_upload(client, [(name, b"%PDF-1.4 hostile")], fields).status_code == 303
    html = client.get(PAGE).text
    assert "<img" not in html and "\u202e" not in html
    # a browser (and httpx) sends a quote in a file name as %22 (WHATWG): the name is kept as sent
    assert "&lt;img src=x onerror=%22alert(1)%22&gt; &amp; [U+202E]gpj.exe.pdf" in html
    (entry,) = [e for e in _listed(run) if e["name"].startswith("<img")]
    assert entry["name"] == name.replace('"', "%22") and entry["description"] == HOSTILE
    assert entry["registered_by"] == "olga"


def test_the_audit_trail_names_the_signed_in_user(web: Web, run) -> None:
    client = _signed_in(web, "olga")
    assert _post_upload(client, [("who.pdf", b"%PDF-1.4 who")]).status_code == 303
    events = json.loads(run("log", "--format", "json").output)
    registered = [e for e in events if e["action"] == "register"]
    assert registered[-1]["actor"] == "olga"
    run("log", "verify")


@pytest.mark.postgresql
def test_linking_an_existing_file_to_another_item(web: Web, run) -> None:
    client = _signed_in(web, "olga")
    (survey,) = [e for e in _listed(run) if e["name"] == "patient-experience-survey-2020.csv"]
    token = csrf_of(client.get(PAGE).text)
    form = {"csrf_token": token, "tin": TIN, "year": "2020", "activity": ACTIVITY, "evidence": str(survey["id"])}
    assert client.post("/activity/link", data={**form, "item": "2"}).status_code == 400  # no reason
    response = client.post("/activity/link", data={**form, "item": "2", "reason": "also the plan's baseline"})
    assert response.status_code == 303 and response.headers["location"] == PAGE
    (survey,) = [e for e in _listed(run) if e["id"] == survey["id"]]
    assert len(survey["links"].split("; ")) == 2
    events = json.loads(run("log", "--format", "json").output)
    assert events[-1]["action"] == "link" and events[-1]["actor"] == "olga"
    again = client.post("/activity/link", data={**form, "item": "2", "reason": "again"})
    assert again.status_code == 400 and "already linked" in again.text


def test_linking_refuses_viewer_other_practice_files_and_missing_csrf(web: Web, run, dump) -> None:
    (survey,) = [e for e in _listed(run) if e["name"] == "patient-experience-survey-2020.csv"]
    form = {"tin": TIN, "year": "2020", "activity": ACTIVITY, "evidence": str(survey["id"]), "item": "2", "reason": "r"}
    before = dump()
    viewer = _signed_in(web, "vic")
    assert viewer.post("/activity/link", data={"csrf_token": csrf_of(viewer.get(PAGE).text), **form}).status_code == 403
    officer = _signed_in(web, "olga")
    assert officer.post("/activity/link", data=form).status_code == 403  # no CSRF token
    token = csrf_of(officer.get(PAGE).text)
    (other_year,) = [
        e
        for e in json.loads(run("list", "--tin", TIN, "--year", "2019", "--format", "json").output)
        if e["name"] == "qcdr-feedback-report-2019-q2.pdf"
    ]
    response = officer.post("/activity/link", data={**form, "csrf_token": token, "evidence": str(other_year["id"])})
    assert response.status_code == 404  # not a file of this practice and year
    stranger = _signed_in(web, "ogre")
    response = stranger.post("/activity/link", data={**form, "csrf_token": csrf_of(stranger.get("/").text)})
    assert response.status_code == 404
    assert dump() == before


def _bearer(web: Web, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {web.tokens[name]}"}


API_FIELDS = {"tin": TIN, "year": "2020", "activity": ACTIVITY, "items": "1,2", "effective_date": "2020-09-01"}


@pytest.mark.postgresql
def test_the_api_registers_a_file_201_with_its_id_and_sha256(web: Web) -> None:
    content = b"%PDF-1.4 api upload"
    files = [("file", ("api.pdf", content, "application/pdf"))]
    response = web.client.post("/api/v1/evidence", data=API_FIELDS, files=files, headers=_bearer(web, "olga"))
    assert response.status_code == 201, response.text
    body = response.json()
    digest = hashlib.sha256(content).hexdigest()
    assert body["sha256"] == digest and body["status"] == "registered" and isinstance(body["id"], int)
    with web.app.blob_store.open(digest) as stored:
        assert stored.read() == content
    again = web.client.post("/api/v1/evidence", data=API_FIELDS, files=files, headers=_bearer(web, "olga"))
    assert again.status_code == 200 and again.json()["status"] == "present" and again.json()["id"] == body["id"]


def _records(dump) -> list[str]:
    """Every row but the tokens' last-used hint (tokens.note_use), which any API call moves."""
    return [line for line in dump() if not line.startswith("api_tokens:")]


def test_the_api_refuses_anonymous_viewer_other_practice_and_bad_fields(web: Web, dump) -> None:
    files = [("file", ("api.pdf", b"%PDF-1.4 api", "application/pdf"))]
    before = _records(dump)
    anonymous = web.client.post("/api/v1/evidence", data=API_FIELDS, files=files)
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"error"}
    viewer = web.client.post("/api/v1/evidence", data=API_FIELDS, files=files, headers=_bearer(web, "vic"))
    assert viewer.status_code == 403
    stranger = web.client.post("/api/v1/evidence", data=API_FIELDS, files=files, headers=_bearer(web, "ogre"))
    assert stranger.status_code == 404 and stranger.json() == {"error": f"no practice with TIN {TIN}"}
    for broken in ({**API_FIELDS, "tin": ""}, {**API_FIELDS, "items": "zero"}, {**API_FIELDS, "year": "20x0"}):
        response = web.client.post("/api/v1/evidence", data=broken, files=files, headers=_bearer(web, "olga"))
        assert response.status_code == 400 and "\n" not in response.json()["error"]
    response = web.client.post("/api/v1/evidence", data=API_FIELDS, headers=_bearer(web, "olga"))
    assert response.status_code == 400 and "multipart/form-data" in response.json()["error"]
    no_file = {"description": (None, "no file attached")}  # multipart, but not one file part
    response = web.client.post("/api/v1/evidence", data=API_FIELDS, files=no_file, headers=_bearer(web, "olga"))
    assert response.status_code == 400 and "at least one file" in response.json()["error"]
    assert _records(dump) == before


def test_the_api_413_over_the_limit(web: Web, dump, tmp_path: Path) -> None:
    client = _limited(web, tmp_path, 10_000)
    try:
        before = _records(dump)
        files = [("file", ("big.pdf", b"z" * 20_000, "application/pdf"))]
        response = client.post("/api/v1/evidence", data=API_FIELDS, files=files, headers=_bearer(web, "olga"))
        assert response.status_code == 413 and "limit" in response.json()["error"]
        assert _records(dump) == before
    finally:
        client.close()
        client.app.state.evidence.close()


def test_the_openapi_document_describes_the_upload(web: Web) -> None:
    document = web.client.get("/api/v1/openapi.json").json()
    post = document["paths"]["/api/v1/evidence"]["post"]
    schema = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"tin", "year", "activity", "items", "npi", "effective_date", "file", "description"} <= set(
        schema["properties"]
    )
    assert {"201", "200", "401", "403", "404", "413"} <= set(post["responses"])
    assert "get" in document["paths"]["/api/v1/evidence"]  # the listing is still there


def test_another_practice_hostile_name_never_leaks(web: Web) -> None:
    html = _signed_in(web, "ada").get(f"/activity?tin={OTHER}&year=2020&activity={ACTIVITY}").text
    assert "<script>" not in html


def _streamed_form(token: str, boundary: str, name: str, blocks: int) -> Iterator[bytes]:
    """A browser-like form sent in pieces with no Content-Length: the token, fields, one file."""
    yield f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'.encode()
    for field, value in (("item", "2"), ("effective_date", "2020-09-09")):
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode()
    yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode()
    for index in range(blocks):
        yield index.to_bytes(4, "big") * 2048
    yield f"\r\n--{boundary}--\r\n".encode()


def test_a_chunked_upload_with_a_mixed_case_boundary_registers(web: Web, run) -> None:
    client = _signed_in(web, "olga")
    token = csrf_of(client.get(PAGE).text)
    boundary = "----WebKitFormBoundaryAbC123xYz"
    response = client.post(
        UPLOAD,
        content=_streamed_form(token, boundary, "streamed.bin", 64),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 303, response.text
    (entry,) = [e for e in _listed(run) if e["name"] == "streamed.bin"]
    expected = b"".join(index.to_bytes(4, "big") * 2048 for index in range(64))
    assert entry["size"] == len(expected) and entry["sha256"] == hashlib.sha256(expected).hexdigest()


@pytest.mark.postgresql
def test_known_content_with_another_description_refuses_the_whole_upload(web: Web, run, dump) -> None:
    client = _signed_in(web, "olga")
    assert _post_upload(client, [("first.pdf", b"%PDF-1.4 first")]).status_code == 303
    before = dump()
    fields = {**FIELDS, "description": "another description"}  # the same item: its record says otherwise
    response = _post_upload(client, [("new.pdf", b"%PDF-1.4 new"), ("first.pdf", b"%PDF-1.4 first")], fields)
    assert response.status_code == 400 and "nothing was registered" in response.text
    assert "new.pdf" not in _names(run)
    assert dump() == before


def test_a_file_name_sent_with_its_folders_is_recorded_as_its_own_name(web: Web, run) -> None:
    client = _signed_in(web, "olga")
    files = [("C:\\Users\\pat\\plan.pdf", b"%PDF-1.4 plan"), ("../../etc/passwd", b"root:x:0:0")]
    assert _post_upload(client, files).status_code == 303
    assert {"plan.pdf", "passwd"} <= _names(run)
    assert not any("/" in name or "\\" in name for name in _names(run))


def test_an_individual_attestation_page_names_the_clinician(web: Web) -> None:
    html = _signed_in(web, "vic").get(f"/activity?tin={TIN}&year=2024&activity=IA_BE_4&npi=1234567893").text
    assert "Individual 1234567893" in html and "patient-portal-screenshot.png" in html
    response = _signed_in(web, "vic").get(f"/activity?tin={TIN}&year=2024&activity=IA_BE_4&npi=12")
    assert response.status_code == 400 and "\n" not in response.text.split('class="problem">')[1].split("</p>")[0]
