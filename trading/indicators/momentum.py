"""Momentum oscillators: RSI, MACD, Stochastic, CCI and MFI, batch and streaming, as TA-Lib."""

from __future__ import annotations

import math

from numpy.typing import ArrayLike

import rust_exec
from trading.indicators.averages import EMAStream
from trading.indicators.inputs import Series, as_series, as_series_set, check_period
from trading.indicators.windows import RollingExtreme, RunningWindowSum

TA_EPSILON = 1e-14
"""TA-Lib's relative dead-zone: ``|a - b| <= 1e-14 * (|a| + |b|)`` counts as flat."""

CCI_CONSTANT = 0.015
"""Lambert's constant: scales CCI so ~70-80% of values fall within +-100."""


def rsi(close: ArrayLike, period: int = 14) -> Series:
    """Relative strength index with Wilder smoothing (alpha = 1/period), as TA-Lib ``RSI``."""
    return rust_exec.ta_rsi(as_series("close", close), check_period("period", period, 2))


class RSIStream:
    """Streaming ``rsi``: TA-Lib's Wilder recursion, operation for operation."""

    __slots__ = ("_count", "_gain", "_loss", "_period", "_previous")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("period", period, 2)
        self._count = -1
        self._previous = math.nan
        self._gain = 0.0
        self._loss = 0.0

    def update(self, close: float) -> float:
        if self._count < 0:
            if math.isnan(close):
                return math.nan
            self._previous = close
            self._count = 0
            return math.nan
        change = close - self._previous
        self._previous = close
        period = self._period
        if self._count < period:
            if change < 0:
                self._loss -= change
            else:
                self._gain += change
            self._count += 1
            if self._count < period:
                return math.nan
        else:
            self._loss *= period - 1
            self._gain *= period - 1
            if change < 0:
                self._loss -= change
            else:
                self._gain += change
        self._loss /= period
        self._gain /= period
        if self._count == period:
            self._count += 1
        total = self._gain + self._loss
        return 100.0 * (self._gain / total) if total > 0.0 else 0.0


def _check_macd_periods(
    fastperiod: int, slowperiod: int, signalperiod: int
) -> tuple[int, int, int]:
    fast = check_period("fastperiod", fastperiod, 2)
    slow = check_period("slowperiod", slowperiod, 2)
    signal = check_period("signalperiod", signalperiod, 1)
    return (slow, fast, signal) if slow < fast else (fast, slow, signal)


def macd(
    close: ArrayLike, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9
) -> tuple[Series, Series, Series]:
    """MACD line, signal and histogram, as TA-Lib ``MACD``.

    TA-Lib seeds the fast EMA on the ``fast`` bars ending where the slow EMA's seed ends, so
    both lines start on the same bar; all three outputs start ``slow + signal - 2`` bars in.
    """
    x = as_series("close", close)
    return rust_exec.ta_macd(x, *_check_macd_periods(fastperiod, slowperiod, signalperiod))


class MACDStream:
    """Streaming ``macd``: the slow EMA from bar 0, the fast one from bar ``slow - fast``."""

    __slots__ = ("_bars", "_fast", "_fast_delay", "_lookback", "_signal", "_slow", "_slow_period")

    def __init__(self, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9) -> None:
        fast, slow, signal = _check_macd_periods(fastperiod, slowperiod, signalperiod)
        self._fast = EMAStream(fast)
        self._slow = EMAStream(slow)
        self._signal = EMAStream(signal)
        self._fast_delay = slow - fast
        self._slow_period = slow
        self._lookback = slow - 1 + signal - 1
        self._bars = 0

    def update(self, close: float) -> tuple[float, float, float]:
        """(macd, signal, hist) after this bar; NaN until the slow+signal warm-up is over."""
        if self._bars == 0 and math.isnan(close):
            return math.nan, math.nan, math.nan
        self._bars += 1
        slow = self._slow.update(close)
        if self._bars <= self._fast_delay:
            return math.nan, math.nan, math.nan
        fast = self._fast.update(close)
        if self._bars < self._slow_period:
            return math.nan, math.nan, math.nan
        line = fast - slow
        signal = self._signal.update(line)
        if self._bars <= self._lookback:
            return math.nan, math.nan, math.nan
        return line, signal, line - signal


def _check_stoch_periods(fastk: int, slowk: int, slowd: int) -> tuple[int, int, int]:
    return (
        check_period("fastk_period", fastk, 1),
        check_period("slowk_period", slowk, 1),
        check_period("slowd_period", slowd, 1),
    )


def stoch(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    fastk_period: int = 5,
    slowk_period: int = 3,
    slowd_period: int = 3,
) -> tuple[Series, Series]:
    """Slow stochastic (%K and %D, both SMA-smoothed), as TA-Lib ``STOCH`` with SMA types.

    Like TA-Lib, %K is withheld until %D exists, so both start on the same bar.
    """
    h, lo, c = as_series_set(high=high, low=low, close=close)
    periods = _check_stoch_periods(fastk_period, slowk_period, slowd_period)
    return rust_exec.ta_stoch(h, lo, c, *periods)


class StochStream:
    """Streaming ``stoch``: rolling extremes plus two running SMAs, as the batch form."""

    __slots__ = ("_bars", "_d_sum", "_fastk", "_highest", "_k_sum", "_lowest", "_slowd", "_slowk")

    def __init__(self, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3) -> None:
        fastk, slowk, slowd = _check_stoch_periods(fastk_period, slowk_period, slowd_period)
        self._highest = RollingExtreme(fastk, highest=True)
        self._lowest = RollingExtreme(fastk, highest=False)
        self._fastk, self._slowk, self._slowd = fastk, slowk, slowd
        self._k_sum = RunningWindowSum(slowk)
        self._d_sum = RunningWindowSum(slowd)
        self._bars = 0

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        """(slow %K, slow %D) after this bar; NaN during warm-up."""
        if self._bars == 0 and (math.isnan(high) or math.isnan(low) or math.isnan(close)):
            return math.nan, math.nan
        self._bars += 1
        highest = self._highest.update(high)
        lowest = self._lowest.update(low)
        if self._bars < self._fastk:
            return math.nan, math.nan
        span = highest - lowest
        flat = abs(span) <= TA_EPSILON * (abs(highest) + abs(lowest))
        raw = 0.0 if flat else ((close - lowest) / span) * 100.0
        k = self._k_sum.update(raw) / self._slowk
        if self._bars < self._fastk + self._slowk - 1:
            return math.nan, math.nan
        d = self._d_sum.update(k) / self._slowd
        if self._bars < self._fastk + self._slowk + self._slowd - 2:
            return math.nan, math.nan
        return k, d


def cci(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> Series:
    """Commodity channel index (Lambert): (TP - SMA(TP)) / (0.015 * mean abs deviation), TA-Lib.

    Sums TA-Lib's circular buffer in slot order, so results are bit-identical to ``CCIStream``.
    """
    h, lo, c = as_series_set(high=high, low=low, close=close)
    return rust_exec.ta_cci(h, lo, c, check_period("period", period, 2))


class CCIStream:
    """Streaming ``cci``: TA-Lib's circular buffer, summed in slot order (O(period) per bar)."""

    __slots__ = ("_count", "_next", "_period", "_ring")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("period", period, 2)
        self._ring = [0.0] * self._period
        self._next = 0
        self._count = 0

    def update(self, high: float, low: float, close: float) -> float:
        if self._count == 0 and (math.isnan(high) or math.isnan(low) or math.isnan(close)):
            return math.nan
        latest = (high + low + close) / 3.0
        ring = self._ring
        ring[self._next] = latest
        self._next = (self._next + 1) % self._period
        if self._count < self._period - 1:
            self._count += 1
            return math.nan
        total = 0.0
        for value in ring:
            total += value
        mean = total / self._period
        deviation = 0.0
        for value in ring:
            deviation += abs(value - mean)
        offset = latest - mean
        mean_deviation = deviation / self._period
        band = TA_EPSILON * abs(mean)
        if abs(offset) <= band or abs(mean_deviation) <= band:
            return 0.0
        return offset / (CCI_CONSTANT * mean_deviation)


def mfi(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike, period: int = 14
) -> Series:
    """Money flow index: volume-weighted RSI on typical price, as TA-Lib ``MFI`` (0.6+)."""
    h, lo, c, v = as_series_set(high=high, low=low, close=close, volume=volume)
    return rust_exec.ta_mfi(h, lo, c, v, check_period("period", period, 2))


class MFIStream:
    """Streaming ``mfi``: TA-Lib's two running flow totals and empty-window reset."""

    __slots__ = ("_bars", "_negative", "_null_run", "_period", "_positive", "_previous")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("period", period, 2)
        self._positive = RunningWindowSum(self._period)
        self._negative = RunningWindowSum(self._period)
        self._previous = math.nan
        self._null_run = 0
        self._bars = 0

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        latest = (high + low + close) / 3.0
        if self._bars == 0:
            if math.isnan(latest) or math.isnan(volume):
                return math.nan
            self._bars = 1
            self._previous = latest
            return math.nan
        self._bars += 1
        change = latest - self._previous
        flat = abs(change) <= TA_EPSILON * (abs(latest) + abs(self._previous))
        self._previous = latest
        flow = 0.0 if flat else latest * volume
        positive = self._positive.update(0.0 if change < 0.0 else flow)
        negative = self._negative.update(flow if change < 0.0 else 0.0)
        self._null_run = self._null_run + 1 if flow == 0.0 else 0
        if self._null_run >= self._period:
            positive = negative = 0.0
            self._positive.reset_total()
            self._negative.reset_total()
        if self._bars <= self._period:
            return math.nan
        total = positive + negative
        if total <= 0.0:
            return 0.0
        return 100.0 * (min(max(positive, 0.0), total) / total)
