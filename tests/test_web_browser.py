"""The web app in a real browser: Debian's Chromium driven by Playwright against the app served by
uvicorn on loopback, with axe-core run on every page a test visits (tests/browser_helpers.py).

The route tests (tests/test_web.py) check every role and answer through the TestClient; these check
what only a browser shows: keyboard sign-in by the labels, forms that submit and downloads that
arrive, escaping as rendered, the CSP enforced, and no serious accessibility violation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from evidence.access.users import SIGN_IN_REFUSED
from evidence.app import App
from tests import browser_helpers
from tests.access_helpers import cheap_argon2  # noqa: F401 - fixture
from tests.browser_helpers import (
    WIDTH,
    Live,
    axe_check,
    download,
    expect,
    launched_browser,
    require_browser,
    served_web,
    sign_in,
    sign_out,
)
from tests.web_helpers import HOSTILE, OTHER, TIN

if TYPE_CHECKING:  # playwright is imported only where require_browser finds it
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("cheap_argon2")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_browser()
    with launched_browser() as launched:
        yield launched


@pytest.fixture
def live(run, app: App) -> Iterator[Live]:
    with served_web(run, app) as served:
        yield served


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    """A fresh context per test (no cookies of another test), the CSP bypassed so axe-core can be injected."""
    context = live.context(browser)
    yield context.new_page()
    context.close()


def test_an_officer_signs_in_by_keyboard_and_walks_practices_dashboard_missing_csv_then_signs_out(
    page: Page, run
) -> None:
    sign_in(page, "olga")
    expect(page.get_by_role("heading", level=1)).to_have_text("Practices")
    axe_check(page)
    row = page.get_by_role("row").filter(has_text=TIN)
    row.get_by_label("Performance year").fill("2020")
    with page.expect_navigation():
        row.get_by_role("button", name="Open the dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("performance year 2020")
    axe_check(page)
    score = json.loads(run("score", "--tin", TIN, "--year", "2020", "--format", "json").output)
    claimed, documented, at_risk = page.locator("dl.figures dd").all_inner_texts()
    assert re.fullmatch(rf"{score['points']} of \d+ points", claimed)
    assert (documented, at_risk) == (f"{score['documented_points']} points", f"{score['points_at_risk']} points")
    activities = page.get_by_role("table", name=re.compile("Each attested activity"))
    everything = json.loads(run("missing", "--tin", TIN, "--year", "2020", "--format", "json").output)
    expect(activities.get_by_role("row")).to_have_count(1 + len(everything))

    with page.expect_navigation():
        page.get_by_role("link", name="Missing documentation for this year").click()
    axe_check(page)
    page.get_by_label("Documentation status").select_option("incomplete")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert "status=incomplete" in page.url
    axe_check(page)
    incomplete = [a for a in everything if a["status"] == "incomplete"]
    assert incomplete, "the sample practice has an incomplete activity in 2020"
    expect(page.locator("main section h2")).to_have_count(len(incomplete))
    for activity in incomplete:
        expect(page.locator("main section h2").filter(has_text=activity["activity"])).to_have_count(1)
    expect(page.get_by_label("Documentation status")).to_have_value("incomplete")  # the filter stays shown

    csv = download(page, "Download as CSV")
    cli = run("missing", "--tin", TIN, "--year", "2020", "--status", "incomplete", "--format", "csv")
    assert csv == cli.stdout_bytes

    sign_out(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.goto("/")
    assert page.url.endswith("/sign-in?next=/")


def test_a_wrong_password_shows_the_message_and_signs_nobody_in(page: Page) -> None:
    sign_in(page, "olga", "not the password")
    expect(page.get_by_role("alert")).to_have_text(SIGN_IN_REFUSED)
    expect(page.get_by_label("User name")).to_have_value("olga")  # kept for the second try; the password is not
    expect(page.get_by_label("Password")).to_have_value("")
    axe_check(page)
    page.goto("/")
    assert "/sign-in" in page.url


def test_a_practice_not_granted_looks_like_one_that_does_not_exist(page: Page) -> None:
    sign_in(page, "nog")  # a viewer of OTHER only
    answers = []
    for tin in (TIN, "999999999"):
        response = page.goto(f"/dashboard?tin={tin}&year=2020")
        assert response is not None and response.status == 404
        axe_check(page)
        answers.append(page.locator("main .problem").inner_text().replace(tin, "TIN"))
    assert answers[0] == answers[1]


def test_a_hostile_practice_name_is_shown_as_text_and_runs_nothing(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, "ada")
    cell = page.get_by_role("row").filter(has_text=OTHER).get_by_role("cell").nth(1)
    # As text, with the bidi override shown by name (it would show "exe.jpg" reversed).
    expect(cell).to_have_text(HOSTILE.replace("\u202e", "[U+202E]"))
    assert page.locator("main script").count() == 0
    axe_check(page)
    assert dialogs == []


def test_a_viewer_sees_no_purge_control_and_a_post_without_the_csrf_token_is_403(page: Page) -> None:
    sign_in(page, "vic")
    page.goto(f"/dashboard?tin={TIN}&year=2020")
    axe_check(page)
    purge = re.compile("purge", re.IGNORECASE)
    expect(page.get_by_role("button", name=purge)).to_have_count(0)
    expect(page.get_by_role("link", name=purge)).to_have_count(0)
    # The page's own request context carries the session cookie, as a forged form on another tab would.
    refused = page.request.post("/sign-out", form={"csrf_token": "forged"}, max_redirects=0)
    assert refused.status == 403
    assert page.request.post("/sign-out", max_redirects=0).status == 403
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # still signed in: nothing happened


def test_follow_up_retention_purge_is_an_admins_button_and_a_viewers_post_is_403(browser: Browser, live: Live) -> None:
    """For the lead at merge: /retention is built on another branch. Until it is here this test
    is an expected failure (xfail) at its first step; once the page exists it runs in full."""
    admin = live.context(browser).new_page()
    sign_in(admin, "ada")
    response = admin.goto("/retention")
    if response is None or response.status == 404:
        pytest.xfail("/retention is not on this branch yet (another engineer's page): enabled when it is merged")
    axe_check(admin)
    # The purge is a button on the preview page (what would go, typing the TIN to confirm), reached by a link.
    admin.get_by_role("link", name=re.compile("preview purge", re.IGNORECASE)).click()
    axe_check(admin)
    purge_button = admin.get_by_role("button", name=re.compile("purge", re.IGNORECASE)).first
    expect(purge_button).to_be_visible()
    form = purge_button.locator("xpath=ancestor::form")
    action = form.get_attribute("action") or "/retention"
    fields = {
        name: form.locator(f'[name="{name}"]').first.input_value()
        for name in form.locator("[name]").evaluate_all("els => els.map(e => e.name)")
        if name
    }

    viewer = live.context(browser).new_page()
    sign_in(viewer, "vic")
    viewer.goto("/retention")
    axe_check(viewer)
    expect(viewer.get_by_role("button", name=re.compile("purge", re.IGNORECASE))).to_have_count(0)
    assert viewer.goto("/retention/purge").status == 403  # the preview is an admin's too
    token = viewer.locator('input[name="csrf_token"]').first.input_value()
    answer = viewer.request.post(action, form={**fields, "csrf_token": token}, max_redirects=0)
    assert answer.status == 403


def test_the_csp_is_enforced_and_no_page_breaks_it(browser: Browser, live: Live) -> None:
    """Without bypass_csp, as users see it: the pages raise no CSP report, and a script is refused."""
    context = browser.new_context(base_url=live.url, viewport={"width": WIDTH, "height": 800})
    page = context.new_page()
    reports: list[str] = []
    page.on(
        "console", lambda message: reports.append(message.text) if "Content Security Policy" in message.text else None
    )
    sign_in(page, "olga", check=False)
    for path in ("/", f"/dashboard?tin={TIN}&year=2020", f"/missing?tin={TIN}&year=2020"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert page.evaluate("getComputedStyle(document.body).marginTop") == "0px"  # the style sheet applied
    assert reports == []
    from playwright.sync_api import Error

    with pytest.raises(Error, match="Content Security Policy"):
        page.add_script_tag(content="window.injected = true")
    assert page.evaluate("window.injected === undefined")
    context.close()


def test_axe_check_fails_on_a_serious_violation(browser: Browser) -> None:
    """The check itself can fail: an unlabelled field (axe's `label` rule, critical) and empty button."""
    page = browser.new_page()  # no server needed: the page is given whole
    page.set_content('<!doctype html><html lang="en"><title>t</title><main><input><button></button></main></html>')
    with pytest.raises(AssertionError, match="serious violations") as refused:
        axe_check(page)
    assert '"label"' in str(refused.value) and '"button-name"' in str(refused.value)
    page.context.close()


@pytest.mark.parametrize(("on_ci", "outcome"), [(False, pytest.skip.Exception), (True, pytest.fail.Exception)])
def test_without_chromium_the_browser_tests_skip_except_on_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path, on_ci: bool, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(browser_helpers, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(browser_helpers, "ON_CI", on_ci)
    with pytest.raises(outcome, match="no-chromium not found: install Debian's chromium package"):
        require_browser()
