"""The router end to end: real SDKs, fake providers on loopback, injected clock and RNG."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.llm.fake_provider import Behaviour, FakeProvider
from tests.llm.scenario import fake_settings, request
from trading.config import RouterSettings
from trading.contracts import Direction
from trading.llm import (
    CacheOutcome,
    Degradation,
    LLMOpinion,
    LLMRouter,
    RouterCounters,
    UnknownRequestClassError,
)
from trading.llm.evaluation import CallRecord, call_cost_usd
from trading.llm.health import BreakerState
from trading.llm.prompt import build_prompt


class ManualClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _router(settings: RouterSettings, environ: dict[str, str], **kw: Any) -> LLMRouter:
    return LLMRouter(settings, environ=environ, rng=random.Random(1), **kw)


def test_without_any_key_the_offline_analyst_answers_and_says_so() -> None:
    async def scenario() -> LLMOpinion:
        router = LLMRouter(RouterSettings(), environ={})
        opinion = await router.opinion(request())
        await router.close()
        return opinion

    opinion = asyncio.run(scenario())
    assert opinion.source == "offline"
    assert opinion.offline
    assert opinion.degraded is Degradation.NO_MODEL
    assert "offline analyst" in opinion.note
    assert opinion.direction is Direction.LONG  # the bullish fixture


def test_default_config_routes_five_models_when_their_keys_are_set() -> None:
    from trading.config import load_settings

    settings = load_settings().router
    environ = {m.credential_env: "k" for m in settings.models}
    router = LLMRouter(settings, environ=environ)
    assert router.chain == [m.name for m in settings.models]
    assert {type(c).__name__ for c in router.clients.values()} == {
        "AnthropicClient",
        "OpenAIClient",
        "MistralClient",
    }
    asyncio.run(router.close())


def test_answer_is_cached_and_the_second_identical_request_costs_nothing() -> None:
    async def scenario() -> tuple[LLMOpinion, LLMOpinion, list[CallRecord], int]:
        async with FakeProvider() as fake:
            settings, environ = fake_settings(fake, ("claude",))
            router = _router(settings, environ)
            first = await router.opinion(request())
            second = await router.opinion(request())
            calls = router.evaluation.calls()
            await router.close()
            return first, second, calls, len(fake.tenants["claude"].requests)

    first, second, calls, sent = asyncio.run(scenario())
    assert (first.source, first.cache, second.cache) == (
        "claude",
        CacheOutcome.MISS,
        CacheOutcome.EXACT,
    )
    assert second.model_dump(exclude={"cache"}) == first.model_dump(exclude={"cache"})
    assert sent == 1
    assert [c.cache for c in calls] == ["miss", "exact"]
    assert calls[0].cost_usd > 0
    assert calls[1].cost_usd == 0
    assert calls[0].tokens_in > 0
    assert calls[0].request_hash == first.prompt_hash


def test_similar_market_state_hits_the_bucket_and_rebases_the_invalidation() -> None:
    answer = {
        "direction": "LONG",
        "confidence": 0.6,
        "reasons": ["trend"],
        "invalidation_level": 63000.0,
    }

    async def scenario() -> tuple[LLMOpinion, LLMOpinion, int]:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(answer=answer))
            settings, environ = fake_settings(fake, ("claude",))
            router = _router(settings, environ)
            first = await router.opinion(request(close=64500.0))
            later = request(close=64750.0, bar_time=datetime(2025, 6, 2, 13, tzinfo=UTC))
            second = await router.opinion(later)
            await router.close()
            return first, second, len(fake.tenants["claude"].requests)

    first, second, sent = asyncio.run(scenario())
    assert sent == 1
    assert second.cache is CacheOutcome.BUCKET
    assert second.source == "claude"
    assert second.prompt_hash != first.prompt_hash
    assert second.invalidation_level == pytest.approx(63000.0 * 64750.0 / 64500.0)


def test_cache_entry_expires_after_the_timeframe_ttl() -> None:
    async def scenario() -> tuple[LLMOpinion, int]:
        async with FakeProvider() as fake:
            settings, environ = fake_settings(fake, ("claude",))
            router = _router(settings, environ)
            await router.opinion(request())
            ttl = settings.cache.ttl_seconds[request().timeframe]
            late = request(bar_time=request().primary.bar_time + timedelta(seconds=ttl + 3600))
            opinion = await router.opinion(late)
            await router.close()
            return opinion, len(fake.tenants["claude"].requests)

    opinion, sent = asyncio.run(scenario())
    assert (opinion.cache, sent) == (CacheOutcome.MISS, 2)


def test_backtest_rerun_on_the_same_cache_file_is_free_and_identical(tmp_path: Path) -> None:
    bars = [datetime(2025, 6, 2, h, tzinfo=UTC) for h in range(0, 24, 5)]

    async def run() -> tuple[list[str], int]:
        async with FakeProvider() as fake:
            rng = random.Random(3)
            fake.add("gpt", "openai", Behaviour(latency_s=lambda r: r.uniform(0, 0.01)))
            settings, environ = fake_settings(
                fake, ("gpt",), cache={"path": str(tmp_path / "cache.sqlite")}
            )
            router = _router(settings, environ)
            out = []
            for i, bar in enumerate(bars):
                req = request(
                    close=60000 + 1000 * i + rng.random(),
                    bar_time=bar,
                    values={"rsi_14": 20.0 + 12 * i},
                )
                out.append((await router.opinion(req)).model_dump_json(exclude={"cache"}))
            await router.close()
            return out, len(fake.tenants["gpt"].requests)

    first, calls_first = asyncio.run(run())
    second, calls_second = asyncio.run(run())
    assert calls_first > 0
    assert calls_second == 0
    assert second == first


def test_failing_primary_falls_back_down_the_chain_and_is_recorded() -> None:
    async def scenario() -> tuple[LLMOpinion, list[CallRecord], RouterCounters]:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(status=500))
            settings, environ = fake_settings(
                fake, ("claude", "mistral"), request_classes={"analysis": "accuracy_first"}
            )
            router = _router(settings, environ)
            opinion = await router.opinion(request())
            calls = router.evaluation.calls()
            counters = router.counters
            await router.close()
            return opinion, calls, counters

    opinion, calls, counters = asyncio.run(scenario())
    assert opinion.source == "mistral"
    assert opinion.degraded is None
    assert [(c.model, c.error) for c in calls] == [("claude", "server_error"), ("mistral", None)]
    assert counters.fallbacks == 1
    assert counters.failures["server_error"] == 1


def test_garbage_answers_are_repaired_once_or_rejected_never_passed_on() -> None:
    async def scenario() -> tuple[LLMOpinion, RouterCounters]:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(body="prose"))
            fake.add("gpt", "openai", Behaviour(body="text_garbage"))
            fake.add("mistral", "mistral", Behaviour(body="off_schema"))
            settings, environ = fake_settings(
                fake, ("gpt", "mistral", "claude"), request_classes={"analysis": "accuracy_first"}
            )
            router = _router(settings, environ)
            opinion = await router.opinion(request())
            counters = router.counters
            await router.close()
            return opinion, counters

    opinion, counters = asyncio.run(scenario())
    assert opinion.source == "claude"
    assert opinion.direction is Direction.LONG
    assert (counters.rejected, counters.repaired, counters.failures["malformed"]) == (2, 1, 2)


def test_all_providers_failing_degrades_to_the_offline_analyst_with_the_reasons() -> None:
    async def scenario() -> LLMOpinion:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(status=529))
            fake.add("gpt", "openai", Behaviour(status=429))
            fake.add(
                "mistral", "mistral", Behaviour(body="truncated", answer={"reasons": ["x" * 50]})
            )
            settings, environ = fake_settings(fake, ("claude", "gpt", "mistral"))
            router = _router(settings, environ)
            opinion = await router.opinion(request())
            await router.close()
            return opinion

    opinion = asyncio.run(scenario())
    assert opinion.offline
    assert opinion.degraded is Degradation.FAILED
    assert "claude: server_error" in opinion.note
    assert "gpt: rate_limited" in opinion.note
    assert "mistral: malformed" in opinion.note


def test_model_cools_down_after_three_failures_for_five_seconds() -> None:
    clock = ManualClock()

    async def scenario() -> tuple[int, str]:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(status=500))
            settings, environ = fake_settings(
                fake,
                ("claude", "gpt"),
                request_classes={"analysis": "accuracy_first"},
                cache={"enabled": False},
            )
            router = _router(settings, environ, clock=clock)
            for _ in range(3):
                assert (await router.opinion(request())).source == "gpt"
            assert router.health["claude"].cooldown_until == pytest.approx(clock.t + 5.0)
            await router.opinion(request())
            skipped = len(fake.tenants["claude"].requests)
            clock.t += 5.01
            fake.tenants["claude"].default = Behaviour()
            back = await router.opinion(request())
            await router.close()
            return skipped, back.source

    skipped, back = asyncio.run(scenario())
    assert skipped == 3  # the fourth request did not touch the cooling model
    assert back == "claude"


def test_circuit_breaker_opens_after_repeated_cooldowns_and_half_opens_for_one_trial() -> None:
    clock = ManualClock()

    async def scenario() -> tuple[list[BreakerState], int, str]:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(status=500))
            settings, environ = fake_settings(
                fake,
                ("claude", "gpt"),
                request_classes={"analysis": "accuracy_first"},
                cache={"enabled": False},
            )
            router = _router(settings, environ, clock=clock)
            health = router.health["claude"]
            for _ in range(3):  # three cooldowns inside the 60 s window
                for _ in range(3):
                    await router.opinion(request())
                clock.t += 5.01
            states = [health.state]
            clock.t += 30
            await router.opinion(request())
            sent_while_open = len(fake.tenants["claude"].requests)
            clock.t += 31
            fake.tenants["claude"].default = Behaviour()
            trial = await router.opinion(request())
            states.append(health.state)
            await router.close()
            return states, sent_while_open, trial.source

    states, sent_while_open, trial = asyncio.run(scenario())
    assert states == [BreakerState.OPEN, BreakerState.CLOSED]
    assert sent_while_open == 9
    assert trial == "claude"


def test_budget_exhaustion_degrades_to_offline_and_says_which_cap() -> None:
    async def scenario() -> tuple[list[LLMOpinion], Decimal, int]:
        async with FakeProvider() as fake:
            settings, environ = fake_settings(
                fake, ("claude",), budget={"run_usd": 0.01}, cache={"enabled": False}
            )
            router = _router(settings, environ)
            sources = [(await router.opinion(request())) for _ in range(6)]
            assert router.budget is not None
            spent = router.budget.run_usd
            await router.close()
            return sources, spent, len(fake.tenants["claude"].requests)

    opinions, spent, sent = asyncio.run(scenario())
    assert [o.source for o in opinions[:sent]] == ["claude"] * sent
    assert 0 < sent < 6
    last = opinions[-1]
    assert last.offline
    assert last.degraded is Degradation.BUDGET
    assert "run_usd" in last.note
    assert float(spent) <= 0.01


def test_cheaper_model_still_answers_when_the_budget_no_longer_fits_an_expensive_one() -> None:
    async def scenario() -> tuple[list[str], Decimal]:
        async with FakeProvider() as fake:
            settings, environ = fake_settings(
                fake,
                ("claude", "gemini"),
                request_classes={"analysis": "accuracy_first"},
                budget={"run_usd": 0.008},
                cache={"enabled": False},
            )
            router = _router(settings, environ)
            worst = call_cost_usd(
                router.models["claude"],
                build_prompt(request()).tokens_estimate,
                settings.max_tokens_out,
            )
            sources = [(await router.opinion(request())).source for _ in range(3)]
            await router.close()
            return sources, worst

    sources, worst = asyncio.run(scenario())
    assert Decimal("0.004") < worst <= Decimal("0.008")  # one claude call fits, not two
    assert sources == ["claude", "gemini", "gemini"]


def test_slow_primary_is_hedged_after_its_p95_and_the_hedge_wins() -> None:
    async def scenario() -> tuple[LLMOpinion, float, RouterCounters]:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(latency_s=1.2))
            fake.add("gpt", "openai", Behaviour(latency_s=0.02))
            settings, environ = fake_settings(
                fake,
                ("claude", "gpt"),
                request_classes={"analysis": "accuracy_first"},
                hedge={"default_delay_ms": 300, "min_delay_ms": 50},
                cache={"enabled": False},
            )
            router = _router(settings, environ)
            for _ in range(20):  # claude's history: about 100 ms
                router.health["claude"].observe_latency(100.0)
            started = time.perf_counter()
            opinion = await router.opinion(request())
            elapsed = time.perf_counter() - started
            counters = router.counters
            await router.close()
            return opinion, elapsed, counters

    opinion, elapsed, counters = asyncio.run(scenario())
    assert opinion.source == "gpt"
    assert (counters.hedges, counters.hedge_wins) == (1, 1)
    assert elapsed < 0.6  # ~0.1 s hedge delay + 0.02 s, not claude's 1.2 s


def test_request_deadline_bounds_a_hanging_provider() -> None:
    async def scenario() -> tuple[LLMOpinion, float]:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(latency_s=30.0))
            settings, environ = fake_settings(
                fake,
                ("claude",),
                request_timeout_ms=400,
                attempt_timeout_ms=5000,
                cache={"enabled": False},
            )
            router = _router(settings, environ)
            started = time.perf_counter()
            opinion = await router.opinion(request())
            elapsed = time.perf_counter() - started
            await router.close()
            return opinion, elapsed

    opinion, elapsed = asyncio.run(scenario())
    assert opinion.offline
    assert opinion.degraded is Degradation.FAILED
    assert "deadline" in opinion.note
    assert elapsed < 1.5


def test_unknown_request_class_is_a_precise_error() -> None:
    router = LLMRouter(RouterSettings(), environ={})
    with pytest.raises(UnknownRequestClassError, match="request_class 'scalp' has no policy"):
        asyncio.run(router.opinion(request(request_class="scalp")))


def test_session_modules_load_no_provider_sdk_until_a_model_is_built() -> None:
    """Every Ray worker imports the actors: the three SDKs (seconds to import) load only in a
    process that builds a client of their provider."""
    import subprocess
    import sys

    probe = (
        "import sys, actors.session, actors.symbol, trading.llm;"
        "print(sorted({'anthropic', 'openai', 'mistralai'} & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
