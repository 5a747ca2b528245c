"""Routing policies pick as specified, from seeded accuracy, cost and latency distributions."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.llm.fake_provider import FakeProvider
from tests.llm.scenario import fake_settings, request
from trading.config import EvaluationSettings, RoutingPolicy
from trading.llm import LLMRouter
from trading.llm.evaluation import CallRecord, EvaluationStore
from trading.llm.policy import ModelStats, rank

# Nominal hit rates and p95-ish latencies per model; prices come from the scenario table
# (gemini cheapest, then llama, mistral, gpt, claude).
ACCURACY = {"claude": 0.80, "gpt": 0.58, "mistral": 0.65, "gemini": 0.765, "llama": 0.48}
WINDOW = EvaluationSettings(window_calls=2000)
LATENCY_MEDIAN_MS = {"claude": 1400, "gpt": 700, "mistral": 450, "gemini": 2600, "llama": 300}
SLO_MS = 3000


def _seed_outcomes(store: EvaluationStore, rng: random.Random, calls: int = 2000) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(calls):
        bar = start + timedelta(hours=i)
        for model, p in ACCURACY.items():
            right = rng.random() < p
            store.record(
                CallRecord(
                    ts=bar,
                    model=model,
                    request_hash=f"h{i}",
                    request_class="analysis",
                    symbol="BTC/USDT",
                    timeframe="1h",
                    regime="BULL",
                    bar_time=bar,
                    tokens_in=300,
                    tokens_out=40,
                    cost_usd=Decimal("0.001"),
                    latency_ms=500.0,
                    cache="miss",
                    direction="LONG" if right else "SHORT",
                    confidence=0.6,
                )
            )
        store.record_outcome("BTC/USDT", "1h", bar, forward_return_pct=1.0)


def _latency(model: str, rng: random.Random) -> float:
    # Lognormal around the median; gemini's tail crosses the SLO.
    sigma = 0.35 if model != "gemini" else 0.5
    return LATENCY_MEDIAN_MS[model] * rng.lognormvariate(0.0, sigma)


def test_seeded_store_recovers_the_accuracy_ordering() -> None:
    store = EvaluationStore(WINDOW, ":memory:")
    _seed_outcomes(store, random.Random(11))
    scores = {m: store.accuracy(m, "BULL", "1h").score for m in ACCURACY}
    assert sorted(scores, key=scores.__getitem__) == sorted(ACCURACY, key=ACCURACY.__getitem__)
    assert store.accuracy("claude", "BULL", "1h").samples == 2000


def _stats(rng: random.Random) -> list[ModelStats]:
    usd = {"claude": 0.006, "gpt": 0.004, "mistral": 0.003, "gemini": 0.0001, "llama": 0.0005}
    out = []
    for model in ACCURACY:
        hits = sum(rng.random() < ACCURACY[model] for _ in range(3000))
        samples = sorted(_latency(model, rng) for _ in range(200))
        out.append(ModelStats(model, hits / 3000, usd[model], samples[int(0.95 * 200) - 1]))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_pure_ranking_under_each_policy(seed: int) -> None:
    stats = _stats(random.Random(seed))
    by_name = {s.name: s for s in stats}
    best = max(stats, key=lambda s: s.accuracy)
    accuracy_first = rank(
        RoutingPolicy.ACCURACY_FIRST, stats, cost_margin=0.05, latency_slo_ms=SLO_MS
    )
    assert accuracy_first[0] == best.name
    cost_aware = rank(RoutingPolicy.COST_AWARE, stats, cost_margin=0.05, latency_slo_ms=SLO_MS)
    near = [s for s in stats if s.accuracy >= best.accuracy - 0.05]
    assert cost_aware[0] == min(near, key=lambda s: s.usd_per_call).name
    assert by_name[cost_aware[0]].usd_per_call <= best.usd_per_call
    latency_aware = rank(
        RoutingPolicy.LATENCY_AWARE, stats, cost_margin=0.05, latency_slo_ms=SLO_MS
    )
    assert latency_aware[0] == "llama"
    assert latency_aware[-1] == "gemini"  # its p95 is over the SLO
    assert by_name["gemini"].p95_ms is not None
    assert by_name["gemini"].p95_ms > SLO_MS


def test_zero_margin_cost_aware_is_accuracy_first_and_full_margin_is_cheapest() -> None:
    stats = _stats(random.Random(3))
    top = rank(RoutingPolicy.ACCURACY_FIRST, stats, cost_margin=0, latency_slo_ms=SLO_MS)[0]
    assert rank(RoutingPolicy.COST_AWARE, stats, cost_margin=0, latency_slo_ms=SLO_MS)[0] == top
    assert (
        rank(RoutingPolicy.COST_AWARE, stats, cost_margin=1, latency_slo_ms=SLO_MS)[0] == "gemini"
    )


def test_router_sends_each_request_class_to_its_policy_pick() -> None:
    async def scenario() -> dict[str, str]:
        async with FakeProvider() as fake:
            settings, environ = fake_settings(fake, cache={"enabled": False}, latency_slo_ms=SLO_MS)
            rng = random.Random(5)
            store = EvaluationStore(WINDOW, ":memory:")
            _seed_outcomes(store, rng)
            router = LLMRouter(settings, environ=environ, evaluation=store, rng=random.Random(0))
            for model in ACCURACY:
                for _ in range(200):
                    router.health[model].observe_latency(_latency(model, rng))
            picked = {}
            for request_class in ("confirmation", "analysis", "intraday"):
                before = {n: len(t.requests) for n, t in fake.tenants.items()}
                opinion = await router.opinion(request(request_class=request_class))
                after = {n: len(t.requests) for n, t in fake.tenants.items()}
                (called,) = [n for n in after if after[n] != before[n]]
                assert called == opinion.source
                picked[request_class] = called
            await router.close()
            return picked

    picked = asyncio.run(scenario())
    assert picked == {
        "confirmation": "claude",  # accuracy_first: best rolling score
        "analysis": "gemini",  # cost_aware: cheapest within 5 points of claude
        "intraday": "llama",  # latency_aware: lowest p95 under the 3 s SLO
    }
