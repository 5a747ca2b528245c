"""Round trips from fills (average cost, fee shares, flips through zero) against arithmetic
written out in each test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading.backtest.trades import EntryNote, round_trips
from trading.contracts import Fill, Liquidity, Side

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
MINUTE_MS = 60_000


def _fill(minute: int, side: Side, qty: str, price: str, fee: str, client_id: str) -> Fill:
    return Fill(
        trade_id=f"t{minute}",
        client_order_id=client_id,
        symbol="BTC/USDT",
        side=side,
        price=Decimal(price),
        quantity=Decimal(qty),
        fee=Decimal(fee),
        fee_asset="USDT",
        liquidity=Liquidity.TAKER,
        ts=T0 + timedelta(minutes=minute),
    )


def test_scaling_in_averages_the_entry_and_the_exit_books_pnl_and_r() -> None:
    fills = [
        _fill(0, Side.BUY, "1", "100", "0.1", "rt-a"),
        _fill(1, Side.BUY, "3", "104", "0.3", "rt-b"),
        _fill(2, Side.SELL, "4", "110", "0.4", "rt-c"),
    ]
    (trade,) = round_trips(fills, {"rt-a": EntryNote(stop_price=95.0, confidence=0.7)})
    entry = (1 * 100 + 3 * 104) / 4  # 103
    gross = 4 * (110 - entry)
    fees = 0.1 + 0.3 + 0.4
    assert (trade.side, trade.quantity, trade.fills) == ("BUY", 4.0, 3)
    assert trade.entry_price == pytest.approx(entry)
    assert trade.exit_price == pytest.approx(110.0)
    assert trade.gross_pnl == pytest.approx(gross)
    assert trade.fees == pytest.approx(fees)
    assert trade.pnl == pytest.approx(gross - fees)
    # R: net PnL over the risk taken at the first entry's stop, per unit times the quantity.
    assert trade.r_multiple == pytest.approx((gross - fees) / ((100 - 95) * 4))
    assert (trade.entry_ms, trade.exit_ms) == (T0_MS, T0_MS + 2 * MINUTE_MS)
    assert (trade.confidence, trade.entry_client_id) == (0.7, "rt-a")


def test_partial_exits_average_the_exit_price_of_a_short() -> None:
    fills = [
        _fill(0, Side.SELL, "2", "200", "0.2", "rt-a"),
        _fill(1, Side.BUY, "1", "190", "0.1", "rt-b"),
        _fill(2, Side.BUY, "1", "180", "0.1", "rt-c"),
    ]
    (trade,) = round_trips(fills, {})
    assert trade.side == "SELL"
    assert trade.exit_price == pytest.approx((190 + 180) / 2)
    assert trade.gross_pnl == pytest.approx((200 - 190) + (200 - 180))
    assert trade.pnl == pytest.approx(30 - 0.4)
    assert trade.r_multiple is None  # no note: no stop to measure risk by


def test_a_fill_through_zero_closes_the_trade_and_opens_the_opposite_with_its_fee_share() -> None:
    fills = [
        _fill(0, Side.BUY, "1", "100", "0.1", "rt-a"),
        _fill(1, Side.SELL, "3", "120", "0.6", "rt-b"),  # closes 1, opens a 2 short
    ]
    closed, still_open = round_trips(fills, {})
    assert closed.exit_ms == T0_MS + MINUTE_MS
    assert closed.gross_pnl == pytest.approx(1 * (120 - 100))
    assert closed.fees == pytest.approx(0.1 + 0.6 * 1 / 3)
    assert (still_open.side, still_open.quantity, still_open.exit_ms) == ("SELL", 2.0, None)
    assert still_open.entry_price == pytest.approx(120.0)
    assert still_open.fees == pytest.approx(0.6 * 2 / 3)
    assert still_open.pnl == pytest.approx(-0.6 * 2 / 3)
    assert still_open.r_multiple is None
