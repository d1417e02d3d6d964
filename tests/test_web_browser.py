"""The web app in a real browser: Debian's Chromium driven by Playwright against the app served by
uvicorn on loopback, with axe-core run on every page a test visits (tests/browser_helpers.py).

The route tests (tests/test_web.py) check every role and answer through the TestClient; these check
what only a browser shows: keyboard sign-in by the labels, forms that submit and downloads that
arrive, escaping as rendered, the CSP enforced, and no serious accessibility violation."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
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
    tab_through,
    upload,
)
from tests.web_helpers import HOSTILE, OTHER, TIN

if TYPE_CHECKING:  # playwright is imported only where require_browser finds it
    from playwright.sync_api import Browser, Page

# slow: a browser per module and real flows (about 40 s): in .ci/run's slow step, on SQLite, not the quick run.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("cheap_argon2")]


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


def test_purge_is_an_admins_button_after_a_preview_and_a_viewers_post_is_403(browser: Browser, live: Live) -> None:
    """PY2019 of the sample has passed its window (as of the real day): the admin's preview offers
    the purge; the viewer sees no purge control and posting the admin's form anyway is refused, as
    is any POST without the page's CSRF token."""
    admin = live.context(browser).new_page()
    sign_in(admin, "ada", check=False)
    admin.goto("/retention")
    axe_check(admin)
    with admin.expect_navigation():
        admin.get_by_role("link", name="Preview purge").click()
    axe_check(admin)
    purge_button = admin.get_by_role("button", name=f"Purge {TIN}")
    expect(purge_button).to_be_visible()
    form = admin.locator("form.purge-confirm")
    action = form.get_attribute("action")
    assert action == "/retention/purge"
    fields = {name: form.locator(f'[name="{name}"]').input_value() for name in ("tin", "plan")}
    admin.context.close()

    viewer = live.context(browser).new_page()
    sign_in(viewer, "vic", check=False)
    viewer.goto("/retention")
    purge = re.compile("purge", re.IGNORECASE)
    expect(viewer.get_by_role("heading", level=1)).to_have_text("Retention and legal holds")
    expect(viewer.get_by_role("button", name=purge)).to_have_count(0)
    expect(viewer.get_by_role("link", name=purge)).to_have_count(0)
    assert viewer.goto("/retention/purge").status == 403  # the preview is an admin's too
    viewer.goto("/retention")
    token = viewer.locator('input[name="csrf_token"]').first.input_value()
    answer = viewer.request.post(action, form={**fields, "confirm_tin": TIN, "csrf_token": token}, max_redirects=0)
    assert answer.status == 403
    # The page's own request context carries the session cookie, as a forged form on another tab would.
    assert viewer.request.post("/sign-out", form={"csrf_token": "forged"}, max_redirects=0).status == 403
    assert viewer.request.post("/sign-out", max_redirects=0).status == 403
    viewer.reload()
    expect(viewer.get_by_role("table", name=re.compile("retention window")).get_by_text("PY2019")).to_have_count(1)
    expect(viewer.get_by_role("button", name="Sign out")).to_be_visible()  # still signed in: nothing happened
    viewer.context.close()


def test_every_other_page_passes_axe_core(page: Page, run) -> None:
    """The pages no flow above visits, once each, as an admin (who sees every control)."""
    run("audit", "open", "--tin", TIN, "--year", "2020", "--received", "2026-11-20", "--reference", "DVA-2020-7")
    sign_in(page, "ada", check=False)
    for path, heading in (
        (f"/evidence?tin={TIN}&year=2020", "Evidence"),
        (f"/audits?tin={TIN}", "audit"),
        ("/audits/1", "DVA-2020-7"),
        ("/records", "Records"),
        (f"/records?tin={TIN}", TIN),
        ("/log", "log"),
        ("/deadlines", "Deadlines"),
    ):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(heading, re.IGNORECASE))
        axe_check(page)


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


def test_an_officer_documents_an_activity_corrects_a_date_and_downloads_the_packet(
    page: Page, live: Live, tmp_path: Path
) -> None:
    """The issue's flow end to end, with axe-core once on each page it meets: IA_CC_9 of PY2020 lacks
    item 2; two files uploaded through the file input make it complete, on its page and the dashboard."""
    activity_url = f"/activity?tin={TIN}&year=2020&activity=IA_CC_9"
    files = [tmp_path / "care-plan-shared-a.txt", tmp_path / "care-plan-shared-b.txt"]
    for n, f in enumerate(files):
        f.write_text(f"care plan shared with patient {n}\n")
    sign_in(page, "olga", check=False)
    page.goto(activity_url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("IA_CC_9")
    state = page.get_by_role("paragraph").filter(has_text="Documentation (rule")
    expect(state).to_contain_text("incomplete")
    axe_check(page)
    reached = tab_through(page)  # the skip link first, then every link and control, each with its outline
    assert reached[0].startswith('<a class="skip"') and any('type="file"' in html for html in reached)
    page.get_by_label("2) Care plan shared with patient or caregiver").first.check()
    page.get_by_label("Effective date").fill("2020-06-15")
    upload(page, files)
    assert page.url == live.url + activity_url  # POST-redirect-GET back to the page, no problem shown
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(state).to_contain_text("complete")
    expect(state).not_to_contain_text("incomplete")
    for f in files:
        expect(page.get_by_role("link", name=f.name)).to_have_count(1)
    page.goto(f"/dashboard?tin={TIN}&year=2020")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=re.compile("IA_CC_9")))
    expect(row.get_by_role("cell").nth(3)).to_have_text("complete")

    # One file's evidence page: correct its date, with a reason; the facts and the history show it.
    page.goto(activity_url)
    with page.expect_navigation():
        page.get_by_role("link", name=files[0].name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(files[0].name)
    axe_check(page)
    edit = page.get_by_role("group", name=re.compile("Edit the effective date"))
    edit.get_by_label("Effective date (one day, YYYY-MM-DD)").fill("2020-06-20")
    edit.get_by_label("Reason").fill("the shared copy is dated June 20")
    with page.expect_navigation():
        edit.get_by_role("button", name="Save the correction").click()
    facts = page.get_by_role("table", name="The file and its registration")
    expect(facts.get_by_role("row").filter(has_text="Effective")).to_contain_text("2020-06-20")
    history = page.get_by_role("table", name=re.compile("Events of the audit trail"))
    expect(history.get_by_role("row").filter(has_text="the shared copy is dated June 20")).to_have_count(1)

    # The packet: started on its page, made in the background; the job page refreshes itself until done.
    page.goto(f"/packet?tin={TIN}&year=2020")
    axe_check(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Make the packet").click()
    assert "/packet/jobs/" in page.url
    done = page.get_by_role("status").filter(has_text="Done:")
    expect(done).to_be_visible(timeout=60_000)  # no click: the page's own <meta refresh> brings it
    axe_check(page)
    said = re.search(r"(\d+) pages", done.inner_text())
    assert said, "the job page gives the packet's page count"
    pdf = download(page, re.compile(r"\.pdf$"))
    from pypdf import PdfReader

    assert pdf.startswith(b"%PDF-") and len(PdfReader(io.BytesIO(pdf)).pages) == int(said[1])
