"""Venue facts per symbol: price tick, lot size and minimums, and Binance's symbol names.

A live venue's own facts come from it: ``specs_from_exchange_info`` (Binance ``exchangeInfo``)
and ``specs_from_ccxt_markets`` (ccxt ``load_markets``), held by ``InstrumentCache`` and refreshed
when old; a symbol the venue does not list is refused by name. The snapshot tables
(``BINANCE_SPOT``, ``BINANCE_USDM``) are the paper exchange's defaults. Risk sizes with these,
the gateway rounds with them (through ``rust_exec``), the paper exchange enforces them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from types import MappingProxyType
from typing import Any


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


class UnlistedSymbolError(UnknownInstrumentError, ValueError):
    """Symbols the venue does not list (or not as trading), refused before a session starts."""

    def __init__(self, symbols: Sequence[str], venue: str) -> None:
        names = ", ".join(symbols)
        super().__init__(f"{venue} does not list {names} as trading")
        self.symbols, self.venue = tuple(symbols), venue


def _filters(entry: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f["filterType"]: f for f in entry.get("filters", ())}


def spec_of_binance_symbol(entry: Mapping[str, Any]) -> InstrumentSpec | None:
    """One ``exchangeInfo`` symbol's filters as an ``InstrumentSpec`` under its unified name
    (``BTC/USDT``; a perpetual ``BTC/USDT:USDT``); None unless its status is TRADING."""
    if entry.get("status", entry.get("contractStatus")) != "TRADING":
        return None
    filters = _filters(entry)
    price, lot = filters["PRICE_FILTER"], filters["LOT_SIZE"]
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
    min_notional = notional.get("minNotional", notional.get("notional", "0"))
    name = f"{entry['baseAsset']}/{entry['quoteAsset']}"
    if entry.get("contractType") == "PERPETUAL":
        name += f":{entry['marginAsset']}"
    return InstrumentSpec(
        name,
        Decimal(price["tickSize"]).normalize(),
        Decimal(lot["stepSize"]).normalize(),
        Decimal(str(min_notional)).normalize(),
        Decimal(lot["minQty"]).normalize(),
    )


def specs_from_exchange_info(answer: Mapping[str, Any]) -> dict[str, InstrumentSpec]:
    """Every trading symbol of a Binance ``GET /api/v3/exchangeInfo`` or
    ``GET /fapi/v1/exchangeInfo`` answer, by unified symbol."""
    specs = (spec_of_binance_symbol(entry) for entry in answer.get("symbols", ()))
    return {spec.symbol: spec for spec in specs if spec is not None}


TICK_SIZE_MODE = 4  # ccxt.base.decimal_to_precision.TICK_SIZE


def _step(value: float | int, precision_mode: int) -> Decimal:
    """A ccxt precision as a step: the step itself (TICK_SIZE mode) or a digit count."""
    if precision_mode == TICK_SIZE_MODE:
        return Decimal(repr(value)).normalize()
    return Decimal(1).scaleb(-int(value))


def specs_from_ccxt_markets(
    markets: Mapping[str, Mapping[str, Any]], precision_mode: int
) -> dict[str, InstrumentSpec]:
    """Every active market of ccxt's ``load_markets()``, by ccxt's unified symbol."""
    specs: dict[str, InstrumentSpec] = {}
    for symbol, market in markets.items():
        precision, limits = market.get("precision", {}), market.get("limits", {})
        if market.get("active") is False or None in (
            precision.get("price"),
            precision.get("amount"),
        ):
            continue
        lot = _step(precision["amount"], precision_mode)
        min_qty = (limits.get("amount") or {}).get("min")
        min_cost = (limits.get("cost") or {}).get("min")
        specs[symbol] = InstrumentSpec(
            symbol,
            _step(precision["price"], precision_mode),
            lot,
            Decimal(repr(min_cost)) if min_cost else Decimal(0),
            Decimal(repr(min_qty)) if min_qty else lot,
        )
    return specs


def listed(
    specs: Mapping[str, InstrumentSpec], symbols: Sequence[str], venue: str
) -> dict[str, InstrumentSpec]:
    """The specs of ``symbols``; ``UnlistedSymbolError`` naming every one the venue lacks."""
    missing = [s for s in symbols if s not in specs]
    if missing:
        raise UnlistedSymbolError(missing, venue)
    return {s: specs[s] for s in symbols}


class InstrumentCache:
    """A venue's instrument specs, loaded on first use and again once ``max_age_s`` old
    (venues change filters: Binance announces tick-size changes days ahead)."""

    def __init__(
        self,
        load: Callable[[], Awaitable[Mapping[str, InstrumentSpec]]],
        venue: str,
        *,
        max_age_s: float = 3_600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load, self.venue, self.max_age_s, self._clock = load, venue, max_age_s, clock
        self._specs: Mapping[str, InstrumentSpec] = {}
        self._loaded_at: float | None = None
        self.loads = 0

    async def specs(self) -> Mapping[str, InstrumentSpec]:
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self.max_age_s:
            self._specs = await self._load()
            self._loaded_at, self.loads = now, self.loads + 1
        return self._specs

    async def require(self, symbols: Sequence[str]) -> dict[str, InstrumentSpec]:
        """The specs of ``symbols``, refusing by name any the venue does not list."""
        return listed(await self.specs(), symbols, self.venue)
