"""The LLM budget as a hard cap: concurrent calls reserve their worst case, settle it with the
real usage, and release it when a call fails, is cancelled or loses a hedge race."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.llm.fake_provider import Behaviour, FakeProvider
from tests.llm.scenario import FIVE_MODELS, fake_settings, request
from trading.config import Budget, ModelConfig, Provider
from trading.llm import Degradation, LLMOpinion, LLMRouter
from trading.llm.budget import BudgetLedger, LedgerFile, Reservation
from trading.llm.evaluation import CallRecord
from trading.llm.prompt import build_prompt

MAX_OUT = 400  # RouterSettings.max_tokens_out by default
PRICES = {
    name: (Decimal(repr(usd_in)), Decimal(repr(usd_out)))
    for name, *_, usd_in, usd_out in FIVE_MODELS
}
TOKENS_IN = build_prompt(request()).tokens_estimate  # the router's estimate for request()


def worst_usd(model: str) -> Decimal:
    """A call's worst case: the estimated prompt and ``MAX_OUT`` tokens at the test prices."""
    usd_in, usd_out = PRICES[model]
    return (usd_in * TOKENS_IN + usd_out * MAX_OUT) / 1_000_000


def used_usd(call: CallRecord) -> Decimal:
    """What a recorded call really cost, at the test prices."""
    usd_in, usd_out = PRICES[call.model]
    return (usd_in * call.tokens_in + usd_out * call.tokens_out) / 1_000_000


def _budget(daily_usd: Decimal) -> dict[str, Any]:
    """Only ``daily_usd`` binds; the run and token caps are far away."""
    cap = float(daily_usd)
    assert Decimal(repr(cap)) == daily_usd  # the cap is exactly the sum of worst cases
    return {"daily_usd": cap, "run_usd": 100.0, "daily_tokens": 10**9, "run_tokens": 10**9}


def _own_ledger(router: LLMRouter) -> BudgetLedger:
    assert router.budget is not None
    return router.budget


def test_concurrent_calls_reserve_so_only_the_worst_cases_that_fit_reach_the_provider() -> None:
    fits = 5
    cap = fits * worst_usd("claude")

    async def scenario() -> tuple[
        list[LLMOpinion], int, LLMOpinion, int, list[CallRecord], BudgetLedger
    ]:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(latency_s=0.3))
            settings, environ = fake_settings(
                fake, ("claude",), budget=_budget(cap), cache={"enabled": False}
            )
            router = LLMRouter(settings, environ=environ, rng=random.Random(1))
            burst = await asyncio.gather(*(router.opinion(request()) for _ in range(50)))
            sent = len(fake.tenants["claude"].requests)
            after = await router.opinion(request())
            calls = router.evaluation.calls("claude")
            await router.close()
            return (
                list(burst),
                sent,
                after,
                len(fake.tenants["claude"].requests),
                calls,
                _own_ledger(router),
            )

    burst, sent, after, sent_after, calls, ledger = asyncio.run(scenario())
    assert sent == fits
    assert Counter(o.source for o in burst) == Counter({"claude": fits, "offline": 50 - fits})
    refused = [o for o in burst if o.offline]
    assert {o.degraded for o in refused} == {Degradation.BUDGET}
    assert all(f"daily_usd {float(cap)!r} spent" in o.note for o in refused), refused[0].note
    # settling gave back the unused part of each worst case: one more call fits
    assert (after.source, sent_after) == ("claude", fits + 1)
    assert len(calls) == fits + 1
    assert ledger.reserved == {}
    assert ledger.day_usd == sum((used_usd(c) for c in calls), Decimal(0))
    assert ledger.day_tokens == sum(c.tokens_in + c.tokens_out for c in calls)
    assert ledger.day_usd <= cap


def test_a_failed_call_releases_its_reservation() -> None:
    async def scenario() -> tuple[LLMOpinion, dict[str, Reservation], Decimal, LLMOpinion]:
        async with FakeProvider() as fake:
            tenant = fake.add("claude", "anthropic")
            tenant.script.append(Behaviour(status=500))
            settings, environ = fake_settings(
                fake, ("claude",), budget=_budget(worst_usd("claude")), cache={"enabled": False}
            )
            router = LLMRouter(settings, environ=environ)
            ledger = _own_ledger(router)
            failed = await router.opinion(request())
            held, spent = dict(ledger.reserved), ledger.day_usd
            answered = await router.opinion(request())
            await router.close()
            return failed, held, spent, answered

    failed, held, spent, answered = asyncio.run(scenario())
    assert failed.degraded is Degradation.FAILED
    assert "claude: server_error" in failed.note
    assert (held, spent) == ({}, Decimal(0))
    assert answered.source == "claude"  # the only worst case the cap fits was given back


def test_a_call_cancelled_at_the_deadline_releases_its_reservation() -> None:
    async def scenario() -> tuple[LLMOpinion, dict[str, Reservation], Decimal, LLMOpinion]:
        async with FakeProvider() as fake:
            tenant = fake.add("claude", "anthropic", Behaviour(latency_s=30.0))
            settings, environ = fake_settings(
                fake,
                ("claude",),
                budget=_budget(worst_usd("claude")),
                cache={"enabled": False},
                request_timeout_ms=300,
                attempt_timeout_ms=5000,
            )
            router = LLMRouter(settings, environ=environ)
            ledger = _own_ledger(router)
            late = await router.opinion(request())
            held, spent = dict(ledger.reserved), ledger.day_usd
            tenant.default = Behaviour()
            answered = await router.opinion(request())
            await router.close()
            return late, held, spent, answered

    late, held, spent, answered = asyncio.run(scenario())
    assert late.degraded is Degradation.FAILED
    assert "deadline" in late.note
    assert (held, spent) == ({}, Decimal(0))
    assert answered.source == "claude"


def _hedged(cap: Decimal) -> tuple[LLMOpinion, int, int, list[CallRecord], BudgetLedger]:
    """Claude (the pick) slow with a fast history, so it is hedged with GPT after ~0.1 s."""

    async def scenario() -> tuple[LLMOpinion, int, int, list[CallRecord], BudgetLedger]:
        async with FakeProvider() as fake:
            fake.add("claude", "anthropic", Behaviour(latency_s=1.0))
            fake.add("gpt", "openai", Behaviour(latency_s=0.02))
            settings, environ = fake_settings(
                fake,
                ("claude", "gpt"),
                request_classes={"analysis": "accuracy_first"},
                hedge={"default_delay_ms": 300, "min_delay_ms": 50},
                budget=_budget(cap),
                cache={"enabled": False},
            )
            router = LLMRouter(settings, environ=environ, rng=random.Random(1))
            for _ in range(20):
                router.health["claude"].observe_latency(100.0)
            opinion = await router.opinion(request())
            calls = router.evaluation.calls()
            hedges = router.counters.hedges
            await router.close()
            return opinion, hedges, len(fake.tenants["claude"].requests), calls, _own_ledger(router)

    return asyncio.run(scenario())


def test_a_hedge_reserves_its_own_worst_case_and_is_not_sent_when_it_does_not_fit() -> None:
    cap = worst_usd("claude") + worst_usd("gpt") / 2  # claude fits, claude and gpt do not
    opinion, hedges, claude_sent, calls, ledger = _hedged(cap)
    assert (opinion.source, hedges, claude_sent) == ("claude", 0, 1)
    assert [c.model for c in calls] == ["claude"]
    assert ledger.reserved == {}
    assert ledger.day_usd == used_usd(calls[0])


def test_the_call_that_loses_a_hedge_race_releases_its_reservation() -> None:
    cap = worst_usd("claude") + worst_usd("gpt")  # both fit, exactly
    opinion, hedges, claude_sent, calls, ledger = _hedged(cap)
    assert (opinion.source, hedges, claude_sent) == ("gpt", 1, 1)
    assert [c.model for c in calls] == ["gpt"]  # claude was cancelled: no usage reported
    assert ledger.reserved == {}
    assert ledger.day_usd == used_usd(calls[0])


def _model(name: str) -> ModelConfig:
    usd_in, usd_out = PRICES[name]
    return ModelConfig(
        name=name,
        provider=Provider.OPENAI,
        model=name,
        credential_env=f"{name.upper()}_KEY",
        usd_per_mtok_in=float(usd_in),
        usd_per_mtok_out=float(usd_out),
    )


MODELS = [_model(name) for name in PRICES]
CAPS = Budget(daily_usd=0.05, run_usd=0.03, daily_tokens=40_000, run_tokens=25_000)
NOW = datetime(2025, 6, 2, 12, tzinfo=UTC)

operation = st.one_of(
    st.tuples(st.just("reserve"), st.integers(0, len(MODELS) - 1), st.integers(1, 4000)),
    st.tuples(st.just("settle"), st.integers(0, 10**6), st.floats(0, 1)),
    st.tuples(st.just("release"), st.integers(0, 10**6), st.just(0.0)),
)


@given(st.lists(operation, max_size=60))
def test_no_interleaving_of_reserve_settle_and_release_lets_a_cap_be_passed(
    operations: list[tuple[str, int, float]],
) -> None:
    """Usage at most the worst case (the provider stops output at max_tokens_out)."""
    ledger = BudgetLedger(CAPS, lambda: NOW)
    held: list[Reservation] = []
    settled_usd, settled_tokens = Decimal(0), 0
    for op, a, b in operations:
        if op == "reserve":
            answer = ledger.reserve(MODELS[a], int(b), 400)
            if isinstance(answer, Reservation):
                held.append(answer)
        elif held:
            reservation = held.pop(a % len(held))
            if op == "settle":
                usd = (reservation.usd * Decimal(repr(b))).quantize(Decimal("1e-12"))
                tokens = int(reservation.tokens * b)
                ledger.settle(reservation, usd, tokens)
                settled_usd, settled_tokens = settled_usd + usd, settled_tokens + tokens
            else:
                ledger.release(reservation)
        for spent, reserved, cap in (
            (ledger.day_usd, ledger.reserved_usd, Decimal(repr(CAPS.daily_usd))),
            (ledger.run_usd, ledger.reserved_usd, Decimal(repr(CAPS.run_usd))),
            (ledger.day_tokens, ledger.reserved_tokens, CAPS.daily_tokens),
            (ledger.run_tokens, ledger.reserved_tokens, CAPS.run_tokens),
        ):
            assert spent + reserved <= cap
    assert ledger.reserved_usd == sum((r.usd for r in held), Decimal(0))
    for reservation in held:
        ledger.release(reservation)
    assert (ledger.reserved, ledger.run_usd, ledger.run_tokens) == ({}, settled_usd, settled_tokens)


def test_refusal_names_the_cap_and_counts_what_is_reserved() -> None:
    ledger = BudgetLedger(Budget(run_usd=0.01), lambda: NOW)
    claude = _model("claude")
    first = ledger.reserve(claude, 1000, 400)  # 0.003 + 0.006 = 0.009
    assert isinstance(first, Reservation)
    assert first.usd == Decimal("0.009")
    assert ledger.reserve(claude, 1000, 400) == "run_usd 0.01 spent (0 used, 0.009 reserved)"
    cheaper = ledger.reserve_first([claude, _model("gemini")], 1000, 400)
    assert isinstance(cheaper, Reservation)
    assert (cheaper.model, cheaper.usd, cheaper.tokens) == ("gemini", Decimal("0.00026"), 1400)
    ledger.settle(first, Decimal("0.004"), 1100)  # gemini's 0.00026 is still held
    assert ledger.reserve(claude, 1000, 400) == "run_usd 0.01 spent (0.004 used, 0.00026 reserved)"
    assert (ledger.run_usd, ledger.run_tokens) == (Decimal("0.004"), 1100)


def test_a_reservation_never_settled_is_dropped_after_hold_s() -> None:
    clock = [NOW]
    ledger = BudgetLedger(Budget(run_usd=0.01), lambda: clock[0], hold_s=30.0)
    claude = _model("claude")
    lost = ledger.reserve(claude, 1000, 400)  # 0.009: its replica dies holding it
    assert isinstance(lost, Reservation)
    clock[0] = NOW + timedelta(seconds=30)
    assert ledger.reserve(claude, 1000, 400) == "run_usd 0.01 spent (0 used, 0.009 reserved)"
    clock[0] = NOW + timedelta(seconds=30.001)
    again = ledger.reserve(claude, 1000, 400)
    assert isinstance(again, Reservation)
    assert (ledger.spending().reservations, ledger.spending().expired) == (1, 1)
    ledger.settle(lost, Decimal("0.0005"), 300)  # a late settlement is still charged
    assert (ledger.run_usd, ledger.run_tokens) == (Decimal("0.0005"), 300)


def test_ledger_file_keeps_the_day_and_the_run_and_resets_each_when_it_changes(
    tmp_path: Path,
) -> None:
    clock = [NOW]
    ledger = BudgetLedger(Budget(), lambda: clock[0])
    ledger.charge(Decimal("0.25"), 1200)
    LedgerFile(tmp_path / "llm-budget.json", "run-1").save(ledger)

    same = LedgerFile(tmp_path / "llm-budget.json", "run-1").load(Budget(), lambda: clock[0])
    assert (same.day_usd, same.day_tokens, same.run_usd, same.run_tokens) == (
        Decimal("0.25"),
        1200,
        Decimal("0.25"),
        1200,
    )
    next_run = LedgerFile(tmp_path / "llm-budget.json", "run-2").load(Budget(), lambda: clock[0])
    assert (next_run.day_usd, next_run.run_usd, next_run.run_tokens) == (
        Decimal("0.25"),
        Decimal(0),
        0,
    )
    clock[0] = NOW + timedelta(days=1)
    next_day = LedgerFile(tmp_path / "llm-budget.json", "run-1").load(Budget(), lambda: clock[0])
    assert (next_day.day_usd, next_day.day_tokens, next_day.run_usd) == (
        Decimal(0),
        0,
        Decimal("0.25"),
    )


def test_a_missing_ledger_file_starts_from_zero(tmp_path: Path) -> None:
    ledger = LedgerFile(tmp_path / "none.json", "run-1").load(Budget(), lambda: NOW)
    assert (ledger.day_usd, ledger.run_usd, ledger.reserved) == (Decimal(0), Decimal(0), {})
