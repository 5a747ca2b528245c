"""Run as a script (its own Ray cluster): two nodes, the risk actor placed softly on node A
with its checkpoint on a directory both reach; node A is removed; prints JSON: how long until
the risk actor answered again, on which node, with which state."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import ray
from ray._private.state import actors
from ray.cluster_utils import Cluster

from actors.risk import RiskActor
from actors.session import SessionOptions, state_placement
from trading.config import load_settings


def _node_of(name: str) -> str:
    alive = [a for a in actors().values() if a["Name"] == name and a["State"] == "ALIVE"]
    return str(alive[0]["Address"]["NodeID"]) if alive else ""


def main(temp_dir: str) -> dict[str, object]:
    Path(temp_dir, "ray").mkdir(parents=True, exist_ok=True)  # Ray writes the address there
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "temp_dir": temp_dir, "include_dashboard": False},
    )
    node_a = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address)
    cluster.wait_for_nodes()
    settings, shared = load_settings(), Path(tempfile.mkdtemp())
    options = SessionOptions(
        settings=settings, data_dir=shared, state_node_id=node_a.node_id, shared_state=True
    )
    risk = RiskActor.options(  # type: ignore[attr-defined]
        name="risk", scheduling_strategy=state_placement(options)
    ).remote(settings, str(shared / "risk.json"), "100000")
    ray.get(risk.halt.remote(datetime.now(UTC), "before the failover"))
    before = _node_of("risk")
    cluster.remove_node(node_a)
    lost = time.monotonic()
    summary = ray.get(risk.summary.remote(), timeout=120)
    answer_s = time.monotonic() - lost
    report = {
        "failover_s": round(answer_s, 2),
        "state": str(summary.state),
        "moved": before != _node_of("risk") and before == node_a.node_id,
    }
    ray.shutdown()
    cluster.shutdown()  # type: ignore[no-untyped-call]
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
