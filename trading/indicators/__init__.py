"""Technical indicators: TA-Lib-compatible batch functions over float64 arrays, their O(1)
streaming twins (``*Stream``), and the per-symbol ``IndicatorSet`` engine. No Ray here.
"""

from trading.indicators.averages import EMAStream, SMAStream, ema, sma
from trading.indicators.engine import IndicatorConfig, IndicatorSet, compute_batch
from trading.indicators.inputs import IndicatorInputError
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
    MinusDIStream,
    PlusDIStream,
    adx,
    minus_di,
    plus_di,
)
from trading.indicators.volatility import ATRStream, BBandsStream, atr, bbands
from trading.indicators.volume import (
    OBVStream,
    VolumeProfile,
    VolumeProfileStream,
    VWAPStream,
    obv,
    volume_profile,
    vwap,
)

__all__ = [
    "ADXStream",
    "ATRStream",
    "BBandsStream",
    "CCIStream",
    "EMAStream",
    "IndicatorConfig",
    "IndicatorInputError",
    "IndicatorSet",
    "MACDStream",
    "MFIStream",
    "MinusDIStream",
    "OBVStream",
    "PlusDIStream",
    "RSIStream",
    "SMAStream",
    "StochStream",
    "VWAPStream",
    "VolumeProfile",
    "VolumeProfileStream",
    "adx",
    "atr",
    "bbands",
    "cci",
    "compute_batch",
    "ema",
    "macd",
    "mfi",
    "minus_di",
    "obv",
    "plus_di",
    "rsi",
    "sma",
    "stoch",
    "volume_profile",
    "vwap",
]
