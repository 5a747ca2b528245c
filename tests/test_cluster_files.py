"""The deployment files under cluster/ parse, name real commands and real metrics.

Metric names come from ``serve/metrics.py``'s own collector fed with fake readings (loaded
without Ray: only its type-annotation import of ``actors.orchestrator`` is stubbed), so a
renamed or dropped metric turns the alert rules and the Grafana dashboard red here.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from actors.cli import build_parser
from trading.risk.drawdown import TradingState
from trading.risk.gate import RiskSummary

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "cluster"
KUBERAY = CLUSTER / "kuberay"
ALERTS = CLUSTER / "prometheus" / "alerts.yaml"
DASHBOARD = CLUSTER / "grafana" / "raytrader.json"
METRIC = re.compile(r"\braytrader_[a-z0-9_]+\b")
PROMTOOL = shutil.which("promtool")

YAML_FILES = sorted(CLUSTER.rglob("*.yaml"))
JSON_FILES = sorted(CLUSTER.rglob("*.json"))


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _manifest(path: Path, kind: str) -> dict[str, Any]:
    (doc,) = [d for d in _documents(path) if d.get("kind") == kind]
    return doc


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _ray_containers(cluster_spec: dict[str, Any]) -> list[dict[str, Any]]:
    groups = [cluster_spec["headGroupSpec"], *cluster_spec["workerGroupSpecs"]]
    return [
        c
        for g in groups
        for c in g["template"]["spec"]["containers"]
        if c["name"] != "metrics-proxy"
    ]


def _exported_metric_names() -> set[str]:
    """Every sample name ``serve.metrics.exposition`` writes when every source answers."""
    stub = types.ModuleType("actors.orchestrator")
    stub.SessionProgress = object  # type: ignore[attr-defined]  # annotations only
    spec = importlib.util.spec_from_file_location("_cluster_metrics", REPO / "serve/metrics.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        if "actors.orchestrator" not in sys.modules:
            patch.setitem(sys.modules, "actors.orchestrator", stub)
        patch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
        spec.loader.exec_module(module)
    progress = types.SimpleNamespace(
        steps=3,
        base_bars=9,
        signals=9,
        decisions={"APPROVED": 1, "RESIZED": 1, "DENIED": 1},
        orders=2,
        fills=2,
        done=False,
    )
    risk = RiskSummary(
        state=TradingState.ACTIVE,
        trigger=None,
        equity=Decimal("99000"),
        balance=Decimal("98000"),
        gross_exposure=Decimal("1000"),
        exposure_by_symbol={"BTC/USDT": Decimal("1000")},
        day_peak=Decimal("100000"),
        month_peak=Decimal("101000"),
        open_positions=1,
        orders_in_flight=0,
    )
    observation = module.Observation(
        progress=progress,
        risk=risk,
        execution={"sent": 2, "send_failures": 0},
        journal_records=40,
        venue={"accepted": 2, "duplicate_attempts": 0},
    )
    text = module.exposition(observation).decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return _exported_metric_names()


def _alert_rules() -> list[dict[str, Any]]:
    return [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]


def _dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def _promql(expr: str) -> str:
    """A Grafana query with its template variables filled in, for promtool."""
    return expr.replace("$__rate_interval", "1m").replace("$job", ".*").replace("$instance", ".*")


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(CLUSTER)))
def test_every_cluster_yaml_file_parses(path: Path) -> None:
    assert _documents(path), f"{path} holds no YAML document"


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: str(p.relative_to(CLUSTER)))
def test_every_cluster_json_file_parses(path: Path) -> None:
    assert isinstance(json.loads(path.read_text()), dict)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("raycluster.yaml", "RayCluster"),
        ("rayjob.yaml", "RayJob"),
        ("rayservice.yaml", "RayService"),
    ],
)
def test_kuberay_manifests_are_ray_io_v1_resources(name: str, kind: str) -> None:
    manifest = _manifest(KUBERAY / name, kind)
    assert manifest["apiVersion"] == "ray.io/v1"
    assert manifest["metadata"]["name"]
    cluster_spec = (
        manifest["spec"]
        if kind == "RayCluster"
        else manifest["spec"]["rayClusterSpec" if kind == "RayJob" else "rayClusterConfig"]
    )
    assert cluster_spec["rayVersion"] == "2.60.0"


def test_rayjob_entrypoint_is_a_raytrader_run_that_joins_the_cluster() -> None:
    argv = shlex.split(_manifest(KUBERAY / "rayjob.yaml", "RayJob")["spec"]["entrypoint"])
    assert argv[0] == "raytrader"
    args = build_parser().parse_args(argv[1:])  # exits 2 on an unknown subcommand or flag
    assert args.command == "run"
    assert args.address == "auto"
    assert str(args.data_dir).startswith("/data/"), "state must land on the shared volume"


def test_every_command_line_in_cluster_docs_parses_with_the_cli() -> None:
    """``raytrader ...`` lines in the manifests' and launcher's comments are real commands."""
    parser = build_parser()
    found = 0
    for path in [*YAML_FILES, CLUSTER / "README.md", CLUSTER / "Dockerfile"]:
        for line in path.read_text().splitlines():
            match = re.search(r"-- (raytrader (?:run|backtest)\b[^`#]*)", line)
            if match is None:
                continue
            argv = shlex.split(match.group(1).rstrip("\\ "))
            parser.parse_args(argv[1:])
            found += 1
    assert found >= 3


def test_kuberay_ray_containers_run_with_token_auth_from_a_secret() -> None:
    for name, kind, key in [
        ("raycluster.yaml", "RayCluster", None),
        ("rayjob.yaml", "RayJob", "rayClusterSpec"),
        ("rayservice.yaml", "RayService", "rayClusterConfig"),
    ]:
        spec = _manifest(KUBERAY / name, kind)["spec"]
        for container in _ray_containers(spec[key] if key else spec):
            env = {e["name"]: e for e in container.get("env", [])}
            assert env["RAY_AUTH_MODE"].get("value") == "token", f"{name}: {container['name']}"
            secret = env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
            assert secret == {"name": "raytrader-ray-token", "key": "token"}, name


def test_rayjob_driver_runtime_env_uses_token_auth() -> None:
    spec = _manifest(KUBERAY / "rayjob.yaml", "RayJob")["spec"]
    assert yaml.safe_load(spec["runtimeEnvYAML"])["env_vars"]["RAY_AUTH_MODE"] == "token"


def test_rayservice_serve_config_deploys_the_api_deployment() -> None:
    spec = _manifest(KUBERAY / "rayservice.yaml", "RayService")["spec"]
    serve_config = yaml.safe_load(spec["serveConfigV2"])
    (app,) = serve_config["applications"]
    assert app["import_path"].startswith("serve.app:")
    assert [d["name"] for d in app["deployments"]] == ["api"]  # @serve.deployment(name="api")
    assert app["runtime_env"]["env_vars"]["RAY_AUTH_MODE"] == "token"


def test_rayservice_import_path_names_a_top_level_builder_in_serve_app() -> None:
    spec = _manifest(KUBERAY / "rayservice.yaml", "RayService")["spec"]
    (app,) = yaml.safe_load(spec["serveConfigV2"])["applications"]
    module, _, attribute = app["import_path"].partition(":")
    tree = ast.parse((REPO / (module.replace(".", "/") + ".py")).read_text())
    top_level = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
    } | {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert attribute in top_level


def test_runtime_env_uses_token_auth_without_the_token() -> None:
    runtime_env = yaml.safe_load((CLUSTER / "runtime_env.yaml").read_text())
    assert runtime_env["env_vars"]["RAY_AUTH_MODE"] == "token"
    assert "RAY_AUTH_TOKEN" not in runtime_env["env_vars"]


def test_runtime_env_uploads_no_package_sources_nor_build_output() -> None:
    """Workers import the installed wheel: an uploaded rust_exec/ (without its gitignored
    extension) would shadow it and fail ``import rust_exec``."""
    excludes = set(yaml.safe_load((CLUSTER / "runtime_env.yaml").read_text())["excludes"])
    assert {"/trading/", "/actors/", "/serve/", "/rust_exec/"} <= excludes
    assert {"/target/", "/.git/", "/build/", "/raytrader-data/"} <= excludes


def test_cluster_launcher_starts_every_node_with_token_auth() -> None:
    config = yaml.safe_load((CLUSTER / "ray-cluster.yaml").read_text())
    assert config["head_node_type"] in config["available_node_types"]
    for node_type in config["available_node_types"].values():
        assert node_type["resources"]["CPU"] > 0
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [c for c in config[key] if "ray start" in c]
        assert starts, key
        assert all("RAY_AUTH_MODE=token" in c for c in starts), key
        assert all("RAY_AUTH_TOKEN_PATH=" in c for c in starts), key
    assert "~/ray_auth_token" in config["file_mounts"]
    assert any("raytrader-" in c and ".whl" in c for c in config["setup_commands"])


def test_dockerfile_builds_the_wheel_with_maturin_and_runs_raytrader() -> None:
    text = (CLUSTER / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.MULTILINE)
    assert len(stages) >= 2
    assert "maturin build" in text
    assert "python:${PYTHON_VERSION}-slim" in text
    assert re.search(r'^ENTRYPOINT \[.*"raytrader"\]', text, re.MULTILINE)


def test_alert_rules_only_use_metrics_serve_exports(exported: set[str]) -> None:
    for rule in _alert_rules():
        used = set(METRIC.findall(rule["expr"]))
        assert used, f"{rule['alert']} reads no raytrader metric"
        assert used <= exported, f"{rule['alert']}: {sorted(used - exported)} not exported"


def test_alert_rules_cover_state_drawdown_sources_progress_and_journal() -> None:
    used = {m for rule in _alert_rules() for m in METRIC.findall(rule["expr"])}
    states = " ".join(rule["expr"] for rule in _alert_rules())
    assert {
        "raytrader_trading_state",
        "raytrader_equity_day_peak",
        "raytrader_equity_month_peak",
        "raytrader_source_up",
        "raytrader_steps_total",
        "raytrader_journal_records",
    } <= used
    assert 'state="REDUCING"' in states
    assert 'state="HALTED"' in states


def test_dashboard_panels_only_use_metrics_serve_exports(exported: set[str]) -> None:
    queries = _dashboard_queries()
    assert len(queries) >= 10
    for title, expr in queries:
        used = set(METRIC.findall(expr))
        assert used, f"panel {title!r} reads no raytrader metric"
        assert used <= exported, f"panel {title!r}: {sorted(used - exported)} not exported"


def test_dashboard_panels_have_unique_ids_and_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job", "instance"} <= variables


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")
def test_alert_rules_pass_their_promtool_unit_tests() -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yaml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    rules = [
        {"record": f"raytrader:panel_{i}", "expr": _promql(expr)}
        for i, (_, expr) in enumerate(_dashboard_queries())
    ]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
