"""The evidence pages of the web app (issue #15): the list, one record's facts, links and history,
the download (page session and Bearer token), and the corrections: edit, link, unlink, withdraw,
for every role that matters."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from evidence.app import App
from evidence.db.models import Evidence
from evidence.errors import StoreError
from evidence.records.listing import list_evidence
from evidence.retention.audit import list_events
from evidence.retention.policy import add_hold, release_hold
from evidence.store.blobstore import LocalBlobStore
from evidence.store.download import open_verified
from evidence.web.download import content_disposition, served_media_type
from tests.access_helpers import cheap_argon2  # noqa: F401 - fixture
from tests.conftest import SAMPLE
from tests.web_helpers import HOSTILE, OTHER, TIN, Web, csrf_of, open_web, sign_in

# backend_neutral: the PostgreSQL pass runs only the tests marked postgresql here, each a flow through the
# library; the refusals stay in the SQLite pass (the rule: tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("cheap_argon2"), pytest.mark.backend_neutral]

Run = Callable[..., object]  # the `run` fixture: the CLI
NOT_SHOWN = "no evidence with id"
HOSTILE_FILE_NAME = 'report "final"\r\nSet-Cookie: x=1; \u202egpj.html'


@pytest.fixture
def web(run: Run, app: App) -> Iterator[Web]:
    yield from open_web(run, app)  # cheap_argon2 is in use for the whole module (pytestmark)


def _client(web: Web, name: str) -> TestClient:
    client = web.fresh_client()
    assert sign_in(client, name).status_code == 303
    return client


def _id_of(app: App, name: str) -> int:
    with app.read() as db:
        return next(v.id for v in list_evidence(db) if v.original_name == name)


def _sample_file(name: str) -> Path:
    return next(SAMPLE.rglob(name))


def _last_event(app: App) -> tuple[str, str, str]:
    with app.read() as db:
        event = list_events(db)[-1]
        return event.actor, event.action, event.summary


def _post(client: TestClient, path: str, fields: dict[str, str], *, csrf: bool = True) -> Response:
    evidence_page = path.rsplit("/", 1)[0]
    token = csrf_of(client.get(evidence_page).text) if csrf else None
    data = {**fields, **({"csrf_token": token} if token else {})}
    return client.post(path, data=data)


REPORT = "qcdr-feedback-report-2020-q3.pdf"  # 2020 IA_PM_7 item 1, a single effective day
CARE_PLAN = "care-plan-template.pdf"  # 2020 IA_CC_9 item 1


# --- the list ---------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_the_list_links_each_of_the_years_files_and_filters_by_activity(web: Web) -> None:
    client = _client(web, "vic")
    page = client.get(f"/evidence?tin={TIN}&year=2020")
    assert page.status_code == 200
    with web.app.read() as db:
        expected = list_evidence(db, tin=TIN, year=2020)
    assert len(expected) == 5
    for view in expected:
        assert f'<a href="/evidence/{view.id}">{view.original_name}</a>' in page.text
    assert "leadership-role-descriptions.pdf" not in page.text  # a 2019 file
    only = client.get(f"/evidence?tin={TIN}&year=2020&activity=IA_CC_9")
    assert CARE_PLAN in only.text and REPORT not in only.text
    empty = client.get(f"/evidence?tin={TIN}&year=2020&activity=")  # an empty filter field: no filter
    assert REPORT in empty.text


def test_the_list_of_a_practice_not_granted_reads_like_one_that_does_not_exist(web: Web) -> None:
    client = _client(web, "nog")
    refused = client.get(f"/evidence?tin={TIN}&year=2020")
    missing = client.get("/evidence?tin=999999999&year=2020")
    assert refused.status_code == missing.status_code == 404
    assert f"no practice with TIN {TIN}" in refused.text
    assert refused.text.replace(TIN, "999999999") == missing.text.replace(csrf_of(missing.text), csrf_of(refused.text))


def test_a_malformed_list_request_is_one_line_400(web: Web) -> None:
    client = _client(web, "olga")
    for query in ("tin=12&year=2020", f"tin={TIN}&year=twenty", f"tin={TIN}&year=2020&activity=<b>"):
        answer = client.get(f"/evidence?{query}")
        assert answer.status_code == 400, query
        assert "<b>" not in answer.text and "Traceback" not in answer.text


@pytest.mark.parametrize("path", [f"/evidence?tin={TIN}&year=2020", "/evidence/4", "/evidence/4/file"])
def test_an_anonymous_visitor_is_sent_to_sign_in(web: Web, path: str) -> None:
    answer = web.client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=/evidence")


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_the_page_shows_the_files_facts_links_and_history(web: Web) -> None:
    evidence_id = _id_of(web.app, REPORT)
    data = _sample_file(REPORT).read_bytes()
    page = _client(web, "vic").get(f"/evidence/{evidence_id}")
    assert page.status_code == 200
    for fact in (
        REPORT,
        f"{len(data)} bytes",
        "application/pdf",
        hashlib.sha256(data).hexdigest(),
        "2020-10-05",
        "QCDR quarterly feedback report, Q3 2020",
        "by tester at ",
        "IA_PM_7",
        "1) QCDR feedback reports",
        f'href="/evidence/{evidence_id}/file"',
        f'href="/activity?tin={TIN}&amp;year=2020&amp;activity=IA_PM_7"',
    ):
        assert fact in page.text, fact
    assert "<td>register</td>" in page.text
    assert f"registered evidence {evidence_id} (" in page.text


def test_a_viewer_sees_no_correction_form_and_an_officer_sees_all_four(web: Web) -> None:
    evidence_id = _id_of(web.app, REPORT)
    forms = [f'action="/evidence/{evidence_id}/{what}"' for what in ("edit", "link", "unlink", "withdraw")]
    viewer = _client(web, "vic").get(f"/evidence/{evidence_id}").text
    officer = _client(web, "olga").get(f"/evidence/{evidence_id}").text
    assert not [form for form in forms if form in viewer]
    assert [form for form in forms if form in officer] == forms


@pytest.mark.parametrize("name", ["nog", "ogre"])
def test_evidence_of_a_practice_not_granted_reads_like_an_id_that_does_not_exist(web: Web, name: str) -> None:
    evidence_id = _id_of(web.app, REPORT)
    client = _client(web, name)
    for path in (f"/evidence/{evidence_id}", f"/evidence/{evidence_id}/file"):
        refused = client.get(path)
        assert refused.status_code == 404
        assert f"{NOT_SHOWN} {evidence_id}" in refused.text
        assert REPORT not in refused.text
    assert client.get("/evidence/999999").status_code == 404
    assert f"{NOT_SHOWN} 999999" in client.get("/evidence/999999").text


@pytest.mark.parametrize("path", ["/evidence/0", "/evidence/-1", "/evidence/abc", f"/evidence/{2**70}"])
def test_a_malformed_evidence_id_is_one_line_400(web: Web, path: str) -> None:
    answer = _client(web, "olga").get(path)
    assert answer.status_code == 400
    assert "evidence_id" in answer.text and "Traceback" not in answer.text


# --- downloads --------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_the_download_is_the_stored_bytes_as_an_attachment_of_the_stored_type(web: Web) -> None:
    evidence_id = _id_of(web.app, REPORT)
    data = _sample_file(REPORT).read_bytes()
    answer = _client(web, "vic").get(f"/evidence/{evidence_id}/file")
    assert answer.status_code == 200
    assert answer.content == data
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == f'attachment; filename="{REPORT}"'
    assert answer.headers["content-length"] == str(len(data))
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-evidence-sha256"] == hashlib.sha256(data).hexdigest()


def _register(run: Run, tmp_path: Path, name: str, content: bytes, *extra: str) -> None:
    path = tmp_path / "upload" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    run("register", path, "--tin", TIN, "--year", "2020", "--activity", "IA_CC_9", "--item", "1",
        "--effective-date", "2020-05-01", "--description", HOSTILE, *extra)  # fmt: skip


def test_an_html_file_with_a_hostile_name_is_an_attachment_never_a_page(web: Web, run: Run, tmp_path: Path) -> None:
    content = b"<!doctype html><script>alert(document.cookie)</script>\n"
    _register(run, tmp_path, HOSTILE_FILE_NAME, content)
    evidence_id = _id_of(web.app, HOSTILE_FILE_NAME)
    with web.app.write() as db:  # as a store from before content sniffing might hold it
        db.get(Evidence, evidence_id).blob.media_type = "text/html"  # type: ignore[union-attr]
    client = _client(web, "olga")
    answer = client.get(f"/evidence/{evidence_id}/file")
    assert answer.status_code == 200 and answer.content == content
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["x-content-type-options"] == "nosniff"
    disposition = answer.headers["content-disposition"]
    assert disposition == (
        'attachment; filename="report_final_Set-Cookie_x_1_gpj.html"; '
        "filename*=UTF-8''report%20%22final%22Set-Cookie%3A%20x%3D1%3B%20gpj.html"
    )
    assert "x=1" not in answer.headers.get("set-cookie", "")  # the name's "Set-Cookie:" stayed inside the value
    page = client.get(f"/evidence/{evidence_id}").text  # the name and description shown escaped and inert
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;Sons&#34; [U+202E]gpj.exe" in page
    assert "[U+000D][U+000A]" in page and "[U+202E]gpj.html" in page


@pytest.mark.parametrize(
    ("stored", "served"),
    [
        ("application/pdf", "application/pdf"),
        ("text/plain", "text/plain"),
        ("text/csv", "text/csv"),
        ("image/png", "image/png"),
        ("text/html", "application/octet-stream"),
        ("TEXT/HTML; charset=utf-8", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("text/xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("text/plain\r\nSet-Cookie: x=1", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_served_media_types(stored: str, served: str) -> None:
    assert served_media_type(stored) == served


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("minutes.pdf", 'attachment; filename="minutes.pdf"'),
        ("Q3 report.pdf", "attachment; filename=\"Q3_report.pdf\"; filename*=UTF-8''Q3%20report.pdf"),
        ("résumé.pdf", "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"),
        ("报告.pdf", "attachment; filename=\"evidence-7.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf"),
        ('a"b\\c.txt', "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b_c.txt"),
        ("x\r\nSet-Cookie: y", "attachment; filename=\"xSet-Cookie_y\"; filename*=UTF-8''xSet-Cookie%3A%20y"),
        ("\u202egpj.exe", 'attachment; filename="gpj.exe"'),
        ("...", 'attachment; filename="evidence-7"'),
    ],
)
def test_content_disposition_never_carries_a_quote_cr_lf_or_bidi_control(name: str, header: str) -> None:
    assert content_disposition(name, "evidence-7") == header


def test_the_api_download_needs_a_token_and_honours_grants(web: Web) -> None:
    evidence_id = _id_of(web.app, REPORT)
    path = f"/api/v1/evidence/{evidence_id}/file"
    anonymous = web.client.get(path)
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"error"}
    not_granted = web.client.get(path, headers={"Authorization": f"Bearer {web.tokens['nog']}"})
    assert (not_granted.status_code, not_granted.json()) == (404, {"error": f"{NOT_SHOWN} {evidence_id}"})
    answer = web.client.get(path, headers={"Authorization": f"Bearer {web.tokens['vic']}"})
    assert answer.status_code == 200
    assert answer.content == _sample_file(REPORT).read_bytes()
    assert answer.headers["content-disposition"] == f'attachment; filename="{REPORT}"'
    assert answer.headers["content-type"] == "application/pdf"
    assert "/api/v1/evidence/{evidence_id}/file" in web.client.get("/api/v1/openapi.json").json()["paths"]


def _blob_path(web: Web, evidence_id: int) -> Path:
    with web.app.read() as db:
        digest = db.get(Evidence, evidence_id).blob.digest  # type: ignore[union-attr]
    store = web.app.blob_store
    assert isinstance(store, LocalBlobStore)
    return store.path_for(digest)


def test_a_stored_file_that_no_longer_matches_its_sha256_is_cut_short(web: Web) -> None:
    evidence_id = _id_of(web.app, REPORT)
    blob = _blob_path(web, evidence_id)
    damaged = bytearray(blob.read_bytes())
    damaged[-1] ^= 0xFF  # the same size, one byte changed
    blob.chmod(0o600)
    blob.write_bytes(bytes(damaged))
    with web.app.read() as db:
        digest = db.get(Evidence, evidence_id).blob.digest  # type: ignore[union-attr]
    given = []
    with pytest.raises(StoreError, match="does not match its SHA-256"):
        for chunk in open_verified(web.app.blob_store, digest, len(damaged)):
            given.append(chunk)
    assert sum(map(len, given)) < len(damaged)  # the last piece is held back until the hash is known
    # Through the app: the body ends short of its Content-Length (the client sees a failed download).
    quiet = TestClient(web.client.app, base_url="http://testserver", raise_server_exceptions=False)
    sign_in(quiet, "olga")
    answer = quiet.get(f"/evidence/{evidence_id}/file")
    assert answer.headers["content-length"] == str(len(damaged))
    assert len(answer.content) < len(damaged)


def test_a_stored_file_gone_from_the_store_is_one_line_503_naming_no_folder(web: Web) -> None:
    evidence_id = _id_of(web.app, REPORT)
    blob = _blob_path(web, evidence_id)
    blob.rename(blob.with_name("moved-away"))
    answer = _client(web, "olga").get(f"/evidence/{evidence_id}/file")
    assert answer.status_code == 503
    assert "cannot be read (missing or unreadable)" in answer.text
    assert str(blob.parent) not in answer.text


def test_a_withdrawn_file_is_410_and_its_page_says_why(web: Web, run: Run) -> None:
    evidence_id = _id_of(web.app, REPORT)
    run("withdraw", str(evidence_id), "--reason", "wrong quarter")
    client = _client(web, "olga")
    answer = client.get(f"/evidence/{evidence_id}/file")
    assert answer.status_code == 410
    assert f"evidence {evidence_id} was withdrawn on" in answer.text
    api = web.client.get(
        f"/api/v1/evidence/{evidence_id}/file", headers={"Authorization": f"Bearer {web.tokens['vic']}"}
    )
    assert api.status_code == 410 and "was withdrawn" in api.json()["error"]
    page = client.get(f"/evidence/{evidence_id}").text
    assert "Withdrawn by tester on" in page and "wrong quarter" in page
    assert f'action="/evidence/{evidence_id}/edit"' not in page  # nothing left to correct
    assert f'href="/evidence/{evidence_id}/file"' not in page


# --- corrections ------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_editing_the_date_shows_the_change_and_records_the_signed_in_user(web: Web) -> None:
    evidence_id = _id_of(web.app, REPORT)
    client = _client(web, "olga")
    answer = _post(client, f"/evidence/{evidence_id}/edit",
                   {"effective_date": "2020-10-06", "reason": "date of the report, not of the scan"})  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == f"/evidence/{evidence_id}"
    page = client.get(answer.headers["location"]).text
    assert '<th scope="row">Effective</th><td>2020-10-06</td>' in page
    assert "<td>olga</td><td>evidence.edit</td>" in page and "date of the report, not of the scan" in page
    assert _last_event(web.app)[:2] == ("olga", "evidence.edit")


def test_editing_a_range_and_the_description_with_hostile_text(web: Web) -> None:
    evidence_id = _id_of(web.app, REPORT)
    client = _client(web, "olga")
    fields = {"effective_from": "2020-01-01", "effective_until": "2020-12-31", "description": HOSTILE, "reason": "r"}
    assert _post(client, f"/evidence/{evidence_id}/edit", fields).status_code == 303
    page = client.get(f"/evidence/{evidence_id}").text
    assert "2020-01-01 to 2020-12-31" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"effective_date": "2020-02-30", "reason": "r"}, "is not a real calendar date"),
        ({"effective_date": "10/05/2020", "reason": "r"}, "is not an ISO date"),
        ({"effective_date": "2020-10-05", "reason": "r"}, "nothing to change"),
        ({"reason": "r"}, "nothing to change"),
        ({"effective_date": "2020-10-06", "reason": "  "}, "needs a --reason"),
        ({"effective_from": "2020-06-01", "effective_until": "2020-01-01", "reason": "r"}, "before it starts"),
        ({"effective_date": "2020-10-06", "effective_from": "2020-01-01", "reason": "r"}, "not both"),
    ],
)
def test_a_refused_edit_shows_the_page_with_one_line_and_writes_nothing(
    web: Web, dump: Callable[[], list[str]], fields: dict[str, str], message: str
) -> None:
    evidence_id = _id_of(web.app, REPORT)
    client = _client(web, "olga")
    before = dump()
    answer = _post(client, f"/evidence/{evidence_id}/edit", fields)
    assert answer.status_code == 400
    assert '<p class="problem" id="problem">' in answer.text and message in answer.text
    assert REPORT in answer.text  # the page itself, shown again
    assert dump() == before


@pytest.mark.postgresql
def test_linking_to_another_item_and_its_refusals(web: Web, dump: Callable[[], list[str]]) -> None:
    evidence_id = _id_of(web.app, CARE_PLAN)
    client = _client(web, "olga")
    path = f"/evidence/{evidence_id}/link"
    target = {"tin": TIN, "year": "2020", "activity": "IA_PM_7", "items": "1", "reason": "also the QCDR report"}
    answer = _post(client, path, target)
    assert answer.status_code == 303
    page = client.get(f"/evidence/{evidence_id}").text
    assert "1) QCDR feedback reports" in page and "<td>olga</td><td>link</td>" in page
    assert _last_event(web.app)[:2] == ("olga", "link")
    before = dump()
    for fields, status, message in [
        (target, 400, "already linked"),
        ({**target, "activity": "IA_XX_1"}, 400, "IA_XX_1"),
        ({**target, "activity": "IA_BE_4"}, 400, "no attestation of IA_BE_4"),
        ({**target, "items": "9"}, 400, "no documentation item 9"),
        ({**target, "items": "one"}, 400, "item"),
        ({**target, "reason": ""}, 400, "reason"),
        ({**target, "tin": "000222333"}, 404, "no practice with TIN 000222333"),  # not granted to olga
        ({**target, "year": "2031"}, 400, "year"),
    ]:
        refused = _post(client, path, fields)
        assert refused.status_code == status, (fields, refused.text)
        assert message in refused.text and "problem" in refused.text, fields
    assert dump() == before


def _link_of(web: Web, name: str) -> int:
    with web.app.read() as db:
        return next(v for v in list_evidence(db) if v.original_name == name).links[0].link_id


@pytest.mark.postgresql
def test_unlinking_and_its_refusals(web: Web, dump: Callable[[], list[str]]) -> None:
    evidence_id, link_id = _id_of(web.app, CARE_PLAN), _link_of(web, CARE_PLAN)
    client = _client(web, "olga")
    path = f"/evidence/{evidence_id}/unlink"
    before = dump()
    for fields, status, message in [
        ({"link_id": str(link_id), "reason": " "}, 400, "reason"),
        ({"link_id": str(_link_of(web, REPORT)), "reason": "r"}, 404, f"evidence {evidence_id} has no link"),
        ({"link_id": "x", "reason": "r"}, 400, "link_id"),
    ]:
        refused = _post(client, path, fields)
        assert refused.status_code == status and message in refused.text, fields
    with web.app.write() as db:
        hold = add_hold(db, TIN, 2020, "CMS data validation", actor="tester")
    before = dump()
    held = _post(client, path, {"link_id": str(link_id), "reason": "mistaken"})
    assert held.status_code == 409 and f"under legal hold #{hold.id}" in held.text
    assert dump() == before
    with web.app.write() as db:
        release_hold(db, hold.id, "done", actor="tester")
    assert _post(client, path, {"link_id": str(link_id), "reason": "mistaken"}).status_code == 303
    page = client.get(f"/evidence/{evidence_id}").text
    assert "Not linked to any documentation item." in page and "<td>olga</td><td>unlink</td>" in page
    assert _last_event(web.app)[:2] == ("olga", "unlink")


@pytest.mark.postgresql
def test_withdrawing_and_its_refusals(web: Web, dump: Callable[[], list[str]]) -> None:
    evidence_id = _id_of(web.app, REPORT)
    client = _client(web, "olga")
    path = f"/evidence/{evidence_id}/withdraw"
    before = dump()
    refused = _post(client, path, {"reason": ""})
    assert refused.status_code == 400 and "a withdrawal needs a reason" in refused.text
    assert dump() == before
    assert _post(client, path, {"reason": "wrong practice's report"}).status_code == 303
    page = client.get(f"/evidence/{evidence_id}").text
    assert "Withdrawn by olga on" in page and "<td>olga</td><td>withdraw</td>" in page
    assert _last_event(web.app)[:2] == ("olga", "withdraw")
    before = dump()
    again = _post(client, path, {"reason": "twice"})
    assert again.status_code == 400 and "already withdrawn" in again.text
    edit = _post(client, f"/evidence/{evidence_id}/edit", {"effective_date": "2020-01-01", "reason": "r"})
    assert edit.status_code == 400 and "withdrawn record is not edited" in edit.text
    assert dump() == before


CORRECTIONS = [
    ("edit", {"effective_date": "2020-10-06", "reason": "r"}),
    ("link", {"tin": TIN, "year": "2020", "activity": "IA_CC_9", "items": "1", "reason": "r"}),
    ("unlink", {"link_id": "LINK", "reason": "r"}),
    ("withdraw", {"reason": "r"}),
]


def _fields(web: Web, fields: dict[str, str]) -> dict[str, str]:
    return {k: str(_link_of(web, REPORT)) if v == "LINK" else v for k, v in fields.items()}


@pytest.mark.parametrize(("action", "fields"), CORRECTIONS, ids=[c[0] for c in CORRECTIONS])
def test_a_viewer_posting_a_correction_anyway_is_403_and_nothing_is_written(
    web: Web, dump: Callable[[], list[str]], action: str, fields: dict[str, str]
) -> None:
    evidence_id = _id_of(web.app, REPORT)
    client = _client(web, "vic")
    before = dump()
    answer = _post(client, f"/evidence/{evidence_id}/{action}", _fields(web, fields))
    assert answer.status_code == 403
    assert "vic is a viewer and may not" in answer.text
    assert dump() == before


@pytest.mark.parametrize(("action", "fields"), CORRECTIONS, ids=[c[0] for c in CORRECTIONS])
def test_an_officer_of_another_practice_gets_404_and_nothing_is_written(
    web: Web, dump: Callable[[], list[str]], action: str, fields: dict[str, str]
) -> None:
    evidence_id = _id_of(web.app, REPORT)
    client = _client(web, "ogre")
    token = csrf_of(client.get("/").text)
    before = dump()
    answer = client.post(f"/evidence/{evidence_id}/{action}", data={**_fields(web, fields), "csrf_token": token})
    assert answer.status_code == 404
    assert f"{NOT_SHOWN} {evidence_id}" in answer.text and REPORT not in answer.text
    assert dump() == before


@pytest.mark.parametrize(("action", "fields"), CORRECTIONS, ids=[c[0] for c in CORRECTIONS])
def test_a_correction_without_its_csrf_token_is_403_and_nothing_is_written(
    web: Web, dump: Callable[[], list[str]], action: str, fields: dict[str, str]
) -> None:
    evidence_id = _id_of(web.app, REPORT)
    client = _client(web, "olga")
    before = dump()
    for token in (None, "forged"):
        data = {**_fields(web, fields), **({"csrf_token": token} if token else {})}
        answer = client.post(f"/evidence/{evidence_id}/{action}", data=data)
        assert answer.status_code == 403 and "CSRF token is missing or wrong" in answer.text
    assert dump() == before


def test_an_admin_corrects_any_practices_evidence(web: Web) -> None:
    evidence_id = _id_of(web.app, REPORT)
    client = _client(web, "ada")
    fields = {"description": "Q3 QCDR feedback report", "reason": "typo"}
    assert _post(client, f"/evidence/{evidence_id}/edit", fields).status_code == 303
    assert _last_event(web.app)[:2] == ("ada", "evidence.edit")
    with web.app.read() as db:
        assert db.get(Evidence, evidence_id).description == "Q3 QCDR feedback report"  # type: ignore[union-attr]


# --- records beyond one practice, and purged ones ----------------------------------------------

MINUTES = "qi-team-meeting-minutes-2019-05.txt"  # 2019 IA_PSPA_20 item 2


@pytest.mark.postgresql
def test_a_purged_record_is_410_to_download_and_its_page_says_so(web: Web, run: Run) -> None:
    evidence_id = _id_of(web.app, MINUTES)
    run("purge", "--yes")  # PY2019 was kept through 2025-12-31
    client = _client(web, "vic")
    page = client.get(f"/evidence/{evidence_id}")
    assert page.status_code == 404 and f"evidence {evidence_id} was purged on" in page.text
    download = client.get(f"/evidence/{evidence_id}/file")
    assert download.status_code == 410 and f"evidence {evidence_id} was purged on" in download.text
    other = _client(web, "nog").get(f"/evidence/{evidence_id}/file")  # the tombstone's practice is not nog's
    assert other.status_code == 404 and f"{NOT_SHOWN} {evidence_id}" in other.text and "purged" not in other.text


@pytest.mark.postgresql
def test_evidence_linked_to_a_practice_not_granted_is_hidden_from_an_officer_of_only_one(web: Web, run: Run) -> None:
    evidence_id = _id_of(web.app, CARE_PLAN)
    run("attest", "--tin", OTHER, "--activity", "IA_CC_9", "--year", "2020", "--start", "2020-04-01",
        "--end", "2020-09-30")  # fmt: skip
    run("link", str(evidence_id), "--tin", OTHER, "--year", "2020", "--activity", "IA_CC_9", "--item", "1",
        "--reason", "shared care compact")  # fmt: skip
    for name in ("olga", "ogre"):  # each is granted one of its two practices
        answer = _client(web, name).get(f"/evidence/{evidence_id}")
        assert answer.status_code == 404 and f"{NOT_SHOWN} {evidence_id}" in answer.text, name
    page = _client(web, "ada").get(f"/evidence/{evidence_id}").text  # an admin sees every practice
    assert f"{OTHER} PY2020" in page and f"{TIN} PY2020" in page
    assert "<td>link</td>" in page and "shared care compact" in page
