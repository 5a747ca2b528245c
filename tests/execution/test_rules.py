"""Binance spot filters for the shared-data symbols: known values, checked against real data."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from trading.contracts import OrderIntent, OrderType, Side
from trading.execution.gateway import FsyncPolicy, OrderGateway, RejectedOutcome, SendOutcome
from trading.execution.rules import (
    SNAPSHOT_DATE,
    UnknownInstrumentError,
    binance_spot_rules,
    binance_spot_symbols,
    venue_symbol,
)

NOW = datetime(2025, 6, 1, tzinfo=UTC)
KNOWN = {
    "BTC/USDT": ("0.01", "0.00001"),
    "ETH/USDT": ("0.01", "0.0001"),
    "SOL/USDT": ("0.01", "0.001"),
    "BNB/USDT": ("0.01", "0.001"),
    "XRP/USDT": ("0.0001", "0.1"),
    "LTC/USDT": ("0.01", "0.001"),
}


def test_snapshot_covers_the_shared_data_symbols_with_known_filters() -> None:
    assert SNAPSHOT_DATE.year >= 2025
    assert set(binance_spot_symbols()) == set(KNOWN)
    for symbol, (tick, step) in KNOWN.items():
        rules = binance_spot_rules(symbol)
        assert (rules.tick_size, rules.lot_size) == (Decimal(tick), Decimal(step))
        assert rules.min_notional == Decimal(5)
    with pytest.raises(UnknownInstrumentError, match="DOGE/USDT"):
        binance_spot_rules("DOGE/USDT")
    assert venue_symbol("BTC/USDT:USDT") == "BTCUSDT"


@pytest.mark.parametrize("symbol", sorted(KNOWN))
def test_real_prices_lie_on_the_tick_and_real_volumes_on_the_lot(
    shared_data: Path, symbol: str
) -> None:
    path = shared_data / "binance_spot_2024_2026" / f"{symbol.replace('/', '_')}-5m.parquet"
    frame = pl.read_parquet(path).tail(20_000)
    rules = binance_spot_rules(symbol)
    prices = [Decimal(repr(v)) for c in ("open", "high", "low", "close") for v in frame[c]]
    assert all(p % rules.tick_size == 0 for p in prices)
    volumes = [Decimal(repr(v)) for v in frame["volume"]]
    on_lot = sum(v % rules.lot_size == 0 for v in volumes) / len(volumes)
    assert on_lot > 0.999  # the rest are float artifacts of the dump


@pytest.mark.parametrize(
    ("symbol", "side", "quantity", "price", "sent_quantity", "sent_price"),
    [
        ("BTC/USDT", Side.BUY, "0.123456789", "60000.019", "0.12345", "60000.01"),
        ("BTC/USDT", Side.SELL, "0.123456789", "60000.011", "0.12345", "60000.02"),
        ("ETH/USDT", Side.BUY, "1.23456", "2500.555", "1.2345", "2500.55"),
        ("SOL/USDT", Side.SELL, "3.14159", "142.001", "3.141", "142.01"),
        ("BNB/USDT", Side.BUY, "0.0199", "600.999", "0.019", "600.99"),
        ("XRP/USDT", Side.BUY, "12.37", "0.52347", "12.3", "0.5234"),
        ("XRP/USDT", Side.SELL, "99.99", "0.52341", "99.9", "0.5235"),
        ("LTC/USDT", Side.SELL, "0.5555", "84.3", "0.555", "84.3"),
    ],
)
def test_limit_prices_round_to_the_safe_side_and_quantities_down_to_the_lot(
    tmp_path: Path,
    symbol: str,
    side: Side,
    quantity: str,
    price: str,
    sent_quantity: str,
    sent_price: str,
) -> None:
    gateway = OrderGateway(tmp_path, FsyncPolicy.NEVER)
    gateway.set_rules(binance_spot_rules(symbol))
    order = OrderIntent.for_signal(
        strategy="rounding",
        symbol=symbol,
        signal_time=NOW,
        seq=0,
        side=side,
        order_type=OrderType.LIMIT,
        quantity=Decimal(quantity),
        limit_price=Decimal(price),
        created_at=NOW,
    )
    (outcome,) = gateway.submit([order], NOW)
    assert isinstance(outcome, SendOutcome)
    assert outcome.intent.quantity == Decimal(sent_quantity)
    assert outcome.intent.limit_price == Decimal(sent_price)


def test_market_order_below_min_notional_is_rejected_with_the_numbers(tmp_path: Path) -> None:
    gateway = OrderGateway(tmp_path, FsyncPolicy.NEVER)
    gateway.set_rules(binance_spot_rules("XRP/USDT"))
    order = OrderIntent.for_signal(
        strategy="rounding",
        symbol="XRP/USDT",
        signal_time=NOW,
        seq=1,
        side=Side.BUY,
        order_type=OrderType.MARKET,
        quantity=Decimal("9.99"),
        created_at=NOW,
    )
    (outcome,) = gateway.submit([order], NOW, {"XRP/USDT": Decimal("0.5")})
    assert isinstance(outcome, RejectedOutcome)
    assert outcome.state.reject_reason is not None
    assert "notional" in outcome.state.reject_reason
