"""The review of the merged web app (#15): one table over every route in `app.routes` proving the
four refusals (anonymous, no CSRF token, a viewer's POST, another practice's user), and the leaks
and injections found by attacking it, each with the test that failed before its fix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence.app import App
from evidence.db.models import Attestation, Evidence, LegalHold, Participation, Practice
from tests.access_helpers import cheap_argon2  # noqa: F401 - fixture
from tests.stores import cli_in
from tests.web_helpers import OTHER, TIN, Web, csrf_of, open_web, sign_in

# SQLite pass only (tests/conftest.py): the web layer holds no SQL; what these pages read is the library's, tested on PostgreSQL.
pytestmark = [pytest.mark.usefixtures("cheap_argon2"), pytest.mark.backend_neutral]

NOWHERE = "000999999"  # a valid TIN no practice has
NO_ID = "987654"  # an id no record has
RECEIVED = (date.today() - timedelta(days=5)).isoformat()


@dataclass
class Ids:
    """The sample practice's records each id-bearing route is tried on."""

    evidence: int
    attestation: int
    participation: int
    hold: int
    audit: int
    job: str


def _hold_and_audit(home: Path) -> None:
    """What the id-bearing routes are tried on besides the sample: a legal hold and an open CMS audit."""
    cli_in(home, "hold", "add", "--tin", TIN, "--year", "2019", "--reason", "review")
    cli_in(home, "audit", "open", "--tin", TIN, "--year", "2020", "--received", RECEIVED)


@pytest.fixture
def web(run, app: App) -> Iterator[Web]:
    yield from open_web(run, app, then=_hold_and_audit)  # built once per process, copied per test


def _signed_in(web: Web, name: str) -> tuple[TestClient, str]:
    client = web.fresh_client()
    assert sign_in(client, name).status_code == 303
    return client, csrf_of(client.get("/records").text)


@pytest.fixture
def ids(web: Web, request: pytest.FixtureRequest) -> Ids:
    job = ""
    # A packet job costs a render (1-3 s): made only for the job routes' rows (the rest never name one).
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or "{job_id}" in str(callspec.params.get("template", "{job_id}")):
        client, csrf = _signed_in(web, "olga")
        made = client.post("/packet", data={"tin": TIN, "year": "2020", "no_attachments": "yes", "csrf_token": csrf})
        assert made.status_code == 303, made.text
        job = made.headers["location"].rsplit("/", 1)[-1]
        assert web.client.app.state.jobs.get(job, "olga").wait(120)  # type: ignore[attr-defined]
    with web.app.read() as db:
        mine = select(Practice.id).where(Practice.tin == TIN).scalar_subquery()
        return Ids(
            evidence=db.scalars(select(Evidence.id).order_by(Evidence.id)).first() or 0,
            attestation=db.scalars(select(Attestation.id).where(Attestation.practice_id == mine)).first() or 0,
            participation=db.scalars(select(Participation.id)).first() or 0,
            hold=db.scalars(select(LegalHold.id)).first() or 0,
            audit=1,
            job=job,
        )


@dataclass(frozen=True)
class Probe:
    """How to ask a route about the sample practice (`own`), and about nothing (`none`)."""

    own: str
    data: dict[str, str] = field(default_factory=dict)
    # "practice": another practice's user gets the nonexistent answer; "admin": an admin-only route (a
    # role check, so 403 for every officer); "public": signed out is fine; "self": the user's own data.
    scope: str = "practice"
    upload: bool = False  # sent as multipart with a small file


Q = f"tin={TIN}&year=2020"
FORM = {"tin": TIN, "year": "2020", "reason": "r", "activity": "IA_EPA_1", "npi": "1234567893"}
# Every route of the app, by (method, path template): a route added without a row fails the test.
TABLE: dict[tuple[str, str], Probe] = {
    ("GET", "/healthz"): Probe("/healthz", scope="public"),
    ("GET", "/sign-in"): Probe("/sign-in", scope="public"),
    ("POST", "/sign-in"): Probe("/sign-in", {"name": "olga", "password": "x"}, scope="public"),
    ("POST", "/sign-out"): Probe("/sign-out", scope="public"),
    ("GET", "/"): Probe("/", scope="self"),
    ("GET", "/dashboard"): Probe(f"/dashboard?{Q}"),
    ("GET", "/missing"): Probe(f"/missing?{Q}"),
    ("GET", "/missing.csv"): Probe(f"/missing.csv?{Q}"),
    ("GET", "/activity"): Probe(f"/activity?{Q}&activity=IA_PM_7"),
    ("POST", "/activity/upload"): Probe(f"/activity/upload?{Q}&activity=IA_EPA_1", FORM),
    ("POST", "/activity/link"): Probe(f"/activity/link?{Q}&activity=IA_EPA_1", {**FORM, "evidence": "{evidence}"}),
    ("GET", "/evidence"): Probe(f"/evidence?{Q}"),
    ("GET", "/evidence/{evidence_id}"): Probe("/evidence/{evidence}"),
    ("GET", "/evidence/{evidence_id}/file"): Probe("/evidence/{evidence}/file"),
    ("POST", "/evidence/{evidence_id}/edit"): Probe("/evidence/{evidence}/edit", {"reason": "r"}),
    ("POST", "/evidence/{evidence_id}/link"): Probe("/evidence/{evidence}/link", FORM),
    ("POST", "/evidence/{evidence_id}/unlink"): Probe("/evidence/{evidence}/unlink", {"link_id": "1", "reason": "r"}),
    ("POST", "/evidence/{evidence_id}/withdraw"): Probe("/evidence/{evidence}/withdraw", {"reason": "r"}),
    ("GET", "/packet"): Probe(f"/packet?{Q}"),
    ("POST", "/packet"): Probe("/packet", FORM),
    ("GET", "/packet/jobs/{job_id}"): Probe("/packet/jobs/{job}"),
    ("GET", "/packet/jobs/{job_id}/{kind}"): Probe("/packet/jobs/{job}/pdf"),
    ("GET", "/audits"): Probe(f"/audits?tin={TIN}"),
    ("POST", "/audits"): Probe("/audits", {**FORM, "received": RECEIVED}),
    ("GET", "/audits/{audit_id}"): Probe("/audits/{audit}"),
    ("POST", "/audits/{audit_id}/note"): Probe("/audits/{audit}/note", {"text": "t"}),
    ("POST", "/audits/{audit_id}/close"): Probe("/audits/{audit}/close", {"outcome": "no findings", "note": "n"}),
    ("POST", "/audits/{audit_id}/response"): Probe("/audits/{audit}/response", {"no_attachments": "yes"}),
    ("GET", "/records"): Probe(f"/records?tin={TIN}"),
    ("POST", "/records/practices"): Probe("/records/practices", {"tin": "000777888", "name": "N"}, scope="admin"),
    ("POST", "/records/clinicians"): Probe("/records/clinicians", {**FORM, "npi": "1245319599", "name": "Dr. E"}),
    ("POST", "/records/attestations"): Probe("/records/attestations", {**FORM, "start": "2020-01-01", "end": "2020-03-31"}),
    ("POST", "/records/participations"): Probe("/records/participations", {**FORM, "start": "2020-01-01", "end": "2020-03-31"}),
    ("POST", "/records/attestations/{attestation_id}/edit"): Probe("/records/attestations/{attestation}/edit", {**FORM, "start": "2020-01-01", "end": "2020-06-30"}),
    ("POST", "/records/attestations/{attestation_id}/delete"): Probe("/records/attestations/{attestation}/delete", FORM),
    ("POST", "/records/participations/{participation_id}/edit"): Probe("/records/participations/{participation}/edit", {**FORM, "start": "2020-01-01", "end": "2020-06-30"}),
    ("POST", "/records/participations/{participation_id}/delete"): Probe("/records/participations/{participation}/delete", FORM),
    ("POST", "/records/clinicians/update"): Probe("/records/clinicians/update", {**FORM, "rural": "yes"}),
    ("POST", "/records/practice/set"): Probe("/records/practice/set", {**FORM, "name": "N"}),
    ("POST", "/records/import"): Probe("/records/import", {"tin": TIN}, upload=True),
    ("GET", "/retention"): Probe("/retention", scope="self"),
    ("POST", "/retention/holds"): Probe("/retention/holds", FORM, scope="admin"),
    ("POST", "/retention/holds/{hold_id}/release"): Probe("/retention/holds/{hold}/release", FORM, scope="admin"),
    ("POST", "/retention/holds/{hold_id}/review"): Probe("/retention/holds/{hold}/review", {**FORM, "review_on": "2030-01-01"}, scope="admin"),
    ("GET", "/retention/purge"): Probe("/retention/purge", scope="admin"),
    ("POST", "/retention/purge"): Probe("/retention/purge", {"tin": TIN, "confirm_tin": TIN}, scope="admin"),
    ("GET", "/retention/purged"): Probe("/retention/purged", scope="self"),
    ("GET", "/log"): Probe(f"/log?tin={TIN}"),
    ("GET", "/deadlines"): Probe(f"/deadlines?tin={TIN}"),
    ("GET", "/deadlines.ics"): Probe(f"/deadlines.ics?tin={TIN}"),
    ("GET", "/api/v1/practices"): Probe("/api/v1/practices", scope="self"),
    ("GET", "/api/v1/missing"): Probe(f"/api/v1/missing?{Q}"),
    ("GET", "/api/v1/score"): Probe(f"/api/v1/score?{Q}"),
    ("GET", "/api/v1/evidence"): Probe(f"/api/v1/evidence?{Q}"),
    ("POST", "/api/v1/evidence"): Probe("/api/v1/evidence", {**FORM, "items": "1"}, upload=True),
    ("GET", "/api/v1/evidence/{evidence_id}/file"): Probe("/api/v1/evidence/{evidence}/file"),
    ("GET", "/api/v1/packet"): Probe(f"/api/v1/packet?{Q}&no_attachments=true"),
}  # fmt: skip


def _routes(web: Web) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers, through FastAPI's included routers."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield from ((method, prefix + route.path) for method in route.methods)
            elif hasattr(route, "original_router"):  # FastAPI >= 0.160 keeps an included router whole
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    return set(walk(web.client.app.routes, ""))  # type: ignore[attr-defined]


def test_every_route_of_the_app_has_a_row_in_the_refusal_table(web: Web) -> None:
    routes = _routes(web)
    assert routes - set(TABLE) == set(), "a new route: add its row to TABLE (and its checks to its code)"
    assert set(TABLE) - routes == set(), (
        f"rows for routes that are gone: {sorted(set(TABLE) - routes)}; {sorted(routes)}"
    )


def _fill(text: str, ids: Ids, *, missing: bool = False) -> str:
    values = {k: (NO_ID if missing else str(v)) for k, v in vars(ids).items()}
    if missing:
        values["job"] = "0" * 32
        text = text.replace(TIN, NOWHERE)
    return text.format(**values)


def _call(client: TestClient, method: str, probe: Probe, ids: Ids, *, csrf: str | None, missing: bool = False,
          headers: dict[str, str] | None = None) -> object:  # fmt: skip
    path = _fill(probe.own, ids, missing=missing)
    if method == "GET":
        return client.get(path, headers=headers)
    data = {} if csrf is None else {"csrf_token": csrf}  # first: a multipart form's first part is the token
    data |= {k: _fill(v, ids, missing=missing) for k, v in probe.data.items()}
    files = {"file": ("a.csv", b"record,tin\n", "text/csv")} if probe.upload else None
    return client.post(path, data=data, headers=headers, files=files)


def _message(response) -> str:  # type: ignore[no-untyped-def]
    if response.headers["content-type"].startswith("application/json"):
        return str(response.json()["error"])
    found = re.search(r'<p class="problem">(.*?)</p>', response.text, re.S)
    assert found, response.text[:500]
    return found[1]


def _neutral(message: str, ids: Ids) -> str:
    """The message with the ids and TIN asked for taken out, so two answers can be compared."""
    for value in (TIN, NOWHERE, NO_ID, "0" * 32, *(str(v) for v in vars(ids).values())):
        message = re.sub(rf"\b{re.escape(value)}\b", "#", message)
    return message


@pytest.mark.parametrize(("method", "template"), sorted(TABLE))
def test_every_route_refuses_the_anonymous_the_forged_the_viewer_and_another_practice(
    web: Web, ids: Ids, dump, method: str, template: str
) -> None:
    probe = TABLE[(method, template)]
    api = template.startswith("/api/")
    before = dump() if not api else None  # an API call notes its token's last use
    # (a) anonymous: a page goes to sign-in (coming back here), the API answers 401
    if probe.scope != "public":
        anonymous = _call(web.fresh_client(), method, probe, ids, csrf=None)
        if api:
            assert anonymous.status_code == 401, anonymous.text
        elif method == "GET":
            assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/sign-in?next=/")
    # (b) a POST without the CSRF token, from a signed-in officer or admin: 403 before any route runs
    if method == "POST" and not api:
        client, _ = _signed_in(web, "ada")
        forged = _call(client, method, probe, ids, csrf=None)
        assert forged.status_code == 403 and "CSRF" in forged.text, forged.text
    if probe.scope == "public":
        assert dump() == before
        return
    # (c) a viewer's POST (with its token), and a viewer's look at an admin page: 403
    viewer, csrf = _signed_in(web, "vic")
    headers = {"Authorization": f"Bearer {web.tokens['vic']}"} if api else None
    if method == "POST" or probe.scope == "admin":
        refused = _call(viewer, method, probe, ids, csrf=csrf, headers=headers)
        assert refused.status_code == 403, refused.text
    # (d) another practice's officer: the very answer a nonexistent TIN or id gets
    if probe.scope == "practice":
        ogre, csrf = _signed_in(web, "ogre")
        headers = {"Authorization": f"Bearer {web.tokens['ogre']}"} if api else None
        theirs = _call(ogre, method, probe, ids, csrf=csrf, headers=headers)
        nothing = _call(ogre, method, probe, ids, csrf=csrf, headers=headers, missing=True)
        assert theirs.status_code == nothing.status_code == 404, (theirs.text, nothing.text)
        assert _neutral(_message(theirs), ids) == _neutral(_message(nothing), ids)
    if before is not None:
        assert dump() == before


# Leaks across practices -----------------------------------------------------------------------------

KNOWN = {"tin": OTHER, "npi": "1234567893", "name": "Dr. Someone Else", "year": "2020"}  # the sample's Dr. Avery Chen


def test_adding_a_clinician_known_to_a_practice_not_granted_does_not_show_its_name(web: Web, dump) -> None:
    client, csrf = _signed_in(web, "ogre")
    before = dump()
    response = client.post("/records/clinicians", data={"csrf_token": csrf, **KNOWN})
    assert response.status_code == 409
    assert "NPI 1234567893 is already recorded as another name, not &#39;Dr. Someone Else&#39;" in response.text
    assert "Avery" not in response.text and dump() == before
    csv = "record,tin,npi,name,year\nclinician,{tin},{npi},{name},{year}\n".format(**KNOWN).encode()
    imported = client.post("/records/import", data={"csrf_token": csrf}, files={"file": ("c.csv", csv, "text/csv")})
    assert imported.status_code == 400 and "already recorded as another name" in imported.text
    assert "Avery" not in imported.text and dump() == before


def test_an_admin_who_sees_every_practice_is_still_told_the_recorded_name(web: Web) -> None:
    client, csrf = _signed_in(web, "ada")
    response = client.post("/records/clinicians", data={"csrf_token": csrf, **KNOWN})
    assert response.status_code == 409 and "already recorded as &#39;Dr. Avery Chen&#39;" in response.text


# CSRF -------------------------------------------------------------------------------------------------


def test_a_bearer_header_on_a_page_post_does_not_skip_the_csrf_check(web: Web, dump) -> None:
    client, _ = _signed_in(web, "olga")  # the page acts on the cookie: a Bearer header must not excuse it
    before = dump()
    forged = client.post(
        "/records/clinicians",
        data={**KNOWN, "tin": TIN, "npi": "1245319599"},
        headers={"Authorization": "Bearer anything"},
    )
    assert forged.status_code == 403 and "CSRF" in forged.text and dump() == before


# Pages: headings, titles, labels, no inline script or style; headers on every answer -------------------


class _Page(HTMLParser):
    """What a page holds that the house rules check: title, h1, controls and their labels, inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.title = ""
        self.labelled: set[str] = set()
        self.controls: list[tuple[str, str | None, bool]] = []  # (tag, id, inside a <label>)
        self.inline: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        if "style" in values or any(name.startswith("on") for name in values):
            self.inline.append(f"<{tag} {values}>")
        if tag in {"script", "style"}:
            self.inline.append(tag)
        if tag == "label" and values.get("for"):
            self.labelled.add(str(values["for"]))
        hidden = values.get("type") in {"hidden", "submit"}
        if tag in {"select", "textarea"} or (tag == "input" and not hidden):
            self.controls.append((tag, values.get("id"), "label" in self._open))
        if tag not in {"input", "br", "meta", "link", "img", "hr"}:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] == "title":
            self.title += data


PAGES = sorted(
    key
    for key, probe in TABLE.items()
    if key[0] == "GET" and not key[1].startswith("/api/") and probe.scope != "public"
)


@pytest.mark.parametrize(("method", "template"), PAGES)
def test_every_page_has_a_title_an_h1_labelled_controls_and_no_inline_code(
    web: Web, ids: Ids, method: str, template: str
) -> None:
    client, _ = _signed_in(web, "olga" if "/jobs/" in template else "ada")  # a packet job is its maker's only
    response = _call(client, method, TABLE[(method, template)], ids, csrf=None)
    assert response.status_code == 200, response.text[:300]
    if not response.headers["content-type"].startswith("text/html"):
        assert response.headers["content-disposition"].startswith("attachment")
        assert response.headers["x-content-type-options"] == "nosniff"
        return
    found = _Page()
    found.feed(response.text)
    assert found.title.strip() and "h1" in found.tags
    unlabelled = [c for c in found.controls if not c[2] and (c[1] is None or c[1] not in found.labelled)]
    assert unlabelled == [] and found.inline == []


@pytest.mark.parametrize("path", ["/static/style.css", "/no-such-page", "/evidence/x", "/sign-in?next=//evil.example"])
def test_every_answer_carries_the_security_headers_static_files_and_errors_too(web: Web, path: str) -> None:
    response = web.client.get(path)
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-frame-options"] == "DENY"
