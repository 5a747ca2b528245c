"""The RayService builder serves the API over a running session's named actors."""

from __future__ import annotations

import httpx2
import pytest
import ray
from ray import serve as ray_serve

from serve.app import _wait_until_routed, build_app
from tests.serve.live_api import LiveApi
from trading.config import DEFAULT_CONFIG
from trading.security.tokens import Role

pytestmark = pytest.mark.ray

BUILT = "raytrader-built"


def test_build_app_finds_the_session_actors_by_name(live: LiveApi) -> None:
    """Deployed beside the live session's own API (as a RayService would, by import path),
    under its own prefix: it finds the actors by name and takes the session's tokens."""
    namespace = ray.get_runtime_context().namespace
    app = build_app(
        {"namespace": namespace, "config_path": str(DEFAULT_CONFIG), "data_dir": str(live.data_dir)}
    )
    ray_serve.run(app, name=BUILT, route_prefix="/built")
    try:
        _wait_until_routed(live.url + "/built/healthz", 30)
        with httpx2.Client(base_url=live.url + "/built", timeout=10, trust_env=False) as http:
            health = http.get("/healthz").json()
            risk = http.get("/v1/risk", headers=live.headers(Role.VIEWER))
            anonymous = http.get("/v1/risk")
        assert health["status"] == "ok"
        assert {"orchestrator", "risk", "execution", "journal", "symbol:BTC/USDT"} <= set(
            health["actors"]
        )
        assert risk.status_code == 200, risk.text
        assert risk.json()["state"] == "ACTIVE"
        assert anonymous.status_code == 401
    finally:
        ray_serve.delete(BUILT)
