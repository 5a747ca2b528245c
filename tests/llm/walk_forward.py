"""A walk-forward run of the router over the shared real data, for the cache hit rate.

Per symbol: 1h bars drive the decisions; the latest closed 4h and 1d snapshots give context and
the 1d trend gives the regime. A deterministic stand-in answers cache misses (it runs the offline
rules behind the ``ChatClient`` interface), because what is measured is the cache, not a model.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trading.config import ModelConfig, Provider, RouterSettings
from trading.contracts import IndicatorSnapshot, Regime, Timeframe
from trading.indicators.engine import IndicatorSet
from trading.llm import offline
from trading.llm.clients import Completion
from trading.llm.prompt import AnalysisRequest, Prompt
from trading.llm.router import LLMRouter
from trading.market.frames import read_bars

STANDIN = "rules-standin"


class RulesStandIn:
    """A ChatClient that answers with the offline rules as JSON text; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, prompt: Prompt, *, max_tokens: int, timeout_s: float) -> Completion:
        self.calls += 1
        text = offline.analyse(prompt.request).model_dump_json()
        return Completion(text=text, tokens_in=prompt.tokens_estimate, tokens_out=len(text) // 4)

    async def close(self) -> None:
        return None


def standin_settings(**overrides: Any) -> RouterSettings:
    model = ModelConfig(
        name=STANDIN,
        provider=Provider.OPENAI_COMPATIBLE,
        model="rules",
        base_url="http://127.0.0.1:9/v1",
        credential_env="STANDIN_KEY",
        usd_per_mtok_in=0.1,
        usd_per_mtok_out=0.4,
    )
    base: dict[str, Any] = {
        "models": (model,),
        "fallback_chain": (STANDIN, "offline"),
        "budget": {
            "run_usd": 1000.0,
            "daily_usd": 1000.0,
            "run_tokens": 10**9,
            "daily_tokens": 10**9,
        },
    }
    base.update(overrides)
    return RouterSettings(**base)


def _snapshots(
    path: Path, symbol: str, timeframe: Timeframe, since_ms: int
) -> list[IndicatorSnapshot]:
    columns = read_bars(path, timeframe).columns()
    indicators = IndicatorSet(symbol, timeframe)
    out: list[IndicatorSnapshot] = []
    for t, o, h, lo, c, v in columns.rows():
        indicators.update(o, h, lo, c, v, datetime.fromtimestamp(t / 1000, UTC))
        if t >= since_ms:
            out.append(indicators.snapshot())
    return out


def _regime(daily: IndicatorSnapshot | None) -> Regime:
    if daily is None or "sma_50" not in daily.values or "ema_12" not in daily.values:
        return Regime.SIDEWAYS
    close, sma, fast, slow = (
        float(daily.close),
        daily.values["sma_50"],
        daily.values["ema_12"],
        daily.values["ema_26"],
    )
    if close > sma and fast > slow:
        return Regime.BULL
    if close < sma and fast < slow:
        return Regime.BEAR
    return Regime.SIDEWAYS


@dataclass(frozen=True)
class WalkForwardResult:
    requests: int
    exact_hits: int
    bucket_hits: int
    model_calls: int

    @property
    def hit_rate(self) -> float:
        return (self.exact_hits + self.bucket_hits) / self.requests


def requests_for(data: Path, symbol: str, since: datetime) -> list[tuple[AnalysisRequest, float]]:
    """Decision requests on each closed 1h bar since ``since``, with the next 4h return in %."""
    stem = symbol.replace("/", "_")
    warmup_ms = int(since.timestamp() * 1000) - 250 * 86_400_000
    hourly = _snapshots(
        data / f"{stem}-1h.csv", symbol, Timeframe.H1, int(since.timestamp() * 1000)
    )
    h4 = _snapshots(data / f"{stem}-4h.csv", symbol, Timeframe.H4, warmup_ms)
    d1 = _snapshots(data / f"{stem}-1d.csv", symbol, Timeframe.D1, warmup_ms)
    out: list[tuple[AnalysisRequest, float]] = []
    i4 = i1 = -1
    for n, snap in enumerate(hourly[:-4]):
        decided = snap.bar_time + Timeframe.H1.duration
        while i4 + 1 < len(h4) and h4[i4 + 1].bar_time + Timeframe.H4.duration <= decided:
            i4 += 1
        while i1 + 1 < len(d1) and d1[i1 + 1].bar_time + Timeframe.D1.duration <= decided:
            i1 += 1
        context = [
            s for s in (h4[i4] if i4 >= 0 else None, d1[i1] if i1 >= 0 else None) if s is not None
        ]
        request = AnalysisRequest(
            symbol=symbol,
            timeframe=Timeframe.H1,
            regime=_regime(d1[i1] if i1 >= 0 else None),
            snapshots=(snap, *context),
        )
        forward = (float(hourly[n + 4].close) / float(snap.close) - 1.0) * 100.0
        out.append((request, forward))
    return out


async def walk_forward(
    requests: list[tuple[AnalysisRequest, float]], settings: RouterSettings
) -> tuple[WalkForwardResult, LLMRouter]:
    """Route every request in time order and score each bar's outcome; the router stays open."""
    standin = RulesStandIn()
    router = LLMRouter(settings, clients={STANDIN: standin})
    pending: deque[tuple[AnalysisRequest, float]] = deque()
    horizon = 4 * Timeframe.H1.duration
    for request, forward in sorted(requests, key=lambda r: (r[0].decided_at, r[0].symbol)):
        while pending and pending[0][0].decided_at + horizon <= request.decided_at:
            router.record_outcome(*pending.popleft())  # scored only once the return is known
        await router.opinion(request)
        pending.append((request, forward))
    counters = router.counters
    result = WalkForwardResult(
        counters.requests, counters.cache_exact, counters.cache_bucket, standin.calls
    )
    return result, router
