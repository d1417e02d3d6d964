"""Shared by the real-browser tests: Debian's Chromium driven by Playwright against the app served
by uvicorn on a free loopback port, axe-core's accessibility check, and the steps a user takes
(sign in, upload, download) written once for every flow.

Where /usr/bin/chromium or playwright is missing the browser tests skip with the reason; with
CI=true they fail instead (as the CMS reference tests do without ../shared).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn

from evidence.app import App
from tests.access_helpers import PASSWORD
from tests.conftest import ON_CI
from tests.web_helpers import Web, open_web

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (.ci/run installs it where missing)
# As the machine notes give them: headless, as root (no sandbox), and none of Chromium's own
# connections to Google (the network is closed: they would only fail, many at a time).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = frozenset({"serious", "critical"})
WIDTH = 1280  # the screenshots' width, and the window every test sees


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed: pip install -c constraints.txt -e '.[test]'"
    return None


def require_browser() -> None:
    """Skip, naming what is missing; on CI (CI=true) a missing browser is a failure."""
    reason = browser_missing()
    if reason is None:
        return
    if ON_CI:
        pytest.fail(f"{reason}, and CI=true: CI must run the browser tests")
    pytest.skip(reason)


@contextmanager
def launched_browser() -> Iterator[Browser]:
    """Chromium, headless (the launch is costly: one per module). Playwright gives each launch a new
    empty profile folder of its own, and refuses a --user-data-dir argument."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _free_loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the kernel picks a free port; the socket stays ours, so no race
    return sock


@contextmanager
def live_server(asgi_app: Any) -> Iterator[str]:
    """The ASGI app served by uvicorn in a background thread on a free loopback port; yields its base URL.

    No lifespan: the caller owns the app's store and closes it (open_web does)."""
    sock = _free_loopback_socket()
    server = uvicorn.Server(uvicorn.Config(asgi_app, lifespan="off", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass
class Live:
    """The sample store of tests/web_helpers.py (users of every role) served at url."""

    web: Web
    url: str

    def context(self, browser: Browser) -> BrowserContext:
        """A fresh context (no cookies) at WIDTH px, with the CSP bypassed so that axe_check can inject
        axe-core: the app's policy refuses every script, Playwright's add_script_tag included."""
        return browser.new_context(
            base_url=self.url, bypass_csp=True, viewport={"width": WIDTH, "height": 800}, accept_downloads=True
        )


@contextmanager
def served_web(run: Any, app: App) -> Iterator[Live]:
    """open_web's store and app, served by uvicorn on loopback (the run and app fixtures give the store)."""
    with contextmanager(open_web)(run, app) as web, live_server(web.client.app) as url:
        yield Live(web, url)


def expect(target: Any) -> Any:
    """Playwright's expect, imported only once the browser tests run (require_browser has checked)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def axe_check(page: Page) -> list[dict[str, Any]]:
    """axe-core on the page as it is now: a serious or critical violation fails the test; the rest
    are printed (pytest shows them with -s or -rA) and returned.

    The script is injected by Playwright (add_script_tag) into a context made with bypass_csp=True:
    the app's policy (default-src 'none') refuses any script, which is the point of it."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    violations: list[dict[str, Any]] = results["violations"]
    for v in violations:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"]]
        print(f"axe {v['impact']}: {v['id']} ({v['help']}) on {page.url}: {', '.join(targets)}")
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe-core found serious violations on {page.url}: " + json.dumps(
        [{"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]]} for v in failing], indent=1
    )
    return violations


def sign_in(page: Page, name: str, password: str = PASSWORD, *, check: bool = True) -> None:
    """Sign in the way a keyboard user does: the fields found by their labels, Tab between them, Enter."""
    page.goto("/sign-in")
    if check:
        axe_check(page)
    page.get_by_label("User name").focus()
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def sign_out(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()


def download(page: Page, link_name: str | re.Pattern[str]) -> bytes:
    """Follow a download link by its accessible name (or a pattern of it); the bytes the browser saved."""
    with page.expect_download() as event:
        page.get_by_role("link", name=link_name).click()
    path = event.value.path()
    return Path(path).read_bytes()


def upload(
    page: Page, files: Sequence[Path], *, label: str = "Drop files here, or choose them", submit: str = "Upload"
) -> None:
    """Choose files in the file input named by its label (the activity page's, by default: a label's
    start is enough), then press the submit button by its name."""
    page.get_by_label(label).set_input_files([str(f) for f in files])
    with page.expect_navigation():
        page.get_by_role("button", name=submit).click()


def screenshot(page: Page, target: Path) -> None:
    """The whole page at WIDTH px wide, as PNG (the docs' images)."""
    page.set_viewport_size({"width": WIDTH, "height": 800})
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)


def tab_through(page: Page) -> list[str]:
    """Press Tab from the top of the page over every control it reaches (until the focus wraps
    round); each focused control must show an outline. The controls reached, in order."""
    reached: list[str] = []
    page.locator("body").focus()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    focusable = page.locator("a[href], button, input:not([type=hidden]), select, textarea, summary").count()
    for _ in range(focusable):
        page.keyboard.press("Tab")
        shown = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
                 return [e.outerHTML.slice(0, 80), s.outlineStyle, s.outlineWidth]; }"""
        )
        html, style, width = shown
        if html.startswith("<body"):
            break
        assert style != "none" and width != "0px", f"no visible focus on {html} at {page.url}"
        reached.append(html)
    return reached
