"""LLM router benchmarks (issue budgets: overhead p95 <= 2 ms, cache hit <= 200 us,
end-to-end p95 <= 3 s against the fake providers with one of them failing)."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.llm.fake_provider import Behaviour, FakeProvider, Wire
from tests.llm.scenario import BULLISH_1H, fake_settings, request
from tests.llm.walk_forward import STANDIN, standin_settings
from trading.llm.clients import Completion
from trading.llm.prompt import AnalysisRequest, Prompt
from trading.llm.router import LLMRouter

pytestmark = pytest.mark.bench

OVERHEAD_P95_MS = 2.0
CACHE_HIT_P95_US = 200.0
E2E_P95_S = 3.0
ANSWER = '{"direction":"LONG","confidence":0.7,"reasons":["trend up"],"invalidation_level":null}'


class InstantProvider:
    """A provider that answers at once, so everything measured is the router's own time."""

    async def complete(self, prompt: Prompt, *, max_tokens: int, timeout_s: float) -> Completion:
        return Completion(text=ANSWER, tokens_in=prompt.tokens_estimate, tokens_out=25)

    async def close(self) -> None:
        return None


def _p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q * 100) - 1]


def _varied(i: int) -> AnalysisRequest:
    """Distinct market states: a fresh exact hash and (mostly) a fresh bucket each time."""
    values = dict(BULLISH_1H, rsi_14=20.0 + (i * 7) % 60, adx_14=10.0 + (i * 3) % 40)
    bar = request().primary.bar_time + timedelta(hours=i * 24)
    return request(close=50_000.0 + i, bar_time=bar, values=values)


def test_bench_router_overhead_on_a_cache_miss() -> None:
    async def run() -> list[float]:
        router = LLMRouter(standin_settings(), clients={STANDIN: InstantProvider()})
        requests = [_varied(i) for i in range(3000)]
        samples = []
        for req in requests:
            started = time.perf_counter()
            await router.opinion(req)
            samples.append((time.perf_counter() - started) * 1000)
        assert router.counters.provider_calls > 2500
        await router.close()
        return samples[200:]

    samples = asyncio.run(run())
    p50, p95 = _p(samples, 0.5), _p(samples, 0.95)
    print(f"\nrouter overhead (miss, instant provider): p50 {p50:.3f} ms, p95 {p95:.3f} ms")
    print(f"  budget p95 <= {OVERHEAD_P95_MS} ms: ratio {p95 / OVERHEAD_P95_MS:.2f}")
    assert p95 <= OVERHEAD_P95_MS


def test_bench_cache_hit_latency() -> None:
    async def run() -> tuple[list[float], list[float]]:
        router = LLMRouter(standin_settings(), clients={STANDIN: InstantProvider()})
        base = request()
        await router.opinion(base)
        exact = []
        for _ in range(5000):
            started = time.perf_counter()
            await router.opinion(base)
            exact.append((time.perf_counter() - started) * 1e6)
        bucket = []
        for i in range(1, 2001):  # same state, a slightly different close each time
            near = request(close=64500.0 + i * 0.5)
            started = time.perf_counter()
            await router.opinion(near)
            bucket.append((time.perf_counter() - started) * 1e6)
        assert router.counters.cache_exact == 5000
        assert router.counters.cache_bucket >= 1990
        await router.close()
        return exact[500:], bucket[200:]

    exact, bucket = asyncio.run(run())
    print(f"\ncache hit, exact : p50 {_p(exact, 0.5):.0f} us, p95 {_p(exact, 0.95):.0f} us")
    print(f"cache hit, bucket: p50 {_p(bucket, 0.5):.0f} us, p95 {_p(bucket, 0.95):.0f} us")
    print(f"  budget <= {CACHE_HIT_P95_US:.0f} us (p95)")
    assert _p(exact, 0.95) <= CACHE_HIT_P95_US
    assert _p(bucket, 0.95) <= CACHE_HIT_P95_US


def test_bench_end_to_end_with_one_provider_failing() -> None:
    medians_s = {"claude": 0.9, "gpt": 0.7, "mistral": 0.5, "llama": 0.6}

    def lognormal(median: float) -> Callable[[random.Random], float]:
        return lambda rng: min(median * rng.lognormvariate(0.0, 0.45), 6.0)

    async def run() -> tuple[list[float], LLMRouter, dict[str, int]]:
        async with FakeProvider() as fake:
            tenants: tuple[tuple[str, Wire], ...] = (
                ("claude", "anthropic"),
                ("gpt", "openai"),
                ("mistral", "mistral"),
                ("llama", "openai"),
            )
            for name, wire in tenants:
                fake.add(name, wire, Behaviour(latency_s=lognormal(medians_s[name])))
            # gemini, the cheapest and so cost_aware's first pick, is down: a 500 storm mixed
            # with hangs past the attempt timeout.
            gemini = fake.add("gemini", "openai", Behaviour(status=500))
            gemini.script.extend(
                Behaviour(latency_s=20.0) if i % 3 else Behaviour(status=503) for i in range(60)
            )
            settings, environ = fake_settings(
                fake, cache={"enabled": False}, attempt_timeout_ms=2500
            )
            router = LLMRouter(settings, environ=environ, rng=random.Random(4))
            latencies: list[float] = []
            semaphore = asyncio.Semaphore(16)

            async def one(i: int) -> None:
                async with semaphore:
                    started = time.perf_counter()
                    opinion = await router.opinion(_varied(i))
                    latencies.append(time.perf_counter() - started)
                    assert not opinion.offline

            await asyncio.gather(*(one(i) for i in range(240)))
            sent = {n: len(t.requests) for n, t in fake.tenants.items()}
            await router.close()
            return latencies, router, sent

    latencies, router, sent = asyncio.run(run())
    p50, p95, worst = _p(latencies, 0.5), _p(latencies, 0.95), max(latencies)
    c = router.counters
    print(
        f"\nend to end, 240 requests x 16 concurrent, gemini failing: "
        f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {worst:.2f} s"
    )
    print(
        f"  provider requests {sent}; hedges {c.hedges} (won {c.hedge_wins}), "
        f"fallbacks {c.fallbacks}, failures {dict(c.failures)}"
    )
    print(f"  budget p95 <= {E2E_P95_S} s: ratio {p95 / E2E_P95_S:.2f}")
    assert p95 <= E2E_P95_S
