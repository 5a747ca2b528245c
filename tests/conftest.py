"""Shared fixtures: the real market data beside the repo, and one Ray instance per session."""

from __future__ import annotations

import decimal
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis' per-example deadline measures the machine, not the code: under coverage and a
# loaded CI box it fails examples that are correct. Speed lives in tests/bench.
settings.register_profile("raytrader", deadline=None)
settings.load_profile("raytrader")

# Ray 2.5x turns token auth on by default and fails on socket paths over 107 bytes: every
# test session (local or CI) runs with auth off and a short temp dir.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_TMPDIR", "/tmp/ray")  # noqa: S108 - Unix socket paths must stay short
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# The raylet waits this long for the dashboard agent's ports (Ray's default is short); a loaded
# 2-core runner starts the agent's Python slower than that and Ray aborts the node.
os.environ.setdefault("RAY_agent_register_timeout_ms", "120000")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _own_decimal_context() -> Iterator[None]:
    """Each test runs in a copy of the decimal context: a client library that rewrites the
    current context (ccxt sets ROUND_HALF_UP) cannot change a later test's money math."""
    with decimal.localcontext():
        yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (override with RAYTRADER_SHARED_DATA); the suite needs the real data."""
    path = Path(os.environ.get("RAYTRADER_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.fail(f"shared market data not found at {path}; set RAYTRADER_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def ray_session() -> Iterator[object]:
    """One embedded Ray for the whole session: init costs ~4 s, shutdown ~1.5 s."""
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=os.environ["RAY_TMPDIR"],
        log_to_driver=False,
        runtime_env={"env_vars": {"RAY_AUTH_MODE": "disabled"}},
    )
    yield ray
    ray.shutdown()
