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


# --------------------------------------------------------------------------- thin shells

MAX_SHELL_LINES = 20
# Composition-root wiring, excepted by name: the CLI's argument table and the session start-up
# that places every actor. Everything else in actors/ and serve/ delegates to trading/.
WIRING = {
    "actors/cli.py": {"build_parser"},
}

PURE_DOMAIN = ("trading/risk", "trading/signals", "trading/indicators", "trading/patterns")
IO_AND_LLM = {
    "aiohttp",
    "websockets",
    "sqlite3",
    "psycopg",
    "anthropic",
    "openai",
    "mistralai",
    "httpx2",
    "fastapi",
}


def _long_functions(path: Path, limit: int) -> dict[str, int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    }


@pytest.mark.parametrize("package", ["actors", "serve"])
def test_no_method_in_a_shell_is_longer_than_twenty_lines(package: str) -> None:
    offenders = {}
    for path in sorted((REPO / package).rglob("*.py")):
        name = str(path.relative_to(REPO))
        long = {
            fn: n
            for fn, n in _long_functions(path, MAX_SHELL_LINES).items()
            if fn not in WIRING.get(name, set())
        }
        if long:
            offenders[name] = long
    assert offenders == {}


def test_length_rule_detects_a_long_method(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_SHELL_LINES))
    long.write_text(f"class A:\n    def step(self) -> None:\n{body.replace('    ', '        ')}")
    assert _long_functions(long, MAX_SHELL_LINES) == {"step": MAX_SHELL_LINES + 1}


@pytest.mark.parametrize("package", PURE_DOMAIN)
def test_pure_domain_does_no_io_and_calls_no_llm(package: str) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_imported_roots(path) & IO_AND_LLM)
        for path in sorted((REPO / package).rglob("*.py"))
    }
    assert {file: bad for file, bad in offenders.items() if bad} == {}


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _server_modules() -> set[str]:
    """Modules of trading/ that run an HTTP/WebSocket server (they import aiohttp.web)."""
    return {
        _module_name(path)
        for path in (REPO / "trading").rglob("*.py")
        if {"aiohttp.web", "aiohttp.web.Application"} & _imported_modules(path)
    }


def test_trading_modules_do_not_import_a_server() -> None:
    servers = _server_modules()
    assert servers, "the paper exchange's server module was not found: the rule checks nothing"
    offenders = {
        _module_name(path): sorted(_imported_modules(path) & servers)
        for path in sorted((REPO / "trading").rglob("*.py"))
        if path.name != "__main__.py" and _module_name(path) not in servers
    }
    assert {module: bad for module, bad in offenders.items() if bad} == {}
