"""Finite-memory series arithmetic shared by every detector.

Every value at bar ``t`` is a function of a bounded number of bars up to ``t`` and is computed
elementwise in a fixed order, so a detector run over a trailing window reproduces the batch
result bit for bit (the streaming form relies on this).
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
SignArray = npt.NDArray[np.int8]
ArrayT = TypeVar("ArrayT", FloatArray, IntArray, BoolArray)


def lagged(values: FloatArray, lag: int, fill: float = np.nan) -> FloatArray:
    """``out[t] = values[t - lag]`` (``fill`` before the start)."""
    n = len(values)
    out = np.empty(n)
    out[: min(lag, n)] = fill
    if lag < n:
        out[lag:] = values[: n - lag]
    return out


def previous(values: ArrayT, first: Any) -> ArrayT:
    """``out[t] = values[t - 1]``, ``first`` at bar 0, keeping the dtype."""
    out = np.empty_like(values)
    if len(values):
        out[0] = first
        out[1:] = values[:-1]
    return out


def window_sum(values: FloatArray, bars: int) -> FloatArray:
    """Sum of the last ``bars`` values, added oldest first (NaN until ``bars`` values exist)."""
    n = len(values)
    out = np.empty(n)
    out[: min(bars - 1, n)] = np.nan
    if n >= bars:
        acc = out[bars - 1 :]
        acc[:] = values[: n - bars + 1]
        for j in range(1, bars):
            acc += values[j : n - bars + 1 + j]
    return out


def _window_extreme(values: FloatArray, bars: int, pick: np.ufunc) -> FloatArray:
    n = len(values)
    out = np.empty(n)
    out[: min(bars - 1, n)] = np.nan
    if n >= bars:
        acc = out[bars - 1 :]
        acc[:] = values[: n - bars + 1]
        for j in range(1, bars):
            pick(acc, values[j : n - bars + 1 + j], out=acc)
    return out


def window_max(values: FloatArray, bars: int) -> FloatArray:
    """Highest of the last ``bars`` values (NaN-propagating)."""
    return _window_extreme(values, bars, np.maximum)


def window_min(values: FloatArray, bars: int) -> FloatArray:
    """Lowest of the last ``bars`` values (NaN-propagating)."""
    return _window_extreme(values, bars, np.minimum)


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """Wilder's true range; the first bar, with no previous close, is high - low."""
    previous = lagged(close, 1)
    previous[:1] = close[:1]
    return np.maximum(high - low, np.maximum(np.abs(high - previous), np.abs(low - previous)))


def average_range(high: FloatArray, low: FloatArray, close: FloatArray, bars: int) -> FloatArray:
    """Simple mean of the true range over the last ``bars`` bars (a finite-memory ATR)."""
    return window_sum(true_range(high, low, close), bars) / bars


def clip01(values: FloatArray) -> FloatArray:
    """Clamp to [0, 1], NaN to 0 (``fmax`` drops the NaN)."""
    return np.fmin(np.fmax(values, 0.0), 1.0)
