"""The docs say what the code does."""

from __future__ import annotations

import re
from importlib.metadata import version

from evidence.cli.reference import render_reference
from tests.conftest import REPO


def pinned(package: str) -> str:
    """The version constraints.txt pins (what CI installs and docs/CLI.md was generated with)."""
    text = (REPO / "constraints.txt").read_text(encoding="utf-8")
    found = re.search(rf"^{re.escape(package)}==(\S+)$", text, flags=re.M | re.I)
    assert found, f"constraints.txt pins no {package}"
    return found.group(1)


def test_click_is_the_version_the_reference_was_generated_with() -> None:
    """docs/CLI.md is click's own --help output, and click's usage lines change between releases
    (8.4 printed `log COMMAND [ARGS]...`, 8.5 prints `log [COMMAND]`): the pin makes it reproducible."""
    installed, wanted = version("click"), pinned("click")
    assert installed == wanted, (
        f"docs/CLI.md was generated with click {wanted} (constraints.txt) but click {installed} is installed: "
        'install with pip install -c constraints.txt -e ".[test]", or move the pin and regenerate docs/CLI.md'
    )


def test_cli_reference_is_current() -> None:
    current = (REPO / "docs" / "CLI.md").read_text(encoding="utf-8")
    assert current == render_reference(), (
        f"docs/CLI.md is stale (rendered with click {version('click')}; constraints.txt pins {pinned('click')}): "
        "python -m evidence.cli.reference > docs/CLI.md"
    )


def test_readme_commands_exist() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "python3 -m venv .venv && . .venv/bin/activate" in readme
    assert "pip install -c constraints.txt . && evidence demo" in readme
    assert "bash .ci/run" in readme
