"""The progress counters keep the last orders and fills the dashboard lists."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from trading.contracts import Fill, Liquidity, OrderState, OrderStatus, Side
from trading.execution import progress as progress_module
from trading.execution.progress import SessionProgress, _fill_row, _order_row, _recent

T = datetime(2025, 10, 1, 0, 15, tzinfo=UTC)


def test_rows_name_the_order_and_the_fill() -> None:
    state = OrderState(
        client_order_id="rt-1", symbol="BTC/USDT", side=Side.BUY, status=OrderStatus.FILLED,
        quantity=Decimal("0.010"), filled_quantity=Decimal("0.010"),
        avg_fill_price=Decimal("61000.50"), updated_at=T,
    )  # fmt: skip
    fill = Fill(
        trade_id="7", client_order_id="rt-1", symbol="BTC/USDT", side=Side.BUY,
        price=Decimal("61000.50"), quantity=Decimal("0.010"), fee=Decimal("0.61"),
        fee_asset="USDT", liquidity=Liquidity.TAKER, ts=T,
    )  # fmt: skip
    assert _order_row(state) == {
        "time": "2025-10-01T00:15:00+00:00", "client_order_id": "rt-1", "symbol": "BTC/USDT",
        "side": "BUY", "quantity": "0.010", "status": "FILLED",
    }  # fmt: skip
    assert _fill_row(fill)["price"] == "61000.50"
    assert _fill_row(fill)["fee"] == "0.61 USDT"


def test_only_the_last_twenty_are_kept() -> None:
    rows = [{"n": str(i)} for i in range(25)]
    kept = _recent(rows[:15], rows[15:])
    assert len(kept) == progress_module.RECENT_KEPT == 20
    assert kept[0] == {"n": "5"}
    assert kept[-1] == {"n": "24"}
    assert SessionProgress().recent_orders == []
