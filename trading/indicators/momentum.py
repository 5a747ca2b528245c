"""Momentum oscillators: RSI, MACD, Stochastic, CCI and MFI, batch and streaming, as TA-Lib."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from trading.indicators.averages import EMAStream, ema_core, ema_smoothing, sma_core
from trading.indicators.inputs import (
    Series,
    as_series,
    as_series_set,
    check_period,
    first_valid_index,
    nan_series,
)
from trading.indicators.kernels import (
    RollingExtreme,
    RunningWindowSum,
    linear_recurrence,
    rolling_max,
    rolling_min,
    running_window_sum,
)

TA_EPSILON = 1e-14
"""TA-Lib's relative dead-zone: ``|a - b| <= 1e-14 * (|a| + |b|)`` counts as flat."""

CCI_CONSTANT = 0.015
"""Lambert's constant: scales CCI so ~70-80% of values fall within +-100."""


def _rsi_from_averages(gain: Series, loss: Series) -> Series:
    total = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 100.0 * (gain / total)
    return np.where(total > 0.0, value, 0.0)


def rsi(close: ArrayLike, period: int = 14) -> Series:
    """Relative strength index with Wilder smoothing (alpha = 1/period), as TA-Lib ``RSI``."""
    x = as_series("close", close)
    period = check_period("period", period, 2)
    out = nan_series(x.shape[0])
    start = first_valid_index(x)
    x = x[start:]
    if x.shape[0] <= period:
        return out
    change = x[1:] - x[:-1]
    falling = change < 0
    gain = np.where(falling, 0.0, change)
    loss = np.where(falling, -change, 0.0)
    decay = (period - 1) / period
    first_gain = float(np.cumsum(gain[:period])[-1]) / period
    first_loss = float(np.cumsum(loss[:period])[-1]) / period
    avg_gain = np.empty(x.shape[0] - period)
    avg_loss = np.empty(x.shape[0] - period)
    avg_gain[0], avg_loss[0] = first_gain, first_loss
    avg_gain[1:] = linear_recurrence(decay, gain[period:] / period, first_gain)
    avg_loss[1:] = linear_recurrence(decay, loss[period:] / period, first_loss)
    out[start + period :] = _rsi_from_averages(avg_gain, avg_loss)
    return out


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
    fast, slow, signal = _check_macd_periods(fastperiod, slowperiod, signalperiod)
    n = x.shape[0]
    line, signal_line, hist = nan_series(n), nan_series(n), nan_series(n)
    start = first_valid_index(x)
    x = x[start:]
    lookback = slow - 1 + signal - 1
    if x.shape[0] <= lookback:
        return line, signal_line, hist
    slow_ema = ema_core(x, slow, ema_smoothing(slow))
    fast_ema = ema_core(x[slow - fast :], fast, ema_smoothing(fast))
    raw = fast_ema[fast - 1 :] - slow_ema[slow - 1 :]
    smoothed = ema_core(raw, signal, ema_smoothing(signal))
    line[start + lookback :] = raw[signal - 1 :]
    signal_line[start + lookback :] = smoothed[signal - 1 :]
    hist[start + lookback :] = raw[signal - 1 :] - smoothed[signal - 1 :]
    return line, signal_line, hist


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


def _fast_k(close: Series, highest: Series, lowest: Series) -> Series:
    """Raw %K; 0 for a flat window (range within TA-Lib's relative dead-zone)."""
    span = highest - lowest
    with np.errstate(invalid="ignore", divide="ignore"):
        value = ((close - lowest) / span) * 100.0
    flat = np.abs(span) <= TA_EPSILON * (np.abs(highest) + np.abs(lowest))
    return np.where(flat, 0.0, value)


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
    fastk, slowk, slowd = _check_stoch_periods(fastk_period, slowk_period, slowd_period)
    n = h.shape[0]
    k_out, d_out = nan_series(n), nan_series(n)
    start = first_valid_index(h, lo, c)
    h, lo, c = h[start:], lo[start:], c[start:]
    lookback = fastk - 1 + slowk - 1 + slowd - 1
    if h.shape[0] <= lookback:
        return k_out, d_out
    raw = _fast_k(c[fastk - 1 :], rolling_max(h, fastk), rolling_min(lo, fastk))
    k_line = sma_core(raw, slowk)[slowk - 1 :]
    d_line = sma_core(k_line, slowd)
    k_out[start + lookback :] = k_line[slowd - 1 :]
    d_out[start + lookback :] = d_line[slowd - 1 :]
    return k_out, d_out


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


def typical_price(high: Series, low: Series, close: Series) -> Series:
    """``(high + low + close) / 3`` in TA-Lib's operation order."""
    return (high + low + close) / 3.0


def _slot_columns(values: Series, period: int) -> list[Series]:
    """Column ``j`` holds, for each full window, the value in TA-Lib's circular-buffer slot ``j``.

    TA-Lib's CCI stores bar ``i`` in slot ``i % period`` and sums slots ``0..period-1``; the
    same order here keeps the sums bit-identical.
    """
    n = values.shape[0]
    rows = -(-n // period)
    grid = np.full(rows * period, np.nan)
    grid[:n] = values
    table = grid.reshape(rows, period)
    columns = []
    for slot in range(period):
        column = np.empty((rows, period))
        column[:, slot:] = table[:, slot : slot + 1]
        column[1:, :slot] = table[:-1, slot : slot + 1]
        column[0, :slot] = np.nan
        columns.append(column.reshape(-1)[period - 1 : n])
    return columns


def cci_from_window(latest: Series, mean: Series, deviation: Series, period: int) -> Series:
    """CCI from the newest typical price, the window mean and absolute-deviation sum (TA-Lib).

    0 when the offset or the mean deviation is within 1e-14 of the mean's magnitude (flat).
    """
    offset = latest - mean
    mean_deviation = deviation / period
    with np.errstate(invalid="ignore", divide="ignore"):
        value = offset / (CCI_CONSTANT * mean_deviation)
    band = TA_EPSILON * np.abs(mean)
    return np.where((np.abs(offset) <= band) | (np.abs(mean_deviation) <= band), 0.0, value)


def cci(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> Series:
    """Commodity channel index (Lambert): (TP - SMA(TP)) / (0.015 * mean abs deviation), TA-Lib."""
    h, lo, c = as_series_set(high=high, low=low, close=close)
    period = check_period("period", period, 2)
    out = nan_series(h.shape[0])
    start = first_valid_index(h, lo, c)
    tp = typical_price(h[start:], lo[start:], c[start:])
    if tp.shape[0] < period:
        return out
    columns = _slot_columns(tp, period)
    total = columns[0].copy()
    for column in columns[1:]:
        total += column
    mean = total / period
    deviation = np.abs(columns[0] - mean)
    for column in columns[1:]:
        deviation += np.abs(column - mean)
    out[start + period - 1 :] = cci_from_window(tp[period - 1 :], mean, deviation, period)
    return out


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


def _money_flows(previous: Series, latest: Series, volume: Series) -> tuple[Series, Series]:
    """Positive and negative money flow per bar; a move within the dead-zone is no flow."""
    change = latest - previous
    flat = np.abs(change) <= TA_EPSILON * (np.abs(latest) + np.abs(previous))
    flow = np.where(flat, 0.0, latest * volume)
    falling = change < 0.0
    return np.where(falling, 0.0, flow), np.where(falling, flow, 0.0)


def _flow_window_sum(flows: Series, period: int, reset: Series) -> Series:
    """``running_window_sum`` that restarts from exactly 0 after each bar in ``reset``.

    TA-Lib zeroes both sums once a full window carried no flow, dropping rounding residue.
    """
    if not reset.any():
        return running_window_sum(flows, period)
    n = flows.shape[0]
    steps = np.empty(period + 2 * (n - period))
    steps[:period] = flows[:period]
    steps[period::2] = -flows[: n - period]
    steps[period + 1 :: 2] = flows[period:]
    bar_step = np.concatenate((np.arange(period), period + 1 + 2 * np.arange(n - period)))
    totals = np.empty_like(steps)
    begin = 0
    for step in bar_step[reset].tolist():
        totals[begin:step] = np.cumsum(steps[begin:step])
        totals[step] = 0.0
        begin = step + 1
    totals[begin:] = np.cumsum(steps[begin:])
    return totals[period - 1 :: 2]


def mfi_from_sums(positive: Series, negative: Series) -> Series:
    """100 * positive / (positive + negative), positive clamped to [0, total]; 0 if no flow."""
    total = positive + negative
    clamped = np.minimum(np.maximum(positive, 0.0), total)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 100.0 * (clamped / total)
    return np.where(total <= 0.0, 0.0, value)


def mfi(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike, period: int = 14
) -> Series:
    """Money flow index: volume-weighted RSI on typical price, as TA-Lib ``MFI`` (0.6+)."""
    h, lo, c, v = as_series_set(high=high, low=low, close=close, volume=volume)
    period = check_period("period", period, 2)
    out = nan_series(h.shape[0])
    start = first_valid_index(h, lo, c, v)
    tp = typical_price(h[start:], lo[start:], c[start:])
    if tp.shape[0] <= period:
        return out
    positive, negative = _money_flows(tp[:-1], tp[1:], v[start + 1 :])
    no_flow = (positive + negative == 0.0).astype(np.float64)
    reset = np.zeros(tp.shape[0] - 1, dtype=bool)
    reset[period - 1 :] = running_window_sum(no_flow, period) == period
    out[start + period :] = mfi_from_sums(
        _flow_window_sum(positive, period, reset), _flow_window_sum(negative, period, reset)
    )
    return out


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
