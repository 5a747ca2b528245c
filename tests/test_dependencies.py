"""Every declared dependency is imported and every import is declared (pyproject.toml)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"trading", "actors", "serve", "rust_exec", "tests"}


def _requirement_name(requirement: str) -> str:
    name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(*groups: str) -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for group in groups:
        requirements += project["optional-dependencies"][group]
    return {_requirement_name(r) for r in requirements}


def _imported_modules(*packages: str) -> set[str]:
    roots: set[str] = set()
    for package in packages:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    roots.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    roots.add(node.module.split(".")[0])
    return roots - FIRST_PARTY - set(sys.stdlib_module_names)


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    """Each imported module's installed distribution (normalised names)."""
    owners = importlib.metadata.packages_distributions()
    return {m: {_requirement_name(d) for d in owners.get(m, [m])} for m in modules}


def test_every_product_import_is_a_declared_dependency() -> None:
    declared = _declared()
    undeclared = {
        module: sorted(dists)
        for module, dists in _distributions(_imported_modules("trading", "actors", "serve")).items()
        if not dists & declared
    }
    assert undeclared == {}


def test_every_declared_dependency_is_imported_by_the_product() -> None:
    owners = _distributions(_imported_modules("trading", "actors", "serve"))
    imported = set().union(*owners.values())
    assert sorted(_declared() - imported) == []


def test_every_test_import_is_declared_for_development() -> None:
    declared = _declared("dev")
    undeclared = {
        module: sorted(dists)
        for module, dists in _distributions(_imported_modules("tests")).items()
        if not dists & declared
    }
    assert undeclared == {}
