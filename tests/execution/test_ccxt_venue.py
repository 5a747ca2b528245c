"""The ccxt adapter: intent -> create_order mapping for Binance spot and USDT-M futures."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading.contracts import OrderIntent, OrderType, Side, TimeInForce
from trading.execution.ccxt_venue import CcxtNotInstalledError, CcxtVenue, ccxt_order

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def intent(**fields: object) -> OrderIntent:
    base: dict[str, object] = {
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
        "quantity": Decimal("0.00150"),
        "created_at": NOW,
    }
    return OrderIntent.for_signal(
        strategy="ccxt", symbol="BTC/USDT", signal_time=NOW, seq=0, **{**base, **fields}
    )


def test_market_order_carries_the_client_id_as_new_client_order_id() -> None:
    order = ccxt_order(intent(), "spot")
    assert order.symbol == "BTC/USDT"
    assert (order.type, order.side, order.amount, order.price) == ("market", "buy", "0.00150", None)
    assert order.params == {"newClientOrderId": intent().client_order_id}


def test_limit_order_maps_price_and_time_in_force_without_floats() -> None:
    order = ccxt_order(
        intent(
            order_type=OrderType.LIMIT,
            limit_price=Decimal("60000.10"),
            time_in_force=TimeInForce.IOC,
            side=Side.SELL,
        ),
        "spot",
    )
    assert (order.type, order.side, order.price) == ("limit", "sell", "60000.10")
    assert order.params["timeInForce"] == "IOC"


def test_futures_use_the_settled_symbol_stop_trigger_and_reduce_only() -> None:
    order = ccxt_order(
        intent(order_type=OrderType.STOP_MARKET, stop_price=Decimal("58000"), reduce_only=True),
        "futures",
    )
    assert order.symbol == "BTC/USDT:USDT"
    assert order.type == "market"
    assert order.params["triggerPrice"] == "58000"
    assert order.params["reduceOnly"] is True
    spot = ccxt_order(intent(reduce_only=True), "spot")
    assert "reduceOnly" not in spot.params


@pytest.mark.skipif(importlib.util.find_spec("ccxt") is not None, reason="ccxt is installed")
def test_missing_ccxt_names_the_install_command() -> None:
    with pytest.raises(CcxtNotInstalledError, match="pip install ccxt"):
        CcxtVenue("spot")
