"""Numeric kernels shared by the batch indicators and their streaming twins.

Each kernel comes as an array function plus the scalar state machine that defines it:
``running_window_sum``/``RunningWindowSum`` (TA-Lib's running total, bit-identical),
``linear_recurrence`` (blocked scan of ``y = decay*y + input``, the vectorized twin of the
scalar EMA/Wilder loops) and ``rolling_max``/``rolling_min``/``RollingExtreme``.
"""

from __future__ import annotations

import math
from collections import deque
from functools import lru_cache

import numpy as np

from trading.indicators.inputs import Series

_BLOCK = 32


def running_window_sum(values: Series, period: int) -> Series:
    """Sum of each full ``period`` window, in TA-Lib's order: add newest, read, drop oldest.

    Feeding the exact operation sequence to one sequential ``cumsum`` makes the result
    bit-identical to TA-Lib's running total (SMA, BBANDS, MFI), drift included.
    """
    n = values.shape[0]
    if n < period:
        return np.empty(0)
    steps = np.empty(period + 2 * (n - period))
    steps[:period] = values[:period]
    steps[period::2] = -values[: n - period]
    steps[period + 1 :: 2] = values[period:]
    totals = np.cumsum(steps)
    return totals[period - 1 :: 2]


class RunningWindowSum:
    """Streaming ``running_window_sum``: the running total TA-Lib keeps, one value at a time."""

    __slots__ = ("_count", "_next", "_period", "_ring", "_total")

    def __init__(self, period: int) -> None:
        self._period = period
        self._ring = [0.0] * period
        self._next = 0
        self._count = 0
        self._total = 0.0

    def update(self, value: float) -> float:
        """Add ``value``; the window total once ``period`` values are in, else NaN."""
        self._ring[self._next] = value
        self._total += value
        self._next = (self._next + 1) % self._period
        if self._count < self._period - 1:
            self._count += 1
            return math.nan
        total = self._total
        self._total -= self._ring[self._next]
        return total

    def reset_total(self) -> None:
        """Set the window total to exactly 0 (its values are all zero; drop the residue)."""
        self._total = -self._ring[self._next] if self._count >= self._period - 1 else 0.0


@lru_cache(maxsize=64)
def _block_operator(decay: float) -> tuple[Series, Series]:
    """Powers ``decay**0..B`` and the upper-triangular ``T[j, t] = decay**(t-j)``."""
    powers = decay ** np.arange(_BLOCK + 1, dtype=np.float64)
    lag = np.arange(_BLOCK)[None, :] - np.arange(_BLOCK)[:, None]
    operator = np.where(lag >= 0, powers[np.clip(lag, 0, _BLOCK)], 0.0)
    return powers, operator


def linear_recurrence(decay: float, inputs: Series, start: float) -> Series:
    """``y[i] = decay * y[i-1] + inputs[i]`` with ``y[-1] = start``, for ``0 <= decay <= 1``.

    Blocked scan: each block of 32 is one matrix product, block ends recurse with
    ``decay**32``. Agrees with the scalar loop to ~1e-15 relative; a NaN input makes that
    element and every later one NaN, as in the loop.
    """
    n = inputs.shape[0]
    if n <= 2 * _BLOCK:
        out = np.empty(n)
        y = start
        for i, value in enumerate(inputs.tolist()):
            y = decay * y + value
            out[i] = y
        return out
    rows = -(-n // _BLOCK)
    padded = np.zeros(rows * _BLOCK)
    padded[:n] = inputs
    powers, operator = _block_operator(decay)
    local = padded.reshape(rows, _BLOCK) @ operator
    ends = linear_recurrence(float(powers[_BLOCK]), local[:, -1], start)
    if math.isnan(ends[-1]):
        bad = int(np.argmax(np.isnan(inputs)))
        out = np.full(n, np.nan)
        if not math.isnan(inputs[bad]):
            return local.reshape(-1)[:n]  # pragma: no cover - only overflow reaches here
        out[:bad] = linear_recurrence(decay, inputs[:bad], start)
        return out
    carried = np.empty(rows)
    carried[0] = start
    carried[1:] = ends[:-1]
    local += carried[:, None] * powers[None, 1:]
    return local.reshape(-1)[:n]


def _rolling_extreme(values: Series, period: int, pick: np.ufunc) -> Series:
    """``pick`` (np.maximum/np.minimum) over each full window, by doubling (O(n log period))."""
    n = values.shape[0]
    if n < period:
        return np.empty(0)
    span = 1
    acc = values
    while span * 2 <= period:
        acc = pick(acc[span:], acc[:-span])
        span *= 2
    if span == period:
        return acc
    shift = period - span
    result: Series = pick(acc[shift:], acc[: acc.shape[0] - shift])
    return result


def rolling_max(values: Series, period: int) -> Series:
    """Highest value of each full ``period`` window (window ending at index ``period-1``..)."""
    return _rolling_extreme(values, period, np.maximum)


def rolling_min(values: Series, period: int) -> Series:
    """Lowest value of each full ``period`` window."""
    return _rolling_extreme(values, period, np.minimum)


class RollingExtreme:
    """Streaming ``rolling_max``/``rolling_min``: a monotonic deque, amortized O(1) per value."""

    __slots__ = ("_count", "_highest", "_period", "_window")

    def __init__(self, period: int, *, highest: bool) -> None:
        self._period = period
        self._highest = highest
        self._window: deque[tuple[int, float]] = deque()
        self._count = 0

    def update(self, value: float) -> float:
        """Add ``value``; the window's extreme once ``period`` values are in, else NaN."""
        window = self._window
        if self._highest:
            while window and window[-1][1] <= value:
                window.pop()
        else:
            while window and window[-1][1] >= value:
                window.pop()
        window.append((self._count, value))
        if window[0][0] <= self._count - self._period:
            window.popleft()
        self._count += 1
        return window[0][1] if self._count >= self._period else math.nan
