"""Volatility: Bollinger Bands and Average True Range, batch and streaming, as TA-Lib."""

from __future__ import annotations

import math

from numpy.typing import ArrayLike

import rust_exec
from trading.indicators.inputs import Series, as_series, as_series_set, check_period, check_real
from trading.indicators.windows import RunningWindowSum

VARIANCE_FLOOR = 1e-14
"""TA-Lib ``TA_IS_ZERO_OR_NEG``: a variance below this is taken as 0 (flat window)."""


def bbands(
    close: ArrayLike, period: int = 5, nbdevup: float = 2.0, nbdevdn: float = 2.0
) -> tuple[Series, Series, Series]:
    """Bollinger Bands: SMA +- k * population stdev, as TA-Lib ``BBANDS`` with the SMA type.

    The variance is two-pass around the window mean, oldest term first; TA-Lib 0.6+ uses a
    cancellation-free (shifted-data) variance, and the two agree to ~1e-16.
    """
    x = as_series("close", close)
    period = check_period("period", period, 2)
    up, down = check_real("nbdevup", nbdevup), check_real("nbdevdn", nbdevdn)
    return rust_exec.ta_bbands(x, period, up, down)


class BBandsStream:
    """Streaming ``bbands``: TA-Lib's running SMA total plus the same two-pass variance."""

    __slots__ = ("_down", "_next", "_period", "_ring", "_started", "_sum", "_up")

    def __init__(self, period: int = 5, nbdevup: float = 2.0, nbdevdn: float = 2.0) -> None:
        self._period = check_period("period", period, 2)
        self._up, self._down = check_real("nbdevup", nbdevup), check_real("nbdevdn", nbdevdn)
        self._sum = RunningWindowSum(self._period)
        self._ring = [0.0] * self._period
        self._next = 0
        self._started = False

    def update(self, close: float) -> tuple[float, float, float]:
        """(upper, middle, lower) after this bar; NaN during warm-up."""
        if not self._started:
            if math.isnan(close):
                return math.nan, math.nan, math.nan
            self._started = True
        period = self._period
        self._ring[self._next] = close
        self._next = (self._next + 1) % period
        mid = self._sum.update(close) / period
        if math.isnan(mid):
            return math.nan, math.nan, math.nan
        ring, oldest = self._ring, self._next
        total = 0.0
        for value in ring[oldest:]:
            total += (value - mid) * (value - mid)
        for value in ring[:oldest]:
            total += (value - mid) * (value - mid)
        variance = total / period
        deviation = 0.0 if variance < VARIANCE_FLOOR else math.sqrt(variance)
        return mid + deviation * self._up, mid, mid - deviation * self._down


def true_range_step(high: float, low: float, previous_close: float) -> float:
    """Wilder's true range: the largest of H-L, |C[-1]-H|, |C[-1]-L| (TA-Lib ``TRANGE`` order)."""
    greatest = high - low
    gap_up = abs(previous_close - high)
    if gap_up > greatest:
        greatest = gap_up
    gap_down = abs(previous_close - low)
    return gap_down if gap_down > greatest else greatest


def atr(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> Series:
    """Average true range: SMA seed of ``period`` TRs, then Wilder smoothing, as TA-Lib ``ATR``."""
    h, lo, c = as_series_set(high=high, low=low, close=close)
    return rust_exec.ta_atr(h, lo, c, check_period("period", period, 1))


class ATRStream:
    """Streaming ``atr``: TA-Lib's ``prev = (prev * (n-1) + tr) / n`` after an SMA seed."""

    __slots__ = ("_count", "_period", "_previous_close", "_value")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("period", period, 1)
        self._count = -1
        self._previous_close = math.nan
        self._value = 0.0

    def update(self, high: float, low: float, close: float) -> float:
        if self._count < 0:
            if math.isnan(high) or math.isnan(low) or math.isnan(close):
                return math.nan
            self._count = 0
            self._previous_close = close
            return math.nan
        tr = true_range_step(high, low, self._previous_close)
        self._previous_close = close
        period = self._period
        if self._count < period:
            self._value += tr
            self._count += 1
            if self._count < period:
                return math.nan
            self._value /= period
            return self._value
        self._value = (self._value * (period - 1) + tr) / period
        return self._value
