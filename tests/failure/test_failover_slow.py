"""Node loss with shared state (marker slow): the risk actor, softly placed on the node that is
removed, restarts on the surviving node from its checkpoint on the shared directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("failover_two_nodes.py")


def test_a_state_actor_on_a_lost_node_restarts_on_the_other_from_its_checkpoint() -> None:
    """Its own Ray cluster, in a child process (the suite's embedded Ray stays untouched)."""
    temp_dir = os.environ.get("RAY_TMPDIR", "/tmp/ray") + "-failover"  # noqa: S108
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), temp_dir],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=root,
        env={
            **os.environ,
            "PYTHONPATH": str(root),
            "RAY_AUTH_MODE": "disabled",
            "RAY_TMPDIR": temp_dir,
        },
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["moved"], report
    assert report["state"] == "HALTED", "the checkpoint on the shared dir was resumed"
    assert report["failover_s"] < 60, report
