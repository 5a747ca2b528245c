"""Trend strength: Wilder's directional movement (+DI, -DI, ADX), batch and streaming, as TA-Lib."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trading.indicators.inputs import (
    Series,
    as_series_set,
    check_period,
    first_valid_index,
    nan_series,
)
from trading.indicators.kernels import linear_recurrence
from trading.indicators.volatility import true_range, true_range_step

TA_EPSILON = 1e-14
"""TA-Lib ``TA_IS_ZERO``: a smoothed true range or DI sum inside (-1e-14, 1e-14) is zero."""


class _Movement(NamedTuple):
    plus: Series
    minus: Series
    tr: Series


def _raw_movement(h: Series, lo: Series, c: Series) -> _Movement:
    """Per-bar +DM, -DM (Wilder: only the larger positive move counts) and true range."""
    up = h[1:] - h[:-1]
    down = lo[:-1] - lo[1:]
    minus = np.where((down > 0) & (up < down), down, 0.0)
    plus = np.where((up > 0) & (up > down), up, 0.0)
    return _Movement(plus, minus, true_range(h[1:], lo[1:], c[:-1]))


def _wilder_sums(raw: Series, period: int) -> Series:
    """Wilder's running sum ``s = s - s/n + x``: seeded with ``n-1`` raw values, from bar ``n``."""
    seed = float(np.cumsum(raw[: period - 1])[-1]) if period > 1 else 0.0
    return linear_recurrence(1.0 - 1.0 / period, raw[period - 1 :], seed)


def _is_zero(value: Series) -> NDArray[np.bool_]:
    return (value > -TA_EPSILON) & (value < TA_EPSILON)


def _directional_indexes(h: Series, lo: Series, c: Series, period: int) -> tuple[Series, Series]:
    """(+DI, -DI) from bar ``period`` on; 0 where the smoothed true range is zero."""
    raw = _raw_movement(h, lo, c)
    if period == 1:
        zero_tr = _is_zero(raw.tr)
        with np.errstate(invalid="ignore", divide="ignore"):
            plus = np.where((raw.plus > 0) & ~zero_tr, raw.plus / raw.tr, 0.0)
            minus = np.where((raw.minus > 0) & ~zero_tr, raw.minus / raw.tr, 0.0)
        return plus, minus
    tr = _wilder_sums(raw.tr, period)
    zero_tr = _is_zero(tr)
    with np.errstate(invalid="ignore", divide="ignore"):
        plus = np.where(zero_tr, 0.0, 100.0 * (_wilder_sums(raw.plus, period) / tr))
        minus = np.where(zero_tr, 0.0, 100.0 * (_wilder_sums(raw.minus, period) / tr))
    return plus, minus


def _di(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int, *, plus: bool) -> Series:
    h, lo, c = as_series_set(high=high, low=low, close=close)
    period = check_period("period", period, 1)
    out = nan_series(h.shape[0])
    start = first_valid_index(h, lo, c)
    if h.shape[0] - start <= period:
        return out
    values = _directional_indexes(h[start:], lo[start:], c[start:], period)[0 if plus else 1]
    out[start + period :] = values
    return out


def plus_di(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> Series:
    """+DI = 100 * smoothed +DM / smoothed TR (Wilder), as TA-Lib ``PLUS_DI``.

    Period 1 reproduces TA-Lib's unsmoothed special case, a ratio (not percent).
    """
    return _di(high, low, close, period, plus=True)


def minus_di(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> Series:
    """-DI = 100 * smoothed -DM / smoothed TR (Wilder), as TA-Lib ``MINUS_DI``."""
    return _di(high, low, close, period, plus=False)


def adx(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int = 14) -> Series:
    """Average directional index: Wilder-smoothed DX, first value the mean of ``period`` DX."""
    h, lo, c = as_series_set(high=high, low=low, close=close)
    period = check_period("period", period, 2)
    n = h.shape[0]
    out = nan_series(n)
    start = first_valid_index(h, lo, c)
    lookback = 2 * period - 1
    if n - start <= lookback:
        return out
    plus, minus = _directional_indexes(h[start:], lo[start:], c[start:], period)
    total = plus + minus
    raw = _raw_movement(h[start:], lo[start:], c[start:])
    valid = ~_is_zero(_wilder_sums(raw.tr, period)) & ~_is_zero(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = 100.0 * (np.abs(minus - plus) / total)
    first = float(np.cumsum(np.where(valid[:period], dx[:period], 0.0))[-1]) / period
    later_valid = valid[period:]
    updates = linear_recurrence((period - 1) / period, dx[period:][later_valid] / period, first)
    held = np.concatenate(([first], updates))[np.cumsum(later_valid)]
    out[start + lookback] = first
    out[start + lookback + 1 :] = held
    return out


class DirectionalMovementStream:
    """Streaming Wilder sums of +DM, -DM and TR shared by the DI and ADX streams (TA-Lib order)."""

    __slots__ = (
        "_bars",
        "_minus",
        "_period",
        "_plus",
        "_previous_close",
        "_previous_high",
        "_previous_low",
        "_tr",
    )

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("period", period, 1)
        self._bars = 0
        self._previous_high = self._previous_low = self._previous_close = math.nan
        self._plus = self._minus = self._tr = 0.0

    def update(self, high: float, low: float, close: float) -> tuple[float, float] | None:
        """(+DI, -DI) once ``period`` bars of movement are in, else None; also advances ADX."""
        if self._bars == 0:
            if math.isnan(high) or math.isnan(low) or math.isnan(close):
                return None
            self._bars = 1
            self._previous_high, self._previous_low, self._previous_close = high, low, close
            return None
        self._bars += 1
        up = high - self._previous_high
        down = self._previous_low - low
        tr = true_range_step(high, low, self._previous_close)
        self._previous_high, self._previous_low, self._previous_close = high, low, close
        minus_move = down if (down > 0 and up < down) else 0.0
        plus_move = up if (up > 0 and up > down) else 0.0
        period = self._period
        if period == 1:
            if -TA_EPSILON < tr < TA_EPSILON:
                return 0.0, 0.0
            return (plus_move / tr if plus_move > 0 else 0.0), (
                minus_move / tr if minus_move > 0 else 0.0
            )
        if self._bars <= period:
            self._plus += plus_move
            self._minus += minus_move
            self._tr += tr
            return None
        self._plus = self._plus - self._plus / period + plus_move
        self._minus = self._minus - self._minus / period + minus_move
        self._tr = self._tr - self._tr / period + tr
        if -TA_EPSILON < self._tr < TA_EPSILON:
            return 0.0, 0.0
        return 100.0 * (self._plus / self._tr), 100.0 * (self._minus / self._tr)

    @property
    def tr_is_zero(self) -> bool:
        return -TA_EPSILON < self._tr < TA_EPSILON


class PlusDIStream:
    """Streaming ``plus_di``."""

    __slots__ = ("_movement",)

    def __init__(self, period: int = 14) -> None:
        self._movement = DirectionalMovementStream(period)

    def update(self, high: float, low: float, close: float) -> float:
        di = self._movement.update(high, low, close)
        return math.nan if di is None else di[0]


class MinusDIStream:
    """Streaming ``minus_di``."""

    __slots__ = ("_movement",)

    def __init__(self, period: int = 14) -> None:
        self._movement = DirectionalMovementStream(period)

    def update(self, high: float, low: float, close: float) -> float:
        di = self._movement.update(high, low, close)
        return math.nan if di is None else di[1]


class ADXStream:
    """Streaming ``adx``: TA-Lib's DX sum over ``period`` bars, then Wilder smoothing."""

    __slots__ = ("_count", "_movement", "_period", "_value")

    def __init__(self, period: int = 14) -> None:
        self._period = check_period("period", period, 2)
        self._movement = DirectionalMovementStream(period)
        self._count = 0
        self._value = 0.0

    def update(self, high: float, low: float, close: float) -> float:
        di = self._movement.update(high, low, close)
        return self.advance(di, self._movement.tr_is_zero)

    def advance(self, di: tuple[float, float] | None, tr_is_zero: bool) -> float:
        """Fold one bar's (+DI, -DI) into the ADX; lets an engine share one movement stream."""
        if di is None:
            return math.nan
        plus, minus = di
        total = minus + plus
        valid = not tr_is_zero and not (-TA_EPSILON < total < TA_EPSILON)
        period = self._period
        if self._count < period:
            if valid:
                self._value += 100.0 * (abs(minus - plus) / total)
            self._count += 1
            if self._count < period:
                return math.nan
            self._value /= period
            return self._value
        if valid:
            dx = 100.0 * (abs(minus - plus) / total)
            self._value = (self._value * (period - 1) + dx) / period
        return self._value
