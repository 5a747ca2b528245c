"""Router pool benchmark: what a routed LLM request costs through the Serve deployment's handle
over calling ``LLMRouter`` in-process, measured in the same run (budget: p95 overhead <= 2 ms;
offline analyst, no provider key, the cache open and warm)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from actors.router import start_router_pool
from tests.llm.scenario import request
from trading.config import RouterPoolSettings, load_settings
from trading.llm import LLMOpinion, LLMRouter
from trading.llm.prompt import AnalysisRequest

pytestmark = [pytest.mark.bench, pytest.mark.ray]

OVERHEAD_P95_MS = 2.0
REQUESTS = 1000
WARMUP = 100


async def _latencies_ms(ask: Callable[[AnalysisRequest], Awaitable[LLMOpinion]]) -> list[float]:
    """One request at a time, after a warm-up; every answer from the offline analyst."""
    asked = request()
    for _ in range(WARMUP):
        assert (await ask(asked)).offline
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        await ask(asked)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def test_bench_routed_request_overhead_through_serve(ray_session: Any, tmp_path: Path) -> None:
    one_replica = RouterPoolSettings(min_replicas=1, max_replicas=1)
    settings = load_settings().router.model_copy(update={"pool": one_replica})
    files = {  # SQLite files, as each replica keeps them
        "cache": settings.cache.model_copy(update={"path": str(tmp_path / "llm-cache.db")}),
        "evaluation": settings.evaluation.model_copy(
            update={"path": str(tmp_path / "llm-eval.db")}
        ),
    }
    in_process = LLMRouter(settings.model_copy(update=files), environ={})
    pool = start_router_pool(settings, str(tmp_path / "pool"), name="llm-router-bench")
    try:
        reference = asyncio.run(_latencies_ms(in_process.opinion))
        routed = asyncio.run(_latencies_ms(pool.opinion))
    finally:
        pool.stop()
    ref_p50, ref_p95 = np.percentile(reference, [50, 95])
    p50, p95 = np.percentile(routed, [50, 95])
    overhead = p95 - ref_p95
    print(
        f"\nLLM request, {REQUESTS} one at a time: in-process p50 {ref_p50:.3f} ms, "
        f"p95 {ref_p95:.3f} ms; through Serve p50 {p50:.3f} ms, p95 {p95:.3f} ms "
        f"(x{p95 / ref_p95:.1f} in-process)\n  overhead p95 {overhead:.3f} ms, "
        f"budget <= {OVERHEAD_P95_MS} ms: ratio {overhead / OVERHEAD_P95_MS:.2f}"
    )
    assert overhead <= OVERHEAD_P95_MS
