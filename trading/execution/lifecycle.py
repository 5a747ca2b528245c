"""Position lifecycle: Open -> Monitor -> Adjust stops -> Close, as order intents.

Pure and deterministic, shared by the live orchestrator and the backtester so both send the
same orders: every intent's client id derives from (strategy, symbol, bar time, purpose),
entries carry the protective stop risk sizes with, and stops are checked on closed bars
(synthetic stops: an exit goes out at the close of the bar that touched the stop).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict, Field

from trading.config import Settings
from trading.contracts import (
    DecisionOutcome,
    Direction,
    Fill,
    MarketBar,
    OrderDecision,
    OrderIntent,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
    Signal,
)
from trading.market.instruments import InstrumentSpec
from trading.risk.stops import TrailingStop, take_profit_prices


class Purpose(IntEnum):
    """The ``seq`` of a client id: what an order is for (one of each per symbol and bar)."""

    ENTRY = 0
    STOP = 1
    TARGET = 2
    REVERSAL = 3


class TradeState(StrEnum):
    PENDING = "PENDING"  # entry sent, nothing filled yet
    OPEN = "OPEN"  # holding; stops monitored every closed bar
    CLOSING = "CLOSING"  # exit sent


@dataclass(frozen=True)
class LifecycleSettings:
    strategy: str = "confluence"
    min_confidence: float = 0.6
    atr_stop_multiple: Decimal = Decimal("2")
    trail_atr_multiple: Decimal = Decimal("3")
    breakeven_after_r: Decimal = Decimal("1")
    take_profit_r: tuple[float, ...] = (3.0,)
    exit_on_opposite: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> LifecycleSettings:
        """Stops, breakeven and targets from the config's risk section."""
        risk = settings.risk
        return cls(
            atr_stop_multiple=Decimal(str(risk.atr_stop_multiple)),
            breakeven_after_r=Decimal(str(risk.breakeven_after_r)),
            take_profit_r=tuple(risk.take_profit_r),
        )


@dataclass(frozen=True)
class EntryRequest:
    """An entry intent plus what risk needs to size it."""

    intent: OrderIntent
    stop_price: Decimal
    confidence: float


class Trade(BaseModel):
    """One symbol's trade from entry order to flat."""

    model_config = ConfigDict(extra="forbid")

    symbol: str
    side: Side
    state: TradeState
    entry_client_id: str
    quantity: Decimal = Decimal(0)
    stop: TrailingStop | None = None
    planned_stop: Decimal
    target: Decimal | None = None
    exit_client_id: str | None = None
    opened_at: datetime


class Lifecycle(BaseModel):
    """Every trade in flight; ``model_dump_json`` checkpoints it."""

    model_config = ConfigDict(extra="forbid")

    trades: dict[str, Trade] = Field(default_factory=dict)


class PositionLifecycle:
    def __init__(
        self,
        settings: LifecycleSettings,
        instruments: dict[str, InstrumentSpec],
        state: Lifecycle | None = None,
    ) -> None:
        self.settings = settings
        self.instruments = instruments
        self.state = state or Lifecycle()

    def _intent(
        self, symbol: str, side: Side, quantity: Decimal, bar_time: datetime, purpose: Purpose
    ) -> OrderIntent:
        return OrderIntent.for_signal(
            strategy=self.settings.strategy,
            symbol=symbol,
            signal_time=bar_time,
            seq=int(purpose),
            side=side,
            order_type=OrderType.MARKET,
            quantity=quantity,
            reduce_only=purpose is not Purpose.ENTRY,
            created_at=bar_time,
        )

    def on_signal(
        self, signal: Signal, atr: Decimal, mark: Decimal, max_quantity: Decimal
    ) -> tuple[list[EntryRequest], list[OrderIntent]]:
        """Entries for a confident signal when flat; an exit when it turns against a trade."""
        symbol, trade = signal.symbol, self.state.trades.get(signal.symbol)
        confident = signal.confidence >= self.settings.min_confidence
        if signal.direction is Direction.NEUTRAL or not confident:
            return [], []
        side = Side.BUY if signal.direction is Direction.LONG else Side.SELL
        if trade is not None:
            opposite = trade.state is TradeState.OPEN and trade.side is not side
            if opposite and self.settings.exit_on_opposite:
                return [], [self._exit(trade, signal.bar_time, Purpose.REVERSAL)]
            return [], []
        spec = self.instruments[symbol]
        quantity = spec.round_quantity_down(max_quantity)
        if atr <= 0 or quantity <= 0:
            return [], []
        stop = TrailingStop.open(mark, atr, side, self.settings.atr_stop_multiple, spec)
        intent = self._intent(symbol, side, quantity, signal.bar_time, Purpose.ENTRY)
        self.state.trades[symbol] = Trade(
            symbol=symbol,
            side=side,
            state=TradeState.PENDING,
            entry_client_id=intent.client_order_id,
            planned_stop=stop.stop,
            opened_at=signal.bar_time,
        )
        return [EntryRequest(intent, stop.stop, signal.confidence)], []

    def on_bar(self, bar: MarketBar, atr: Decimal) -> list[OrderIntent]:
        """Monitor an open trade on a closed bar: exit on stop or target, else tighten."""
        trade = self.state.trades.get(bar.symbol)
        if trade is None or trade.state is not TradeState.OPEN or trade.stop is None:
            return []
        long = trade.side is Side.BUY
        stopped = bar.low <= trade.stop.stop if long else bar.high >= trade.stop.stop
        if stopped:
            return [self._exit(trade, bar.open_time, Purpose.STOP)]
        if trade.target is not None:
            hit = bar.high >= trade.target if long else bar.low <= trade.target
            if hit:
                return [self._exit(trade, bar.open_time, Purpose.TARGET)]
        if atr > 0:
            trade.stop = trade.stop.update(
                bar.high,
                bar.low,
                atr,
                self.settings.trail_atr_multiple,
                self.settings.breakeven_after_r,
                self.instruments[bar.symbol],
            )
        return []

    def _exit(self, trade: Trade, bar_time: datetime, purpose: Purpose) -> OrderIntent:
        intent = self._intent(trade.symbol, trade.side.opposite, trade.quantity, bar_time, purpose)
        trade.state = TradeState.CLOSING
        trade.exit_client_id = intent.client_order_id
        return intent

    def on_fill(self, fill: Fill) -> None:
        """Entry fills open (or add to) the trade; exit fills reduce it to flat."""
        trade = self.state.trades.get(fill.symbol)
        if trade is None:
            return
        if fill.client_order_id == trade.entry_client_id:
            first = trade.quantity == 0
            trade.quantity += fill.quantity
            if first:
                spec = self.instruments[fill.symbol]
                risk = abs(fill.price - trade.planned_stop)
                stop = trade.planned_stop
                trade.stop = TrailingStop(
                    side=trade.side,
                    entry=fill.price,
                    initial_stop=stop,
                    stop=stop,
                    best_price=fill.price,
                )
                if risk > 0 and self.settings.take_profit_r:
                    trade.target = take_profit_prices(
                        fill.price, stop, self.settings.take_profit_r[-1:], spec
                    )[0]
            if trade.state is TradeState.PENDING:
                trade.state = TradeState.OPEN
        elif fill.client_order_id == trade.exit_client_id or fill.side is not trade.side:
            # our exit, or one from elsewhere (risk's SAFE_MODE flatten, a manual order)
            trade.quantity -= fill.quantity
            if trade.quantity <= 0:
                del self.state.trades[fill.symbol]

    def on_decision(self, decision: OrderDecision) -> None:
        """Risk denied an entry: the trade never starts."""
        if decision.outcome is not DecisionOutcome.DENIED:
            return
        for symbol, trade in list(self.state.trades.items()):
            if trade.entry_client_id == decision.client_order_id and trade.quantity == 0:
                del self.state.trades[symbol]

    def on_order_end(self, order: OrderState) -> None:
        """An order ended: an unfilled entry drops its trade; a short exit re-opens monitoring."""
        if order.status not in (OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED):
            return
        trade = self.state.trades.get(order.symbol)
        if trade is None:
            return
        if order.client_order_id == trade.entry_client_id and trade.quantity == 0:
            del self.state.trades[order.symbol]
        elif order.client_order_id == trade.exit_client_id and trade.quantity > 0:
            trade.state, trade.exit_client_id = TradeState.OPEN, None

    def open_symbols(self) -> list[str]:
        return sorted(self.state.trades)
