"""Venue facts per symbol: Binance's price tick, lot size and minimums, and its symbol names.

One table for the whole system: risk sizes with it, the gateway rounds with it (through
``rust_exec``), the paper exchange enforces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """Binance symbol filters: PRICE_FILTER.tickSize, LOT_SIZE.stepSize/minQty, NOTIONAL."""

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal
    min_quantity: Decimal | None = None  # LOT_SIZE.minQty; None: one lot

    @property
    def min_qty(self) -> Decimal:
        return self.lot_size if self.min_quantity is None else self.min_quantity

    def round_quantity_down(self, quantity: Decimal) -> Decimal:
        """Largest multiple of the lot size not above ``quantity`` (never rounds risk up)."""
        if quantity <= 0:
            return Decimal(0)
        return (quantity / self.lot_size).to_integral_value(ROUND_FLOOR) * self.lot_size

    def round_price_down(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_FLOOR) * self.tick_size

    def round_price_up(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_CEILING) * self.tick_size


class UnknownInstrumentError(LookupError):
    """No filters for this symbol in the snapshot."""


SNAPSHOT_DATE = date(2025, 6, 1)


def _spec(symbol: str, tick: str, lot: str, min_qty: str, min_notional: str) -> InstrumentSpec:
    return InstrumentSpec(
        symbol, Decimal(tick), Decimal(lot), Decimal(min_notional), Decimal(min_qty)
    )


BINANCE_SPOT: Mapping[str, InstrumentSpec] = MappingProxyType(
    {
        spec.symbol: spec
        for spec in (
            _spec("BTC/USDT", "0.01", "0.00001", "0.00001", "5"),
            _spec("ETH/USDT", "0.01", "0.0001", "0.0001", "5"),
            _spec("SOL/USDT", "0.01", "0.001", "0.001", "5"),
            _spec("BNB/USDT", "0.01", "0.001", "0.001", "5"),
            _spec("XRP/USDT", "0.0001", "0.1", "0.1", "5"),
            _spec("LTC/USDT", "0.01", "0.001", "0.001", "5"),
        )
    }
)
"""Binance spot ``GET /api/v3/exchangeInfo`` filters as of ``SNAPSHOT_DATE`` (a snapshot, not
live data; refresh from the venue before trading real money). ``tests/execution/test_rules.py``
checks them against the shared real data: every price lies on the tick grid."""


BINANCE_USDM: Mapping[str, InstrumentSpec] = MappingProxyType(
    {
        spec.symbol: spec
        for spec in (
            _spec("BTC/USDT:USDT", "0.1", "0.001", "0.001", "100"),
            _spec("ETH/USDT:USDT", "0.01", "0.001", "0.001", "20"),
            _spec("SOL/USDT:USDT", "0.01", "1", "1", "5"),
            _spec("BNB/USDT:USDT", "0.01", "0.01", "0.01", "5"),
            _spec("XRP/USDT:USDT", "0.0001", "0.1", "0.1", "5"),
            _spec("LTC/USDT:USDT", "0.01", "0.001", "0.001", "20"),
        )
    }
)
"""Binance USDⓈ-M ``GET /fapi/v1/exchangeInfo`` filters of the same six perpetuals as of
``SNAPSHOT_DATE`` (the paper exchange's default; a live session reads the venue's own)."""


def binance_spot(symbol: str) -> InstrumentSpec:
    """The Binance spot filters of ``symbol`` (``BTC/USDT``)."""
    try:
        return BINANCE_SPOT[symbol]
    except KeyError:
        known = ", ".join(sorted(BINANCE_SPOT))
        raise UnknownInstrumentError(
            f"symbol {symbol!r} has no Binance filters; known: {known}"
        ) from None


def binance_default(symbol: str) -> InstrumentSpec:
    """The snapshot filters of ``symbol``: USDⓈ-M for a settled symbol (``BTC/USDT:USDT``),
    spot otherwise."""
    if ":" not in symbol:
        return binance_spot(symbol)
    try:
        return BINANCE_USDM[symbol]
    except KeyError:
        known = ", ".join(sorted(BINANCE_USDM))
        raise UnknownInstrumentError(
            f"symbol {symbol!r} has no Binance USDⓈ-M filters; known: {known}"
        ) from None


def venue_symbol(symbol: str) -> str:
    """Binance's name of a unified symbol: ``BTC/USDT`` and ``BTC/USDT:USDT`` -> ``BTCUSDT``."""
    return symbol.partition(":")[0].replace("/", "")
