"""Swing pivots (fractals) confirmed without look-ahead, and the S/R touches they cluster into.

A pivot high at bar ``i`` has ``high[i]`` strictly above the ``left`` highs before it and at
least every one of the ``right`` highs after it (Bill Williams' fractal with ``left=right=2``);
it is only known at the close of bar ``i + right``. Pivot lows mirror this on the lows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from trading.patterns.series import BoolArray, FloatArray, IntArray


@dataclass(frozen=True)
class Pivots:
    """Confirmed pivots of one series ordered by (known_at, index); ``is_high`` tells the side."""

    index: IntArray
    known_at: IntArray
    price: FloatArray
    is_high: BoolArray

    def __len__(self) -> int:
        return len(self.index)

    def side(self, high: bool) -> Pivots:
        rows = self.is_high if high else ~self.is_high
        return Pivots(self.index[rows], self.known_at[rows], self.price[rows], self.is_high[rows])


def _is_pivot(values: FloatArray, left: int, right: int, sign: float) -> BoolArray:
    n = len(values)
    v = values * sign
    mask = np.zeros(n, dtype=bool)
    if n < left + right + 1:
        return mask
    core = v[left : n - right]
    ok = np.ones(len(core), dtype=bool)
    for d in range(1, left + 1):
        ok &= core > v[left - d : n - right - d]
    for d in range(1, right + 1):
        ok &= core >= v[left + d : n - right + d]
    mask[left : n - right] = ok
    return mask


def swing_pivots(high: FloatArray, low: FloatArray, left: int, right: int) -> Pivots:
    """All pivot highs and lows known by the last bar (see the module docstring)."""
    highs = np.flatnonzero(_is_pivot(high, left, right, 1.0))
    lows = np.flatnonzero(_is_pivot(low, left, right, -1.0))
    index = np.concatenate([highs, lows]).astype(np.int64)
    is_high = np.concatenate([np.ones(len(highs), bool), np.zeros(len(lows), bool)])
    order = np.lexsort((~is_high, index))
    index, is_high = index[order], is_high[order]
    price = np.where(is_high, high[index], low[index])
    return Pivots(index, index + right, price, is_high)


def touches_near(
    pivots: Pivots,
    at: IntArray,
    price: FloatArray,
    tolerance: FloatArray,
    lookback: int,
    depth: int,
) -> tuple[FloatArray, FloatArray]:
    """For each query (bar ``at``, ``price``): how many pivots (highs or lows: S/R flips) known
    by ``at``, at most ``lookback`` bars old, lie within ``tolerance`` of ``price``, and their
    mean price (the zone level). Only the ``depth`` most recent known pivots are examined."""
    count = np.searchsorted(pivots.known_at, at, side="right")
    index = np.concatenate([np.full(depth, -(2**62), np.int64), pivots.index])
    prices = np.concatenate([np.zeros(depth), pivots.price])
    recent_index = sliding_window_view(index, depth)[count]
    recent_price = sliding_window_view(prices, depth)[count]
    near = (recent_index >= (at - lookback)[:, None]) & (
        np.abs(recent_price - price[:, None]) <= tolerance[:, None]
    )
    touches = np.count_nonzero(near, axis=1).astype(np.float64)
    total = (recent_price * near).sum(axis=1)
    level = np.where(touches > 0, total / np.maximum(touches, 1.0), np.nan)
    return touches, level
