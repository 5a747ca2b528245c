"""The autoscaling router pool on Ray, against a slow fake provider on loopback: a burst scales
it to ``max_replicas`` (never beyond), idleness drains it back to ``min_replicas``, a retired
replica finishes what it holds, and provider calls stay under their per-endpoint bound."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import ray
from aiohttp import web

from actors.budget import BudgetActor
from actors.router import PoolStats, ReplicaScaler, RouterPool, start_router_pool
from tests.llm.fake_provider import Behaviour, FakeProvider
from tests.llm.scenario import fake_models, fake_settings, request
from trading.config import (
    Budget,
    CacheSettings,
    HedgeSettings,
    RouterPoolSettings,
    RouterSettings,
)
from trading.contracts import Direction
from trading.llm import Degradation, LLMOpinion, LLMRouter
from trading.llm.budget import Reservation, Spending
from trading.llm.evaluation import EvaluationStore
from trading.llm.prompt import build_prompt

pytestmark = pytest.mark.ray

POOL = RouterPoolSettings(
    min_replicas=1, max_replicas=4, target_in_flight=4, scale_down_after_s=3.0, refresh_s=0.25
)
CALLS_PER_PROVIDER = 3  # per replica: the pool's bound is 3 x 4 = 12
BURST = 24  # concurrent callers: 24 / 4 per replica wants 6 replicas, capped at 4


class CountingProvider(FakeProvider):
    """The fake provider, counting the calls it holds at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0

    async def _handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await super()._handle(request)
        finally:
            self.in_flight -= 1


@pytest.fixture
def provider() -> Iterator[CountingProvider]:
    """A counting fake provider served from its own thread (Ray workers call it over TCP)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def make() -> CountingProvider:
        return await CountingProvider().__aenter__()

    fake = asyncio.run_coroutine_threadsafe(make(), loop).result(timeout=10)
    yield fake
    asyncio.run_coroutine_threadsafe(fake.__aexit__(None, None, None), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


def _settings(fake: FakeProvider, **overrides: Any) -> tuple[RouterSettings, dict[str, str]]:
    """One model (claude) then offline; no cache, no hedge: every request is one call."""
    base: dict[str, Any] = {
        "cache": CacheSettings(enabled=False),
        "hedge": HedgeSettings(enabled=False),
        "attempt_timeout_ms": 6000,
        "request_timeout_ms": 15000,
        "max_calls_per_provider": CALLS_PER_PROVIDER,
    }
    base.update(overrides)
    return fake_settings(fake, ("claude",), **base)


def _is_claude_long(opinion: LLMOpinion) -> bool:
    """The fake's answer, from the model (not the offline analyst standing in)."""
    return (opinion.source, opinion.direction, opinion.confidence, opinion.offline) == (
        "claude",
        Direction.LONG,
        0.7,
        False,
    )


def test_scaler_adds_at_once_and_removes_only_after_a_sustained_surplus() -> None:
    scaler = ReplicaScaler(POOL)
    assert scaler.wanted(1, 0, 0.0) == 1
    assert scaler.wanted(1, 9, 0.0) == 3  # ceil(9 / 4)
    assert scaler.wanted(3, 40, 1.0) == 4  # capped at max_replicas
    assert scaler.wanted(4, 5, 2.0) == 4  # surplus starts: wants 2, holds 4
    assert scaler.wanted(4, 0, 4.0) == 4
    assert scaler.wanted(4, 0, 5.0) == 2  # 3 s oversized: the busiest need of the window
    assert scaler.wanted(2, 0, 5.5) == 1  # the need of 2 has left the trailing window
    assert scaler.wanted(1, 16, 6.0) == 4  # load ends the surplus at once
    assert scaler.wanted(4, 0, 6.5) == 4
    assert scaler.wanted(4, 0, 9.0) == 4
    assert scaler.wanted(4, 0, 9.5) == 1
    assert scaler.wanted(1, 0, 20.0) == 1  # never below min_replicas


def test_settings_refuse_a_pool_whose_min_exceeds_its_max() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="min_replicas 5 exceeds max_replicas 4"):
        RouterPoolSettings(min_replicas=5, max_replicas=4)


def test_router_holds_at_most_max_calls_per_provider_at_once() -> None:
    async def scenario() -> tuple[list[LLMOpinion], int]:
        async with CountingProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(latency_s=0.2))
            settings, environ = _settings(fake, max_calls_per_provider=2)
            router = LLMRouter(settings, environ=environ)
            opinions = await asyncio.gather(*(router.opinion(request()) for _ in range(7)))
            await router.close()
            return list(opinions), fake.peak

    opinions, peak = asyncio.run(scenario())
    assert all(_is_claude_long(o) for o in opinions)
    assert peak == 2


async def _stats(pool: RouterPool) -> PoolStats:
    stats: PoolStats = await pool.controller.stats.remote()
    return stats


async def _burst(pool: RouterPool, seen: list[PoolStats]) -> list[LLMOpinion]:
    """``BURST`` callers ask in a loop until four replicas have served, then stop."""
    opinions: list[LLMOpinion] = []
    stop = asyncio.Event()

    async def caller() -> None:
        for _ in range(200):  # bounded; stop ends it long before
            if stop.is_set():
                return
            opinions.append(await pool.opinion(request()))

    callers = [asyncio.create_task(caller()) for _ in range(BURST)]
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and len(pool.served) < POOL.max_replicas:
        seen.append(await _stats(pool))
        await asyncio.sleep(0.1)
    for _ in range(10):  # a second more at full size
        seen.append(await _stats(pool))
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*callers), timeout=30)
    return opinions


async def _until(pool: RouterPool, serving: int, timeout_s: float) -> PoolStats:
    deadline = time.monotonic() + timeout_s
    stats = await _stats(pool)
    while time.monotonic() < deadline and (stats.serving, stats.retiring) != (serving, 0):
        await asyncio.sleep(0.1)
        stats = await _stats(pool)
    return stats


def test_burst_scales_to_max_then_idle_drains_to_min_without_losing_a_request(
    ray_session: Any, provider: CountingProvider, tmp_path: Path
) -> None:
    tenant = provider.add("claude", "anthropic", Behaviour(latency_s=0.4))
    settings, environ = _settings(provider, pool=POOL)
    pool = start_router_pool(
        settings,
        str(tmp_path),
        name="router-pool-test",
        replica_options={"runtime_env": {"env_vars": {**environ, "RAY_AUTH_MODE": "disabled"}}},
    )

    async def scenario() -> tuple[list[LLMOpinion], list[PoolStats], list[LLMOpinion], PoolStats]:
        seen: list[PoolStats] = []
        burst = await _burst(pool, seen)
        # idle but for four slow requests, one per replica, still held when the pool shrinks
        tenant.default = Behaviour(latency_s=5.0)
        await asyncio.sleep(0.6)
        served_before = Counter(pool.served)
        slow = await asyncio.wait_for(
            asyncio.gather(*(pool.opinion(request()) for _ in range(4))), timeout=30
        )
        slow_replicas = set(pool.served - served_before)
        assert len(slow_replicas) == 4, pool.served - served_before
        after = await _until(pool, POOL.min_replicas, timeout_s=20)
        return burst, seen, list(slow), after

    try:
        burst, seen, slow, after = asyncio.run(scenario())
    finally:
        pool.stop()

    assert len(burst) >= BURST
    assert all(_is_claude_long(o) for o in burst), Counter(o.source for o in burst)
    assert max(s.alive for s in seen) == POOL.max_replicas
    assert max(s.serving for s in seen) == POOL.max_replicas
    assert len([rid for rid, n in pool.served.items() if n]) == POOL.max_replicas
    assert provider.peak == CALLS_PER_PROVIDER * POOL.max_replicas

    assert all(_is_claude_long(o) for o in slow), [o.note for o in slow]
    assert (after.serving, after.starting, after.retiring) == (POOL.min_replicas, 0, 0)
    assert after.peak_alive == POOL.max_replicas
    assert after.added == POOL.max_replicas
    assert len(after.retired) == POOL.max_replicas - POOL.min_replicas
    assert {after.retired_holding[rid] for rid in after.retired} == {1}, after.retired_holding
    assert after.errors == []


def test_a_lost_replica_is_replaced_and_a_request_that_meets_it_is_retried(
    ray_session: Any, provider: CountingProvider, tmp_path: Path
) -> None:
    provider.add("claude", "anthropic", Behaviour(latency_s=0.05))
    settings, environ = _settings(provider, pool=POOL)
    pool = start_router_pool(
        settings,
        str(tmp_path),
        name="router-pool-loss",
        replica_options={"runtime_env": {"env_vars": {**environ, "RAY_AUTH_MODE": "disabled"}}},
    )

    async def scenario() -> tuple[LLMOpinion, LLMOpinion, PoolStats]:
        first = await pool.opinion(request())
        view = await pool.controller.view.remote()
        ((rid, replica),) = view.replicas
        assert rid == "router-1"
        ray.kill(replica, no_restart=True)  # the pool copy's view still names it
        second = await asyncio.wait_for(pool.opinion(request()), timeout=60)
        return first, second, await _stats(pool)

    try:
        first, second, stats = asyncio.run(scenario())
    finally:
        pool.stop()
    assert _is_claude_long(first)
    assert _is_claude_long(second)
    assert pool.served == Counter({"router-1": 1, "router-2": 1})
    assert (stats.serving, stats.added, stats.errors) == (1, 2, ["router-1 lost"])


BUDGET_POOL = POOL.model_copy(update={"max_replicas": 2, "scale_down_after_s": 120.0})
BUDGET_FITS = 6  # worst-case calls the daily cap holds; per-replica ledgers would allow 2 x 6


def _claude_worst_usd(settings: RouterSettings) -> Decimal:
    """A claude call's worst case at the test prices (3 and 15 USD per million tokens)."""
    tokens_in = build_prompt(request()).tokens_estimate
    return (Decimal("3.0") * tokens_in + Decimal("15.0") * settings.max_tokens_out) / 1_000_000


def test_a_pool_of_two_replicas_under_a_burst_spends_one_budget_in_total(
    ray_session: Any, provider: CountingProvider, tmp_path: Path
) -> None:
    tenant = provider.add("claude", "anthropic", Behaviour(status=500, latency_s=0.5))
    settings, environ = _settings(provider, pool=BUDGET_POOL, cooldown_after_failures=10_000)
    cap = BUDGET_FITS * _claude_worst_usd(settings)
    assert Decimal(repr(float(cap))) == cap
    budget = Budget(daily_usd=float(cap), run_usd=100.0, daily_tokens=10**9, run_tokens=10**9)
    settings = settings.model_copy(update={"budget": budget})
    pool = start_router_pool(
        settings,
        str(tmp_path),
        name="router-pool-budget",
        replica_options={"runtime_env": {"env_vars": {**environ, "RAY_AUTH_MODE": "disabled"}}},
    )

    async def scale_up_for_free() -> None:
        """Failing calls (they release what they reserve) load the pool to its two replicas."""
        stop = asyncio.Event()

        async def caller() -> None:
            for _ in range(200):
                if stop.is_set():
                    return
                await pool.opinion(request())

        callers = [asyncio.create_task(caller()) for _ in range(16)]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(pool.served) < BUDGET_POOL.max_replicas:
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*callers), timeout=30)
        assert len(pool.served) == BUDGET_POOL.max_replicas, await _stats(pool)

    async def scenario() -> tuple[list[LLMOpinion], Counter[str], int, PoolStats, Spending]:
        await scale_up_for_free()
        tenant.default = Behaviour(latency_s=1.5)
        sent_before, served_before = len(tenant.requests), Counter(pool.served)
        burst = await asyncio.wait_for(
            asyncio.gather(*(pool.opinion(request()) for _ in range(BURST))), timeout=60
        )
        budget_actor = ray.get_actor("router-pool-budget-llm-budget")
        spending: Spending = await budget_actor.spending.remote()
        return (
            list(burst),
            pool.served - served_before,
            len(tenant.requests) - sent_before,
            await _stats(pool),
            spending,
        )

    try:
        burst, served, sent, stats, spending = asyncio.run(scenario())
    finally:
        pool.stop()

    assert stats.serving == BUDGET_POOL.max_replicas
    assert len(served) == BUDGET_POOL.max_replicas, served  # the burst met every replica
    assert sent == BUDGET_FITS
    assert Counter(o.source for o in burst) == Counter(
        {"claude": BUDGET_FITS, "offline": BURST - BUDGET_FITS}
    )
    assert {o.degraded for o in burst if o.offline} == {Degradation.BUDGET}
    calls = EvaluationStore(settings.evaluation, str(tmp_path / "llm-eval.db")).calls("claude")
    answered = [c for c in calls if c.error is None]
    assert len(answered) == BUDGET_FITS
    used = sum(
        (Decimal("3.0") * c.tokens_in + Decimal("15.0") * c.tokens_out for c in answered),
        Decimal(0),
    )
    assert (spending.reservations, spending.day_usd) == (0, used / 1_000_000)
    assert spending.day_usd <= cap


def test_the_budget_actor_keeps_todays_and_this_runs_spending_across_a_restart(
    ray_session: Any, tmp_path: Path
) -> None:
    models = fake_models(FakeProvider(), ("claude",))
    budget = Budget(daily_usd=1.0, run_usd=1.0)
    actor = BudgetActor.options(name="llm-budget-restart").remote(
        budget, str(tmp_path), "run-1", 60.0
    )
    spent = ray.get(actor.reserve_first.remote(models, 1000, 400), timeout=30)  # 0.009
    in_flight = ray.get(actor.reserve_first.remote(models, 1000, 400), timeout=30)
    assert isinstance(spent, Reservation)
    assert isinstance(in_flight, Reservation)
    ray.get(actor.settle.remote(spent, Decimal("0.004"), 1100), timeout=30)
    before: Spending = ray.get(actor.spending.remote(), timeout=30)
    ray.kill(actor, no_restart=False)  # Ray restarts it (max_restarts=-1)
    deadline = time.monotonic() + 60
    after: Spending = ray.get(actor.spending.remote(), timeout=60)
    while after.reservations and time.monotonic() < deadline:  # the old process still answers
        time.sleep(0.1)
        after = ray.get(actor.spending.remote(), timeout=60)
    ray.get(actor.settle.remote(in_flight, Decimal("0.003"), 900), timeout=30)  # settles late
    settled: Spending = ray.get(actor.spending.remote(), timeout=30)
    next_run = BudgetActor.remote(budget, str(tmp_path), "run-2", 60.0)
    fresh: Spending = ray.get(next_run.spending.remote(), timeout=60)
    for handle in (actor, next_run):
        ray.kill(handle, no_restart=True)

    assert (before.day_usd, before.run_tokens, before.reservations) == (Decimal("0.004"), 1100, 1)
    assert (after.day_usd, after.run_usd, after.day_tokens, after.reservations) == (
        Decimal("0.004"),
        Decimal("0.004"),
        1100,
        0,  # what was in flight is charged when it settles
    )
    assert (settled.day_usd, settled.run_tokens) == (Decimal("0.007"), 2000)
    assert (fresh.day_usd, fresh.day_tokens, fresh.run_usd, fresh.run_tokens) == (
        Decimal("0.007"),
        2000,
        Decimal(0),
        0,
    )
