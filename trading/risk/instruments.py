"""Venue trading rules per symbol: price tick, quantity lot and minimum order value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """Binance symbol filters: PRICE_FILTER.tickSize, LOT_SIZE.stepSize, NOTIONAL.minNotional."""

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal

    def round_quantity_down(self, quantity: Decimal) -> Decimal:
        """Largest multiple of the lot size not above ``quantity`` (never rounds risk up)."""
        if quantity <= 0:
            return Decimal(0)
        return (quantity / self.lot_size).to_integral_value(ROUND_FLOOR) * self.lot_size

    def round_price_down(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_FLOOR) * self.tick_size

    def round_price_up(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_CEILING) * self.tick_size


def _spec(symbol: str, tick: str, lot: str, min_notional: str) -> InstrumentSpec:
    return InstrumentSpec(symbol, Decimal(tick), Decimal(lot), Decimal(min_notional))


BINANCE_SPOT: Mapping[str, InstrumentSpec] = MappingProxyType(
    {
        spec.symbol: spec
        for spec in (
            _spec("BTC/USDT", "0.01", "0.00001", "5"),
            _spec("ETH/USDT", "0.01", "0.0001", "5"),
            _spec("SOL/USDT", "0.01", "0.001", "5"),
            _spec("BNB/USDT", "0.01", "0.001", "5"),
            _spec("XRP/USDT", "0.0001", "0.1", "5"),
            _spec("LTC/USDT", "0.01", "0.001", "5"),
        )
    }
)
"""Binance spot ``exchangeInfo`` filters as remembered for 2024-2025: a snapshot, not live data.

Binance changes filters now and then; the gateway must refresh them from
``GET /api/v3/exchangeInfo`` before trading real money.
"""
