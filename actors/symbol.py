"""``SymbolActor``: one per symbol, named ``symbol:<SYM>``; owns the feed and the analysis."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import ray

from trading.contracts import IndicatorSnapshot, Timeframe
from trading.market.feed import BarFeed
from trading.market.replay import ReplayFeed, ReplaySource
from trading.signals.analysis import SymbolAnalysis


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


def actor_name(symbol: str) -> str:
    return f"symbol:{symbol}"


@ray.remote(num_cpus=0.05)
class SymbolActor:
    """Streams its feed through ``SymbolAnalysis``; the driver polls ``progress``."""

    def __init__(
        self,
        symbol: str,
        base: Timeframe,
        timeframes: tuple[Timeframe, ...],
        data_file: str,
        speed: float = 0.0,
    ) -> None:
        self._analysis = SymbolAnalysis(symbol, base, timeframes)
        self._feed: BarFeed = ReplayFeed([ReplaySource(symbol, base, Path(data_file))], speed=speed)
        self._progress = SymbolProgress(symbol)
        self._stopping = False

    async def run(self, max_bars: int | None = None) -> SymbolProgress:
        """Consume the feed until it ends, ``max_bars`` closed bars, or ``stop``."""
        try:
            async for bar in self._feed.stream():
                self._analysis.on_bar(bar)
                if bar.closed:
                    self._progress.last_close = str(bar.close)
                if self._stopping or self._analysis.counts.base_bars == max_bars:
                    break
                if self._analysis.counts.base_bars % 256 == 0:
                    await asyncio.sleep(0)  # let progress/stop calls in
        except Exception as exc:  # reported to the driver, which decides; never silent
            self._progress.error = f"{type(exc).__name__}: {exc}"
        self._progress.done = True
        return self.progress()

    def progress(self) -> SymbolProgress:
        counts = self._analysis.counts
        progress = self._progress
        progress.base_bars = counts.base_bars
        progress.closed_bars = {str(tf): n for tf, n in counts.closed_bars.items()}
        progress.incomplete_bars = {str(tf): n for tf, n in counts.incomplete_bars.items()}
        progress.last_bar_time = counts.last_bar_time.isoformat() if counts.last_bar_time else None
        return progress

    def stop(self) -> None:
        self._stopping = True

    def snapshots(self) -> dict[str, IndicatorSnapshot]:
        return {str(tf): snap for tf, snap in self._analysis.snapshots().items()}
