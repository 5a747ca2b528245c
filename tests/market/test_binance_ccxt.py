"""The ccxt long-tail adapter: the missing-dependency error and the OHLCV row mapping."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from trading.contracts import Timeframe
from trading.market.ccxt_feed import CcxtFeed, CcxtMissingError, OhlcvRowError, ohlcv_bar

# What ccxt's fetch_ohlcv returns for BTC/USDT 1m on Binance: floats, open time in ms.
CCXT_ROWS = [
    [1774267740000, 69979.98, 70112.55, 69973.41, 70070.53, 32.55652],
    [1774267800000, 70070.53, 70191.82, 70054.0, 70124.0, 128.768],
    [1774267860000, 70124, 70124, 70030.69, 70106.37, 41.56602],
]


@pytest.mark.skipif(importlib.util.find_spec("ccxt") is not None, reason="ccxt is installed")
def test_missing_ccxt_names_the_install_command() -> None:
    with pytest.raises(CcxtMissingError, match="pip install ccxt"):
        CcxtFeed("binance", [("BTC/USDT", Timeframe.M1)])


def test_ohlcv_rows_map_to_exact_bars() -> None:
    bars = [ohlcv_bar(row, "BTC/USDT", Timeframe.M1) for row in CCXT_ROWS]
    assert bars[0].open_time == datetime(2026, 3, 23, 12, 9, tzinfo=UTC)
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume) == (
        Decimal("69979.98"),
        Decimal("70112.55"),
        Decimal("69973.41"),
        Decimal("70070.53"),
        Decimal("32.55652"),
    )
    assert bars[1].volume == Decimal("128.768")
    assert bars[2].high == Decimal(70124)
    assert all(bar.closed and bar.timeframe is Timeframe.M1 for bar in bars)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ([1774267740000, 1.0, 1.0, 1.0], "row"),
        ([None, 1.0, 1.0, 1.0, 1.0, 1.0], "timestamp"),
        ([1774267740000, None, 1.0, 1.0, 1.0, 1.0], "open"),
        ([1774267740000, 1.0, float("nan"), 1.0, 1.0, 1.0], "high"),
        ([1774267740000, 1.0, 1.0, 1.0, 1.0, True], "volume"),
    ],
)
def test_malformed_ohlcv_row_names_the_field(row: list[object], field: str) -> None:
    with pytest.raises(OhlcvRowError, match=f"ohlcv {field}=") as caught:
        ohlcv_bar(row, "BTC/USDT", Timeframe.M1)
    assert caught.value.field == field


def test_impossible_ohlcv_bar_fails_validation() -> None:
    with pytest.raises(ValidationError, match="high"):
        ohlcv_bar([1774267740000, 2.0, 1.0, 3.0, 2.0, 1.0], "BTC/USDT", Timeframe.M1)
