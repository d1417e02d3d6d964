"""Refresh docs/images/dashboard.png, activity.png, evidence.png and retention.png from the demo store.

    python3 scripts/screenshots.py      # needs /usr/bin/chromium (Debian) and playwright (the test extra)

Runs `evidence demo` into a temporary folder, adds an admin, serves the app on a free loopback port
(uvicorn, as the browser tests do) and photographs the PY2020 pages of the sample practice in
headless Chromium at 1280 px wide, the whole page. Each page is checked with axe-core first.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

IMAGES = REPO / "docs" / "images"
TIN, YEAR, ACTIVITY = "000123456", "2020", "IA_PM_7"
USER, PASSWORD = "screenshots", secrets.token_urlsafe(24)
PAGES = {
    "dashboard.png": f"/dashboard?tin={TIN}&year={YEAR}",
    "activity.png": f"/activity?tin={TIN}&year={YEAR}&activity={ACTIVITY}",
    "evidence.png": "/evidence/1",  # the demo's first registered file
    "retention.png": "/retention",
}


def main() -> int:
    from click.testing import CliRunner

    from evidence.cli import cli
    from evidence.config import resolve_settings
    from evidence.web.app import create_app
    from evidence.web.settings import WebSettings
    from tests.browser_helpers import axe_check, browser_missing, launched_browser, live_server, screenshot, sign_in

    missing = browser_missing()
    if missing:
        print(f"cannot take screenshots: {missing}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        runner = CliRunner()
        for args, given in (
            (["demo", "--out", tmp], None),
            (["--home", str(home), "user", "add", USER, "--role", "admin", "--password-stdin"], PASSWORD + "\n"),
        ):
            result = runner.invoke(cli, args, input=given)
            if result.exit_code != 0:
                print(result.output, file=sys.stderr)
                return 1
        app = create_app(WebSettings(store=resolve_settings(home, None), secret_key=secrets.token_hex(32)))
        try:
            with live_server(app) as url, launched_browser() as browser:
                context = browser.new_context(base_url=url, bypass_csp=True)  # bypass: axe-core is injected
                page = context.new_page()
                sign_in(page, USER, PASSWORD)
                for name, path in PAGES.items():
                    response = page.goto(path)
                    if response is None or response.status != 200:
                        print(f"{name}: {path} answered {response.status if response else 'nothing'}: left as it is")
                        continue
                    axe_check(page)
                    screenshot(page, IMAGES / name)
                    print(f"{name}: {path} -> {(IMAGES / name).relative_to(REPO)}")
                context.close()
        finally:
            app.state.evidence.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
