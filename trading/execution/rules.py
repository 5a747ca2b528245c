"""Binance spot instrument filters for the shared-data symbols, as a dated snapshot.

Values are the ``PRICE_FILTER.tickSize``, ``LOT_SIZE.stepSize``/``minQty`` and
``NOTIONAL.minNotional`` of ``GET /api/v3/exchangeInfo`` (Binance spot, snapshot of
``SNAPSHOT_DATE``). They are cross-checked against the real data in ``tests/execution``: every
price of 2025-2026 lies on the tick grid and traded volumes lie on the lot grid.
Rounding itself is Rust's (``rules.rs``): price to the tick toward the safe side, quantity
down to the lot.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from trading.execution.gateway import InstrumentRules

SNAPSHOT_DATE = date(2025, 6, 1)

# symbol: (tick_size, step_size, min_qty, min_notional)
_BINANCE_SPOT: dict[str, tuple[str, str, str, str]] = {
    "BTC/USDT": ("0.01", "0.00001", "0.00001", "5"),
    "ETH/USDT": ("0.01", "0.0001", "0.0001", "5"),
    "SOL/USDT": ("0.01", "0.001", "0.001", "5"),
    "BNB/USDT": ("0.01", "0.001", "0.001", "5"),
    "XRP/USDT": ("0.0001", "0.1", "0.1", "5"),
    "LTC/USDT": ("0.01", "0.001", "0.001", "5"),
}


class UnknownInstrumentError(LookupError):
    """No filters for this symbol in the snapshot."""


def binance_spot_rules(symbol: str) -> InstrumentRules:
    """The Binance spot filters of ``symbol`` (``BTC/USDT``)."""
    try:
        tick, step, min_qty, min_notional = _BINANCE_SPOT[symbol]
    except KeyError:
        known = ", ".join(sorted(_BINANCE_SPOT))
        raise UnknownInstrumentError(
            f"symbol {symbol!r} has no Binance filters; known: {known}"
        ) from None
    return InstrumentRules(
        symbol=symbol,
        tick_size=Decimal(tick),
        lot_size=Decimal(step),
        min_quantity=Decimal(min_qty),
        min_notional=Decimal(min_notional),
    )


def binance_spot_symbols() -> tuple[str, ...]:
    return tuple(_BINANCE_SPOT)


def venue_symbol(symbol: str) -> str:
    """Binance's symbol of a ccxt unified symbol: ``BTC/USDT`` and ``BTC/USDT:USDT`` -> BTCUSDT."""
    return symbol.partition(":")[0].replace("/", "")
