"""The RayService builder serves the API over a running session's named actors."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import ray
from ray import serve as ray_serve

from actors.session import SessionOptions, start_actors, stop_actors
from serve.app import _wait_until_routed, build_app, stop_api
from tests.serve.live_api import FIRST_CLOCK, free_port
from trading.config import DEFAULT_CONFIG, load_settings

pytestmark = pytest.mark.ray


def test_build_app_finds_the_session_actors_by_name(ray_session: Any, tmp_path: Path) -> None:
    port = free_port()
    ray_serve.start(http_options={"host": "127.0.0.1", "port": port})  # as KubeRay does
    handles, orchestrator = start_actors(
        SessionOptions(settings=load_settings(), data_dir=tmp_path, max_bars=6)
    )
    try:
        ray.get(orchestrator.step.remote(FIRST_CLOCK))
        namespace = ray.get_runtime_context().namespace
        app = build_app(
            {"namespace": namespace, "config_path": str(DEFAULT_CONFIG), "data_dir": str(tmp_path)}
        )
        ray_serve.run(app, name="raytrader", route_prefix="/")
        url = f"http://127.0.0.1:{port}"
        _wait_until_routed(url + "/healthz", 30)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url + "/healthz", timeout=5) as answer:
            health = json.loads(answer.read())
        assert health["status"] == "ok"
        assert {"orchestrator", "risk", "execution", "journal", "symbol:BTC/USDT"} <= set(
            health["actors"]
        )
    finally:
        stop_api()
        stop_actors(handles, orchestrator)
