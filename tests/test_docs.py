"""The docs say what the code does."""

from __future__ import annotations

from evidence.cli.reference import render_reference
from tests.conftest import REPO


def test_cli_reference_is_current() -> None:
    current = (REPO / "docs" / "CLI.md").read_text(encoding="utf-8")
    assert current == render_reference(), "docs/CLI.md is stale: python -m evidence.cli.reference > docs/CLI.md"


def test_readme_commands_exist() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "python3 -m pip install . && python3 -m evidence demo" in readme
    assert "bash .ci/run" in readme
