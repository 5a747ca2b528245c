"""The one-way dependency rule: serve -> actors -> trading -> rust_exec, never backwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The console script is the composition root: ``raytrader run`` starts the actors and the HTTP
# API, so actors/cli.py is the one module of actors/ that may import serve.
COMPOSITION_ROOTS = {"actors/cli.py"}

FORBIDDEN = {
    "trading": {"ray", "actors", "serve"},
    "actors": {"serve"},
    "rust_exec": {"trading", "actors", "serve", "ray"},
}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_upstream(package: str) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_imported_roots(path) & FORBIDDEN[package])
        for path in sorted((REPO / package).rglob("*.py"))
        if str(path.relative_to(REPO)) not in COMPOSITION_ROOTS
    }
    assert {file: bad for file, bad in offenders.items() if bad} == {}


def test_rule_detects_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import ray.serve\nfrom actors.cli import main\nfrom . import x\n")
    assert _imported_roots(bad) == {"ray", "actors"}
