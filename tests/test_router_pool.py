"""The LLM router pool as a Ray Serve deployment, against a slow fake provider on loopback: a
burst scales it to ``max_replicas`` (never beyond), idleness drains it back to ``min_replicas``
while the replicas it stops finish what they hold, a killed replica is replaced and every
request it held is answered, provider calls stay under their per-endpoint bound, and the pool
spends one budget."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import ray
from aiohttp import web
from ray import serve
from ray.serve._private.common import ReplicaState
from ray.serve.context import _get_global_client
from ray.serve.schema import ServeInstanceDetails

from actors.budget import BudgetActor
from actors.router import ROUTER_DEPLOYMENT, RouterClient, start_router_pool
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
    min_replicas=1,
    max_replicas=4,
    target_ongoing_requests=4,
    max_ongoing_requests=8,
    upscale_delay_s=0.5,
    downscale_delay_s=3.0,
    metrics_interval_s=0.25,
    look_back_period_s=1.0,
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


def test_settings_refuse_a_pool_whose_min_exceeds_its_max() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="min_replicas 5 exceeds max_replicas 4"):
        RouterPoolSettings(min_replicas=5, max_replicas=4)


def test_settings_read_the_keys_of_the_hand_built_pool_as_serves() -> None:
    legacy = {"target_in_flight": 3, "scale_down_after_s": 12, "refresh_s": 0.5}
    assert RouterPoolSettings.model_validate(legacy) == RouterPoolSettings(
        target_ongoing_requests=3, downscale_delay_s=12, metrics_interval_s=0.5
    )


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


def _env(environ: dict[str, str]) -> dict[str, Any]:
    """The replicas' runtime env: the fake provider's keys."""
    return {"runtime_env": {"env_vars": {**environ, "RAY_AUTH_MODE": "disabled"}}}


def _replicas(app: str) -> Counter[str]:
    """The pool's replicas by state, as Serve's status API (the dashboard's Serve page) lists
    them."""
    deployment = serve.status().applications[app].deployments[ROUTER_DEPLOYMENT]
    return Counter({state: n for state, n in deployment.replica_states.items() if n})


def _running_replica_actors(app: str) -> list[str]:
    """The actor names of the pool's running replicas (Serve's details)."""
    client = _get_global_client()
    assert client is not None
    details = ServeInstanceDetails(**client.get_serve_details())
    replicas = details.applications[app].deployments[ROUTER_DEPLOYMENT].replicas
    return sorted(str(r.actor_name) for r in replicas if r.state is ReplicaState.RUNNING)


async def _until(
    app: str, reached: Callable[[Counter[str]], bool], timeout_s: float
) -> Counter[str]:
    """Poll Serve's status until the pool's replicas by state satisfy ``reached``."""
    deadline = time.monotonic() + timeout_s
    replicas = _replicas(app)
    while time.monotonic() < deadline and not reached(replicas):
        await asyncio.sleep(0.2)
        replicas = _replicas(app)
    return replicas


async def _load_until_running(
    pool: RouterClient, callers: int, running: int, seen: list[Counter[str]]
) -> list[LLMOpinion]:
    """``callers`` ask in a loop until ``running`` replicas run (and a second more)."""
    opinions: list[LLMOpinion] = []
    stop = asyncio.Event()

    async def caller() -> None:
        for _ in range(400):  # bounded; stop ends it long before
            if stop.is_set():
                return
            opinions.append(await pool.opinion(request()))

    asking = [asyncio.create_task(caller()) for _ in range(callers)]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and seen[-1:] != [Counter({"RUNNING": running})]:
        seen.append(_replicas(pool.app_name))
        await asyncio.sleep(0.1)
    for _ in range(10):  # a second more at that size
        seen.append(_replicas(pool.app_name))
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*asking), timeout=30)
    return opinions


def test_a_burst_scales_to_max_replicas_and_idleness_back_to_min_without_losing_a_request(
    ray_session: Any, provider: CountingProvider, tmp_path: Path
) -> None:
    tenant = provider.add("claude", "anthropic", Behaviour(latency_s=0.4))
    settings, environ = _settings(
        provider, pool=POOL, attempt_timeout_ms=20000, request_timeout_ms=25000
    )
    pool = start_router_pool(
        settings, str(tmp_path), name="llm-router-burst", replica_options=_env(environ)
    )

    async def scenario() -> tuple[
        list[LLMOpinion], list[Counter[str]], list[LLMOpinion], Counter[str]
    ]:
        status = serve.status().applications[pool.app_name]
        assert status.status == "RUNNING"
        assert set(status.deployments) == {ROUTER_DEPLOYMENT}
        seen: list[Counter[str]] = []
        burst = await _load_until_running(pool, BURST, POOL.max_replicas, seen)
        # idle but for four slow requests, still held while the pool shrinks
        tenant.default = Behaviour(latency_s=12.0)
        sent_before = len(tenant.requests)
        slow = asyncio.gather(*(pool.opinion(request()) for _ in range(4)))
        shrinking = await _until(pool.app_name, lambda r: r["RUNNING"] == 1, timeout_s=30)
        assert not slow.done(), shrinking
        held = await asyncio.wait_for(slow, timeout=40)
        assert len(tenant.requests) - sent_before == 4  # none asked again: each was finished
        after = await _until(pool.app_name, lambda r: r == Counter({"RUNNING": 1}), 30)
        return burst, seen, list(held), after

    try:
        burst, seen, held, after = asyncio.run(scenario())
    finally:
        pool.stop()

    assert len(burst) >= BURST
    assert all(_is_claude_long(o) for o in burst), Counter(o.source for o in burst)
    assert max(s["RUNNING"] + s["STARTING"] for s in seen) == POOL.max_replicas
    assert CALLS_PER_PROVIDER < provider.peak <= CALLS_PER_PROVIDER * POOL.max_replicas
    assert all(_is_claude_long(o) for o in held), [o.note for o in held]
    assert after == Counter({"RUNNING": POOL.min_replicas})
    assert pool.app_name not in serve.status().applications


def test_a_killed_replica_is_replaced_and_every_request_it_held_is_answered(
    ray_session: Any, provider: CountingProvider, tmp_path: Path
) -> None:
    provider.add("claude", "anthropic", Behaviour(latency_s=1.0))
    two = POOL.model_copy(update={"min_replicas": 2, "max_replicas": 2})
    settings, environ = _settings(provider, pool=two)
    pool = start_router_pool(
        settings, str(tmp_path), name="llm-router-kill", replica_options=_env(environ)
    )

    async def scenario() -> tuple[list[str], list[LLMOpinion], list[str]]:
        before = _running_replica_actors(pool.app_name)
        asking = [asyncio.ensure_future(pool.opinion(request())) for _ in range(8)]
        await asyncio.sleep(0.5)  # every request held: 4 per replica
        ray.kill(ray.get_actor(before[0], namespace="serve"), no_restart=True)
        answers = await asyncio.wait_for(asyncio.gather(*asking), timeout=60)
        deadline = time.monotonic() + 90  # Serve's health check finds it dead, then replaces it
        after = _running_replica_actors(pool.app_name)
        while time.monotonic() < deadline and (before[0] in after or len(after) < 2):
            await asyncio.sleep(0.5)
            after = _running_replica_actors(pool.app_name)
        return before, list(answers), after

    try:
        before, answers, after = asyncio.run(scenario())
    finally:
        pool.stop()
    assert len(before) == 2
    assert all(_is_claude_long(o) for o in answers), [o.note for o in answers]
    assert len(after) == 2
    assert before[0] not in after  # replaced by a new replica
    assert before[1] in after


BUDGET_POOL = POOL.model_copy(
    update={"max_replicas": 2, "downscale_delay_s": 120.0, "max_ongoing_requests": BURST // 2}
)
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
        settings, str(tmp_path), name="llm-router-budget", replica_options=_env(environ)
    )

    async def scenario() -> tuple[
        list[Counter[str]], list[LLMOpinion], int, Counter[str], Spending
    ]:
        seen: list[Counter[str]] = []  # failing calls (they release what they reserve) scale up
        await _load_until_running(pool, 16, BUDGET_POOL.max_replicas, seen)
        tenant.default = Behaviour(latency_s=1.5)
        sent_before = len(tenant.requests)
        # 24 at once on two replicas that hold 12 each: the burst meets both
        burst = await asyncio.wait_for(
            asyncio.gather(*(pool.opinion(request()) for _ in range(BURST))), timeout=60
        )
        budget_actor = ray.get_actor("llm-router-budget-llm-budget")
        spending: Spending = await budget_actor.spending.remote()
        return (
            seen,
            list(burst),
            len(tenant.requests) - sent_before,
            _replicas(pool.app_name),
            spending,
        )

    try:
        seen, burst, sent, replicas, spending = asyncio.run(scenario())
    finally:
        pool.stop()

    assert seen[-1] == Counter({"RUNNING": BUDGET_POOL.max_replicas})
    assert replicas == Counter({"RUNNING": BUDGET_POOL.max_replicas})
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
    actor = BudgetActor.options(name="llm-budget-restart").remote(  # type: ignore[attr-defined]
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
    next_run = BudgetActor.remote(budget, str(tmp_path), "run-2", 60.0)  # type: ignore[attr-defined]
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
