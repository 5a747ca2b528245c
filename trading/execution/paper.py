"""The paper exchange: a local Binance-compatible venue matching orders against real bars.

REST (``/api/v3/order``, ``/api/v3/myTrades``, ``/api/v3/account``, ...) and a user-data
WebSocket pushing ``executionReport`` events, on 127.0.0.1. Orders match against real bars,
loaded from files (replay) or appended as they close (live, ``append_bars`` or
``POST /_paper/bars``): market, limit and stop orders, partial fills bounded by a share of each
bar's volume, maker/taker fees charged in the quote asset, latency. Started with an API key and
secret it checks SIGNED requests as Binance does (HMAC-SHA256 signature, recvWindow).
Fault injection: outage (the port closes), timeouts after accept, rate-limit storms
(429 + Retry-After), partial-fill storms, duplicate and out-of-order events. Every order ever
accepted is kept by client id; a repeated client id is refused with -2010 and counted in
``duplicate_attempts``: the proof that nothing was sent twice.

Run it alone: ``python -m trading.execution.paper --port 0 --data BTC/USDT=FILE``
(``--symbol ETH/USDT`` for a symbol with no file, fed over ``POST /_paper/bars``).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import hmac
import json
import os
import random
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from trading.contracts import MarketBar, epoch_us, now_ms
from trading.execution.binance import signature
from trading.execution.gateway import InstrumentRules
from trading.execution.rules import binance_spot_rules
from trading.market.instruments import venue_symbol

QUOTE_PLACES = Decimal("0.00000001")
ORDER_TYPES = ("MARKET", "LIMIT", "STOP_LOSS", "STOP_LOSS_LIMIT")
INITIAL_QUOTE = Decimal(1_000_000_000)
API_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{64}")  # Binance API keys: 64 letters and digits
MAX_RECV_WINDOW_MS = 60_000
FUTURE_TOLERANCE_MS = 1_000  # Binance refuses timestamps this far ahead of its clock
# Binance's SIGNED (TRADE, USER_DATA) endpoints that this exchange serves, and USER_STREAM ones
SIGNED_ENDPOINTS = frozenset(
    {
        ("POST", "/api/v3/order"),
        ("GET", "/api/v3/order"),
        ("DELETE", "/api/v3/order"),
        ("PUT", "/api/v3/order/amend/keepPriority"),
        ("GET", "/api/v3/myTrades"),
        ("GET", "/api/v3/account"),
    }
)


@dataclass(frozen=True, slots=True)
class PaperBar:
    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @classmethod
    def of(cls, bar: MarketBar) -> PaperBar:
        """The exchange's copy of a closed bar from a feed."""
        open_ms = epoch_us(bar.open_time) // 1000
        return cls(open_ms, bar.open, bar.high, bar.low, bar.close, bar.volume)


class BarError(ValueError):
    """A bar the exchange cannot take, naming its field (``BTC/USDT[2].high``) and value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}={value!r}: {reason}")
        self.field, self.value, self.reason = field, value, reason


def _check_bar(bar: PaperBar, where: str) -> None:
    prices = {"open": bar.open, "high": bar.high, "low": bar.low, "close": bar.close}
    for name, value in (*prices.items(), ("volume", bar.volume)):
        if not isinstance(value, Decimal) or not value.is_finite():
            raise BarError(f"{where}.{name}", value, "expected a finite decimal")
    for name, value in prices.items():
        if value <= 0:
            raise BarError(f"{where}.{name}", value, "must be above 0")
    if bar.volume < 0:
        raise BarError(f"{where}.volume", bar.volume, "must be 0 or more")
    if bar.high < max(bar.open, bar.close, bar.low):
        raise BarError(f"{where}.high", bar.high, "below the bar's open, close or low")
    if bar.low > min(bar.open, bar.close):
        raise BarError(f"{where}.low", bar.low, "above the bar's open or close")


def load_bars(path: Path | str, start_row: int = 0, rows: int | None = None) -> list[PaperBar]:
    """Bars of a shared-data file (CSV or Parquet), validated by ``trading.market.frames``."""
    from trading.market.frames import read_bars

    columns = read_bars(path).columns()
    end = len(columns) if rows is None else start_row + rows
    cut = columns.take(slice(start_row, end))
    return [
        PaperBar(int(t), *(Decimal(repr(v)) for v in values))
        for t, *values in zip(
            cut.open_time_ms.tolist(),
            cut.open.tolist(),
            cut.high.tolist(),
            cut.low.tolist(),
            cut.close.tolist(),
            cut.volume.tolist(),
            strict=True,
        )
    ]


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


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_DOWN) * step


class PaperExchange:
    """The matching engine and account, without I/O: orders in, execution reports out.

    ``bars`` maps each tradable symbol to its bars; an empty sequence makes a symbol whose bars
    arrive later through ``append_bars``. Either way the first bar held is the current one
    until the clock moves, so appended bars match exactly as the same bars loaded up front."""

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
        rules = rules or {s: binance_spot_rules(s) for s in bars}
        self.rules = {venue_symbol(s): r for s, r in rules.items()}
        self.assets = {v: tuple(u.partition(":")[0].split("/")) for v, u in unified.items()}
        self.volume_share = volume_share
        self.maker_fee_rate, self.taker_fee_rate = maker_fee_rate, taker_fee_rate
        self.faults = faults or Faults()
        self.random = random.Random(seed)  # noqa: S311 - seeded fault schedule, not crypto
        self.bar_index = dict.fromkeys(self.bars, 0)
        self.budget = {s: self._bar_budget(s) for s in self.bars}
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

    def _bar_budget(self, symbol: str) -> Decimal:
        if not self.bars[symbol]:
            return Decimal(0)
        return self.bar(symbol).volume * self.volume_share

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
                self.budget[key] = self._bar_budget(key)
        return sum(len(bars) for bars in fresh.values())

    def _new_bars(self, key: str, symbol: str, bars: Sequence[PaperBar]) -> list[PaperBar]:
        held = self.bars[key]
        last_ms = held[-1].open_time_ms if held else None
        fresh: list[PaperBar] = []
        for i, bar in enumerate(bars):
            where = f"{symbol}[{i}]"
            _check_bar(bar, where)
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
                self.budget[symbol] = self._bar_budget(symbol)
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
            self.budget[symbol] = self._bar_budget(symbol)
        for order in list(self.orders.values()):
            if order.is_open:
                self._match(order, arriving=False)

    # ----------------------------------------------------------------- requests

    def place(self, params: Mapping[str, str]) -> PaperOrder:
        """``POST /api/v3/order``: validate like Binance, accept, match what is marketable."""
        symbol = _param(params, "symbol")
        if symbol not in self.bars:
            raise BinanceError(400, -1121, "Invalid symbol.")
        if not self.bars[symbol]:
            raise BinanceError(400, -1013, "Market is closed.")
        side = _param(params, "side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(400, -1102, "Param 'side' must be BUY or SELL.")
        order_type = _param(params, "type")
        if order_type not in ORDER_TYPES:
            raise BinanceError(400, -1116, "Invalid orderType.")
        client_id = params.get("newClientOrderId") or f"paper-{self._next_order_id}"
        if client_id in self.orders:
            self.duplicate_attempts += 1
            raise BinanceError(400, -2010, "Duplicate order sent.")
        quantity = _decimal(params, "quantity")
        price = _decimal(params, "price") if "LIMIT" in order_type else None
        stop = _decimal(params, "stopPrice") if order_type.startswith("STOP") else None
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

    def _check_filters(
        self, symbol: str, quantity: Decimal, price: Decimal | None, stop: Decimal | None
    ) -> None:
        rules = self.rules[symbol]
        if quantity < rules.min_quantity or quantity % rules.lot_size != 0:
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        for value in (price, stop):
            if value is not None and value % rules.tick_size != 0:
                raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
        reference = price or stop or self.bar(symbol).close
        if quantity * reference < rules.min_notional:
            raise BinanceError(400, -1013, "Filter failure: NOTIONAL")

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
        new_qty = _decimal(params, "newQty")
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
        current = bar.close if arriving else bar.open
        if order.stop_price is not None and not order.triggered:
            probe = current if arriving else (bar.high if buy else bar.low)
            if (buy and probe < order.stop_price) or (not buy and probe > order.stop_price):
                return
            order.triggered = True
            if not arriving:
                current = max(current, order.stop_price) if buy else min(current, order.stop_price)
        maker = False
        if order.price is None:
            fill_price = current
        elif arriving:
            if (buy and current > order.price) or (not buy and current < order.price):
                return
            fill_price = current
        else:
            if (buy and bar.low > order.price) or (not buy and bar.high < order.price):
                return
            fill_price, maker = order.price, True
        self._fill(order, fill_price, maker)

    def _fill(self, order: PaperOrder, price: Decimal, maker: bool) -> None:
        lot = self.rules[order.symbol].lot_size
        quantity = min(order.remaining, _floor_to(self.budget[order.symbol], lot))
        if order.time_in_force == "FOK" and quantity < order.remaining:
            return
        if self.faults.partial_fill_storm:
            piece = _floor_to(order.remaining * Decimal(self.random.uniform(0.1, 0.5)), lot)
            quantity = min(quantity, max(piece, lot))
        if quantity <= 0:
            return
        self.budget[order.symbol] -= quantity
        rate = self.maker_fee_rate if maker else self.taker_fee_rate
        base, quote = self.assets[order.symbol]
        commission = (price * quantity * rate).quantize(QUOTE_PLACES, ROUND_HALF_UP)
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
        sign = 1 if order.side == "BUY" else -1
        self.balances[base] += sign * quantity
        self.balances[quote] -= sign * price * quantity + commission
        self._report(order, "TRADE", trade)

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


def _unsigned(raw: str) -> str:
    """A raw query string or form body without its ``signature`` parameter."""
    return "&".join(p for p in raw.split("&") if p and not p.startswith("signature="))


def _integer(params: Mapping[str, str], name: str) -> int:
    text = _param(params, name)
    if not text.isdigit():
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return int(text)


def _decimal_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError('expected a decimal string, e.g. "60000.5"')
    return value


DecimalText = Annotated[Decimal, BeforeValidator(_decimal_text), Field(allow_inf_nan=False)]


class BarIn(BaseModel):
    """One closed bar as ``POST /_paper/bars`` takes it (prices as decimal strings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open_time_ms: Annotated[int, Field(strict=True, ge=0)]
    open: DecimalText
    high: DecimalText
    low: DecimalText
    close: DecimalText
    volume: DecimalText


class BarBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bars: dict[str, list[BarIn]]


def _param(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise BinanceError(
            400,
            -1102,
            f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
        )
    return value


def _decimal(params: Mapping[str, str], name: str) -> Decimal:
    text = _param(params, name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value <= 0:
        raise BinanceError(400, -1102, f"Illegal characters found in parameter '{name}'.")
    return value


class PaperServer:
    """The exchange on 127.0.0.1: REST, user-data WebSocket, admin endpoints, fault switches."""

    def __init__(
        self,
        exchange: PaperExchange,
        *,
        bar_interval_ms: int = 50,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        api_secret: str | None = None,
    ) -> None:
        """With ``api_key`` and ``api_secret`` every SIGNED endpoint requires that key in
        ``X-MBX-APIKEY``, a valid signature and a timestamp within its recvWindow."""
        if (api_key is None) != (api_secret is None):
            raise ValueError("api_key and api_secret go together")
        if api_key is not None and not API_KEY_FORMAT.fullmatch(api_key):
            raise ValueError("api_key: expected 64 letters and digits")
        self._api_key, self._api_secret = api_key, api_secret
        self.exchange = exchange
        self.bar_interval_ms = bar_interval_ms
        self.host, self.port = host, port
        self.outage_until = 0.0
        self._sockets: set[web.WebSocketResponse] = set()
        self._queues: dict[web.WebSocketResponse, asyncio.Queue[str]] = {}
        self._closing = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        app = web.Application(middlewares=[self._faults_middleware])
        app.add_routes(
            [
                web.get("/api/v3/ping", self._ping),
                web.get("/api/v3/time", self._time),
                web.post("/api/v3/order", self._place),
                web.get("/api/v3/order", self._query),
                web.delete("/api/v3/order", self._cancel),
                web.put("/api/v3/order/amend/keepPriority", self._amend),
                web.get("/api/v3/myTrades", self._trades),
                web.get("/api/v3/account", self._account),
                web.post("/api/v3/userDataStream", self._listen_key),
                web.get("/ws/{listen_key}", self._user_stream),
                web.get("/_paper/stats", self._stats),
                web.post("/_paper/faults", self._set_faults),
                web.post("/_paper/outage", self._outage),
                web.post("/_paper/clock", self._advance_clock),
                web.post("/_paper/bars", self._append_bars),
            ]
        )
        self.app = app

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        await self._open_site()
        if self.bar_interval_ms > 0:
            self._spawn(self._clock())

    async def _open_site(self) -> None:
        if self._runner is None:
            raise RuntimeError("PaperServer.start() has not run")
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await self._site.start()
        server = self._site._server
        if self.port == 0 and server is not None and hasattr(server, "sockets"):
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._closing.set()
        for task in list(self._tasks):
            task.cancel()
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----------------------------------------------------------------- faults

    @property
    def in_outage(self) -> bool:
        return time.monotonic() < self.outage_until

    async def begin_outage(self, seconds: float) -> None:
        """Close the port and every connection for ``seconds``, then listen again."""
        self.outage_until = time.monotonic() + seconds
        if self._site is not None:
            await self._site.stop()
            self._site = None
        for socket in list(self._sockets):
            await socket.close()
        self._spawn(self._end_outage(seconds))

    async def _end_outage(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._open_site()

    @web.middleware
    async def _faults_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.in_outage and request.transport is not None:
            request.transport.abort()
            raise web.HTTPServiceUnavailable()
        faults = self.exchange.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        trading = request.path.startswith("/api/")
        if trading and faults.rate_limit and self.exchange.random.random() < faults.rate_limit:
            return web.json_response(
                {"code": -1003, "msg": "Too many requests; current limit is 6000 per minute."},
                status=429,
                headers={"Retry-After": str(faults.retry_after_s)},
            )
        try:
            response: web.StreamResponse = await handler(request)
        except BinanceError as error:
            return web.json_response({"code": error.code, "msg": error.msg}, status=error.status)
        return response

    # ----------------------------------------------------------------- handlers

    async def _params(self, request: web.Request) -> dict[str, str]:
        """A SIGNED endpoint's parameters (query string and form body), authenticated."""
        params = dict(request.query)
        body = await request.text() if request.can_read_body else ""
        params.update(parse_qsl(body, keep_blank_values=True))
        if self._api_secret is not None:
            self._check_api_key(request)
            self._check_signature(request.rel_url.raw_query_string, body, params)
        self._check_window(params)
        return params

    def _check_api_key(self, request: web.Request) -> None:
        if self._api_key is None:
            return
        key = request.headers.get("X-MBX-APIKEY", "")
        if not API_KEY_FORMAT.fullmatch(key):
            raise BinanceError(401, -2014, "API-key format invalid.")
        if not hmac.compare_digest(key, self._api_key):
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")

    def _check_signature(self, raw_query: str, body: str, params: Mapping[str, str]) -> None:
        """Binance: the signature is the HMAC-SHA256 of totalParams, the query string
        concatenated with the body (each without its ``signature`` parameter)."""
        assert self._api_secret is not None  # noqa: S101 - only called when signing
        sent = _param(params, "signature").lower()
        _param(params, "timestamp")
        total_params = _unsigned(raw_query) + _unsigned(body)
        if not hmac.compare_digest(signature(total_params, self._api_secret), sent):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")

    def _check_window(self, params: Mapping[str, str]) -> None:
        """Binance's timing rule: ``timestamp < serverTime + 1000`` and
        ``serverTime - timestamp <= recvWindow`` (default 5000, at most 60000)."""
        if "timestamp" not in params:
            return
        timestamp, window = _integer(params, "timestamp"), 5_000
        if "recvWindow" in params:
            window = _integer(params, "recvWindow")
        if not 0 < window <= MAX_RECV_WINDOW_MS:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        now = now_ms()
        if timestamp >= now + FUTURE_TOLERANCE_MS:
            raise BinanceError(
                400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if now - timestamp > window:
            raise BinanceError(
                400, -1021, "Timestamp for this request is outside of the recvWindow."
            )

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": now_ms()})

    async def _place(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        order = self.exchange.place(params)
        self._publish()
        faults = self.exchange.faults
        if (
            faults.timeout_after_accept
            and self.exchange.random.random() < faults.timeout_after_accept
        ):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), faults.hang_s)
        return web.json_response({**order.to_json(), "transactTime": order.created_ms})

    async def _query(self, request: web.Request) -> web.Response:
        order = self.exchange.order(await self._params(request), -2013, "Order does not exist.")
        return web.json_response(order.to_json())

    async def _cancel(self, request: web.Request) -> web.Response:
        order = self.exchange.cancel(await self._params(request))
        self._publish()
        return web.json_response(order.to_json())

    async def _amend(self, request: web.Request) -> web.Response:
        order = self.exchange.amend(await self._params(request))
        self._publish()
        return web.json_response(
            {"transactTime": order.updated_ms, "executionId": 0, "amendedOrder": order.to_json()}
        )

    async def _trades(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        symbol = _param(params, "symbol")
        order_id = params.get("orderId")
        trades = [
            t.to_json()
            for o in self.exchange.orders.values()
            if o.symbol == symbol and (order_id is None or str(o.order_id) == order_id)
            for t in o.trades
        ]
        return web.json_response(sorted(trades, key=lambda t: t["id"]))

    async def _account(self, request: web.Request) -> web.Response:
        await self._params(request)
        balances = [
            {"asset": a, "free": format(v, "f"), "locked": "0"}
            for a, v in self.exchange.balances.items()
        ]
        return web.json_response({"accountType": "SPOT", "balances": balances})

    async def _listen_key(self, request: web.Request) -> web.Response:
        self._check_api_key(request)  # a USER_STREAM endpoint: the key, no signature
        return web.json_response({"listenKey": f"paper{self.exchange.random.getrandbits(64):x}"})

    async def _user_stream(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=5.0)
        await socket.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._sockets.add(socket)
        self._queues[socket] = queue
        writer = asyncio.get_running_loop().create_task(self._write(socket, queue))
        try:
            async for message in socket:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            writer.cancel()
            self._sockets.discard(socket)
            self._queues.pop(socket, None)
        return socket

    async def _write(self, socket: web.WebSocketResponse, queue: asyncio.Queue[str]) -> None:
        latency = self.exchange.faults.latency_ms / 1000
        while not socket.closed:
            payload = await queue.get()
            if latency:
                await asyncio.sleep(latency)
            await socket.send_str(payload)

    def _publish(self) -> None:
        for report in self.exchange.take_reports():
            payload = json.dumps(report)
            for queue in self._queues.values():
                queue.put_nowait(payload)

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(self.bar_interval_ms / 1000)
            self.exchange.step()
            self._publish()

    def advance_to(self, until_ms: int) -> int:
        """Drive the market clock from a replay (with ``bar_interval_ms=0``); pushes reports."""
        stepped = self.exchange.advance_to(until_ms)
        self._publish()
        return stepped

    async def _advance_clock(self, request: web.Request) -> web.Response:
        """``POST /_paper/clock {"until_ms": T}``: ``advance_to`` over HTTP."""
        body = await request.json()
        stepped = self.advance_to(int(body["until_ms"]))
        return web.json_response({"stepped": stepped, "bar_index": self.exchange.bar_index})

    async def _append_bars(self, request: web.Request) -> web.Response:
        """``POST /_paper/bars {"bars": {"BTC/USDT": [{"open_time_ms": T, "open": "6.1", ...}]}}``:
        ``append`` over HTTP, all or nothing; a bad bar is a 400 naming its field."""
        try:
            batch = BarBatch.model_validate_json(await request.read())
            added = self.exchange.append(
                {
                    s: [PaperBar(**bar.model_dump()) for bar in bars]
                    for s, bars in batch.bars.items()
                }
            )
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            field = "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
            ).lstrip(".")
            return web.json_response({"field": field or "<body>", "msg": first["msg"]}, status=400)
        except BarError as error:
            return web.json_response(
                {"field": f"bars.{error.field}", "msg": error.reason}, status=400
            )
        held = {s: len(bars) for s, bars in self.exchange.bars.items()}
        return web.json_response({"added": added, "bars_held": held})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.exchange.stats())

    async def _set_faults(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.exchange.faults = Faults.model_validate(
            {**self.exchange.faults.model_dump(), **update}
        )
        return web.json_response(self.exchange.faults.model_dump())

    async def _outage(self, request: web.Request) -> web.Response:
        seconds = float((await request.json())["seconds"])
        self._spawn(self._outage_soon(seconds))
        return web.json_response({"outage_s": seconds})

    async def _outage_soon(self, seconds: float) -> None:
        await asyncio.sleep(0.05)  # let the admin answer go out first
        await self.begin_outage(seconds)


def parse_data_args(items: Iterable[str]) -> dict[str, Path]:
    """``SYMBOL=PATH`` pairs from the command line."""
    pairs: dict[str, Path] = {}
    for item in items:
        symbol, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"--data expects SYMBOL=PATH, got {item!r}")
        pairs[symbol] = Path(path)
    return pairs


async def _serve(args: argparse.Namespace) -> None:
    bars: dict[str, list[PaperBar]] = {symbol: [] for symbol in args.symbol}
    for symbol, path in parse_data_args(args.data).items():
        bars[symbol] = load_bars(path, args.start_row, args.rows)
    if not bars:
        raise SystemExit("give --data SYMBOL=PATH or --symbol SYMBOL")
    faults = Faults.model_validate_json(args.faults) if args.faults else Faults()
    exchange = PaperExchange(bars, faults=faults, seed=args.seed)
    api_key = api_secret = None
    if args.credentials_env:
        key_env, _, secret_env = args.credentials_env.partition(":")
        missing = [name for name in (key_env, secret_env) if not os.environ.get(name)]
        if missing:
            raise SystemExit(f"--credentials-env: {', '.join(missing)} not set")
        api_key, api_secret = os.environ[key_env], os.environ[secret_env]
    server = PaperServer(
        exchange,
        bar_interval_ms=args.bar_interval_ms,
        port=args.port,
        api_key=api_key,
        api_secret=api_secret,
    )
    await server.start()
    print(f"PAPER LISTENING {server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trading.execution.paper", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", action="append", default=[], help="SYMBOL=PATH, repeatable")
    parser.add_argument(
        "--symbol", action="append", default=[], help="a symbol with no file, fed by /_paper/bars"
    )
    parser.add_argument("--start-row", type=int, default=0)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--bar-interval-ms", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", default="", help="Faults as JSON")
    parser.add_argument(
        "--credentials-env",
        default="",
        metavar="KEY_ENV:SECRET_ENV",
        help="require SIGNED requests with the API key and secret in these variables",
    )
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
