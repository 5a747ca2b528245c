"""``/healthz``: every actor pinged at once, each within a timeout; the failed ones named. The
LLM router pool (a replica's ``ping``) and its budget actor are probed with the rest.
``/readyz``: 200 only once every actor answers and the venue's user stream has connected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from typing import Any

from ray.actor import ActorHandle

from actors.budget import BUDGET_ACTOR
from actors.execution import EXECUTION_ACTOR
from actors.journal import JOURNAL_ACTOR
from actors.orchestrator import ORCHESTRATOR_ACTOR, Handles
from actors.paper import PAPER_ACTOR
from actors.risk import RISK_ACTOR
from actors.router import ROUTER_APP
from actors.symbol import actor_name
from serve.schemas import ActorHealth, Body, Health


class Readiness(Body):
    """Ready: every actor answered and the venue stream has connected at least once."""

    ready: bool
    venue_stream: bool
    health: Health


def session_probes(handles: Handles, orchestrator: ActorHandle[Any]) -> dict[str, Awaitable[Any]]:
    """One cheap call per actor (the journal has no ping, its head is as cheap), the router
    pool's replica and its budget actor included."""
    h = handles
    probes: dict[str, Awaitable[Any]] = {
        ORCHESTRATOR_ACTOR: orchestrator.ping.remote(),
        RISK_ACTOR: h.risk.ping.remote(),
        EXECUTION_ACTOR: h.execution.ping.remote(),
        JOURNAL_ACTOR: h.journal.head.remote(),
    }
    if h.paper is not None:
        probes[PAPER_ACTOR] = h.paper.ping.remote()
    if h.router is not None:
        probes[ROUTER_APP] = h.router.handle.ping.remote()
        if h.router.budget is not None:
            probes[BUDGET_ACTOR] = h.router.budget.spending.remote()
    for symbol, actor in h.symbols.items():
        probes[actor_name(symbol)] = actor.ping.remote()
    return probes


async def probe_health(probes: Mapping[str, Awaitable[Any]], timeout_s: float) -> Health:
    """One cheap call per actor, concurrently; status "failing" names each that did not answer."""
    started = time.perf_counter()
    results = await asyncio.gather(*(_probe(call, timeout_s, started) for call in probes.values()))
    actors = dict(zip(probes, results, strict=True))
    failed = sorted(name for name, health in actors.items() if not health.ok)
    return Health(status="failing" if failed else "ok", actors=actors, failed=failed)


async def probe_readiness(
    probes: Mapping[str, Awaitable[Any]], venue_stats: Awaitable[dict[str, int]], timeout_s: float
) -> Readiness:
    """Health, and whether the execution engine's venue stream has connected (its stats)."""
    health, stats = await asyncio.gather(
        probe_health(probes, timeout_s),
        asyncio.wait_for(venue_stats, timeout_s),
        return_exceptions=True,
    )
    if isinstance(health, BaseException):
        raise health
    connected = isinstance(stats, dict) and stats.get("stream_connects", 0) > 0
    return Readiness(ready=connected and not health.failed, venue_stream=connected, health=health)


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
