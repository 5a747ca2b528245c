"""``SymbolActor``: one per symbol, named ``symbol:<SYM>``; owns the feed and the analysis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import ray
from pydantic import BaseModel, ConfigDict, Field

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


LIVE_RESUME_WAIT_S = 10.0


def actor_name(symbol: str) -> str:
    return f"symbol:{symbol}"


def checkpoint_name(symbol: str) -> str:
    """``BTC-USDT.json``: a symbol's checkpoint file under the session's ``symbols/``."""
    return symbol.replace("/", "-") + ".json"


class SymbolCheckpoint(BaseModel):
    """Where a symbol's clock is, for a restarted actor: the last two closes it served, and
    each hot-reloaded ``SignalSettings`` with the close it was applied after."""

    model_config = ConfigDict(extra="forbid")

    served: list[datetime] = Field(default_factory=list)
    reloads: list[tuple[datetime | None, SignalSettings]] = Field(default_factory=list)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(self.model_dump_json())
        partial.replace(path)


@ray.remote(num_cpus=0.02, max_restarts=-1, max_task_retries=-1)
class SymbolActor:
    """Steps its base bars as the orchestrator's clock advances; one call per step returns
    every base bar it consumed, the step bar, the signal and the mark.

    ``source`` is a data file (replay) or a ``VenueFeed`` (live: a background task streams
    the venue's klines into ``LiveBars``; ``advance(T)`` takes the closed bars closed by T).

    Restartable: ``advance`` is idempotent (a repeated close returns the same step, an earlier
    one no bars), and a restarted actor replays its source (live: the REST warm-up) silently
    up to the last close it served, with the same hot reloads at the same closes, so its next
    steps equal an uninterrupted actor's and no bar is served twice."""

    def __init__(
        self,
        symbol: str,
        base: Timeframe,
        timeframes: tuple[Timeframe, ...],
        source: str | VenueFeed,
        signals: SignalSettings,
        router: RouterPool | None = None,
        llm_min_confidence: float = 0.55,
        checkpoint: str | None = None,
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
        self._checkpoint_path = Path(checkpoint) if checkpoint else None
        self._checkpoint = SymbolCheckpoint()
        self._resuming = False
        restarted = ray.get_runtime_context().was_current_actor_reconstructed
        if restarted and self._checkpoint_path is not None and self._checkpoint_path.exists():
            self._checkpoint = SymbolCheckpoint.model_validate_json(
                self._checkpoint_path.read_text()
            )
            self._resuming = bool(self._checkpoint.served or self._checkpoint.reloads)

    def first_close(self) -> datetime | None:
        """Close time of the first bar: where the orchestrator's clock starts."""
        return self._stepper.next_close

    async def advance(self, until: datetime) -> SymbolStep:
        """The step at close ``until``; idempotent (the last close again: the same step; an
        earlier close: no bars)."""
        if self._resuming:
            await self._resume()
        last = self._last_step
        if last is not None and until <= last.time:
            return last if until == last.time else SymbolStep(self._analysis.symbol, until)
        step = self._stepper.advance(until)
        served = self._checkpoint.served
        if served and step.bars and step.bars[0].close_time <= served[-1]:
            # live, restarted before the warm-up reached the last close served: never twice
            step = replace(step, bars=tuple(b for b in step.bars if b.close_time > served[-1]))
        if self._router is not None and step.signal is not None:
            step = await self._second_opinion(step, step.signal, self._router)
        self._served(step)
        served[:] = [*served[-1:], until]
        if self._checkpoint_path is not None:
            self._checkpoint.write(self._checkpoint_path)
        return step

    def _served(self, step: SymbolStep) -> None:
        self._last_step = step
        if step.signal is not None:
            self._signal = step.signal
        if step.last_close is not None:
            self._progress.last_close = str(step.last_close)
        live_ended = self._live is None or self._live.error is not None
        self._progress.done = live_ended and self._stepper.exhausted

    async def _resume(self) -> None:
        """After a restart: feed the analysis silently up to the last close served, applying
        each hot reload after the close it followed, and recompute the last step (live: once
        the venue's warm-up reaches that close, or after ``LIVE_RESUME_WAIT_S``)."""
        self._resuming = False
        served = self._checkpoint.served
        if self._live is not None and served:
            await self._live_reaches(self._live, served[-1])
        for after, signals in self._checkpoint.reloads:
            if after is not None and served and after >= served[-1]:
                self._replay_last(served)
            elif after is not None:
                self._stepper.advance(after)
            self._analysis.apply_signal_settings(signals)
        self._replay_last(served)

    def _replay_last(self, served: list[datetime]) -> None:
        if not served or self._last_step is not None:
            return
        if len(served) > 1:
            self._stepper.advance(served[-2])
        self._served(self._stepper.advance(served[-1]))

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
        ``SymbolAnalysis.apply_signal_settings``); returns whether calibration was reset."""
        if self._resuming:
            await self._resume()
        reset = self._analysis.apply_signal_settings(settings)
        served = self._checkpoint.served
        self._checkpoint.reloads.append((served[-1] if served else None, settings))
        if self._checkpoint_path is not None:
            self._checkpoint.write(self._checkpoint_path)
        return reset

    def signal_settings(self) -> SignalSettings:
        return self._analysis.settings

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
