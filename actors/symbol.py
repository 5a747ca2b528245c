"""``SymbolActor``: one per symbol, named ``symbol:<SYM>``; owns the feed and the analysis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import ray

from actors.metrics import record_feed_staleness, timed
from actors.orchestrator import ORCHESTRATOR_ACTOR
from trading.config import ObservabilitySettings, SignalSettings
from trading.contracts import IndicatorSnapshot, MarketBar, Timeframe
from trading.execution.desk import SymbolStep, SymbolStepper
from trading.market.binance import BinanceFeed
from trading.market.frames import read_bars
from trading.market.live import FeedReport, LiveBars, VenueFeed
from trading.market.replay import column_bars
from trading.observability.process import configure_observability
from trading.observability.tracing import annotate, traced_call
from trading.report.progress import SymbolProgress
from trading.signals.analysis import SymbolAnalysis
from trading.signals.resume import Reload, Resume
from trading.signals.second_opinion import OpinionPort, SecondOpinion


def actor_name(symbol: str) -> str:
    return f"symbol:{symbol}"


def _scan_tags(actor: SymbolActor) -> dict[str, str]:
    return {"timeframe": str(actor.timeframe())}


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
        router: OpinionPort | None = None,
        resume_from: str = ORCHESTRATOR_ACTOR,
        observability: ObservabilitySettings | None = None,
    ) -> None:
        self._analysis = SymbolAnalysis(symbol, base, timeframes, signals=signals)
        step = min(timeframes, key=lambda tf: tf.seconds)
        self._stepper = SymbolStepper(self._analysis, self._open(source), step)
        self._opinions = None if router is None else SecondOpinion(self._analysis, step, router)
        self._progress = SymbolProgress(symbol)
        self._last_step: SymbolStep | None = None
        self._resume_from = resume_from
        self._resume = Resume(ray.get_runtime_context().was_current_actor_reconstructed)
        configure_observability(observability or ObservabilitySettings(), actor_name(symbol))

    def _open(self, source: str | VenueFeed) -> Iterator[MarketBar]:
        """The base bars: a data file's, or (live) those a background task streams in."""
        symbol, base = self._analysis.symbol, self._analysis.base
        self._feed: BinanceFeed | None = None
        self._live: LiveBars | None = None
        if not isinstance(source, VenueFeed):
            return column_bars(read_bars(Path(source), base).columns(), symbol, base)
        self._feed = source.open(symbol, base)
        self._live = LiveBars(symbol, base, source.warmup_bars)
        # Ray runs an async actor's constructor on its event loop
        self._listening = asyncio.get_running_loop().create_task(self._live.run(self._feed))
        return self._live

    def first_close(self) -> datetime | None:
        """Close time of the first bar: where the orchestrator's clock starts."""
        return self._stepper.next_close

    @traced_call("symbol.advance")
    @timed("raytrader_scan_latency_seconds", "one symbol's analysis of a step", _scan_tags)
    async def advance(self, until: datetime) -> SymbolStep:
        """The step at close ``until``; idempotent (the last close again: the same step; an
        earlier close: no bars)."""
        annotate(symbol=self._analysis.symbol, timeframe=str(self._stepper.step))
        if self._resume.pending:
            served = until - self._stepper.step.duration
            await self._resume.run(self._stepper, served, self._reloads, self._live)
        last = self._last_step
        if last is not None and until <= last.time:
            return last if until == last.time else SymbolStep(self._analysis.symbol, until)
        step = self._stepper.advance(until)
        step = replace(step, bars=self._resume.unserved(step.bars))
        if self._opinions is not None and step.signal is not None:
            step = replace(step, signal=await self._opinions.review(step.signal, step.time))
        self._last_step = step
        if step.last_close is not None:
            self._progress.last_close = str(step.last_close)
        live_ended = self._live is None or self._live.error is not None
        self._progress.done = live_ended and self._stepper.exhausted
        return step

    async def _reloads(self) -> list[Reload]:
        """The hot reloads pushed so far, from the orchestrator (none if it is gone)."""
        try:
            source = ray.get_actor(self._resume_from)
        except ValueError:
            return []
        reloads: list[Reload] = await source.signal_reloads.remote()
        return reloads

    async def apply_signals(self, settings: SignalSettings) -> bool:
        """Hot reload: the next signal uses ``settings`` (see
        ``SymbolAnalysis.apply_signal_settings``); returns whether calibration was reset. A
        restarted actor not yet resumed leaves it to the resume, which replays every reload."""
        if self._resume.pending:
            return False
        return self._analysis.apply_signal_settings(settings)

    def timeframe(self) -> Timeframe:
        """The step's timeframe (the finest analysed)."""
        return self._stepper.step

    def signal_settings(self) -> SignalSettings:
        return self._analysis.settings

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
            record_feed_staleness(self._analysis.symbol, counts.last_bar_time)
        return progress

    def snapshots(self) -> dict[str, IndicatorSnapshot]:
        return {str(tf): snap for tf, snap in self._analysis.snapshots().items()}

    def ping(self) -> bool:
        return True
