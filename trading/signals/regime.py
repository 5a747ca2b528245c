"""Market regime (Bull / Bear / Sideways) and a high-volatility flag, with hysteresis.

Trend strength ``x = tanh(slope / 2) * clip((ADX - 15) / 10, 0, 1)`` where ``slope`` is the
EMA50 change over ``SLOPE_BARS`` bars in ATRs (Wilder's ADX gates a slope into a trend). A Schmitt
trigger turns ``x`` into a regime: Bull is entered at ``x >= enter`` and kept while
``x >= exit``; Bear mirrors it; otherwise Sideways. High volatility: the ATR/close percentile over
the last ``atr_percentile_bars`` bars, entered at ``high_vol_enter``, kept while ``>= exit``.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from trading.contracts import Regime
from trading.patterns.series import BoolArray, FloatArray, lagged

SLOPE_BARS = 10


def trend_strength(ema: FloatArray, atr: FloatArray, adx: FloatArray) -> FloatArray:
    """``x`` of the module docstring, per bar (NaN while any input warms up)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (ema - lagged(ema, SLOPE_BARS)) / atr
        strength: FloatArray = np.tanh(slope / 2.0) * np.clip((adx - 15.0) / 10.0, 0.0, 1.0)
        return strength


def atr_percentile(atr: FloatArray, close: FloatArray, bars: int) -> FloatArray:
    """Share of the last ``bars`` ATR/close values at or below the current one (NaN early)."""
    natr = atr / close
    out = np.full(len(natr), np.nan)
    if len(natr) >= bars:
        windows = sliding_window_view(natr, bars)
        current = natr[bars - 1 :, None]
        share = np.count_nonzero(windows <= current, axis=1) / bars
        out[bars - 1 :] = np.where(np.isfinite(windows).all(axis=1), share, np.nan)
    return out


def hysteresis(x: FloatArray, enter: float, exit: float) -> BoolArray:
    """Schmitt trigger: on from a bar with ``x >= enter`` while ``x >= exit`` (NaN is off)."""
    n = len(x)
    index = np.arange(n)
    above = x >= exit
    starts = above & ~np.r_[False, above[:-1]]
    run_start = np.maximum.accumulate(np.where(starts, index, -1))
    last_enter = np.maximum.accumulate(np.where(x >= enter, index, -1))
    return above & (last_enter >= run_start)


def regimes(
    strength: FloatArray,
    percentile: FloatArray,
    enter: float,
    exit: float,
    vol_enter: float,
    vol_exit: float,
) -> tuple[FloatArray, BoolArray]:
    """Regime per bar as +1 Bull / -1 Bear / 0 Sideways, and the high-volatility flag."""
    bull = hysteresis(strength, enter, exit)
    bear = hysteresis(-strength, enter, exit)
    return bull.astype(np.float64) - bear, hysteresis(percentile, vol_enter, vol_exit)


class RegimeTracker:
    """Streaming twin of ``trend_strength`` + ``atr_percentile`` + ``regimes``."""

    def __init__(
        self, enter: float, exit: float, vol_enter: float, vol_exit: float, percentile_bars: int
    ) -> None:
        self.enter, self.exit = enter, exit
        self.vol_enter, self.vol_exit = vol_enter, vol_exit
        self._ema: deque[float] = deque(maxlen=SLOPE_BARS + 1)
        self._natr: deque[float] = deque(maxlen=percentile_bars)
        self.regime = Regime.SIDEWAYS
        self.high_volatility = False
        self.strength = float("nan")
        self.percentile = float("nan")

    def retune(
        self, enter: float, exit: float, vol_enter: float, vol_exit: float, percentile_bars: int
    ) -> None:
        """New thresholds for the next bar on; the regime, the flag and the newest
        ``percentile_bars`` ATR/close values are kept (a longer window refills first)."""
        self.enter, self.exit = enter, exit
        self.vol_enter, self.vol_exit = vol_enter, vol_exit
        self._natr = deque(self._natr, maxlen=percentile_bars)

    def update(self, close: float, ema: float, atr: float, adx: float) -> Regime:
        """Fold one closed bar's indicator values in; returns the regime after it."""
        self._ema.append(ema)
        self._natr.append(atr / close)
        x = _strength(ema, self._ema[0], atr, adx) if len(self._ema) > SLOPE_BARS else np.nan
        self.strength = x
        window = np.array(self._natr)
        if len(window) == self._natr.maxlen and np.isfinite(window).all():
            self.percentile = np.count_nonzero(window <= window[-1]) / len(window)

        else:
            self.percentile = float("nan")
        if (self.regime is Regime.BULL and not x >= self.exit) or (
            self.regime is Regime.BEAR and not -x >= self.exit
        ):
            self.regime = Regime.SIDEWAYS
        if x >= self.enter:
            self.regime = Regime.BULL
        elif -x >= self.enter:
            self.regime = Regime.BEAR
        p = self.percentile
        self.high_volatility = bool(
            p >= self.vol_enter or (self.high_volatility and p >= self.vol_exit)
        )
        return self.regime


def _strength(ema: float, previous: float, atr: float, adx: float) -> float:
    """``trend_strength`` of one bar, computed with the same array operations."""
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (np.array([ema]) - np.array([previous])) / np.array([atr])
        gate = np.clip((np.array([adx]) - 15.0) / 10.0, 0.0, 1.0)
        return float((np.tanh(slope / 2.0) * gate)[0])
