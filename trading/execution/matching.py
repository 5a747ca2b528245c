"""The order-matching rules, written once for every simulated venue: when a market, limit or
stop order trades against a bar, at what price and liquidity, how much, and what it costs.

Pure functions over ``Decimal`` (no I/O, no clock), called by the paper exchange
(``trading.execution.paper.exchange``) and the backtest venues (``trading.backtest.venues``).
An arriving order sees the current bar's close; a resting order sees each later bar: a stop
triggers when the bar's high (buy) or low (sell) reaches it and then trades at the open or the
stop, whichever is worse; a resting limit trades at its own price, as maker, once the bar
reaches it. Fills are bounded by a share of the bar's volume floored to the lot; fees are a
rate of the notional, rounded to the quote asset's 1e-8. Models: NautilusTrader's
``execution/matching_core.pyx`` and vectorbt's ``execute_order_nb``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Protocol

QUOTE_PLACES = Decimal("0.00000001")  # Binance's quote precision: fees and amounts


class BarPrices(Protocol):
    """The prices of a bar matching reads."""

    @property
    def open(self) -> Decimal: ...

    @property
    def high(self) -> Decimal: ...

    @property
    def low(self) -> Decimal: ...

    @property
    def close(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class Match:
    """An order presented to a bar: whether its stop has triggered by now, and the price and
    liquidity it trades at (``price`` None: it does not trade on this bar)."""

    triggered: bool
    price: Decimal | None = None
    maker: bool = False


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a whole number of ``step`` (a lot or a tick)."""
    return (value / step).to_integral_value(ROUND_DOWN) * step


def is_stop_triggered(buy: bool, stop_price: Decimal, probe: Decimal) -> bool:
    """A buy stop triggers at or above its price, a sell stop at or below."""
    return probe >= stop_price if buy else probe <= stop_price


def is_limit_marketable(buy: bool, limit_price: Decimal, price: Decimal) -> bool:
    """A limit order may trade at ``price``: at or below its limit (buy), at or above (sell)."""
    return price <= limit_price if buy else price >= limit_price


def match_order(
    buy: bool,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    triggered: bool,
    bar: BarPrices,
    *,
    arriving: bool,
) -> Match:
    """Where an order trades on ``bar``: on arrival against its close (taker), resting against
    its open, high and low (a touched limit trades at its own price as maker)."""
    current = bar.close if arriving else bar.open
    if stop_price is not None and not triggered:
        probe = current if arriving else (bar.high if buy else bar.low)
        if not is_stop_triggered(buy, stop_price, probe):
            return Match(triggered=False)
        triggered = True
        if not arriving:
            current = max(current, stop_price) if buy else min(current, stop_price)
    if limit_price is None:
        return Match(triggered, current)
    if arriving:
        if not is_limit_marketable(buy, limit_price, current):
            return Match(triggered)
        return Match(triggered, current)
    if not is_limit_marketable(buy, limit_price, bar.low if buy else bar.high):
        return Match(triggered)
    return Match(triggered, limit_price, maker=True)


def fill_quantity(remaining: Decimal, budget: Decimal | None, lot_size: Decimal) -> Decimal:
    """What an order fills now: its remaining quantity, bounded by the bar's budget left
    floored to the lot (None: unbounded). Zero when the budget is spent."""
    if budget is None:
        return remaining
    return min(remaining, floor_to(budget, lot_size))


@dataclass(slots=True)
class VolumeBudget:
    """What a symbol's orders may still trade on the current bar: ``volume_share`` of its
    volume, shared by every order of the symbol (``volume_share`` None: unbounded)."""

    volume_share: Decimal | None
    left: Decimal | None = None

    def reset(self, volume: Decimal) -> None:
        """A new bar (or a fresh look at the same one): its share of ``volume`` is available."""
        self.left = None if self.volume_share is None else volume * self.volume_share

    def bound(self, remaining: Decimal, lot_size: Decimal) -> Decimal:
        """``fill_quantity`` against what is left."""
        return fill_quantity(remaining, self.left, lot_size)

    def spend(self, quantity: Decimal) -> None:
        """A fill took ``quantity`` of what is left."""
        if self.left is not None:
            self.left -= quantity


def slipped_price(price: Decimal, buy: bool, slippage_bps: Decimal) -> Decimal:
    """A taker price moved against the order by ``slippage_bps``."""
    sign = 1 if buy else -1
    return price * (1 + sign * slippage_bps / 10_000)


def trade_fee(price: Decimal, quantity: Decimal, rate: Decimal, *, rounded: bool = True) -> Decimal:
    """The fee of a trade in the quote asset: ``rate`` of its notional, rounded half-up to
    1e-8 as Binance charges it (``rounded=False``: exact, as reference backtesters)."""
    fee = price * quantity * rate
    return fee.quantize(QUOTE_PLACES, ROUND_HALF_UP) if rounded else fee


def lot_size_failure(quantity: Decimal, min_quantity: Decimal, lot_size: Decimal) -> str | None:
    """Binance's LOT_SIZE filter: at least the minimum, in whole lots."""
    if quantity < min_quantity or quantity % lot_size != 0:
        return "Filter failure: LOT_SIZE"
    return None


def price_filter_failure(prices: Iterable[Decimal | None], tick_size: Decimal) -> str | None:
    """Binance's PRICE_FILTER: every price given is a whole number of ticks."""
    if any(p is not None and p % tick_size != 0 for p in prices):
        return "Filter failure: PRICE_FILTER"
    return None


def notional_failure(
    quantity: Decimal,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    close: Decimal,
    min_notional: Decimal,
) -> str | None:
    """Binance's NOTIONAL filter, valued at the limit, else the stop, else the last close."""
    if quantity * (limit_price or stop_price or close) < min_notional:
        return "Filter failure: NOTIONAL"
    return None
