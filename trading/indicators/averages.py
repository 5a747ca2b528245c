"""Moving averages: SMA and EMA, batch and streaming, with TA-Lib's warm-up and seeding."""

from __future__ import annotations

import math

from numpy.typing import ArrayLike

import rust_exec
from trading.indicators.inputs import Series, as_series, check_period
from trading.indicators.windows import RunningWindowSum


def ema_smoothing(period: int) -> float:
    """EMA weight of the newest value, ``2 / (period + 1)`` (TA-Lib ``PER_TO_K``)."""
    return 2.0 / (period + 1)


def sma(close: ArrayLike, period: int = 30) -> Series:
    """Simple moving average, as TA-Lib ``SMA`` (running total)."""
    return rust_exec.ta_sma(as_series("close", close), check_period("period", period, 1))


def ema(close: ArrayLike, period: int = 30) -> Series:
    """Exponential moving average, k = 2/(period+1), SMA-seeded, as TA-Lib ``EMA``."""
    return rust_exec.ta_ema(as_series("close", close), check_period("period", period, 1))


class SMAStream:
    """Streaming ``sma``: one running total, TA-Lib's operation order (bit-identical)."""

    __slots__ = ("_period", "_started", "_sum")

    def __init__(self, period: int = 30) -> None:
        self._period = check_period("period", period, 1)
        self._sum = RunningWindowSum(self._period)
        self._started = False

    def update(self, close: float) -> float:
        if not self._started:
            if math.isnan(close):
                return math.nan
            self._started = True
        return self._sum.update(close) / self._period


class EMAStream:
    """Streaming ``ema``: seed = SMA of the first ``period`` values, then TA-Lib's step."""

    __slots__ = ("_count", "_k", "_period", "_value")

    def __init__(self, period: int = 30, *, k: float | None = None) -> None:
        self._period = check_period("period", period, 1)
        self._k = ema_smoothing(self._period) if k is None else k
        self._count = 0
        self._value = 0.0

    @property
    def value(self) -> float:
        return self._value if self._count >= self._period else math.nan

    def update(self, close: float) -> float:
        if self._count < self._period:
            if self._count == 0 and math.isnan(close):
                return math.nan
            self._value += close
            self._count += 1
            if self._count < self._period:
                return math.nan
            self._value /= self._period
            return self._value
        self._value = (close - self._value) * self._k + self._value
        return self._value
