"""Trend strength: Wilder's directional movement (+DI, -DI, ADX), batch and streaming, as TA-Lib."""

from __future__ import annotations

import math

from numpy.typing import ArrayLike

import rust_exec
from trading.indicators.inputs import Series, as_series_set, check_period
from trading.indicators.volatility import true_range_step

TA_EPSILON = 1e-14
"""TA-Lib ``TA_IS_ZERO``: a smoothed true range or DI sum inside (-1e-14, 1e-14) is zero."""


def _di(high: ArrayLike, low: ArrayLike, close: ArrayLike, period: int, *, plus: bool) -> Series:
    h, lo, c = as_series_set(high=high, low=low, close=close)
    indexes = rust_exec.ta_directional_indexes(h, lo, c, check_period("period", period, 1))
    return indexes[0 if plus else 1]


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
    return rust_exec.ta_adx(h, lo, c, check_period("period", period, 2))


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
