"""The paper exchange's state without I/O: orders, trades, the account and execution reports,
matched against bars by ``trading.execution.matching``.

Market, limit and stop orders (``STOP_LOSS``, ``STOP_LOSS_LIMIT``), GTC/IOC/FOK, validated as
Binance validates them (``BinanceError`` carries its status, code and message). The bars are
loaded up front (replay) or appended as they close (live); the clock moves by ``step`` or
``advance_to``. ``Faults`` names what the exchange does wrong on purpose; the partial-fill
storm and the duplicate and out-of-order events are applied here, the rest by the server. Every
order ever accepted is kept by client id; a repeated client id is refused with -2010 and counted
in ``duplicate_attempts``: the proof that nothing was sent twice.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trading.contracts import now_ms
from trading.execution.gateway import InstrumentRules
from trading.execution.matching import (
    QUOTE_PLACES,
    VolumeBudget,
    floor_to,
    lot_size_failure,
    match_order,
    notional_failure,
    price_filter_failure,
    trade_fee,
)
from trading.execution.paper.bars import BarError, PaperBar, check_bar
from trading.execution.rules import gateway_rules
from trading.market.instruments import binance_default, venue_symbol

ORDER_TYPES = ("MARKET", "LIMIT", "STOP_LOSS", "STOP_LOSS_LIMIT")
PRICED_TYPES = frozenset({"LIMIT", "STOP_LOSS_LIMIT"})
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"})
INITIAL_QUOTE = Decimal(1_000_000_000)


class Faults(BaseModel):
    """What the exchange does wrong, and how often (probabilities per request or event)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(0, ge=0)
    timeout_after_accept: float = Field(0.0, ge=0, le=1)
    hang_s: float = Field(30.0, gt=0)
    rate_limit: float = Field(0.0, ge=0, le=1)
    retry_after_s: int = Field(1, ge=0)
    partial_fill_storm: bool = False
    duplicate_events: float = Field(0.0, ge=0, le=1)
    shuffle_events: bool = False


class BinanceError(Exception):
    """A Binance error answer: HTTP status, code and message."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.status, self.code, self.msg = status, code, msg


@dataclass(slots=True)
class PaperTrade:
    trade_id: int
    order_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool

    def fill_json(self) -> dict[str, Any]:
        """The trade as a ``FULL`` order answer lists it under ``fills``."""
        return {
            "price": _text(self.price),
            "qty": _text(self.qty),
            "commission": _text(self.commission),
            "commissionAsset": self.commission_asset,
            "tradeId": self.trade_id,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "id": self.trade_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": _text(self.price),
            "qty": _text(self.qty),
            "quoteQty": _text(self.price * self.qty),
            "commission": _text(self.commission),
            "commissionAsset": self.commission_asset,
            "time": self.time_ms,
            "isBuyer": self.is_buyer,
            "isMaker": self.is_maker,
            "isBestMatch": True,
        }


@dataclass(slots=True)
class PaperOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str
    created_ms: int
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    triggered: bool = False
    updated_ms: int = 0
    trades: list[PaperTrade] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def average_price(self) -> Decimal:
        return self.quote / self.executed if self.executed else Decimal(0)

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": _text(self.price or Decimal(0)),
            "origQty": _text(self.quantity),
            "executedQty": _text(self.executed),
            "cummulativeQuoteQty": _text(self.quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "stopPrice": _text(self.stop_price or Decimal(0)),
            "time": self.created_ms,
            "updateTime": self.updated_ms,
            "isWorking": self.triggered or not self.type.startswith("STOP"),
            "workingTime": self.created_ms,
            "selfTradePreventionMode": "NONE",
        }


def _text(value: Decimal) -> str:
    return format(value.quantize(QUOTE_PLACES), "f")


class PaperExchange:
    """The matching engine and account, without I/O: orders in, execution reports out.

    ``bars`` maps each tradable symbol to its bars; an empty sequence makes a symbol whose bars
    arrive later through ``append_bars``. Either way the first bar held is the current one
    until the clock moves, so appended bars match exactly as the same bars loaded up front.
    Subclasses (the USDⓈ-M futures account) change the order types and how a trade settles."""

    order_types: tuple[str, ...] = ORDER_TYPES
    priced_types: frozenset[str] = PRICED_TYPES
    stop_types: frozenset[str] = STOP_TYPES

    def __init__(
        self,
        bars: Mapping[str, Sequence[PaperBar]],
        rules: Mapping[str, InstrumentRules] | None = None,
        *,
        volume_share: Decimal = Decimal("0.25"),
        maker_fee_rate: Decimal = Decimal("0.001"),
        taker_fee_rate: Decimal = Decimal("0.001"),
        faults: Faults | None = None,
        seed: int = 0,
    ) -> None:
        self.bars = {venue_symbol(s): list(b) for s, b in bars.items()}
        unified = {venue_symbol(s): s for s in bars}
        rules = rules or {s: default_rules(s) for s in bars}
        self.rules = {venue_symbol(s): r for s, r in rules.items()}
        self.assets = {v: tuple(u.partition(":")[0].split("/")) for v, u in unified.items()}
        self.maker_fee_rate, self.taker_fee_rate = maker_fee_rate, taker_fee_rate
        self.faults = faults or Faults()
        self.random = random.Random(seed)  # noqa: S311 - seeded fault schedule, not crypto
        self.bar_index = dict.fromkeys(self.bars, 0)
        self.budget = {s: VolumeBudget(volume_share) for s in self.bars}
        for symbol in self.bars:
            self._reset_budget(symbol)
        self.orders: dict[str, PaperOrder] = {}
        self.duplicate_attempts = 0
        self.balances: dict[str, Decimal] = {}
        for base, quote in self.assets.values():
            self.balances.setdefault(base, Decimal(0))
            self.balances.setdefault(quote, INITIAL_QUOTE)
        self._next_order_id = 1
        self._next_trade_id = 1
        self.reports: list[dict[str, Any]] = []
        self.market_time_ms: int | None = None

    # ----------------------------------------------------------------- market clock

    def bar(self, symbol: str) -> PaperBar:
        return self.bars[symbol][self.bar_index[symbol]]

    def _reset_budget(self, symbol: str) -> None:
        self.budget[symbol].reset(self.bar(symbol).volume if self.bars[symbol] else Decimal(0))

    def append_bars(self, symbol: str, bars: Sequence[PaperBar]) -> int:
        """Append closed bars of one symbol as they arrive; see ``append``."""
        return self.append({symbol: bars})

    def append(self, batch: Mapping[str, Sequence[PaperBar]]) -> int:
        """Append closed bars of several symbols, all or nothing: every bar is checked (a
        known symbol, sane OHLCV, opening after the bar before it) before any is kept, so a
        refused batch leaves the exchange as it was. A bar equal to one already held is
        skipped (a retried batch); one that differs is refused. Returns the bars added."""
        fresh: dict[str, list[PaperBar]] = {}
        for symbol, bars in batch.items():
            key = venue_symbol(symbol)
            if key not in self.bars:
                raise BarError(symbol, symbol, f"unknown symbol; known: {sorted(self.bars)}")
            fresh[key] = self._new_bars(key, symbol, bars)
        for key, bars in fresh.items():
            first = not self.bars[key]
            self.bars[key].extend(bars)
            if first:
                self._reset_budget(key)
        return sum(len(bars) for bars in fresh.values())

    def _new_bars(self, key: str, symbol: str, bars: Sequence[PaperBar]) -> list[PaperBar]:
        held = self.bars[key]
        last_ms = held[-1].open_time_ms if held else None
        fresh: list[PaperBar] = []
        for i, bar in enumerate(bars):
            where = f"{symbol}[{i}]"
            check_bar(bar, where)
            if last_ms is None or bar.open_time_ms > last_ms:
                fresh.append(bar)
                last_ms = bar.open_time_ms
                continue
            at = bisect.bisect_left(held, bar.open_time_ms, key=lambda b: b.open_time_ms)
            if fresh or at == len(held) or held[at] != bar:
                raise BarError(
                    f"{where}.open_time_ms",
                    bar.open_time_ms,
                    f"not after the bar before it (opening at {last_ms}) "
                    "and not a bar already held",
                )
        return fresh

    def event_time_ms(self) -> int:
        """Time stamped on orders and trades: the replay's clock when driven, else the wall."""
        return now_ms() if self.market_time_ms is None else self.market_time_ms

    def advance_to(self, until_ms: int) -> int:
        """Manual clock: make each symbol's current bar the last one that opened before
        ``until_ms``, matching resting orders on every bar passed; returns the bars stepped."""
        self.market_time_ms = until_ms
        stepped = 0
        for symbol, bars in self.bars.items():
            while (
                self.bar_index[symbol] + 1 < len(bars)
                and bars[self.bar_index[symbol] + 1].open_time_ms < until_ms
            ):
                self.bar_index[symbol] += 1
                self._reset_budget(symbol)
                stepped += 1
                for order in list(self.orders.values()):
                    if order.is_open and order.symbol == symbol:
                        self._match(order, arriving=False)
        return stepped

    def step(self) -> None:
        """Advance every symbol one bar (holding at the last) and match resting orders."""
        for symbol, bars in self.bars.items():
            if not bars:
                continue
            self.bar_index[symbol] = min(self.bar_index[symbol] + 1, len(bars) - 1)
            self._reset_budget(symbol)
        for order in list(self.orders.values()):
            if order.is_open:
                self._match(order, arriving=False)

    # ----------------------------------------------------------------- requests

    def place(self, params: Mapping[str, str]) -> PaperOrder:
        """``POST /api/v3/order``: validate like Binance, accept, match what is marketable."""
        symbol = required_param(params, "symbol")
        if symbol not in self.bars:
            raise BinanceError(400, -1121, "Invalid symbol.")
        if not self.bars[symbol]:
            raise BinanceError(400, -1013, "Market is closed.")
        side = required_param(params, "side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1102, "Param 'side' must be BUY or SELL.")
        order_type = required_param(params, "type")
        if order_type not in self.order_types:
            raise BinanceError(400, -1116, "Invalid orderType.")
        client_id = params.get("newClientOrderId") or f"paper-{self._next_order_id}"
        if client_id in self.orders:
            self.duplicate_attempts += 1
            raise BinanceError(400, -2010, "Duplicate order sent.")
        quantity = decimal_param(params, "quantity")
        price = decimal_param(params, "price") if order_type in self.priced_types else None
        stop = decimal_param(params, "stopPrice") if order_type in self.stop_types else None
        self._check_order(symbol, side, quantity, params)
        tif = params.get("timeInForce", "GTC") if price is not None else "GTC"
        if tif not in ("GTC", "IOC", "FOK"):
            raise BinanceError(400, -1115, "Invalid timeInForce.")
        self._check_filters(symbol, quantity, price, stop)
        now = self.event_time_ms()
        order = PaperOrder(
            order_id=self._next_order_id,
            client_order_id=client_id,
            symbol=symbol,
            side=side,
            type=order_type,
            quantity=quantity,
            price=price,
            stop_price=stop,
            time_in_force=tif,
            created_ms=now,
            updated_ms=now,
        )
        self._next_order_id += 1
        self.orders[client_id] = order
        self._report(order, "NEW")
        self._match(order, arriving=True)
        if order.is_open and tif in ("IOC", "FOK"):
            order.status = "EXPIRED"
            self._report(order, "EXPIRED")
        return order

    def _check_order(
        self, symbol: str, side: str, quantity: Decimal, params: Mapping[str, str]
    ) -> None:
        """A venue's own acceptance rules beyond the filters (spot: none; futures: reduce-only)."""

    def _check_filters(
        self, symbol: str, quantity: Decimal, price: Decimal | None, stop: Decimal | None
    ) -> None:
        rules = self.rules[symbol]
        failure = (
            lot_size_failure(quantity, rules.min_quantity, rules.lot_size)
            or price_filter_failure((price, stop), rules.tick_size)
            or notional_failure(quantity, price, stop, self.bar(symbol).close, rules.min_notional)
        )
        if failure is not None:
            raise BinanceError(400, -1013, failure)

    def order(self, params: Mapping[str, str], code: int, msg: str) -> PaperOrder:
        client_id = params.get("origClientOrderId")
        order = self.orders.get(client_id) if client_id else None
        if order is None and "orderId" in params:
            order = next(
                (o for o in self.orders.values() if str(o.order_id) == params["orderId"]), None
            )
        if order is None or order.symbol != params.get("symbol"):
            raise BinanceError(400, code, msg)
        return order

    def cancel(self, params: Mapping[str, str]) -> PaperOrder:
        order = self.order(params, -2011, "Unknown order sent.")
        if not order.is_open:
            raise BinanceError(400, -2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.updated_ms = self.event_time_ms()
        self._report(order, "CANCELED")
        return order

    def amend(self, params: Mapping[str, str]) -> PaperOrder:
        """``PUT /api/v3/order/amend/keepPriority``: reduce the quantity of an open order."""
        order = self.order(params, -2013, "Order does not exist.")
        new_qty = decimal_param(params, "newQty")
        if not order.is_open:
            raise BinanceError(400, -2013, "Order does not exist.")
        if not order.executed < new_qty < order.quantity:
            raise BinanceError(400, -2038, "Order amend (quantity increase) is not supported.")
        self._check_filters(order.symbol, new_qty, order.price, order.stop_price)
        order.quantity = new_qty
        order.updated_ms = self.event_time_ms()
        self._report(order, "REPLACED")
        return order

    # ----------------------------------------------------------------- matching

    def _match(self, order: PaperOrder, *, arriving: bool) -> None:
        bar = self.bar(order.symbol)
        buy = order.side == "BUY"
        match = match_order(
            buy, order.price, order.stop_price, order.triggered, bar, arriving=arriving
        )
        order.triggered = match.triggered
        if match.price is not None:
            self._fill(order, match.price, match.maker)

    def _fill(self, order: PaperOrder, price: Decimal, maker: bool) -> None:
        lot = self.rules[order.symbol].lot_size
        budget = self.budget[order.symbol]
        quantity = budget.bound(order.remaining, lot)
        if order.time_in_force == "FOK" and quantity < order.remaining:
            return
        if self.faults.partial_fill_storm:
            piece = floor_to(order.remaining * Decimal(self.random.uniform(0.1, 0.5)), lot)
            quantity = min(quantity, max(piece, lot))
        if quantity <= 0:
            return
        budget.spend(quantity)
        rate = self.maker_fee_rate if maker else self.taker_fee_rate
        quote = self.assets[order.symbol][1]
        commission = trade_fee(price, quantity, rate)
        now = self.event_time_ms()
        trade = PaperTrade(
            trade_id=self._next_trade_id,
            order_id=order.order_id,
            symbol=order.symbol,
            price=price,
            qty=quantity,
            commission=commission,
            commission_asset=quote,
            time_ms=now,
            is_buyer=order.side == "BUY",
            is_maker=maker,
        )
        self._next_trade_id += 1
        order.trades.append(trade)
        order.executed += quantity
        order.quote += price * quantity
        order.updated_ms = now
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        self._settle(order, trade)
        self._report(order, "TRADE", trade)

    def _settle(self, order: PaperOrder, trade: PaperTrade) -> None:
        """Spot: the base asset in or out, the quote asset out or in less the fee."""
        base, quote = self.assets[order.symbol]
        sign = 1 if order.side == "BUY" else -1
        self.balances[base] += sign * trade.qty
        self.balances[quote] -= sign * trade.price * trade.qty + trade.commission

    def locked(self) -> dict[str, Decimal]:
        """What open orders hold: a buy its quote at its limit (or stop), a sell its base."""
        held = dict.fromkeys(self.balances, Decimal(0))
        for order in self.orders.values():
            if not order.is_open:
                continue
            base, quote = self.assets[order.symbol]
            if order.side == "SELL":
                held[base] += order.remaining
            else:
                reference = order.price or order.stop_price or self.bar(order.symbol).close
                held[quote] += reference * order.remaining
        return held

    def open_orders(self, symbol: str | None) -> list[PaperOrder]:
        """``GET openOrders``: open orders of ``symbol`` (or all), oldest first."""
        return [o for o in self.all_orders(symbol) if o.is_open]

    def all_orders(self, symbol: str | None) -> list[PaperOrder]:
        if symbol is not None and symbol not in self.bars:
            raise BinanceError(400, -1121, "Invalid symbol.")
        chosen = (o for o in self.orders.values() if symbol is None or o.symbol == symbol)
        return sorted(chosen, key=lambda o: o.order_id)

    def _report(self, order: PaperOrder, execution: str, trade: PaperTrade | None = None) -> None:
        now = self.event_time_ms()
        canceled = execution == "CANCELED"
        self.reports.append(
            {
                "e": "executionReport",
                "E": now,
                "s": order.symbol,
                "c": f"cancel-{order.order_id}" if canceled else order.client_order_id,
                "C": order.client_order_id if canceled else "",
                "S": order.side,
                "o": order.type,
                "f": order.time_in_force,
                "q": _text(order.quantity),
                "p": _text(order.price or Decimal(0)),
                "P": _text(order.stop_price or Decimal(0)),
                "x": execution,
                "X": order.status,
                "r": "NONE",
                "i": order.order_id,
                "l": _text(trade.qty if trade else Decimal(0)),
                "z": _text(order.executed),
                "L": _text(trade.price if trade else Decimal(0)),
                "n": _text(trade.commission if trade else Decimal(0)),
                "N": trade.commission_asset if trade else None,
                "T": now,
                "t": trade.trade_id if trade else -1,
                "m": trade.is_maker if trade else False,
                "Z": _text(order.quote),
            }
        )

    def take_reports(self) -> list[dict[str, Any]]:
        """Reports since the last call, with duplicate/out-of-order faults applied."""
        reports, self.reports = self.reports, []
        if self.faults.duplicate_events:
            reports = [
                copy
                for r in reports
                for copy in ([r, r] if self.random.random() < self.faults.duplicate_events else [r])
            ]
        if self.faults.shuffle_events:
            self.random.shuffle(reports)
        return reports

    def stats(self) -> dict[str, Any]:
        return {
            "accepted": len(self.orders),
            "duplicate_attempts": self.duplicate_attempts,
            "bar_index": self.bar_index,
            "bars_held": {s: len(bars) for s, bars in self.bars.items()},
            "balances": {a: format(v, "f") for a, v in self.balances.items()},
            "orders": {
                cid: {
                    "status": o.status,
                    "executed": format(o.executed, "f"),
                    "symbol": o.symbol,
                    "side": o.side,
                }
                for cid, o in self.orders.items()
            },
        }


def default_rules(symbol: str) -> InstrumentRules:
    """The instrument snapshot's filters of ``symbol`` (spot, or USDⓈ-M when settled)."""
    return gateway_rules(binance_default(symbol), symbol)


def required_param(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise BinanceError(
            400,
            -1102,
            f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
        )
    return value


def decimal_param(params: Mapping[str, str], name: str) -> Decimal:
    text = required_param(params, name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value <= 0:
        raise BinanceError(400, -1102, f"Illegal characters found in parameter '{name}'.")
    return value
