"""``/healthz``: every actor pinged at once, each within a timeout; the failed ones named."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from typing import Any

from serve.schemas import ActorHealth, Health


async def probe_health(probes: Mapping[str, Awaitable[Any]], timeout_s: float) -> Health:
    """One cheap call per actor, concurrently; status "failing" names each that did not answer."""
    started = time.perf_counter()
    results = await asyncio.gather(*(_probe(call, timeout_s, started) for call in probes.values()))
    actors = dict(zip(probes, results, strict=True))
    failed = sorted(name for name, health in actors.items() if not health.ok)
    return Health(status="failing" if failed else "ok", actors=actors, failed=failed)


async def _probe(call: Awaitable[Any], timeout_s: float, started: float) -> ActorHealth:
    """The answer's latency since ``started``, or why there was none."""
    error: str | None = None
    try:
        await asyncio.wait_for(call, timeout_s)
    except TimeoutError:
        error = f"no answer within {timeout_s * 1000:.0f} ms"
    except Exception as exc:  # a dead or failing actor is what this reports
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    latency_ms = (time.perf_counter() - started) * 1000
    return ActorHealth(ok=error is None, latency_ms=round(latency_ms, 3), error=error)
