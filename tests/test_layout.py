"""House rules that tools other than ruff/mypy do not check: module size, docstrings; and a
quick mirror of the import-linter contracts in pyproject.toml (daemons independent of each
other, other packages reach a daemon only through `<daemon>.api`), so a plain pytest run
fails the same way `lint-imports` does."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["messaging", "ccm", "cib", "crmd", "pengine", "lrmd", "stonithd", "agents", "lab"]
DAEMONS = {"ccm", "cib", "pengine", "lrmd", "stonithd"}
MAX_LINES = 500  # the project standard: modules under 500 lines (style.md reviews at 500)


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def test_every_package_exists() -> None:
    for pkg in PACKAGES:
        assert (REPO / pkg / "__init__.py").is_file(), pkg


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_module_is_small_and_documented(path: Path) -> None:
    text = path.read_text()
    assert text.count("\n") <= MAX_LINES, f"{path} has more than {MAX_LINES} lines"
    tree = ast.parse(text)
    assert ast.get_docstring(tree), f"{path} has no module docstring saying what it owns"


def _imported(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_daemons_are_independent_and_reached_through_their_api(path: Path) -> None:
    own = path.relative_to(REPO).parts[0]
    for name in _imported(ast.parse(path.read_text())):
        parts = name.split(".")
        if parts[0] not in DAEMONS or parts[0] == own:
            continue
        assert own not in DAEMONS, f"{path} imports {name}: daemons are independent " \
            "(shared contracts live in messaging)"
        if len(parts) > 1:
            assert parts[1] == "api", f"{path} imports {name}; use {parts[0]}.api"


def test_test_modules_have_unique_names() -> None:
    """Test directories have no __init__.py, so pytest imports each test module by its bare
    name: two files with one name make the second fail to collect (the run stops there)."""
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name in ("conftest.py", "__init__.py") or ".venv" in path.parts:
            continue
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(REPO)} and {path.relative_to(REPO)}")
        seen.setdefault(path.name, path)
    assert not clashes, clashes
