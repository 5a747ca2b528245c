"""``SymbolActor``: one per symbol, named ``symbol:<SYM>``; owns the feed and the analysis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import ray

from actors.router import RouterPool, opinion_request
from trading.config import SignalSettings
from trading.contracts import IndicatorSnapshot, MarketBar, Signal, Timeframe
from trading.execution.desk import SymbolStep, SymbolStepper
from trading.market.binance import BinanceFeed
from trading.market.frames import read_bars
from trading.market.live import FeedReport, LiveBars, VenueFeed
from trading.market.replay import column_bars
from trading.signals.analysis import SymbolAnalysis
from trading.signals.schedule import CheckSchedule


@dataclass
class SymbolProgress:
    symbol: str
    base_bars: int = 0
    closed_bars: dict[str, int] = field(default_factory=dict)
    incomplete_bars: dict[str, int] = field(default_factory=dict)
    last_bar_time: str | None = None
    last_close: str | None = None
    done: bool = False
    error: str | None = None
    feed: FeedReport | None = None  # live mode: the buffer's and the venue feed's health


def actor_name(symbol: str) -> str:
    return f"symbol:{symbol}"


@ray.remote(num_cpus=0.02)
class SymbolActor:
    """Steps its base bars as the orchestrator's clock advances; one call per step returns
    every base bar it consumed, the step bar, the signal and the mark.

    ``source`` is a data file (replay) or a ``VenueFeed`` (live: a background task streams
    the venue's klines into ``LiveBars``; ``advance(T)`` takes the closed bars closed by T)."""

    def __init__(
        self,
        symbol: str,
        base: Timeframe,
        timeframes: tuple[Timeframe, ...],
        source: str | VenueFeed,
        signals: SignalSettings,
        router: RouterPool | None = None,
        llm_min_confidence: float = 0.55,
    ) -> None:
        self._router = router
        self._llm_min_confidence = llm_min_confidence
        self._schedule = CheckSchedule()
        self._analysis = SymbolAnalysis(symbol, base, timeframes, signals=signals)
        step = min(timeframes, key=lambda tf: tf.seconds)
        bars: Iterator[MarketBar]
        self._feed: BinanceFeed | None = None
        self._live: LiveBars | None = None
        if isinstance(source, VenueFeed):
            self._feed = source.open(symbol, base)
            self._live = LiveBars(symbol, base, source.warmup_bars)
            # Ray runs an async actor's constructor on its event loop
            self._listening = asyncio.get_running_loop().create_task(self._live.run(self._feed))
            bars = self._live
        else:
            bars = column_bars(read_bars(Path(source), base).columns(), symbol, base)
        self._stepper = SymbolStepper(self._analysis, bars, step)
        self._progress = SymbolProgress(symbol)
        self._signal: Signal | None = None

    def first_close(self) -> datetime | None:
        """Close time of the first bar: where the orchestrator's clock starts."""
        return self._stepper.next_close

    async def advance(self, until: datetime) -> SymbolStep:
        step = self._stepper.advance(until)
        if self._router is not None and step.signal is not None:
            step = await self._second_opinion(step, step.signal, self._router)
        if step.signal is not None:
            self._signal = step.signal
        if step.last_close is not None:
            self._progress.last_close = str(step.last_close)
        live_ended = self._live is None or self._live.error is not None
        self._progress.done = live_ended and self._stepper.exhausted
        return step

    async def _second_opinion(
        self, step: SymbolStep, signal: Signal, router: RouterPool
    ) -> SymbolStep:
        """Ask the LLM when the schedule says so (at once on high volatility); a candidate
        signal is then re-composed with the opinion blended in."""
        candidate = signal.confidence >= self._llm_min_confidence
        if not candidate or not self._schedule.due(step.time, urgent=signal.high_volatility):
            return step
        request = opinion_request(
            signal.symbol,
            self._stepper.step,
            signal.regime,
            self._analysis.snapshots(),
            step.time,
        )
        opinion = await router.opinion(request)
        self._schedule.checked(step.time, eventful=opinion.direction is signal.direction)
        blended = self._analysis.signal(opinion=opinion, created_at=step.time)
        return replace(step, signal=blended)

    def progress(self) -> SymbolProgress:
        counts = self._analysis.counts
        progress = self._progress
        progress.base_bars = counts.base_bars
        progress.closed_bars = {str(tf): n for tf, n in counts.closed_bars.items()}
        progress.incomplete_bars = {str(tf): n for tf, n in counts.incomplete_bars.items()}
        progress.last_bar_time = counts.last_bar_time.isoformat() if counts.last_bar_time else None
        if self._live is not None and self._feed is not None:
            progress.feed = FeedReport.of(self._live, self._feed.health)
            progress.error = self._live.error
        return progress

    def latest_signal(self) -> Signal | None:
        return self._signal

    def snapshots(self) -> dict[str, IndicatorSnapshot]:
        return {str(tf): snap for tf, snap in self._analysis.snapshots().items()}

    def ping(self) -> bool:
        return True
