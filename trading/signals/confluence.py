"""Confluence: indicator states, pattern hits and an optional analyst opinion into one score.

Every function works on float64 arrays (one value per bar) so the backtest scores a whole
history at once and the live path scores its latest bar with the same code (length-1 arrays).
Scores are in [-1, 1]: positive is bullish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from trading.config import SignalSettings
from trading.contracts import Direction, Regime, Timeframe
from trading.patterns.series import FloatArray

DIRECTION_SIGN = {Direction.LONG: 1.0, Direction.SHORT: -1.0, Direction.NEUTRAL: 0.0}


class AnalystOpinion(Protocol):
    """What the LLM analyst (or the offline one) thinks; ``trading.llm`` produces these."""

    @property
    def direction(self) -> Direction: ...

    @property
    def confidence(self) -> float: ...

    @property
    def source(self) -> str: ...


@dataclass(frozen=True)
class Opinion:
    """A plain ``AnalystOpinion``."""

    direction: Direction
    confidence: float
    source: str


@dataclass(frozen=True)
class IndicatorKeys:
    """Where each input lives in an ``IndicatorSnapshot`` / ``compute_batch`` mapping."""

    ema: str = "ema_50"
    atr: str = "atr_14"
    rsi: str = "rsi_14"
    adx: str = "adx_14"
    plus_di: str = "plus_di_14"
    minus_di: str = "minus_di_14"
    stoch: str = "stoch_k"
    macd_hist: str = "macd_hist"


KEYS = IndicatorKeys()


def _get(values: Mapping[str, FloatArray], key: str, n: int) -> FloatArray:
    found = values.get(key)
    return np.full(n, np.nan) if found is None else np.asarray(found, dtype=np.float64)


def indicator_components(
    close: FloatArray, values: Mapping[str, FloatArray], keys: IndicatorKeys = KEYS
) -> dict[str, FloatArray]:
    """Each indicator's state in [-1, 1] (NaN while it warms up).

    trend = tanh((C - EMA50) / 2 ATR); macd = tanh(hist / 0.2 ATR); rsi = (RSI - 50) / 25;
    stoch = (%K - 50) / 50; di = (+DI - -DI) / (+DI + -DI) * min(ADX / 25, 1) (Wilder's DMI).
    """
    n = len(close)
    atr = _get(values, keys.atr, n)
    plus, minus = _get(values, keys.plus_di, n), _get(values, keys.minus_di, n)
    adx = _get(values, keys.adx, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "trend": np.tanh((close - _get(values, keys.ema, n)) / (2.0 * atr)),
            "macd": np.tanh(_get(values, keys.macd_hist, n) / (0.2 * atr)),
            "rsi": np.clip((_get(values, keys.rsi, n) - 50.0) / 25.0, -1.0, 1.0),
            "stoch": np.clip((_get(values, keys.stoch, n) - 50.0) / 50.0, -1.0, 1.0),
            "di": (plus - minus) / (plus + minus) * np.clip(adx / 25.0, 0.0, 1.0),
        }


def indicator_score(
    components: Mapping[str, FloatArray], weights: Mapping[str, float]
) -> FloatArray:
    """Weighted mean of the components present at each bar (NaN when none is)."""
    n = len(next(iter(components.values())))
    total = np.zeros(n)
    weight_sum = np.zeros(n)
    for name in ("trend", "macd", "rsi", "stoch", "di"):
        w = weights.get(name, 0.0)
        value = components[name]
        present = np.isfinite(value)
        total = total + np.where(present, value * w, 0.0)
        weight_sum = weight_sum + np.where(present, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight_sum > 0, total / weight_sum, np.nan)


def pattern_score(impulse: FloatArray, memory_bars: int, decay: float) -> FloatArray:
    """``tanh(sum_d decay**d * impulse[t - d])`` over the last ``memory_bars`` bars, added
    oldest first."""
    n = len(impulse)
    acc = np.zeros(n)
    for d in range(min(memory_bars, n) - 1, -1, -1):
        shifted = np.zeros(n)
        shifted[d:] = impulse[: n - d]
        acc += decay**d * shifted
    return np.tanh(acc)


def opinion_score(opinion: AnalystOpinion | None) -> float | None:
    """The opinion as a score: direction sign times confidence."""
    if opinion is None:
        return None
    return DIRECTION_SIGN[Direction(opinion.direction)] * min(max(opinion.confidence, 0.0), 1.0)


def blend(
    indicators: FloatArray,
    patterns: FloatArray,
    llm: float | None,
    settings: SignalSettings,
) -> FloatArray:
    """Per-timeframe score: weighted mean of indicators, patterns and (if present) the LLM."""
    w_i, w_p = settings.indicator_weight, settings.pattern_weight
    ind = np.nan_to_num(indicators, nan=0.0)
    total = w_i * ind + w_p * patterns
    weight = w_i + w_p
    if llm is not None:
        total = total + settings.llm_weight * llm
        weight += settings.llm_weight
    return np.clip(total / weight, -1.0, 1.0) if weight > 0 else np.zeros(len(ind))


def regime_adjusted(score: FloatArray, regime: FloatArray, bias: float) -> FloatArray:
    """With the regime (+1 Bull, -1 Bear) a score grows by ``bias``, against it shrinks by it;
    in a sideways regime (0) every score shrinks by ``bias`` (trends are what pays there)."""
    aligned = np.sign(score) * regime
    factor = np.where(regime == 0, 1.0 - bias, np.where(aligned >= 0, 1.0 + bias, 1.0 - bias))
    return np.clip(score * factor, -1.0, 1.0)


def timeframe_weights(
    atr_percentiles: Mapping[Timeframe, float], settings: SignalSettings
) -> dict[Timeframe, float]:
    """Base weights scaled by ``1 - volatility_adapt * (ATR percentile - 0.5)``, normalized:
    a timeframe unusually volatile against its own history is noisier and counts less."""
    raw = {}
    for tf, pct in atr_percentiles.items():
        base = settings.timeframe_weights.get(tf, 0.0)
        p = 0.5 if not np.isfinite(pct) else pct
        raw[tf] = max(base * (1.0 - settings.volatility_adapt * (p - 0.5)), 0.0)
    total = sum(raw.values())
    return {tf: (w / total if total > 0 else 0.0) for tf, w in raw.items()}


REGIME_SIGN = {Regime.BULL: 1.0, Regime.BEAR: -1.0, Regime.SIDEWAYS: 0.0}
