"""Serve benchmark: `GET /healthz` over real HTTP pings every actor (budget: p95 <= 50 ms)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pytest

from tests.serve.live_api import live_api

pytestmark = [pytest.mark.bench, pytest.mark.ray]

TARGET_P95_MS = 50.0
REQUESTS = 200
WARMUP = 20


def test_healthz_p95_within_50_ms(ray_session: Any, tmp_path: Path) -> None:
    with (
        live_api(tmp_path, steps=2) as api,
        httpx2.Client(base_url=api.url, timeout=5, trust_env=False) as http,
    ):
        for _ in range(WARMUP):
            assert http.get("/healthz").status_code == 200
        latencies_ms = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            answer = http.get("/healthz")
            latencies_ms.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
        actors = len(answer.json()["actors"])
    p50, p95, p99 = np.percentile(latencies_ms, [50, 95, 99])
    print(
        f"\n/healthz over HTTP, {actors} actors pinged per request, {REQUESTS} requests: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, "
        f"mean {statistics.fmean(latencies_ms):.1f} ms, max {max(latencies_ms):.1f} ms "
        f"(budget p95 <= {TARGET_P95_MS:.0f} ms)"
    )
    assert p95 <= TARGET_P95_MS
