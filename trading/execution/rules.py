"""The gateway's view of the instrument table (``trading.market.instruments``).

Rounding itself is Rust's (``rules.rs``): price to the tick toward the safe side, quantity
down to the lot.
"""

from __future__ import annotations

from trading.execution.gateway import InstrumentRules
from trading.market.instruments import (
    BINANCE_SPOT,
    SNAPSHOT_DATE,
    InstrumentSpec,
    UnknownInstrumentError,
    binance_spot,
    venue_symbol,
)

__all__ = [
    "SNAPSHOT_DATE",
    "UnknownInstrumentError",
    "binance_spot_rules",
    "binance_spot_symbols",
    "gateway_rules",
    "venue_symbol",
]


def gateway_rules(spec: InstrumentSpec, symbol: str | None = None) -> InstrumentRules:
    """A venue's instrument filters as the gateway rounds with them (under ``symbol``, the
    session's name for it, when that is not the spec's own)."""
    return InstrumentRules(
        symbol=symbol or spec.symbol,
        tick_size=spec.tick_size,
        lot_size=spec.lot_size,
        min_quantity=spec.min_qty,
        min_notional=spec.min_notional,
    )


def binance_spot_rules(symbol: str) -> InstrumentRules:
    """The Binance spot filters of ``symbol`` (``BTC/USDT``) as the gateway takes them."""
    return gateway_rules(binance_spot(symbol), symbol)


def binance_spot_symbols() -> tuple[str, ...]:
    return tuple(BINANCE_SPOT)
