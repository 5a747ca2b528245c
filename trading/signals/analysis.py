"""One symbol's multi-timeframe view: base bars in, closed higher bars, indicator snapshots,
pattern hits, per-timeframe scores and an explained ``Signal`` out.

The same object runs inside a live ``SymbolActor`` and inside a backtest, so both see
exactly the bars and indicator values the other sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from trading.config import SignalSettings
from trading.contracts import IndicatorSnapshot, MarketBar, Signal, Timeframe
from trading.indicators.engine import IndicatorConfig, IndicatorSet
from trading.market.resample import Resampler
from trading.patterns import PatternConfig
from trading.signals.calibration import Calibrator
from trading.signals.confluence import AnalystOpinion
from trading.signals.history import calibration_params
from trading.signals.scoring import TimeframeScore, TimeframeScorer, combine, compose_signal

SCORE_NEUTRAL_SETTINGS = frozenset(
    {
        "direction_threshold",
        "regime_timeframe",
        "llm_weight",
        "llm_min_confidence",
        "llm_check_min_minutes",
        "llm_check_max_minutes",
    }
)
"""Signal settings that leave the combined score the calibrator learns from unchanged (the
calibrator sees the score without the analyst's opinion, and the LLM's schedule)."""


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
        signals: SignalSettings | None = None,
        patterns: PatternConfig | None = None,
    ) -> None:
        self.symbol = symbol
        self.base = base
        self.timeframes = tuple(timeframes)
        self.settings = signals or SignalSettings()
        self._resampler = Resampler(symbol, base, self.timeframes)
        self._indicators = {tf: IndicatorSet(symbol, tf, config) for tf in self.timeframes}
        self._scorers = {tf: TimeframeScorer(tf, self.settings, patterns) for tf in self.timeframes}
        self._scores: dict[Timeframe, TimeframeScore] = {}
        self._snapshots: dict[Timeframe, IndicatorSnapshot] = {}
        self._last_bars: dict[Timeframe, MarketBar] = {}
        self._finest = min(self.timeframes, key=lambda tf: tf.seconds)
        self._calibrator = Calibrator(calibration_params(self.settings))
        self.counts = AnalysisCounts(closed_bars=dict.fromkeys(self.timeframes, 0))

    def on_bar(self, bar: MarketBar) -> list[IndicatorSnapshot]:
        """Take one base update; return a fresh snapshot for each timeframe whose bar closed."""
        fresh: list[IndicatorSnapshot] = []
        finest_close: float | None = None
        for resampled in self._resampler.update(bar):
            if not resampled.bar.closed:
                continue
            timeframe = resampled.bar.timeframe
            self._last_bars[timeframe] = resampled.bar
            indicators = self._indicators[timeframe]
            values = indicators.update_bar(resampled.bar)
            self._score(timeframe, resampled.bar, values)
            if timeframe is self._finest:
                finest_close = float(resampled.bar.close)
            snapshot = indicators.snapshot()
            self._snapshots[timeframe] = snapshot
            self.counts.closed_bars[timeframe] += 1
            fresh.append(snapshot)
        if finest_close is not None:
            # every timeframe closing on this bar is rescored first: the calibrator learns
            # from the same combined score the signal reports
            final, _, _ = combine(self._scores, self.settings)
            self._calibrator.update(final, finest_close)
        if bar.closed:
            self.counts.base_bars += 1
            self.counts.last_bar_time = bar.open_time
        self.counts.incomplete_bars = self._resampler.incomplete_bars
        return fresh

    def _score(self, timeframe: Timeframe, bar: MarketBar, values: dict[str, float]) -> None:
        self._scores[timeframe] = self._scorers[timeframe].update(
            float(bar.open),
            float(bar.high),
            float(bar.low),
            float(bar.close),
            float(bar.volume),
            values,
        )

    def apply_signal_settings(self, settings: SignalSettings) -> bool:
        """Hot reload: the next signal is scored with ``settings``; indicators, pattern memory
        and regime state are kept, and the latest per-timeframe scores are rescored at once.

        The calibration maps ``|score|`` to P(right) as learnt from past scores, so it is kept
        only if nothing but ``SCORE_NEUTRAL_SETTINGS`` changed; any other change (a weight, a
        threshold, a calibration parameter) starts a new calibration, naive until
        ``calibration_min_samples`` outcomes of the new scoring are known. Returns whether the
        calibration was reset."""
        old, self.settings = self.settings, settings
        for timeframe, scorer in self._scorers.items():
            scorer.apply(settings)
            if timeframe in self._scores:
                self._scores[timeframe] = scorer.score()
        changed = {
            key
            for key in SignalSettings.model_fields
            if getattr(old, key) != getattr(settings, key)
        }
        if changed <= SCORE_NEUTRAL_SETTINGS:
            return False
        self._calibrator = Calibrator(calibration_params(settings))
        return True

    def timeframe_score(self, timeframe: Timeframe) -> TimeframeScore | None:
        """The latest per-timeframe reading (patterns, indicators, regime), None before a bar."""
        return self._scores.get(timeframe)

    def signal(
        self, opinion: AnalystOpinion | None = None, created_at: datetime | None = None
    ) -> Signal | None:
        """The explained signal of the latest closed bars (None before any closed bar).

        The confidence is the calibrated probability that the direction is right, fitted on
        this symbol's past outcomes (``signals.outcome_horizon_bars`` bars of the finest
        timeframe); the naive ``0.5 + 0.5 |score|`` until enough outcomes are known.
        """
        if not self._scores:
            return None
        final, _, _ = combine(self._scores, self.settings, opinion)
        probability, calibrated = self._calibrator.probability(final)
        latest = max(self._snapshots.values(), key=lambda snap: snap.bar_time)
        return compose_signal(
            self.symbol,
            self._scores,
            self.settings,
            bar_time=latest.bar_time,
            created_at=created_at or datetime.now(UTC),
            probability=probability,
            calibrated=calibrated,
            opinion=opinion,
        )

    def last_bar(self, timeframe: Timeframe) -> MarketBar | None:
        """The latest closed bar of ``timeframe`` (None before the first)."""
        return self._last_bars.get(timeframe)

    def snapshot(self, timeframe: Timeframe) -> IndicatorSnapshot | None:
        """The latest snapshot of ``timeframe``, or None before its first closed bar."""
        return self._snapshots.get(timeframe)

    def snapshots(self) -> dict[Timeframe, IndicatorSnapshot]:
        return dict(self._snapshots)
