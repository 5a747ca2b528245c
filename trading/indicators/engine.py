"""The indicator set of one symbol/timeframe: streaming per bar, batch over arrays, same keys.

``IndicatorSet.update`` folds one bar into every indicator in O(1) and ``snapshot`` turns the
latest values into an ``IndicatorSnapshot`` (warm-up values omitted). ``compute_batch`` is
its array twin: the same keys, computed by the batch functions, for backtests and tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from numpy.typing import ArrayLike

from trading.contracts import IndicatorSnapshot, MarketBar, Timeframe, epoch_us
from trading.indicators.averages import EMAStream, SMAStream, ema, sma
from trading.indicators.inputs import Series, as_series_set
from trading.indicators.momentum import (
    CCIStream,
    MACDStream,
    MFIStream,
    RSIStream,
    StochStream,
    cci,
    macd,
    mfi,
    rsi,
    stoch,
)
from trading.indicators.trend import (
    ADXStream,
    DirectionalMovementStream,
    adx,
    minus_di,
    plus_di,
)
from trading.indicators.volatility import ATRStream, BBandsStream, atr, bbands
from trading.indicators.volume import OBVStream, VWAPStream, obv, vwap


@dataclass(frozen=True)
class IndicatorConfig:
    """Periods of the standard set; keys in the output name their period (``sma_20``)."""

    sma_periods: tuple[int, ...] = (20, 50, 200)
    ema_periods: tuple[int, ...] = (12, 26, 50, 200)
    rsi_period: int = 14
    macd_periods: tuple[int, int, int] = (12, 26, 9)
    bb_period: int = 20
    bb_devs: float = 2.0
    atr_period: int = 14
    stoch_periods: tuple[int, int, int] = (14, 3, 3)
    cci_period: int = 20
    mfi_period: int = 14
    adx_period: int = 14
    vwap_session: str = "1d"


class IndicatorSet:
    """Streaming state of every configured indicator for one symbol and timeframe."""

    def __init__(
        self, symbol: str, timeframe: Timeframe, config: IndicatorConfig | None = None
    ) -> None:
        self.symbol = symbol
        self.timeframe = timeframe
        self.config = config = config or IndicatorConfig()
        self._sma = {f"sma_{p}": SMAStream(p) for p in config.sma_periods}
        self._ema = {f"ema_{p}": EMAStream(p) for p in config.ema_periods}
        self._rsi = RSIStream(config.rsi_period)
        self._macd = MACDStream(*config.macd_periods)
        self._bbands = BBandsStream(config.bb_period, config.bb_devs, config.bb_devs)
        self._atr = ATRStream(config.atr_period)
        self._stoch = StochStream(*config.stoch_periods)
        self._cci = CCIStream(config.cci_period)
        self._mfi = MFIStream(config.mfi_period)
        self._obv = OBVStream()
        self._movement = DirectionalMovementStream(config.adx_period)
        self._adx = ADXStream(config.adx_period)
        self._vwap = VWAPStream(config.vwap_session)
        self._values: dict[str, float] = {}
        self._last_close = math.nan
        self._last_time: datetime | None = None

    def update(
        self,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        open_time: datetime,
    ) -> dict[str, float]:
        """Fold one closed bar in; returns every value (NaN while warming up)."""
        del open
        config = self.config
        values: dict[str, float] = {}
        for key, sma_stream in self._sma.items():
            values[key] = sma_stream.update(close)
        for key, ema_stream in self._ema.items():
            values[key] = ema_stream.update(close)
        values[f"rsi_{config.rsi_period}"] = self._rsi.update(close)
        values["macd"], values["macd_signal"], values["macd_hist"] = self._macd.update(close)
        values["bb_upper"], values["bb_middle"], values["bb_lower"] = self._bbands.update(close)
        values[f"atr_{config.atr_period}"] = self._atr.update(high, low, close)
        values["stoch_k"], values["stoch_d"] = self._stoch.update(high, low, close)
        values[f"cci_{config.cci_period}"] = self._cci.update(high, low, close)
        values[f"mfi_{config.mfi_period}"] = self._mfi.update(high, low, close, volume)
        values["obv"] = self._obv.update(close, volume)
        di = self._movement.update(high, low, close)
        period = config.adx_period
        values[f"plus_di_{period}"], values[f"minus_di_{period}"] = (
            di if di is not None else (math.nan, math.nan)
        )
        values[f"adx_{period}"] = self._adx.advance(di, self._movement.tr_is_zero)
        values["vwap"] = self._vwap.update(high, low, close, volume, epoch_us(open_time) // 1000)
        self._values = values
        self._last_close = close
        self._last_time = open_time
        return values

    def update_bar(self, bar: MarketBar) -> dict[str, float]:
        """``update`` from a validated ``MarketBar`` (Decimal fields converted to float)."""
        return self.update(
            float(bar.open),
            float(bar.high),
            float(bar.low),
            float(bar.close),
            float(bar.volume),
            bar.open_time,
        )

    def snapshot(self) -> IndicatorSnapshot:
        """The latest values as a contract; indicators still warming up are left out."""
        if self._last_time is None:
            raise ValueError("snapshot: no bar has been folded in yet")
        return IndicatorSnapshot(
            symbol=self.symbol,
            timeframe=self.timeframe,
            bar_time=self._last_time,
            close=Decimal(repr(self._last_close)),
            values={k: v for k, v in self._values.items() if math.isfinite(v)},
        )


def compute_batch(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    open_time_ms: ArrayLike,
    config: IndicatorConfig | None = None,
) -> dict[str, Series]:
    """Every ``IndicatorSet`` key as a full array, from the batch functions."""
    config = config or IndicatorConfig()
    h, lo, c, v, t = as_series_set(
        high=high, low=low, close=close, volume=volume, open_time_ms=open_time_ms
    )
    out: dict[str, Series] = {}
    for p in config.sma_periods:
        out[f"sma_{p}"] = sma(c, p)
    for p in config.ema_periods:
        out[f"ema_{p}"] = ema(c, p)
    out[f"rsi_{config.rsi_period}"] = rsi(c, config.rsi_period)
    out["macd"], out["macd_signal"], out["macd_hist"] = macd(c, *config.macd_periods)
    out["bb_upper"], out["bb_middle"], out["bb_lower"] = bbands(
        c, config.bb_period, config.bb_devs, config.bb_devs
    )
    out[f"atr_{config.atr_period}"] = atr(h, lo, c, config.atr_period)
    out["stoch_k"], out["stoch_d"] = stoch(h, lo, c, *config.stoch_periods)
    out[f"cci_{config.cci_period}"] = cci(h, lo, c, config.cci_period)
    out[f"mfi_{config.mfi_period}"] = mfi(h, lo, c, v, config.mfi_period)
    out["obv"] = obv(c, v)
    period = config.adx_period
    out[f"plus_di_{period}"] = plus_di(h, lo, c, period)
    out[f"minus_di_{period}"] = minus_di(h, lo, c, period)
    out[f"adx_{period}"] = adx(h, lo, c, period)
    out["vwap"] = vwap(h, lo, c, v, t, config.vwap_session)
    return out


__all__ = ["IndicatorConfig", "IndicatorSet", "compute_batch"]
