"""One table of (batch, stream) pairs so every test walks all indicators the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trading import indicators as ind

Arrays = dict[str, NDArray[np.float64]]


@dataclass(frozen=True)
class Case:
    name: str
    inputs: tuple[str, ...]
    batch: Callable[..., Any]
    stream: Callable[[], Any]

    def run_batch(self, arrays: Arrays) -> NDArray[np.float64]:
        result = self.batch(*(arrays[name] for name in self.inputs))
        return np.column_stack(result) if isinstance(result, tuple) else result[:, None]

    def run_stream(self, arrays: Arrays, width: int) -> NDArray[np.float64]:
        stream = self.stream()
        rows = zip(*(arrays[name].tolist() for name in self.inputs), strict=True)
        values = [stream.update(*row) for row in rows]
        return np.array(values, dtype=np.float64).reshape(len(values), width)


HLC = ("high", "low", "close")
CASES = (
    Case("sma", ("close",), lambda c: ind.sma(c, 20), lambda: ind.SMAStream(20)),
    Case("ema", ("close",), lambda c: ind.ema(c, 20), lambda: ind.EMAStream(20)),
    Case("rsi", ("close",), lambda c: ind.rsi(c, 14), lambda: ind.RSIStream(14)),
    Case("macd", ("close",), ind.macd, ind.MACDStream),
    Case("bbands", ("close",), lambda c: ind.bbands(c, 20), lambda: ind.BBandsStream(20)),
    Case("atr", HLC, ind.atr, ind.ATRStream),
    Case("stoch", HLC, ind.stoch, ind.StochStream),
    Case("cci", HLC, ind.cci, ind.CCIStream),
    Case("mfi", (*HLC, "volume"), ind.mfi, ind.MFIStream),
    Case("obv", ("close", "volume"), ind.obv, ind.OBVStream),
    Case("plus_di", HLC, ind.plus_di, ind.PlusDIStream),
    Case("minus_di", HLC, ind.minus_di, ind.MinusDIStream),
    Case("adx", HLC, ind.adx, ind.ADXStream),
    Case("vwap", (*HLC, "volume", "time"), ind.vwap, ind.VWAPStream),
)


def assert_stream_equals_batch(case: Case, arrays: Arrays) -> None:
    batch = case.run_batch(arrays)
    stream = case.run_stream(arrays, batch.shape[1])
    np.testing.assert_array_equal(np.isnan(stream), np.isnan(batch), err_msg=f"{case.name} NaN")
    np.testing.assert_array_equal(stream, batch, err_msg=case.name)
