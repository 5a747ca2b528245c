"""Per-timeframe scores, their streaming form, and the cross-timeframe ``Signal``."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from trading.config import SignalSettings
from trading.contracts import Direction, Regime, Signal, Timeframe
from trading.patterns import PatternConfig, PatternStream
from trading.patterns.hits import HitRow
from trading.signals.confluence import (
    KEYS,
    AnalystOpinion,
    blend,
    indicator_components,
    indicator_score,
    opinion_score,
    regime_adjusted,
    timeframe_weights,
)
from trading.signals.explanation import timeframe_reason, verdict_reasons
from trading.signals.regime import RegimeTracker

REGIME_CODE = {Regime.BULL: 1.0, Regime.BEAR: -1.0, Regime.SIDEWAYS: 0.0}
MAX_REASON_HITS = 2


def component_prefix(timeframe: Timeframe) -> str:
    """``m15``, ``h1``, ``h4``, ``d1``: timeframe names usable as feature-name prefixes."""
    return timeframe.name.lower()


@dataclass(frozen=True)
class TimeframeScore:
    """One timeframe's reading after its latest closed bar."""

    timeframe: Timeframe
    bar_index: int
    close: float
    score: float
    indicators: float
    patterns: float
    regime: Regime
    high_volatility: bool
    trend_strength: float
    atr_percentile: float
    hits: tuple[tuple[float, HitRow], ...]
    """Recent hits with their current weight (direction x confidence x kind weight x decay)."""


class TimeframeScorer:
    """Streaming per-timeframe scoring: patterns, indicator states, regime; no LLM (that is
    added when the signal is composed, since an opinion covers the whole symbol)."""

    def __init__(
        self,
        timeframe: Timeframe,
        settings: SignalSettings,
        pattern_config: PatternConfig | None = None,
    ) -> None:
        self.timeframe = timeframe
        self.settings = settings
        self.patterns = PatternStream(pattern_config)
        self.regime = RegimeTracker(
            settings.regime_enter,
            settings.regime_exit,
            settings.high_vol_enter,
            settings.high_vol_exit,
            settings.atr_percentile_bars,
        )
        memory = settings.pattern_memory_bars
        self._impulse: deque[float] = deque([0.0] * memory, maxlen=memory)
        self._hits: deque[list[tuple[float, HitRow]]] = deque([[]] * memory, maxlen=memory)
        self._close = math.nan
        self._values: Mapping[str, float] = {}

    def update(
        self,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        values: Mapping[str, float],
    ) -> TimeframeScore:
        """Fold one closed bar and its indicator values in."""
        settings = self.settings
        detections = self.patterns.update(
            open,
            high,
            low,
            close,
            volume,
            {
                "rsi": values.get(KEYS.rsi, math.nan),
                "macd": values.get("macd", math.nan),
                "obv": values.get("obv", math.nan),
            },
        )
        impulse = 0.0
        fresh: list[tuple[float, HitRow]] = []
        for block in detections.blocks:
            weight = settings.pattern_weights.get(block.kind, 0.0)
            if not len(block):
                continue
            contributions = block.direction * block.confidence * weight
            for value, row in zip(contributions.tolist(), block.rows(), strict=True):
                if weight:
                    impulse += value
                fresh.append((value, row))
        self._impulse.append(impulse)
        self._hits.append(fresh)
        self._close, self._values = close, values
        self.regime.update(
            close,
            values.get(KEYS.ema, math.nan),
            values.get(KEYS.atr, math.nan),
            values.get(KEYS.adx, math.nan),
        )
        return self.score()

    def score(self) -> TimeframeScore:
        """The latest bar's reading under the current settings (after at least one bar)."""
        settings = self.settings
        memory, decay = settings.pattern_memory_bars, settings.pattern_decay
        acc = 0.0
        for d in range(memory - 1, -1, -1):
            acc += decay**d * self._impulse[memory - 1 - d]
        patterns = float(np.tanh(acc))
        values = self._values
        closes = np.array([self._close])
        components = indicator_components(closes, {k: np.array([v]) for k, v in values.items()})
        indicators = float(indicator_score(components, settings.indicator_weights)[0])
        regime = self.regime.regime
        raw = blend(np.array([indicators]), np.array([patterns]), None, settings)
        score = float(
            regime_adjusted(raw, np.array([REGIME_CODE[regime]]), settings.regime_bias)[0]
        )
        recent = [
            (value * decay ** (memory - 1 - slot), row)
            for slot, bar_hits in enumerate(self._hits)
            for value, row in bar_hits
        ]
        return TimeframeScore(
            self.timeframe,
            self.patterns.bars_seen - 1,
            float(self._close),
            score,
            indicators,
            patterns,
            regime,
            self.regime.high_volatility,
            self.regime.strength,
            self.regime.percentile,
            tuple(recent),
        )

    def apply(self, settings: SignalSettings) -> None:
        """Swap in new weights and thresholds, keeping the pattern memory, the regime's state
        and the latest indicator values: the kept bars' pattern impulses are re-weighted with
        the new ``pattern_weights`` (as if they had always applied); the regime thresholds and
        ATR-percentile window act from the next bar."""
        memory = settings.pattern_memory_bars
        bars = [
            [
                (row.direction * row.confidence * settings.pattern_weights.get(row.kind, 0.0), row)
                for _, row in bar_hits
            ]
            for bar_hits in self._hits
        ][-memory:]
        empty: list[list[tuple[float, HitRow]]] = [[] for _ in range(memory - len(bars))]
        self._hits = deque(empty + bars, maxlen=memory)
        impulses = [0.0] * len(empty) + [sum(v for v, _ in bar_hits) for bar_hits in bars]
        self._impulse = deque(impulses, maxlen=memory)
        self.regime.retune(
            settings.regime_enter,
            settings.regime_exit,
            settings.high_vol_enter,
            settings.high_vol_exit,
            settings.atr_percentile_bars,
        )
        self.settings = settings


def combine(
    scores: Mapping[Timeframe, TimeframeScore],
    settings: SignalSettings,
    opinion: AnalystOpinion | None = None,
) -> tuple[float, dict[Timeframe, float], dict[Timeframe, float]]:
    """Cross-timeframe score, the volatility-adapted weights, and each timeframe's score with
    the opinion blended in (an opinion covers every timeframe of the symbol)."""
    weights = timeframe_weights({tf: s.atr_percentile for tf, s in scores.items()}, settings)
    llm = opinion_score(opinion)
    blended = {}
    for tf, s in scores.items():
        if llm is None:
            blended[tf] = s.score
        else:
            w = settings.indicator_weight + settings.pattern_weight
            total = w * s.score + settings.llm_weight * llm
            blended[tf] = min(max(total / (w + settings.llm_weight), -1.0), 1.0)
    final = sum(weights[tf] * blended[tf] for tf in scores)
    return min(max(final, -1.0), 1.0), weights, blended


def direction_of(score: float, threshold: float) -> Direction:
    if score >= threshold and score > 0:
        return Direction.LONG
    if score <= -threshold and score < 0:
        return Direction.SHORT
    return Direction.NEUTRAL


def compose_signal(
    symbol: str,
    scores: Mapping[Timeframe, TimeframeScore],
    settings: SignalSettings,
    *,
    bar_time: datetime,
    created_at: datetime,
    probability: float | None = None,
    calibrated: bool = False,
    opinion: AnalystOpinion | None = None,
) -> Signal:
    """The ``Signal`` of the latest closed bars: score, direction, confidence, reasons."""
    final, weights, blended = combine(scores, settings, opinion)
    order = sorted(scores, key=lambda tf: (-weights[tf], tf.seconds))
    regime_tf = settings.regime_timeframe if settings.regime_timeframe in scores else order[0]
    regime_score = scores[regime_tf]
    confidence = probability if probability is not None else 0.5 + 0.5 * abs(final)
    reasons: list[str] = []
    components: dict[str, float] = {}
    for tf in order:
        s = scores[tf]
        strongest = sorted(s.hits, key=lambda item: -abs(item[0]))
        shown = [row for value, row in strongest if value != 0][:MAX_REASON_HITS]
        reasons.append(timeframe_reason(tf, shown, s.indicators))
        prefix = component_prefix(tf)
        for name, value in (
            ("score", blended[tf]),
            ("weight", weights[tf]),
            ("indicators", s.indicators),
            ("patterns", s.patterns),
            ("atr_percentile", s.atr_percentile),
        ):
            if math.isfinite(value):
                components[f"{prefix}_{name}"] = value
    llm = opinion_score(opinion)
    if opinion is not None and llm is not None:
        reasons.append(
            f"analyst {opinion.source}: {Direction(opinion.direction).value.lower()} "
            f"{opinion.confidence:.2f}"
        )
        components["llm"] = llm
    if math.isfinite(regime_score.trend_strength):
        components["trend_strength"] = regime_score.trend_strength
    components["probability"] = confidence
    reasons.extend(
        verdict_reasons(
            regime_score.regime, regime_score.high_volatility, final, confidence, calibrated
        )
    )
    finest = min(scores, key=lambda tf: tf.seconds)
    return Signal(
        symbol=symbol,
        bar_time=bar_time,
        created_at=created_at,
        direction=direction_of(final, settings.direction_threshold),
        score=final,
        confidence=min(max(confidence, 0.0), 1.0),
        timeframes=tuple(order),
        regime=regime_score.regime,
        high_volatility=regime_score.high_volatility,
        reasons=tuple(reasons),
        components=components,
        analyst="confluence" if opinion is None else f"confluence+{opinion.source}"[:100],
        entry_price=Decimal(repr(scores[finest].close)),
    )
