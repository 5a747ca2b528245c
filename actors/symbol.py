"""``SymbolActor``: one per symbol, named ``symbol:<SYM>``; owns the feed and the analysis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import ray

from actors.orchestrator import ORCHESTRATOR_ACTOR
from actors.router import RouterClient
from trading.config import SignalSettings
from trading.contracts import IndicatorSnapshot, MarketBar, Signal, Timeframe
from trading.execution.desk import SymbolStep, SymbolStepper
from trading.market.binance import BinanceFeed
from trading.market.frames import read_bars
from trading.market.live import FeedReport, LiveBars, VenueFeed
from trading.market.replay import column_bars
from trading.signals.analysis import SymbolAnalysis
from trading.signals.schedule import CheckSchedule
from trading.signals.second_opinion import opinion_request


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


LIVE_RESUME_WAIT_S = 10.0


def actor_name(symbol: str) -> str:
    return f"symbol:{symbol}"


@ray.remote(num_cpus=0.02, max_restarts=-1, max_task_retries=-1)
class SymbolActor:
    """Steps its base bars as the orchestrator's clock advances; one call per step returns
    every base bar it consumed, the step bar, the signal and the mark.

    ``source`` is a data file (replay) or a ``VenueFeed`` (live: a background task streams
    the venue's klines into ``LiveBars``; ``advance(T)`` takes the closed bars closed by T).

    Restartable: ``advance`` is idempotent (a repeated close returns the same step, an earlier
    one no bars). A restarted actor replays its source (live: the REST warm-up) silently up to
    the step before the first close it is asked for, applying the hot reloads the orchestrator
    (``resume_from``) pushed at the closes it pushed them after, so its steps equal an
    uninterrupted actor's and no bar is served twice. It keeps no files: it may run anywhere."""

    def __init__(
        self,
        symbol: str,
        base: Timeframe,
        timeframes: tuple[Timeframe, ...],
        source: str | VenueFeed,
        signals: SignalSettings,
        router: RouterClient | None = None,
        llm_min_confidence: float = 0.55,
        resume_from: str = ORCHESTRATOR_ACTOR,
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
        self._last_step: SymbolStep | None = None
        self._resume_from = resume_from
        self._resuming = ray.get_runtime_context().was_current_actor_reconstructed
        self._resumed_to: datetime | None = None

    def first_close(self) -> datetime | None:
        """Close time of the first bar: where the orchestrator's clock starts."""
        return self._stepper.next_close

    async def advance(self, until: datetime) -> SymbolStep:
        """The step at close ``until``; idempotent (the last close again: the same step; an
        earlier close: no bars)."""
        if self._resuming:
            await self._resume(until - self._stepper.step.duration)
        last = self._last_step
        if last is not None and until <= last.time:
            return last if until == last.time else SymbolStep(self._analysis.symbol, until)
        step = self._stepper.advance(until)
        resumed_to = self._resumed_to
        if resumed_to is not None and step.bars and step.bars[0].close_time <= resumed_to:
            # live, restarted before the warm-up reached the clock: never serve a bar twice
            step = replace(step, bars=tuple(b for b in step.bars if b.close_time > resumed_to))
        if self._router is not None and step.signal is not None:
            step = await self._second_opinion(step, step.signal, self._router)
        self._last_step = step
        if step.signal is not None:
            self._signal = step.signal
        if step.last_close is not None:
            self._progress.last_close = str(step.last_close)
        live_ended = self._live is None or self._live.error is not None
        self._progress.done = live_ended and self._stepper.exhausted
        return step

    async def _resume(self, served: datetime) -> None:
        """After a restart: feed the analysis silently up to ``served`` (the close before the
        one asked for), with each hot reload applied after the close it followed (live: once
        the venue's warm-up reaches ``served``, or after ``LIVE_RESUME_WAIT_S``)."""
        self._resuming, self._resumed_to = False, served
        if self._live is not None:
            await self._live_reaches(self._live, served)
        for after, signals in await self._reloads():
            if after is not None and after <= served:
                self._stepper.advance(after)
            self._analysis.apply_signal_settings(signals)
        self._stepper.advance(served)

    async def _reloads(self) -> list[tuple[datetime | None, SignalSettings]]:
        """The hot reloads pushed so far, from the orchestrator (none if it is gone)."""
        try:
            source = ray.get_actor(self._resume_from)
        except ValueError:
            return []
        reloads: list[tuple[datetime | None, SignalSettings]] = await source.signal_reloads.remote()
        return reloads

    @staticmethod
    async def _live_reaches(live: LiveBars, close: datetime) -> None:
        waited_s = 0.0
        while live.last_close is None or live.last_close < close:
            if live.error is not None or waited_s >= LIVE_RESUME_WAIT_S:
                return
            await asyncio.sleep(0.05)
            waited_s += 0.05

    async def apply_signals(self, settings: SignalSettings) -> bool:
        """Hot reload: the next signal uses ``settings`` (see
        ``SymbolAnalysis.apply_signal_settings``); returns whether calibration was reset. A
        restarted actor not yet resumed leaves it to the resume, which replays every reload."""
        if self._resuming:
            return False
        return self._analysis.apply_signal_settings(settings)

    def signal_settings(self) -> SignalSettings:
        return self._analysis.settings

    async def _second_opinion(
        self, step: SymbolStep, signal: Signal, router: RouterClient
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
