"""The risk singleton keeps a hot-reloaded limit across a restart (not the session's config)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
import ray

from actors.risk import RiskActor
from tests.test_symbol_restart import _pid
from trading.config import load_settings

pytestmark = pytest.mark.ray


def test_restarted_risk_actor_enforces_the_last_reloaded_limits(
    ray_session: object, tmp_path: Path
) -> None:
    settings = load_settings()
    reloaded = settings.model_copy(
        update={"risk": settings.risk.model_copy(update={"max_gross_exposure_pct": 12.5})}
    )
    assert settings.risk.max_gross_exposure_pct != 12.5
    fresh = tempfile.mkdtemp(prefix="risk-", dir="/tmp/ray")
    checkpoint = Path(fresh) / "risk.json"
    risk = RiskActor.remote(settings, str(checkpoint), "100000")  # type: ignore[attr-defined]
    try:
        ray.get(risk.apply_policy.remote(reloaded))
        assert ray.get(risk.limits.remote()).max_gross_exposure_pct == 12.5
        pid = _pid(risk)
        ray.kill(risk, no_restart=False)
        deadline = time.monotonic() + 60
        while _pid(risk) == pid and time.monotonic() < deadline:  # the kill lands asynchronously
            time.sleep(0.1)
        assert _pid(risk) != pid, "the actor was not restarted"
        assert ray.get(risk.limits.remote()).max_gross_exposure_pct == 12.5
    finally:
        ray.kill(risk)
