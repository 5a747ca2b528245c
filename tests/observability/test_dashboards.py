"""The observability dashboard and alert rules read only metrics the code records, their PromQL
is valid, and the rules pass their promtool unit tests (``.ci/run`` installs promtool)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_cluster_files import _exported_metric_names

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "cluster" / "grafana" / "raytrader-observability.json"
RULES = REPO / "cluster" / "prometheus" / "observability_alerts.yaml"
RULE_TESTS = RULES.with_name("observability_alerts_test.yaml")
KINDS = {"histogram": "histogram", "timed": "histogram", "counter": "counter", "gauge": "gauge"}
NAME = re.compile(r"\b(?:ray_)?raytrader_[a-z0-9_]+\b")
PROMTOOL = shutil.which("promtool")
# .ci/run installs promtool and sets RAYTRADER_REQUIRE_PROMTOOL: there these tests cannot skip
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get("RAYTRADER_REQUIRE_PROMTOOL"),
    reason="promtool not installed (Debian: prometheus)",
)


def _recorded() -> set[str]:
    """Prometheus names of what the actors record (``histogram``, ``counter``, ``gauge`` and
    ``timed`` of ``actors.metrics``, and ``record_performance``'s table of gauges): Ray's
    ``ray_`` prefix, and a histogram's ``_bucket``, ``_sum`` and ``_count`` series."""
    names: set[str] = set()
    for path in sorted((REPO / "actors").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            kind, args = _recording(node)
            for arg in args:
                value = arg.value if isinstance(arg, ast.Constant) else None
                if isinstance(value, str) and value.startswith("raytrader_"):
                    suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
                    names.update(f"ray_{value}{suffix}" for suffix in suffixes)
    return names


def _recording(node: ast.AST) -> tuple[str, list[ast.expr | None]]:
    """The metric kind a node records and the nodes that may name it."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in KINDS:
            return KINDS[name], list(node.args[:1])
    if isinstance(node, ast.Dict):
        return "gauge", list(node.keys)
    return "", []


def _queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def _rules() -> list[dict[str, str]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_recorded_names_are_read_from_the_code() -> None:
    recorded = _recorded()
    assert "ray_raytrader_step_latency_seconds_bucket" in recorded
    assert "ray_raytrader_llm_tokens_total" in recorded
    assert "ray_raytrader_live_sharpe" in recorded
    assert "ray_raytrader_live_sharpe_bucket" not in recorded


def test_every_metric_the_dashboard_and_rules_read_is_exported() -> None:
    exported = _recorded() | _exported_metric_names()
    reads = [(title, expr) for title, expr in _queries()]
    reads += [(rule["alert"], rule["expr"]) for rule in _rules()]
    for where, expr in reads:
        used = set(NAME.findall(expr))
        assert used, f"{where} reads no raytrader metric"
        assert used <= exported, f"{where}: {sorted(used - exported)} not exported"


def test_the_dashboard_has_the_panels_an_operator_asks_for() -> None:
    titles = {title for title, _ in _queries()}
    assert {
        "p95 step latency",
        "p95 scan latency per timeframe",
        "p95 LLM latency per model",
        "LLM spend against the daily budget",
        "Cost per trade (fees, funding, LLM)",
        "PnL",
        "Drawdown against the limits",
        "Hit rate per pattern",
        "Breaker and feed state",
    } <= titles
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_rules_cover_latency_budget_breaker_feed_wal_and_errors() -> None:
    assert {rule["alert"] for rule in _rules()} >= {
        "RaytraderLLMSlow",
        "RaytraderLLMBudgetHigh",
        "RaytraderLLMErrorSpike",
        "RaytraderBreakerOpenTooLong",
        "RaytraderFeedStale",
        "RaytraderWALNotAdvancing",
    }


def _promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "promtool is required here (RAYTRADER_REQUIRE_PROMTOOL)"
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@needs_promtool
def test_the_rules_pass_promtool_check_and_their_unit_tests() -> None:
    checked = _promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", RULE_TESTS.name, cwd=RULES.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"raytrader:panel_{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, (_, expr) in enumerate(_queries())
    ]
    for rule in rules:
        rule["expr"] = rule["expr"].replace("$job", ".*").replace("$instance", ".*")
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    checked = _promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
