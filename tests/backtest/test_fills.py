"""Fill models: paper rules (close, volume share, rest at later opens), next-open, stop touch,
slippage, fees; funding for perpetuals from the shared rates."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np

from trading.backtest.data import read_funding
from trading.backtest.venues import BarMatchingVenue, FillRule, FillSettings
from trading.contracts import OrderIntent, OrderStatus, OrderType, Side
from trading.market.frames import BarColumns
from trading.market.instruments import BINANCE_SPOT

T0 = 1_735_689_600_000  # 2025-01-01
M5 = 300_000


def _bars() -> BarColumns:
    return BarColumns(
        np.array([T0, T0 + M5, T0 + 2 * M5], dtype=np.int64),
        np.array([100.0, 110.0, 120.0]),
        np.array([105.0, 115.0, 125.0]),
        np.array([95.0, 90.0, 115.0]),
        np.array([101.0, 111.0, 121.0]),
        np.array([4.0, 2.0, 100.0]),
    )


def _order(qty: str, side: Side = Side.BUY, stop: str | None = None) -> OrderIntent:
    at = datetime.fromtimestamp(T0 / 1000, UTC)
    return OrderIntent.for_signal(
        strategy="t",
        symbol="BTC/USDT",
        signal_time=at,
        seq=0 if stop is None else 1,
        side=side,
        order_type=OrderType.MARKET if stop is None else OrderType.STOP_MARKET,
        quantity=Decimal(qty),
        stop_price=Decimal(stop) if stop else None,
        created_at=at,
    )


def test_market_order_fills_at_close_within_a_quarter_of_volume_then_rests_at_opens() -> None:
    venue = BarMatchingVenue({"BTC/USDT": _bars()}, BINANCE_SPOT)
    venue.advance_to(T0 + 1)
    venue.submit([_order("1.6")])
    [first] = venue.take_updates()
    assert [(f.price, f.quantity) for f in first.fills] == [(Decimal("101.0"), Decimal("1.00000"))]
    assert first.fills[0].fee == Decimal("0.10100000")
    venue.advance_to(T0 + M5 + 1)
    [second] = venue.take_updates()
    assert [(f.price, f.quantity) for f in second.fills] == [(Decimal("110.0"), Decimal("0.50000"))]
    venue.advance_to(T0 + 2 * M5 + 1)
    [third] = venue.take_updates()
    assert third.state.status is OrderStatus.FILLED
    assert third.fills[0].price == Decimal("120.0")


def test_next_open_rule_and_slippage_move_the_price_against_the_order() -> None:
    settings = FillSettings(rule=FillRule.NEXT_OPEN, volume_share=None, slippage_bps=Decimal(10))
    venue = BarMatchingVenue({"BTC/USDT": _bars()}, BINANCE_SPOT, settings)
    venue.advance_to(T0 + 1)
    venue.submit([_order("1")])
    assert venue.take_updates()[0].fills == ()
    venue.advance_to(T0 + M5 + 1)
    [update] = venue.take_updates()
    assert update.fills[0].price == Decimal("110.0") * Decimal("1.001")


def test_sell_stop_touched_intrabar_fills_at_the_stop_or_a_worse_open() -> None:
    venue = BarMatchingVenue({"BTC/USDT": _bars()}, BINANCE_SPOT, FillSettings(volume_share=None))
    venue.advance_to(T0 + 1)
    venue.submit([_order("1", Side.SELL, stop="92")])
    venue.advance_to(T0 + M5 + 1)  # low 90 touches 92; open 110 is above: fill at the stop
    [update] = venue.take_updates()
    assert update.fills[0].price == Decimal("92")


def test_funding_rates_are_read_from_the_shared_futures_data(shared_data: Path) -> None:
    rates = read_funding(shared_data / "binance_futures_2025" / "BTC_USDT_USDT-1h-funding_rate.csv")
    assert len(rates.time_ms) > 1000
    assert set(np.diff(rates.time_ms).tolist()) >= {8 * 3600 * 1000}
    assert np.abs(rates.rate).max() < 0.01
