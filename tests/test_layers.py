"""The layers of docs/DESIGN.md, enforced: the library never imports click, the CLI or the web app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "evidence"
# The front ends: each may import the library; the library imports neither.
FRONT_ENDS = ("cli", "web")
FORBIDDEN = ("click", "evidence.cli", "evidence.web")


def _library_modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] not in FRONT_ENDS and path.name != "__main__.py"
    )


def _imported_names(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_library_has_modules_to_check() -> None:
    assert len(_library_modules()) > 30


@pytest.mark.parametrize("path", _library_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_module_imports_no_front_end(path: Path) -> None:
    leaks = [name for name in _imported_names(path) if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
    assert not leaks, f"{path.relative_to(PACKAGE.parent)} imports {', '.join(leaks)}: keep the library below the CLI"


def test_the_check_catches_a_leak(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text("def f():\n    from evidence.cli.output import emit\n    import click\n", encoding="utf-8")
    assert _imported_names(module) == ["evidence.cli.output", "click"]


# Lower layers import nothing above them (docs/DESIGN.md, "Who may import whom").
LOWER_LAYERS = {
    "support": ("evidence.errors", "evidence.support"),
    "errors.py": (),
    "rules/cms.py": (
        "evidence.errors",
        "evidence.support",
        "evidence.rules.identifiers",
        "evidence.rules.activity_terms",
    ),
    "rules/activity_terms.py": ("evidence.errors", "evidence.support"),
    "rules/deadlines.py": ("evidence.errors", "evidence.support"),
    "rules/identifiers.py": ("evidence.errors", "evidence.support", "evidence.rules.cms"),
    "rules/coverage.py": ("evidence.errors", "evidence.support", "evidence.rules.cms", "evidence.rules.identifiers"),
    "rules/credit.py": ("evidence.errors", "evidence.support", "evidence.rules.cms", "evidence.rules.activity_terms"),
    "db": ("evidence.db", "evidence.rules.cms", "evidence.support", "evidence.errors"),
}


def _modules_under(part: str) -> list[Path]:
    target = PACKAGE / part
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize("layer", sorted(LOWER_LAYERS))
def test_lower_layers_import_nothing_above_them(layer: str) -> None:
    allowed = LOWER_LAYERS[layer]
    for path in _modules_under(layer):
        project = [name for name in _imported_names(path) if name == "evidence" or name.startswith("evidence.")]
        leaks = [name for name in project if not any(name == a or name.startswith(a + ".") for a in allowed)]
        assert not leaks, f"{path.relative_to(PACKAGE.parent)} imports {', '.join(leaks)}: above its layer"


# The service packages (docs/DESIGN.md) import each other and what is below, never the composition layer.
SERVICES = ("access", "catalog", "records", "store", "retention", "packet")
COMPOSITION = ("evidence.app", "evidence.config", "evidence.demo")


@pytest.mark.parametrize("package", SERVICES)
def test_services_import_no_composition_layer(package: str) -> None:
    assert _modules_under(package), f"evidence/{package} has no modules"
    for path in _modules_under(package):
        leaks = [n for n in _imported_names(path) if any(n == c or n.startswith(c + ".") for c in COMPOSITION)]
        assert not leaks, f"{path.relative_to(PACKAGE.parent)} imports {', '.join(leaks)}: above its layer"


# The web app stands on the library's services and composition only: no SQL of its own.
WEB_FORBIDDEN = ("sqlalchemy", "evidence.db")


def test_the_web_app_has_modules_to_check() -> None:
    assert len(_modules_under("web")) >= 8


@pytest.mark.parametrize("path", _modules_under("web"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_web_app_imports_no_sqlalchemy_and_no_database_layer(path: Path) -> None:
    names = _imported_names(path)
    leaks = [n for n in names if any(n == f or n.startswith(f + ".") for f in WEB_FORBIDDEN)]
    assert not leaks, f"{path.relative_to(PACKAGE.parent)} imports {', '.join(leaks)}: the web app holds no SQL"
    assert not [n for n in names if n == "evidence.cli" or n.startswith("evidence.cli.")], "web imports the CLI"
