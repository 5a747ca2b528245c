"""One symbol's multi-timeframe view: base bars in, closed higher bars and indicator snapshots out.

The same object runs inside a live ``SymbolActor`` and inside a backtest, so both see
exactly the bars and indicator values the other sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from trading.contracts import IndicatorSnapshot, MarketBar, Timeframe
from trading.indicators.engine import IndicatorConfig, IndicatorSet
from trading.market.resample import Resampler


@dataclass
class AnalysisCounts:
    """What an analysis has seen so far."""

    base_bars: int = 0
    closed_bars: dict[Timeframe, int] = field(default_factory=dict)
    incomplete_bars: dict[Timeframe, int] = field(default_factory=dict)
    last_bar_time: datetime | None = None


class SymbolAnalysis:
    """Resample a base feed to the analysis timeframes and keep their indicators current.

    Only closed higher-timeframe bars reach the indicators, so a value at bar t never sees
    data after t (no look-ahead); in-progress bars are resampled but not analysed.
    """

    def __init__(
        self,
        symbol: str,
        base: Timeframe,
        timeframes: Sequence[Timeframe] = Timeframe.analysis(),
        config: IndicatorConfig | None = None,
    ) -> None:
        self.symbol = symbol
        self.base = base
        self.timeframes = tuple(timeframes)
        self._resampler = Resampler(symbol, base, self.timeframes)
        self._indicators = {tf: IndicatorSet(symbol, tf, config) for tf in self.timeframes}
        self._snapshots: dict[Timeframe, IndicatorSnapshot] = {}
        self.counts = AnalysisCounts(closed_bars=dict.fromkeys(self.timeframes, 0))

    def on_bar(self, bar: MarketBar) -> list[IndicatorSnapshot]:
        """Take one base update; return a fresh snapshot for each timeframe whose bar closed."""
        fresh: list[IndicatorSnapshot] = []
        for resampled in self._resampler.update(bar):
            if not resampled.bar.closed:
                continue
            timeframe = resampled.bar.timeframe
            indicators = self._indicators[timeframe]
            indicators.update_bar(resampled.bar)
            snapshot = indicators.snapshot()
            self._snapshots[timeframe] = snapshot
            self.counts.closed_bars[timeframe] += 1
            fresh.append(snapshot)
        if bar.closed:
            self.counts.base_bars += 1
            self.counts.last_bar_time = bar.open_time
        self.counts.incomplete_bars = self._resampler.incomplete_bars
        return fresh

    def snapshot(self, timeframe: Timeframe) -> IndicatorSnapshot | None:
        """The latest snapshot of ``timeframe``, or None before its first closed bar."""
        return self._snapshots.get(timeframe)

    def snapshots(self) -> dict[Timeframe, IndicatorSnapshot]:
        return dict(self._snapshots)
