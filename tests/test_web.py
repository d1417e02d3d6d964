"""The web app through FastAPI's TestClient: sign-in and sessions, CSRF, headers, access per role
and practice grant, the pages, and CSV and JSON that are the CLI's own for the same arguments."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from evidence.access.users import disable_user, set_password
from evidence.app import App
from tests.access_helpers import (
    PASSWORD,
    cheap_argon2,  # noqa: F401 - fixture
)
from tests.web_helpers import OTHER, TIN, USERS, Web, csrf_of, open_web, sign_in

# SQLite pass only (tests/conftest.py): the web layer holds no SQL; what these pages read is the library's, tested on PostgreSQL.
pytestmark = [pytest.mark.usefixtures("cheap_argon2"), pytest.mark.backend_neutral]

PAGES = [
    "/",
    f"/dashboard?tin={TIN}&year=2020",
    f"/missing?tin={TIN}&year=2020",
    f"/missing.csv?tin={TIN}&year=2020",
]
API = [
    "/api/v1/practices",
    f"/api/v1/missing?tin={TIN}&year=2020",
    f"/api/v1/score?tin={TIN}&year=2020",
    f"/api/v1/evidence?tin={TIN}&year=2020",
]


@pytest.fixture
def web(run, app: App) -> Iterator[Web]:
    yield from open_web(run, app)  # cheap_argon2 is in use for the whole module (pytestmark)


SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _bearer(web: Web, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {web.tokens[name]}"}


def test_healthz_answers_without_sign_in_with_every_header(web: Web) -> None:
    response = web.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", PAGES)
def test_an_anonymous_page_request_is_sent_to_sign_in_and_back(web: Web, path: str) -> None:
    response = web.client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=/")
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", API)
@pytest.mark.parametrize("token", [None, "evd_1_" + "x" * 43, "nonsense"])
def test_an_api_call_without_a_valid_token_is_401_json(web: Web, path: str, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = web.client.get(path, headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert response.headers["content-type"] == "application/json"


def test_sign_in_rotates_the_session_and_its_csrf_token(web: Web) -> None:
    client = web.client
    form = client.get("/sign-in?next=/missing%3Ftin%3D000123456%26year%3D2020")
    anonymous_cookie, anonymous_csrf = client.cookies["evidence_session"], csrf_of(form.text)
    response = client.post(
        "/sign-in",
        data={
            "name": "vic",
            "password": PASSWORD,
            "next": f"/missing?tin={TIN}&year=2020",
            "csrf_token": anonymous_csrf,
        },
    )
    assert (response.status_code, response.headers["location"]) == (303, f"/missing?tin={TIN}&year=2020")
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "secure" not in set_cookie
    assert client.cookies["evidence_session"] != anonymous_cookie
    page = client.get("/")
    assert page.status_code == 200 and "Signed in as vic (viewer)" in page.text
    assert csrf_of(page.text) != anonymous_csrf


def test_a_wrong_password_and_an_unknown_name_get_the_same_page(web: Web) -> None:
    wrong, unknown = sign_in(web.fresh_client(), "vic", "x" * 20), sign_in(web.fresh_client(), "nobody", "x" * 20)
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong user name or password" in wrong.text and "wrong user name or password" in unknown.text


@pytest.mark.parametrize("token", [None, "", "wrong"])
@pytest.mark.parametrize("path", ["/sign-in", "/sign-out"])
def test_a_post_without_the_right_csrf_token_is_403(web: Web, path: str, token: str | None) -> None:
    client = web.client
    assert sign_in(client, "vic").status_code == 303
    data = {"name": "vic", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(path, data=data)
    assert response.status_code == 403
    assert client.get("/").status_code == 200  # still signed in: the sign-out was refused


def test_sign_out_ends_the_session(web: Web) -> None:
    client = web.client
    sign_in(client, "olga")
    page = client.get("/")
    assert client.post("/sign-out", data={"csrf_token": csrf_of(page.text)}).status_code == 303
    assert client.get("/").status_code == 303


def test_an_idle_session_expires_and_an_old_one_too(web: Web) -> None:
    client = web.client
    sign_in(client, "vic")
    web.clock.now += 29 * 60
    assert client.get("/").status_code == 200  # seen: the idle clock starts again
    web.clock.now += 29 * 60
    assert client.get("/").status_code == 200
    web.clock.now += 31 * 60
    assert client.get("/").status_code == 303
    sign_in(client, "vic")
    for _ in range(25):  # active all along, yet 12 hours after signing in it ends
        web.clock.now += 29 * 60
        last = client.get("/").status_code
    assert last == 303


@pytest.mark.parametrize("change", ["disable", "password"])
def test_a_disabled_user_or_a_new_password_ends_the_session(web: Web, change: str) -> None:
    client = web.client
    sign_in(client, "vic")
    assert client.get("/").status_code == 200
    with web.app.write() as session:
        if change == "disable":
            disable_user(session, "vic", actor="ada")
        else:
            set_password(session, "vic", "another long enough password", actor="ada")
    assert client.get("/").status_code == 303


def test_sign_in_is_rate_limited_per_account_then_per_address(web: Web) -> None:
    client = web.fresh_client()
    for _ in range(5):
        assert sign_in(client, "vic", "wrong password, long enough").status_code == 401
    refused = sign_in(client, "vic")  # even the right password, until the window moves on
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 15 * 60
    assert sign_in(web.fresh_client(), "olga").status_code == 429  # the same client address
    web.clock.now += 15 * 60
    assert sign_in(client, "vic").status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil", "/\r\nx"])
def test_next_never_leaves_the_site(web: Web, target: str) -> None:
    response = sign_in(web.fresh_client(), "vic", next_path=target)
    assert (response.status_code, response.headers["location"]) == (303, "/")


@pytest.mark.parametrize("name", sorted(USERS))
@pytest.mark.parametrize("path", PAGES)
def test_pages_per_role_and_grant(web: Web, name: str, path: str) -> None:
    client = web.fresh_client()
    sign_in(client, name)
    response = client.get(path)
    granted = USERS[name][1]
    if path == "/" or not granted or TIN in granted:
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
    else:  # a practice not granted: the very page a TIN that does not exist gets
        unknown = client.get(path.replace(TIN, "987654321"))
        assert response.status_code == unknown.status_code == 404
        assert response.text == unknown.text.replace("987654321", TIN)
        assert f"no practice with TIN {TIN}" in response.text


@pytest.mark.parametrize("name", sorted(USERS))
@pytest.mark.parametrize("path", API)
def test_api_per_role_and_grant(web: Web, name: str, path: str) -> None:
    response = web.client.get(path, headers=_bearer(web, name))
    granted = USERS[name][1]
    if path.endswith("practices"):
        shown = [p["tin"] for p in response.json()]
        assert shown == (list(granted) if granted else [TIN, OTHER])
    elif not granted or TIN in granted:
        assert response.status_code == 200
    else:
        unknown = web.client.get(path.replace(TIN, "987654321"), headers=_bearer(web, name))
        assert response.status_code == unknown.status_code == 404
        assert response.json() == {"error": f"no practice with TIN {TIN}"}
        assert unknown.json() == {"error": "no practice with TIN 987654321"}


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("tin=000123456", 400),  # no year
        ("tin=12&year=2020", 400),
        ("tin=000123456&year=20x0", 400),
        ("tin=000123456&year=2020&npi=123", 400),
    ],
)
def test_api_bad_parameters_are_400_with_one_line(web: Web, query: str, status: int) -> None:
    response = web.client.get(f"/api/v1/missing?{query}", headers=_bearer(web, "ada"))
    assert response.status_code == status
    (message,) = response.json().values()
    assert "\n" not in message and message


def test_a_state_changing_api_call_with_a_bearer_token_skips_csrf_but_finds_no_route(web: Web) -> None:
    response = web.client.post("/api/v1/practices", headers=_bearer(web, "vic"))
    assert response.status_code == 405 and set(response.json()) == {"error"}


def test_the_openapi_document_lists_the_endpoints(web: Web) -> None:
    document = web.client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/practices", "/api/v1/missing", "/api/v1/score", "/api/v1/evidence"} <= set(document["paths"])
    assert {"400", "401", "403", "404"} <= set(document["paths"]["/api/v1/score"]["get"]["responses"])


def test_hostile_names_are_escaped(web: Web) -> None:
    client = web.fresh_client()
    sign_in(client, "ada")
    html = client.get("/").text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;Sons&#34; [U+202E]gpj.exe" in html
    assert "\u202e" not in html  # a bidi override would show "exe.jpg" reversed
    page = client.get(f"/missing?tin={TIN}&year=2020&activity=%3Cscript%3E")
    assert page.status_code == 400 and "<script>" not in page.text


def test_the_dashboard_shows_the_score_verdicts_and_group_test(web: Web, run) -> None:
    client = web.fresh_client()
    sign_in(client, "olga")
    html = client.get(f"/dashboard?tin={TIN}&year=2020").text
    score = json.loads(run("score", "--tin", TIN, "--year", "2020", "--format", "json").output)
    assert f"<dd>{score['points']} of 40 points</dd>" in html
    assert f"<dd>{score['documented_points']} points</dd>" in html
    assert f"<dd>{score['points_at_risk']} points</dd>" in html
    for activity in json.loads(run("missing", "--tin", TIN, "--year", "2020", "--format", "json").output):
        assert activity["activity"] in html
    assert "days left" in html
    assert f'href="/missing?tin={TIN}&amp;year=2020"' in html


@pytest.mark.parametrize(
    ("year", "filters", "rows"),
    [
        ("2020", {}, True),
        ("2024", {"npi": "1234567893"}, True),
        ("2020", {"status": "incomplete"}, True),
        ("2020", {"activity": "IA_PM_7", "level": "group"}, True),
        ("2020", {"level": "individual", "status": "missing"}, False),
    ],
)
def test_the_csv_download_is_the_cli_csv_byte_for_byte(
    web: Web, run, year: str, filters: dict[str, str], rows: bool
) -> None:
    client = web.fresh_client()
    sign_in(client, "vic")
    response = client.get("/missing.csv", params={"tin": TIN, "year": year, **filters})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="missing-{TIN}-{year}.csv"'
    options = [arg for key, value in filters.items() for arg in (f"--{key}", value)]
    cli = run("missing", "--tin", TIN, "--year", year, *options, "--format", "csv")
    assert response.content == cli.stdout_bytes
    assert (len(response.content.splitlines()) > 1) is rows


@pytest.mark.parametrize(
    ("path", "command"),
    [
        ("/api/v1/practices", ["practice", "list"]),
        (f"/api/v1/missing?tin={TIN}&year=2020", ["missing", "--tin", TIN, "--year", "2020"]),
        (
            f"/api/v1/missing?tin={TIN}&year=2024&npi=1234567893",
            ["missing", "--tin", TIN, "--year", "2024", "--npi", "1234567893"],
        ),
        (f"/api/v1/score?tin={TIN}&year=2020", ["score", "--tin", TIN, "--year", "2020"]),
        (
            f"/api/v1/score?tin={TIN}&year=2024&npi=1234567893",
            ["score", "--tin", TIN, "--year", "2024", "--npi", "1234567893"],
        ),
        (f"/api/v1/evidence?tin={TIN}&year=2020", ["list", "--tin", TIN, "--year", "2020"]),
    ],
)
def test_api_json_is_the_cli_json(web: Web, run, path: str, command: list[str]) -> None:
    response = web.client.get(path, headers=_bearer(web, "ada"))
    assert response.status_code == 200
    cli = run(*command, "--format", "json").output
    assert response.text + "\n" == cli
    assert json.loads(response.text)  # not an empty document: the sample has records for each


def test_static_css_is_served_and_no_page_has_inline_script_or_style(web: Web) -> None:
    css = web.client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    client = web.fresh_client()
    sign_in(client, "ada")
    for path in PAGES[:3]:
        html = client.get(path).text
        assert "<script" not in html and "style=" not in html and "<style" not in html
        assert '<a class="skip" href="#main">' in html and '<main id="main">' in html


def test_an_unknown_page_is_404_and_an_unknown_api_path_is_404_json(web: Web) -> None:
    assert web.client.get("/nope").status_code == 404
    response = web.client.get("/api/v1/nope", headers=_bearer(web, "ada"))
    assert response.status_code == 404 and response.json() == {"error": "no such page"}


@pytest.mark.parametrize("query", ["level=bogus", "status=done", "npi=12", "activity=IA_NOPE_%0A1"])
def test_a_bad_filter_is_a_400_page_with_one_line(web: Web, query: str) -> None:
    client = web.fresh_client()
    sign_in(client, "vic")
    for path in ("/missing", "/missing.csv"):
        response = client.get(f"{path}?tin={TIN}&year=2020&{query}")
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")


def test_an_oversized_form_is_refused_before_any_route(web: Web) -> None:
    response = web.client.post("/sign-in", data={"csrf_token": "x", "name": "x" * 70_000})
    assert response.status_code == 413


def test_behind_tls_the_session_cookie_is_secure(web: Web) -> None:
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from evidence.web.app import create_app

    settings = replace(web.client.app.state.web_settings, secure_cookies=True)
    with TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False) as client:
        response = sign_in(client, "vic")
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


def test_the_session_key_is_made_once_0600_or_taken_from_the_environment(web: Web, monkeypatch) -> None:
    from evidence.errors import StoreError
    from evidence.web.settings import SECRET_ENV, session_secret

    home = web.app.settings.home
    first = session_secret(home)
    assert session_secret(home) == first and len(first) == 64
    assert (home / "web-secret").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv(SECRET_ENV, "s" * 40)
    assert session_secret(home) == "s" * 40
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(StoreError, match="too short"):
        session_secret(home)


def test_an_api_call_stamps_the_token_last_use(web: Web) -> None:
    from evidence.access.tokens import list_tokens

    with web.app.read() as session:
        assert all(t.last_used_at is None for t in list_tokens(session))
    assert web.client.get("/api/v1/practices", headers=_bearer(web, "vic")).status_code == 200
    with web.app.read() as session:
        used = {t.name for t in list_tokens(session) if t.last_used_at is not None}
    assert used == {"vic-token"}
