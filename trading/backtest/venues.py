"""The venues a backtest sends orders to, and how ``trade_step`` reaches them.

- ``BacktestVenue``: what a backtest needs of a venue in its own process: move its clock,
  take orders, report what they did.
- ``BarMatchingVenue``: the matching core (``trading.execution.matching``) over numpy bars,
  with the fill model's choices (next-open, unbounded volume, slippage, exact fees).
- ``PaperExchangeVenue``: the real ``PaperExchange`` in-process, driven by its manual clock:
  the reference ``BarMatchingVenue`` is checked against.
- ``BacktestVenuePort``: a ``BacktestVenue`` as the ``VenuePort`` of ``trade_step``.

The live session's venues are ``trading.execution.venue.VenueAdapter`` implementations
(Binance, ccxt) behind the execution engine; ``trade_step`` sees every venue as a ``VenuePort``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from trading.config import Settings
from trading.contracts import (
    Fill,
    Liquidity,
    OrderIntent,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
    utc_from_ms,
)
from trading.execution.desk import OrderUpdate, SymbolStep
from trading.execution.matching import (
    VolumeBudget,
    lot_size_failure,
    match_order,
    notional_failure,
    slipped_price,
    trade_fee,
)
from trading.execution.paper import BinanceError, PaperBar, PaperExchange, paper_bars
from trading.market.frames import BarColumns
from trading.market.instruments import InstrumentSpec, venue_symbol
from trading.risk.portfolio import quote_asset

if TYPE_CHECKING:
    from trading.execution.gateway import SubmitOutcome


class FillRule(StrEnum):
    """When an arriving market order trades."""

    CLOSE = "close"  # at the close of the venue's current bar (the paper exchange)
    NEXT_OPEN = "next_open"  # at the open of the next bar (backtesting.py's default)


@dataclass(frozen=True)
class FillSettings:
    """Fill model: the default reproduces ``PaperExchange`` (25% of a bar's volume, 10 bps)."""

    rule: FillRule = FillRule.CLOSE
    volume_share: Decimal | None = Decimal("0.25")  # None: unlimited
    maker_fee_rate: Decimal = Decimal("0.001")
    taker_fee_rate: Decimal = Decimal("0.001")
    slippage_bps: Decimal = Decimal(0)  # taker fills move against the order by this much
    round_fees: bool = True  # quantize fees to 1e-8 as the paper exchange does

    @classmethod
    def from_settings(cls, settings: Settings) -> FillSettings:
        """The paper venue's rules with the config's maker/taker fees (as the live session)."""
        return cls(
            maker_fee_rate=Decimal(str(settings.venue.maker_fee_bps)) / 10_000,
            taker_fee_rate=Decimal(str(settings.venue.taker_fee_bps)) / 10_000,
        )


class BacktestVenue(Protocol):
    """A venue in the backtest's process: its clock moves to the step, it books the orders
    sent, and it reports each order's state and new fills when asked."""

    def advance_to(self, until_ms: int) -> None: ...

    def submit(self, orders: Sequence[OrderIntent]) -> None: ...

    def take_updates(self) -> list[OrderUpdate]: ...


class BacktestVenuePort:
    """A ``BacktestVenue`` as the venue port of ``trade_step``; it has no gateway, so no send
    outcomes."""

    def __init__(self, venue: BacktestVenue) -> None:
        self.venue = venue

    async def execute(
        self, orders: Sequence[OrderIntent], steps: Sequence[SymbolStep]
    ) -> tuple[list[SubmitOutcome], list[OrderUpdate]]:
        self.venue.submit(orders)
        return [], self.venue.take_updates()


@dataclass
class _Order:
    intent: OrderIntent
    status: OrderStatus = OrderStatus.NEW
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    triggered: bool = False
    fills: list[Fill] = field(default_factory=list)
    reject_reason: str | None = None

    @property
    def remaining(self) -> Decimal:
        return self.intent.quantity - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass
class _Book:
    bars: BarColumns
    spec: InstrumentSpec
    budget: VolumeBudget
    index: int = -1
    budget_index: int = -1  # the bar ``budget`` belongs to (it is reset lazily, on a fill)
    orders: list[_Order] = field(default_factory=list)
    _bar: PaperBar | None = None  # the current bar in decimals, converted once per row

    def bar(self) -> PaperBar:
        """The current bar, prices exactly as the file's text."""
        columns, row = self.bars, self.index
        if self._bar is None or self._bar.open_time_ms != columns.open_time_ms[row]:
            prices = (columns.open, columns.high, columns.low, columns.close, columns.volume)
            self._bar = PaperBar(
                int(columns.open_time_ms[row]), *(Decimal(repr(float(p[row]))) for p in prices)
            )
        return self._bar


class BarMatchingVenue:
    """Matching on bars: the current bar of a symbol at time ``T`` is the last one that opened
    before ``T``; resting orders trade at each later bar's open, each bar's volume budget
    shared by every order of the symbol, quantities floored to the lot."""

    def __init__(
        self,
        bars: Mapping[str, BarColumns],
        instruments: Mapping[str, InstrumentSpec],
        settings: FillSettings | None = None,
    ) -> None:
        self.settings = settings or FillSettings()
        share = self.settings.volume_share
        self.books = {s: _Book(b, instruments[s], VolumeBudget(share)) for s, b in bars.items()}
        self.now_ms = 0
        self._trade_id = 1
        self._touched: dict[str, _Order] = {}
        self._fresh: dict[str, list[Fill]] = {}

    def _reset_budget(self, book: _Book) -> None:
        book.budget.reset(book.bar().volume)
        book.budget_index = book.index

    def advance_to(self, until_ms: int) -> None:
        """Bars opened before ``until_ms`` become current in turn, resting orders matching on
        each; a book without resting orders jumps straight to its last such bar."""
        self.now_ms = until_ms
        for book in self.books.values():
            last = int(np.searchsorted(book.bars.open_time_ms, until_ms, side="left")) - 1
            if not book.orders:
                book.index = max(book.index, last)
                continue
            while book.index < last:
                book.index += 1
                self._reset_budget(book)
                for order in list(book.orders):
                    self._match(book, order, arriving=False)
                book.orders = [o for o in book.orders if o.is_open]

    def rematch(self) -> None:
        """Match resting orders again at the current bar's open with a fresh volume budget."""
        for book in self.books.values():
            if book.index >= 0 and book.orders:
                self._reset_budget(book)
                for order in list(book.orders):
                    self._match(book, order, arriving=False)
                book.orders = [o for o in book.orders if o.is_open]

    def submit(self, orders: Sequence[OrderIntent]) -> None:
        for intent in orders:
            book = self.books[intent.symbol]
            order = _Order(intent)
            self._touch(order)
            problem = self._filters(book, intent)
            if problem is not None:
                order.status, order.reject_reason = OrderStatus.REJECTED, problem
                continue
            if book.index >= 0:
                self._match(book, order, arriving=True)
            if order.is_open:
                book.orders.append(order)

    def _filters(self, book: _Book, intent: OrderIntent) -> str | None:
        spec = book.spec
        if failure := lot_size_failure(intent.quantity, spec.min_qty, spec.lot_size):
            return failure
        if book.index < 0:
            return "no market data yet"
        close = book.bar().close
        return notional_failure(
            intent.quantity, intent.limit_price, intent.stop_price, close, spec.min_notional
        )

    def _match(self, book: _Book, order: _Order, *, arriving: bool) -> None:
        if arriving and self.settings.rule is FillRule.NEXT_OPEN:
            return
        intent = order.intent
        buy = intent.side is Side.BUY
        bar = book.bar()
        match = match_order(
            buy, intent.limit_price, intent.stop_price, order.triggered, bar, arriving=arriving
        )
        order.triggered = match.triggered
        if match.price is not None:
            self._fill(book, order, match.price, match.maker)

    def _fill(self, book: _Book, order: _Order, price: Decimal, maker: bool) -> None:
        if book.budget_index != book.index:
            self._reset_budget(book)
        quantity = book.budget.bound(order.remaining, book.spec.lot_size)
        if quantity <= 0:
            return
        book.budget.spend(quantity)
        settings = self.settings
        if not maker and settings.slippage_bps:
            price = slipped_price(price, order.intent.side is Side.BUY, settings.slippage_bps)
        rate = settings.maker_fee_rate if maker else settings.taker_fee_rate
        fee = trade_fee(price, quantity, rate, rounded=settings.round_fees)
        fill = Fill.model_construct(
            trade_id=str(self._trade_id),
            client_order_id=order.intent.client_order_id,
            symbol=order.intent.symbol,
            side=order.intent.side,
            price=price,
            quantity=quantity,
            fee=fee,
            fee_asset=quote_asset(order.intent.symbol),
            liquidity=Liquidity.MAKER if maker else Liquidity.TAKER,
            ts=utc_from_ms(self.now_ms),
        )
        self._trade_id += 1
        order.executed += quantity
        order.quote += price * quantity
        order.status = OrderStatus.FILLED if order.remaining == 0 else OrderStatus.PARTIALLY_FILLED
        order.fills.append(fill)
        self._touch(order, fill)

    def _touch(self, order: _Order, fill: Fill | None = None) -> None:
        cid = order.intent.client_order_id
        self._touched[cid] = order
        fills = self._fresh.setdefault(cid, [])
        if fill is not None:
            fills.append(fill)

    def take_updates(self) -> list[OrderUpdate]:
        """One update per order touched since the last call: its state and its new fills."""
        updates = [
            OrderUpdate(_state(order, self.now_ms), tuple(self._fresh.get(cid, ())))
            for cid, order in self._touched.items()
        ]
        self._touched, self._fresh = {}, {}
        return updates


def _state(order: _Order, now_ms: int) -> OrderState:
    intent = order.intent
    avg = order.quote / order.executed if order.executed else None
    return OrderState.model_construct(
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        status=order.status,
        quantity=intent.quantity,
        filled_quantity=order.executed,
        avg_fill_price=avg,
        venue_order_id=None,
        reject_reason=order.reject_reason,
        updated_at=utc_from_ms(now_ms),
    )


class PaperExchangeVenue:
    """The real ``PaperExchange`` driven in-process by its manual clock; reports -> updates."""

    def __init__(self, bars: Mapping[str, BarColumns], **options: Any) -> None:
        self.exchange = PaperExchange({s: paper_bars(c) for s, c in bars.items()}, **options)
        self.symbols = {venue_symbol(s): s for s in bars}
        self.first_ms = {venue_symbol(s): int(c.open_time_ms[0]) for s, c in bars.items()}
        self._rejected: list[OrderUpdate] = []
        self.started = False

    def advance_to(self, until_ms: int) -> None:
        self.started = True
        self.exchange.advance_to(until_ms)

    def submit(self, orders: Sequence[OrderIntent]) -> None:
        for intent in orders:
            params = {
                "symbol": venue_symbol(intent.symbol),
                "side": intent.side.value,
                "type": "MARKET" if intent.order_type is OrderType.MARKET else "LIMIT",
                "quantity": format(intent.quantity, "f"),
                "newClientOrderId": intent.client_order_id,
            }
            try:
                self.exchange.place(params)
            except BinanceError as error:
                state = OrderState(
                    client_order_id=intent.client_order_id,
                    symbol=intent.symbol,
                    side=intent.side,
                    status=OrderStatus.REJECTED,
                    quantity=intent.quantity,
                    filled_quantity=Decimal(0),
                    reject_reason=error.msg,
                    updated_at=utc_from_ms(self.exchange.event_time_ms()),
                )
                self._rejected.append(OrderUpdate(state))

    def take_updates(self) -> list[OrderUpdate]:
        """Execution reports as the live execution path books them: state plus trade."""
        updates, self._rejected = self._rejected, []
        for report in self.exchange.take_reports():
            if report["x"] not in ("NEW", "TRADE", "CANCELED", "EXPIRED"):
                continue
            canceled = report["x"] == "CANCELED"
            cid = report["C"] if canceled else report["c"]
            symbol = self.symbols[report["s"]]
            executed = Decimal(report["z"])
            quote = Decimal(report["Z"])
            state = OrderState(
                client_order_id=cid,
                symbol=symbol,
                side=report["S"],
                status=report["X"],
                quantity=Decimal(report["q"]),
                filled_quantity=executed,
                avg_fill_price=quote / executed if executed else None,
                venue_order_id=str(report["i"]),
                updated_at=utc_from_ms(report["E"]),
            )
            fills: tuple[Fill, ...] = ()
            if report["x"] == "TRADE":
                fills = (
                    Fill(
                        trade_id=str(report["t"]),
                        client_order_id=cid,
                        symbol=symbol,
                        side=report["S"],
                        price=Decimal(report["L"]),
                        quantity=Decimal(report["l"]),
                        fee=Decimal(report["n"]),
                        fee_asset=report["N"],
                        liquidity=Liquidity.MAKER if report["m"] else Liquidity.TAKER,
                        ts=utc_from_ms(report["T"]),
                    ),
                )
            updates.append(OrderUpdate(state, fills))
        return updates
