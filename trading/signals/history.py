"""Scores over a whole history at once: the backtest/calibration twin of the live scorer.

Higher timeframes are resampled from the base bars and a higher bar is used at a base bar only
once it has closed (its close time is at or before the base bar's close), so nothing at bar
``t`` depends on data after ``t``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trading.config import SignalSettings
from trading.contracts import Timeframe
from trading.indicators.engine import IndicatorConfig, compute_batch
from trading.market.frames import BarColumns
from trading.market.resample import resample_columns
from trading.patterns import Detections, PatternConfig, detect_bars
from trading.patterns.series import BoolArray, FloatArray, IntArray
from trading.signals.calibration import CalibrationParams, calibrate_series, outcomes
from trading.signals.confluence import (
    KEYS,
    blend,
    indicator_components,
    indicator_score,
    pattern_score,
    regime_adjusted,
)
from trading.signals.regime import atr_percentile, regimes, trend_strength


@dataclass(frozen=True)
class TimeframeSeries:
    """Per-bar readings of one timeframe (indexed like ``bars``)."""

    timeframe: Timeframe
    bars: BarColumns
    score: FloatArray
    indicators: FloatArray
    patterns: FloatArray
    regime: FloatArray
    high_volatility: BoolArray
    trend_strength: FloatArray
    atr: FloatArray
    atr_percentile: FloatArray
    detections: Detections


def score_timeframe(
    bars: BarColumns,
    timeframe: Timeframe,
    settings: SignalSettings,
    pattern_config: PatternConfig | None = None,
    indicator_config: IndicatorConfig | None = None,
) -> TimeframeSeries:
    """``TimeframeScorer`` over a whole series, vectorized."""
    values = compute_batch(
        bars.high, bars.low, bars.close, bars.volume, bars.open_time_ms, indicator_config
    )
    oscillators = {"rsi": values[KEYS.rsi], "macd": values["macd"], "obv": values["obv"]}
    detections = detect_bars(bars, oscillators, pattern_config)
    n = len(bars)
    patterns = pattern_score(
        detections.impulse(n, settings.pattern_weights),
        settings.pattern_memory_bars,
        settings.pattern_decay,
    )
    indicators = indicator_score(
        indicator_components(bars.close, values), settings.indicator_weights
    )
    strength = trend_strength(values[KEYS.ema], values[KEYS.atr], values[KEYS.adx])
    percentile = atr_percentile(values[KEYS.atr], bars.close, settings.atr_percentile_bars)
    regime, high_vol = regimes(
        strength,
        percentile,
        settings.regime_enter,
        settings.regime_exit,
        settings.high_vol_enter,
        settings.high_vol_exit,
    )
    score = regime_adjusted(
        blend(indicators, patterns, None, settings), regime, settings.regime_bias
    )
    return TimeframeSeries(
        timeframe,
        bars,
        score,
        indicators,
        patterns,
        regime,
        high_vol,
        strength,
        values[KEYS.atr],
        percentile,
        detections,
    )


def closed_index(
    higher_open_ms: IntArray, higher: Timeframe, base_open_ms: IntArray, base: Timeframe
) -> IntArray:
    """For each base bar, the latest higher bar closed by the base bar's close (-1: none)."""
    closes = higher_open_ms + higher.seconds * 1000
    found: IntArray = np.searchsorted(closes, base_open_ms + base.seconds * 1000, side="right") - 1
    return found


@dataclass(frozen=True)
class History:
    """Per-base-bar cross-timeframe score and each timeframe's series."""

    base: Timeframe
    open_time_ms: IntArray
    close: FloatArray
    score: FloatArray
    timeframe_scores: dict[Timeframe, FloatArray]
    weights: dict[Timeframe, FloatArray]
    series: dict[Timeframe, TimeframeSeries]


@dataclass(frozen=True)
class CalibratedHistory:
    """A history's score read as a probability on the base bars, and each bar's outcome."""

    probability: FloatArray
    fitted: BoolArray
    outcome: FloatArray


def calibration_params(settings: SignalSettings) -> CalibrationParams:
    return CalibrationParams(
        settings.outcome_horizon_bars,
        settings.calibration_window,
        settings.calibration_refit_bars,
        settings.calibration_bins,
        settings.calibration_min_samples,
    )


def score_history(
    base_bars: BarColumns,
    base: Timeframe,
    timeframes: Sequence[Timeframe],
    settings: SignalSettings,
    pattern_config: PatternConfig | None = None,
) -> History:
    """Every timeframe scored, aligned to the base bars and combined (``calibrate`` reads the
    combined score as a probability; the backtest calibrates on its step bars instead)."""
    series = score_timeframes(base_bars, base, timeframes, settings, pattern_config)
    return combine(series, base_bars, base, settings)


def score_timeframes(
    base_bars: BarColumns,
    base: Timeframe,
    timeframes: Sequence[Timeframe],
    settings: SignalSettings,
    pattern_config: PatternConfig | None = None,
) -> dict[Timeframe, TimeframeSeries]:
    """Each timeframe resampled from the base bars and scored on its own bars."""
    return {
        tf: score_timeframe(
            base_bars if tf is base else resample_columns(base_bars, base, tf).bars,
            tf,
            settings,
            pattern_config,
        )
        for tf in timeframes
    }


def combine(
    series: dict[Timeframe, TimeframeSeries],
    base_bars: BarColumns,
    base: Timeframe,
    settings: SignalSettings,
    rows: IntArray | None = None,
) -> History:
    """The cross-timeframe score at each base bar (or only at base bars ``rows``: the
    ``History`` is then indexed like ``rows``), from each timeframe's latest closed bar."""
    open_ms = base_bars.open_time_ms if rows is None else base_bars.open_time_ms[rows]
    close = base_bars.close if rows is None else base_bars.close[rows]
    n = len(open_ms)
    raw_weight: dict[Timeframe, FloatArray] = {}
    aligned: dict[Timeframe, FloatArray] = {}
    for tf, s in series.items():
        at = closed_index(s.bars.open_time_ms, tf, open_ms, base)
        present = at >= 0
        pick = np.maximum(at, 0)
        score = np.where(present, s.score[pick], np.nan)
        pct = np.where(present, s.atr_percentile[pick], np.nan)
        pct = np.where(np.isfinite(pct), pct, 0.5)
        w = settings.timeframe_weights.get(tf, 0.0)
        weight = np.maximum(w * (1.0 - settings.volatility_adapt * (pct - 0.5)), 0.0)
        raw_weight[tf] = np.where(np.isfinite(score), weight, 0.0)
        aligned[tf] = score
    total = np.zeros(n)
    for tf in series:
        total = total + raw_weight[tf]
    weights = {
        tf: np.where(total > 0, raw_weight[tf] / np.where(total > 0, total, 1.0), 0.0)
        for tf in series
    }
    final = np.zeros(n)
    for tf in series:
        final = final + weights[tf] * np.nan_to_num(aligned[tf], nan=0.0)
    final = np.clip(final, -1.0, 1.0)
    return History(base, open_ms, close, final, aligned, weights, series)


def calibrate(history: History, settings: SignalSettings) -> CalibratedHistory:
    """The live calibrator's probabilities over the base bars, and the outcomes it learns."""
    params = calibration_params(settings)
    probability, fitted = calibrate_series(history.score, history.close, params)
    return CalibratedHistory(
        probability, fitted, outcomes(history.score, history.close, params.horizon)
    )
