"""The LLM router: cache, budget, policy, fallbacks, cooldowns, hedging, offline degradation.

One request: build the prompt; answer from the cache if an exact or bucket entry is fresh;
otherwise rank the healthy models by the request class's policy and call the first whose worst
case the budget can reserve, falling back down the chain on failure and hedging with the next
model once the first has run past its p95 latency; every call holds a budget reservation until
it is settled with its real usage (or released). Every call lands in the evaluation store. When
no model can answer (none configured, budget spent, all failed) the offline analyst does, and
says why.
The opinion feeds a signal's confluence only: the router never sizes or places an order.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from trading.config import OFFLINE_ANALYST, ModelConfig, RouterSettings, RoutingPolicy
from trading.llm import offline
from trading.llm.budget import BudgetLedger, InProcessLedger, Ledger, Reservation
from trading.llm.cache import OpinionCache
from trading.llm.clients import ChatClient, FailureKind, ProviderError, clients_from_env
from trading.llm.evaluation import CallRecord, EvaluationStore, call_cost_usd
from trading.llm.health import Clock, ModelHealth
from trading.llm.opinion import (
    Answer,
    AnswerError,
    CacheOutcome,
    Degradation,
    LLMOpinion,
    check_invalidation,
    parse_answer,
)
from trading.llm.policy import ModelStats, rank
from trading.llm.prompt import AnalysisRequest, Prompt, build_prompt

Now = Callable[[], datetime]
_CALL_GRACE_S = 0.5


def provider_endpoint(model: ModelConfig) -> str:
    """The endpoint whose concurrent calls ``max_calls_per_provider`` bounds (its base URL,
    or the provider's default endpoint)."""
    return model.base_url or model.provider.value


class UnknownRequestClassError(ValueError):
    """A request names a class that has no policy in ``router.request_classes``."""


@dataclass
class RouterCounters:
    """What the router did, for metrics and tests."""

    requests: int = 0
    cache_exact: int = 0
    cache_bucket: int = 0
    provider_calls: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    repaired: int = 0
    rejected: int = 0
    hedges: int = 0
    hedge_wins: int = 0
    fallbacks: int = 0
    degraded: Counter[str] = field(default_factory=Counter)

    @property
    def hit_rate(self) -> float:
        return (self.cache_exact + self.cache_bucket) / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class _Attempt:
    model: str
    answer: Answer | None
    failure: str | None
    usd: Decimal = Decimal(0)  # what the provider reported using (settles the reservation)
    tokens: int = 0


class LLMRouter:
    """Routes analysis requests to hosted models or the offline analyst (pure asyncio)."""

    def __init__(
        self,
        settings: RouterSettings,
        *,
        clients: Mapping[str, ChatClient] | None = None,
        environ: Mapping[str, str] | None = None,
        cache: OpinionCache | None = None,
        evaluation: EvaluationStore | None = None,
        clock: Clock = time.monotonic,
        now: Now = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        """``ledger`` is the budget to reserve calls against (a pool's shared one); by default
        this router's own, seeded with today's spending from the evaluation store."""
        self.settings = settings
        self._clock = clock
        self._now = now
        self._rng = rng or random.Random(0)  # noqa: S311 - routing, not cryptography
        self._attempt_timeout_s = settings.attempt_timeout_ms / 1000
        self.models: dict[str, ModelConfig] = {m.name: m for m in settings.models}
        self.clients: dict[str, ChatClient] = (
            dict(clients)
            if clients is not None
            else clients_from_env(settings.models, self._attempt_timeout_s, environ)
        )
        self.chain = [
            name
            for name in settings.fallback_chain
            if name != OFFLINE_ANALYST and name in self.clients and name in self.models
        ]
        self.health = {
            name: ModelHealth(
                name,
                clock,
                cooldown_after_failures=settings.cooldown_after_failures,
                cooldown_seconds=settings.cooldown_seconds,
                breaker=settings.breaker,
            )
            for name in self.chain
        }
        cache_settings = settings.cache
        self.cache = cache
        if self.cache is None and cache_settings.enabled:
            self.cache = OpinionCache(
                cache_settings.ttl_seconds,
                cache_settings.path,
                use_bucket=cache_settings.state_bucket,
            )
        self.evaluation = evaluation or EvaluationStore(settings.evaluation)
        self.budget: BudgetLedger | None = None  # this router's own ledger, if it has one
        if ledger is None:
            today = now().replace(hour=0, minute=0, second=0, microsecond=0)
            spent_usd, spent_tokens = self.evaluation.spent_since(today)
            self.budget = BudgetLedger(
                settings.budget, now, spent_today_usd=spent_usd, spent_today_tokens=spent_tokens
            )
            ledger = InProcessLedger(self.budget)
        self.ledger: Ledger = ledger
        self.counters = RouterCounters()
        self._provider_slots = {
            endpoint: asyncio.Semaphore(settings.max_calls_per_provider)
            for endpoint in {provider_endpoint(m) for m in self.models.values()}
        }

    # ------------------------------------------------------------------ public

    async def opinion(self, request: AnalysisRequest) -> LLMOpinion:
        """A second opinion on ``request``: cached, routed, or offline (labelled)."""
        started = self._clock()
        policy = self.settings.request_classes.get(request.request_class)
        if policy is None:
            known = sorted(self.settings.request_classes)
            raise UnknownRequestClassError(
                f"request_class {request.request_class!r} has no policy; known: {known}"
            )
        prompt = build_prompt(
            request, bucket_includes_symbol=self.settings.cache.bucket_includes_symbol
        )
        self.counters.requests += 1
        if self.cache is not None:
            hit = self.cache.lookup(prompt)
            if hit is not None:
                if hit.outcome is CacheOutcome.EXACT:
                    self.counters.cache_exact += 1
                else:
                    self.counters.cache_bucket += 1
                self._record(prompt, hit.source, hit.answer, started, cache=hit.outcome)
                return self._opinion(prompt, hit.answer, hit.source, cache=hit.outcome)
        if not self.chain:
            return self._offline(prompt, started, Degradation.NO_MODEL, "no provider key set")
        order = self._plan(prompt, policy)
        if not order:
            return self._offline(prompt, started, Degradation.FAILED, "every model cooling down")
        held = await self._reserve(prompt, order)
        if not isinstance(held, Reservation):
            return self._offline(prompt, started, Degradation.BUDGET, held)
        attempt, failures = await self._race(prompt, order, held)
        if attempt is None or attempt.answer is None:
            note = "; ".join(failures)[:300] or "request deadline passed"
            return self._offline(prompt, started, Degradation.FAILED, note)
        if self.cache is not None:
            self.cache.store(prompt, attempt.answer, attempt.model)
        return self._opinion(prompt, attempt.answer, attempt.model, cache=CacheOutcome.MISS)

    def record_outcome(self, request: AnalysisRequest, forward_return_pct: float) -> int:
        """Score the opinions given on ``request``'s bar once its forward return is known."""
        primary = request.primary
        return self.evaluation.record_outcome(
            request.symbol, request.timeframe.value, primary.bar_time, forward_return_pct
        )

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        self.evaluation.close()
        if self.cache is not None:
            self.cache.close()

    # ------------------------------------------------------------------ planning

    def _plan(self, prompt: Prompt, policy: RoutingPolicy) -> list[str]:
        """The healthy models in the order to try them: the policy's pick, then the chain
        (the budget decides at each call which of them still fits)."""
        tokens_in = prompt.tokens_estimate
        max_out = self.settings.max_tokens_out
        healthy = [name for name in self.chain if self.health[name].available()]
        if not healthy:
            return []
        request = prompt.request
        if self.settings.exploration_rate and self._rng.random() < self.settings.exploration_rate:
            primary = self._rng.choice(healthy)
        else:
            stats = [
                ModelStats(
                    name=name,
                    accuracy=self.evaluation.accuracy(
                        name, request.regime.value, request.timeframe.value
                    ).score,
                    usd_per_call=float(call_cost_usd(self.models[name], tokens_in, max_out // 2)),
                    p95_ms=self.health[name].p95_ms(),
                )
                for name in healthy
            ]
            primary = rank(
                policy,
                stats,
                cost_margin=self.settings.cost_margin,
                latency_slo_ms=self.settings.latency_slo_ms,
            )[0]
        return [primary, *(name for name in healthy if name != primary)]

    def hedge_delay_s(self, model: str) -> float:
        """The model's rolling p95 once it has enough samples, clamped; the default before."""
        hedge = self.settings.hedge
        health = self.health[model]
        p95 = health.p95_ms()
        delay_ms = (
            p95
            if p95 is not None and health.latency_samples >= hedge.min_samples
            else hedge.default_delay_ms
        )
        return min(max(delay_ms, hedge.min_delay_ms), hedge.max_delay_ms) / 1000

    # ------------------------------------------------------------------ calling

    async def _reserve(self, prompt: Prompt, queue: list[str]) -> Reservation | str:
        """Reserve the worst case of the first queued model the budget fits, dropping the
        models before it from ``queue`` (they do not fit now); or the refusal."""
        held = await self.ledger.reserve_first(
            [self.models[name] for name in queue],
            prompt.tokens_estimate,
            self.settings.max_tokens_out,
        )
        if isinstance(held, Reservation):
            del queue[: queue.index(held.model)]
        else:
            queue.clear()
        return held

    async def _race(
        self, prompt: Prompt, order: list[str], first: Reservation
    ) -> tuple[_Attempt | None, list[str]]:
        """Try ``order`` (``first`` reserves its head) with fallbacks and at most
        ``max_hedges`` hedges, up to ``max_attempts`` calls, before the deadline. Each call
        holds its own reservation: settled with its usage once it ends, released if cancelled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.request_timeout_ms / 1000
        hedge = self.settings.hedge
        queue = list(order)
        running: dict[asyncio.Task[_Attempt], tuple[str, float, bool, Reservation]] = {}
        failures: list[str] = []
        hedges = 0
        attempts = 0

        def launch(held: Reservation, is_hedge: bool) -> None:
            nonlocal attempts
            name = queue.pop(0)
            attempts += 1
            self.health[name].begin_call()
            task = asyncio.create_task(self._attempt(name, prompt))
            running[task] = (name, loop.time(), is_hedge, held)

        async def reserve_next() -> Reservation | None:
            if attempts >= self.settings.max_attempts or not queue:
                return None
            held = await self._reserve(prompt, queue)
            if isinstance(held, Reservation):
                return held
            failures.append(f"budget: {held}")
            return None

        launch(first, False)
        try:
            while running:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    failures.append("request deadline passed")
                    return None, failures
                hedge_due = (
                    hedge.enabled
                    and hedges < hedge.max_hedges
                    and bool(queue)
                    and attempts < self.settings.max_attempts
                )
                wait_s = remaining
                if hedge_due and len(running) == 1:
                    name, began, _, _ = next(iter(running.values()))
                    wait_s = min(
                        remaining, max(0.0, began + self.hedge_delay_s(name) - loop.time())
                    )
                done, _ = await asyncio.wait(
                    running, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    if hedge_due and len(running) == 1:
                        held = await reserve_next()
                        if held is not None:
                            hedges += 1
                            self.counters.hedges += 1
                            launch(held, True)
                    continue
                for task in done:
                    name, _, was_hedge, held = running.pop(task)
                    attempt = task.result()
                    await self.ledger.settle(held, attempt.usd, attempt.tokens)
                    if attempt.answer is not None:
                        self.counters.hedge_wins += was_hedge
                        return attempt, failures
                    failures.append(f"{name}: {attempt.failure}")
                if not running:
                    held = await reserve_next()
                    if held is not None:
                        self.counters.fallbacks += 1
                        launch(held, False)
            return None, failures
        finally:
            for task, (name, _, _, _) in running.items():
                task.cancel()
                self.health[name].release()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            for task, (_, _, _, held) in running.items():
                await self._close(task, held)

    async def _close(self, task: asyncio.Task[_Attempt], held: Reservation) -> None:
        """Settle a call left behind by the race: with its usage if it ended, else release."""
        if task.cancelled() or task.exception() is not None:
            await self.ledger.release(held)
        else:
            attempt = task.result()
            await self.ledger.settle(held, attempt.usd, attempt.tokens)

    async def _attempt(self, name: str, prompt: Prompt) -> _Attempt:
        """One provider call, parsed and recorded; never raises except on cancellation."""
        model = self.models[name]
        health = self.health[name]
        async with self._provider_slots[provider_endpoint(model)]:
            return await self._call(name, model, health, prompt)

    async def _call(
        self, name: str, model: ModelConfig, health: ModelHealth, prompt: Prompt
    ) -> _Attempt:
        """The call itself, holding one of the provider's slots (queueing is not latency)."""
        started = self._clock()
        self.counters.provider_calls += 1
        try:
            async with asyncio.timeout(self._attempt_timeout_s + _CALL_GRACE_S):
                completion = await self.clients[name].complete(
                    prompt,
                    max_tokens=self.settings.max_tokens_out,
                    timeout_s=self._attempt_timeout_s,
                )
        except ProviderError as exc:
            return self._failed(prompt, name, started, exc.kind.value, Decimal(0), 0, 0)
        except TimeoutError:
            return self._failed(prompt, name, started, FailureKind.TIMEOUT.value, Decimal(0), 0, 0)
        except Exception as exc:  # an SDK bug must cost one attempt, not the request
            failure = f"{FailureKind.MALFORMED.value}: {type(exc).__name__}"
            return self._failed(prompt, name, started, failure, Decimal(0), 0, 0)
        cost = call_cost_usd(model, completion.tokens_in, completion.tokens_out)
        tokens = completion.tokens_in + completion.tokens_out
        try:
            answer, repaired = parse_answer(completion.text)
            check_invalidation(answer, float(prompt.request.primary.close))
        except AnswerError as exc:
            self.counters.rejected += 1
            failure = f"{FailureKind.MALFORMED.value}: {exc.problem}"
            return self._failed(
                prompt, name, started, failure, cost, completion.tokens_in, completion.tokens_out
            )
        self.counters.repaired += repaired
        latency_ms = (self._clock() - started) * 1000
        health.record_success(latency_ms)
        self._record(
            prompt,
            name,
            answer,
            started,
            cache=CacheOutcome.MISS,
            tokens=(completion.tokens_in, completion.tokens_out),
            cost=cost,
        )
        return _Attempt(name, answer, None, cost, tokens)

    def _failed(
        self,
        prompt: Prompt,
        name: str,
        started: float,
        failure: str,
        cost: Decimal,
        tokens_in: int,
        tokens_out: int,
    ) -> _Attempt:
        self.health[name].record_failure()
        self.counters.failures[failure.split(":")[0]] += 1
        self._store_call(
            prompt,
            name,
            started,
            CacheOutcome.MISS,
            (tokens_in, tokens_out),
            cost,
            error=failure[:200],
        )
        return _Attempt(name, None, failure, cost, tokens_in + tokens_out)

    # ------------------------------------------------------------------ answers

    def _record(
        self,
        prompt: Prompt,
        source: str,
        answer: Answer,
        started: float,
        *,
        cache: CacheOutcome,
        tokens: tuple[int, int] = (0, 0),
        cost: Decimal = Decimal(0),
    ) -> None:
        self._store_call(
            prompt,
            source,
            started,
            cache,
            tokens,
            cost,
            direction=answer.direction.value,
            confidence=answer.confidence,
        )

    def _store_call(
        self,
        prompt: Prompt,
        model: str,
        started: float,
        cache: CacheOutcome,
        tokens: tuple[int, int],
        cost: Decimal,
        *,
        error: str | None = None,
        direction: str | None = None,
        confidence: float | None = None,
    ) -> None:
        """One evaluation-store row per answer or failed call, timed from ``started``."""
        request = prompt.request
        self.evaluation.record(
            CallRecord(
                ts=self._now(),
                model=model,
                request_hash=prompt.hash,
                request_class=request.request_class,
                symbol=request.symbol,
                timeframe=request.timeframe.value,
                regime=request.regime.value,
                bar_time=request.primary.bar_time,
                tokens_in=tokens[0],
                tokens_out=tokens[1],
                cost_usd=cost,
                latency_ms=(self._clock() - started) * 1000,
                cache=cache.value,
                error=error,
                direction=direction,
                confidence=confidence,
            )
        )

    def _opinion(
        self,
        prompt: Prompt,
        answer: Answer,
        source: str,
        *,
        cache: CacheOutcome,
        degraded: Degradation | None = None,
        note: str = "",
    ) -> LLMOpinion:
        return LLMOpinion(
            direction=answer.direction,
            confidence=answer.confidence,
            reasons=answer.reasons,
            invalidation_level=answer.invalidation_level,
            source=source,
            offline=source == offline.OFFLINE_SOURCE,
            degraded=degraded,
            note=note[:300],
            cache=cache,
            prompt_version=prompt.version,
            prompt_hash=prompt.hash,
        )

    def _offline(
        self, prompt: Prompt, started: float, reason: Degradation, detail: str
    ) -> LLMOpinion:
        """The rule-based analyst's answer, labelled with why no hosted model gave one."""
        self.counters.degraded[reason.value] += 1
        answer = offline.analyse(prompt.request)
        self._record(prompt, offline.OFFLINE_SOURCE, answer, started, cache=CacheOutcome.MISS)
        note = f"offline analyst: {reason.value}: {detail}"
        return self._opinion(
            prompt,
            answer,
            offline.OFFLINE_SOURCE,
            cache=CacheOutcome.MISS,
            degraded=reason,
            note=note,
        )
