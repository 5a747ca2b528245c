"""Placement: the actors that write under the data dir are hard-pinned to the node owning it;
symbol actors and router replicas are free to go anywhere."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.actor import ActorHandle

from actors.journal import JOURNAL_ACTOR
from actors.paper import PAPER_ACTOR
from actors.risk import RISK_ACTOR
from actors.session import SessionOptions, start_actors, state_placement, stop_actors
from trading.config import Settings, load_settings

pytestmark = pytest.mark.ray

MISSING_NODE = "ab" * 28  # a well-formed node id no cluster has


def _settings(llm: bool) -> Settings:
    """The bundled config on one symbol (fewer workers to start)."""
    settings = load_settings()
    features = settings.features.model_copy(update={"llm_opinion": llm})
    return settings.model_copy(update={"features": features, "symbols": ("BTC/USDT",)})


def _node_of(actor: ActorHandle[Any]) -> str:
    node: ray.ObjectRef[str] = actor.__ray_call__.remote(
        lambda _: ray.get_runtime_context().get_node_id()
    )
    return ray.get(node, timeout=60)


def _kill_named(*names: str) -> None:
    for name in names:
        with contextlib.suppress(ValueError):  # never created
            ray.kill(ray.get_actor(name), no_restart=True)


def test_stateful_actors_run_on_the_drivers_node_under_a_hard_affinity(
    ray_session: Any, tmp_path: Path
) -> None:
    options = SessionOptions(settings=_settings(llm=False), data_dir=tmp_path)
    driver = ray.get_runtime_context().get_node_id()
    placement = state_placement(options)
    assert (placement.node_id, placement.soft) == (driver, False)
    handles, orchestrator = start_actors(options)
    try:
        assert handles.paper is not None
        stateful = {
            "journal": handles.journal,
            "risk": handles.risk,
            "execution": handles.execution,
            "paper": handles.paper,
            "orchestrator": orchestrator,
            "BTC/USDT": handles.symbols["BTC/USDT"],
        }
        assert {name: _node_of(actor) for name, actor in stateful.items()} == dict.fromkeys(
            stateful, driver
        )
    finally:
        stop_actors(handles, orchestrator)


def test_state_pinned_to_a_missing_node_refuses_to_start_rather_than_run_elsewhere(
    ray_session: Any, tmp_path: Path
) -> None:
    """The paper venue is the first pinned actor the session waits on; the journal and risk
    actors created before it are dead too (Ray frees an unschedulable actor's name)."""
    options = SessionOptions(
        settings=_settings(llm=False), data_dir=tmp_path, state_node_id=MISSING_NODE
    )
    try:
        with pytest.raises(ray.exceptions.ActorUnschedulableError, match="soft=False"):
            start_actors(options)
        for name in (JOURNAL_ACTOR, RISK_ACTOR, PAPER_ACTOR):
            with pytest.raises(ValueError, match=f"Failed to look up actor with name '{name}'"):
                ray.get_actor(name)
    finally:
        _kill_named(JOURNAL_ACTOR, RISK_ACTOR, PAPER_ACTOR)


TWO_NODES = """
import json, sys, tempfile, time
import ray
from ray import serve
from ray.cluster_utils import Cluster
from actors.router import ROUTER_APP, ROUTER_DEPLOYMENT
from actors.session import SessionOptions, start_actors
from trading.config import load_settings

fast = {"health_check_period_ms": 200, "health_check_failure_threshold": 3,
        "health_check_initial_delay_ms": 0}
cluster = Cluster(initialize_head=True, head_node_args={
    "num_cpus": 1, "include_dashboard": False, "_system_config": fast})
state_node = cluster.add_node(num_cpus=1)
ray.init(address=cluster.address, log_to_driver=False)
settings = load_settings()
features = settings.features.model_copy(update={"llm_opinion": True})
settings = settings.model_copy(update={"symbols": ("BTC/USDT",), "features": features})
options = SessionOptions(settings=settings, data_dir=__import__("pathlib").Path(
    tempfile.mkdtemp()), state_node_id=state_node.node_id)
handles, orchestrator = start_actors(options)
where = lambda a: ray.get(a.__ray_call__.remote(
    lambda _: ray.get_runtime_context().get_node_id()), timeout=120)
pinned = {"journal": handles.journal, "risk": handles.risk, "execution": handles.execution,
          "paper": handles.paper, "orchestrator": orchestrator,
          "symbol": handles.symbols["BTC/USDT"]}
report = {"head": cluster.head_node.node_id, "state": state_node.node_id,
          "pinned": {k: where(a) for k, a in pinned.items()}}
router = serve.status().applications[ROUTER_APP].deployments[ROUTER_DEPLOYMENT]
report["router"] = router.replica_states.get("RUNNING", 0)
cluster.remove_node(state_node)  # the state node dies: nothing may restart on the head
deadline, fate = time.monotonic() + 60, None
while fate is None and time.monotonic() < deadline:
    try:
        ray.get(handles.risk.summary.remote(), timeout=5)
        fate = "answered"
    except (ray.exceptions.GetTimeoutError, ray.exceptions.ActorUnavailableError):
        time.sleep(0.5)  # restarting: wait for where it lands, or that it cannot
    except ray.exceptions.RayError as exc:
        fate = type(exc).__name__
report["risk_after_node_loss"] = fate
print("REPORT" + json.dumps(report))
"""


@pytest.mark.slow
def test_on_two_nodes_state_stays_on_its_node_and_dies_with_it() -> None:
    """A real two-node cluster (``ray.cluster_utils.Cluster``, in a subprocess so it never
    meets the session's Ray): every state actor runs on the state node (not the head, where
    the driver is); when that node dies the risk actor is not restarted on the head."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(
        [sys.executable, "-c", TWO_NODES],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT")]
    assert lines, done.stdout[-2000:] + done.stderr[-4000:]
    report = json.loads(lines[0].removeprefix("REPORT"))
    assert report["state"] != report["head"]
    assert report["pinned"] == dict.fromkeys(report["pinned"], report["state"])
    assert report["router"] == 1
    assert report["risk_after_node_loss"] in {"ActorDiedError", "ActorUnschedulableError"}
