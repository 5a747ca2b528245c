"""Builders shared by the risk tests: intents, fills, marks and books in a few words."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from trading.contracts import Fill, Liquidity, OrderIntent, OrderType, Side
from trading.risk import Correlations, Mark, MarketView, Portfolio
from trading.risk.portfolio import contract_decimal

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
TAKER_FEE = Decimal("0.0004")
_seq = itertools.count()


def intent(
    symbol: str,
    side: Side,
    quantity: str | Decimal,
    *,
    now: datetime = T0,
    reduce_only: bool = False,
    limit_price: str | Decimal | None = None,
) -> OrderIntent:
    return OrderIntent.for_signal(
        strategy="test",
        symbol=symbol,
        signal_time=now,
        seq=next(_seq),
        side=side,
        order_type=OrderType.MARKET if limit_price is None else OrderType.LIMIT,
        quantity=Decimal(quantity),
        limit_price=None if limit_price is None else Decimal(limit_price),
        reduce_only=reduce_only,
        created_at=now,
    )


def fill(
    symbol: str,
    side: Side,
    quantity: str | Decimal,
    price: str | Decimal,
    *,
    client_order_id: str = "rt-test",
    now: datetime = T0,
    fee_rate: Decimal = TAKER_FEE,
) -> Fill:
    qty, px = Decimal(quantity), Decimal(price)
    return Fill(
        trade_id=f"t{next(_seq)}",
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        price=px,
        quantity=qty,
        fee=contract_decimal(qty * px * fee_rate),
        fee_asset="USDT",
        liquidity=Liquidity.TAKER,
        ts=now,
    )


def market(
    prices: Mapping[str, str | Decimal],
    *,
    now: datetime = T0,
    correlations: Correlations | None = None,
) -> MarketView:
    marks = {symbol: Mark(Decimal(price), now) for symbol, price in prices.items()}
    return MarketView(now=now, marks=marks, correlations=correlations or Correlations())


def book(balance: str, *holdings: tuple[str, str, str]) -> Portfolio:
    """A portfolio with ``balance`` and positions opened by one fee-free fill each:
    ``(symbol, signed quantity, entry price)``."""
    portfolio = Portfolio(balance=Decimal(balance))
    for symbol, quantity, price in holdings:
        qty = Decimal(quantity)
        side = Side.BUY if qty > 0 else Side.SELL
        portfolio.apply_fill(fill(symbol, side, abs(qty), price, fee_rate=Decimal(0)))
    return portfolio
