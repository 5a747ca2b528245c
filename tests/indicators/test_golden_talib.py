"""Every batch indicator equals TA-Lib (the installed ta-lib-python, default unstable periods)
to 1e-9 relative, with NaN exactly where TA-Lib has NaN, on real Binance data."""

from __future__ import annotations

import numpy as np
import pytest
import talib
from numpy.typing import NDArray
from talib import MA_Type  # type: ignore[attr-defined]  # documented, missing from talib's __all__

from tests.indicators.conftest import Bars
from trading import indicators as ind

RTOL = 1e-9


def assert_matches_talib(
    ours: NDArray[np.float64], reference: NDArray[np.float64], atol: float = 0.0
) -> None:
    np.testing.assert_array_equal(
        np.isnan(ours), np.isnan(reference), err_msg="NaN positions differ"
    )
    np.testing.assert_allclose(ours, reference, rtol=RTOL, atol=atol)


@pytest.mark.parametrize("period", [1, 2, 20, 200])
def test_sma_and_ema_match_talib(real_bars: Bars, period: int) -> None:
    c = real_bars.close
    assert_matches_talib(ind.sma(c, period), talib.SMA(c, period))
    assert_matches_talib(ind.ema(c, period), talib.EMA(c, period))


@pytest.mark.parametrize("period", [2, 14, 50])
def test_rsi_matches_talib(real_bars: Bars, period: int) -> None:
    assert_matches_talib(ind.rsi(real_bars.close, period), talib.RSI(real_bars.close, period))


@pytest.mark.parametrize("periods", [(12, 26, 9), (5, 35, 5), (26, 12, 1)])
def test_macd_matches_talib(real_bars: Bars, periods: tuple[int, int, int]) -> None:
    # MACD and its histogram are differences of EMAs of size |close|: float64 resolves them only
    # to ~1e-15 * |close| (TA-Lib's own rounding included), so near their zero crossings a pure
    # relative test is meaningless. The absolute floor is 1e-14 * max|close|.
    c = real_bars.close
    atol = 1e-14 * float(np.nanmax(np.abs(c)))
    for ours, reference in zip(ind.macd(c, *periods), talib.MACD(c, *periods), strict=True):
        assert_matches_talib(ours, reference, atol=atol)


@pytest.mark.parametrize(("period", "devs"), [(5, (2.0, 2.0)), (20, (2.5, 1.5)), (2, (1.0, 1.0))])
def test_bbands_match_talib(real_bars: Bars, period: int, devs: tuple[float, float]) -> None:
    ours = ind.bbands(real_bars.close, period, *devs)
    reference = talib.BBANDS(real_bars.close, period, *devs, MA_Type.SMA)
    for mine, theirs in zip(ours, reference, strict=True):
        assert_matches_talib(mine, theirs)


@pytest.mark.parametrize("period", [1, 14, 30])
def test_atr_matches_talib(real_bars: Bars, period: int) -> None:
    b = real_bars
    assert_matches_talib(
        ind.atr(b.high, b.low, b.close, period), talib.ATR(b.high, b.low, b.close, period)
    )


@pytest.mark.parametrize("periods", [(5, 3, 3), (14, 3, 3), (14, 1, 1), (1, 1, 1), (21, 5, 2)])
def test_stoch_matches_talib(real_bars: Bars, periods: tuple[int, int, int]) -> None:
    b = real_bars
    fastk, slowk, slowd = periods
    reference = talib.STOCH(b.high, b.low, b.close, fastk, slowk, MA_Type.SMA, slowd, MA_Type.SMA)
    for ours, theirs in zip(ind.stoch(b.high, b.low, b.close, *periods), reference, strict=True):
        assert_matches_talib(ours, theirs)


@pytest.mark.parametrize("period", [2, 14, 20])
def test_cci_matches_talib(real_bars: Bars, period: int) -> None:
    b = real_bars
    assert_matches_talib(
        ind.cci(b.high, b.low, b.close, period), talib.CCI(b.high, b.low, b.close, period)
    )


@pytest.mark.parametrize("period", [2, 14])
def test_mfi_matches_talib(real_bars: Bars, period: int) -> None:
    b = real_bars
    assert_matches_talib(
        ind.mfi(b.high, b.low, b.close, b.volume, period),
        talib.MFI(b.high, b.low, b.close, b.volume, period),
    )


def test_obv_matches_talib(real_bars: Bars) -> None:
    assert_matches_talib(
        ind.obv(real_bars.close, real_bars.volume), talib.OBV(real_bars.close, real_bars.volume)
    )


@pytest.mark.parametrize("period", [1, 2, 14, 30])
def test_directional_indexes_match_talib(real_bars: Bars, period: int) -> None:
    b = real_bars
    assert_matches_talib(
        ind.plus_di(b.high, b.low, b.close, period), talib.PLUS_DI(b.high, b.low, b.close, period)
    )
    assert_matches_talib(
        ind.minus_di(b.high, b.low, b.close, period), talib.MINUS_DI(b.high, b.low, b.close, period)
    )
    if period >= 2:
        assert_matches_talib(
            ind.adx(b.high, b.low, b.close, period), talib.ADX(b.high, b.low, b.close, period)
        )
