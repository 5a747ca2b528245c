"""The trading desk: one bar step of the pipeline, the same for live actors and backtests.

Per step ``trading.execution.step.trade_step`` (run by the live ``Orchestrator``, the
backtester and the journal rerun) does, in this order: ``plan`` (analysis outputs -> risk
requests), the risk decisions, ``approve`` (decisions -> orders), the venue, then ``on_updates``
(order states and fills -> the fills and ended orders risk must book). Every input and output is
a contract, so every driver journals the same events.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from trading.config import Settings
from trading.contracts import (
    DecisionOutcome,
    Fill,
    MarketBar,
    OrderDecision,
    OrderIntent,
    OrderState,
    Signal,
    Timeframe,
)
from trading.execution.lifecycle import Lifecycle, LifecycleSettings, PositionLifecycle
from trading.market.instruments import BINANCE_SPOT, InstrumentSpec
from trading.patterns.series import FloatArray
from trading.risk.engine import Mark
from trading.risk.gate import RiskRequest
from trading.signals.analysis import SymbolAnalysis


@dataclass(frozen=True)
class SymbolStep:
    """What one symbol's analysis produced by step time ``time`` (a bar close time)."""

    symbol: str
    time: datetime
    bars: tuple[MarketBar, ...] = ()  # base bars closed since the previous step
    step_bar: MarketBar | None = None  # the step-timeframe bar that closed at ``time``
    signal: Signal | None = None  # the explained signal of that close
    atr: Decimal | None = None  # the step timeframe's ATR after it
    last_close: Decimal | None = None


class SymbolStepper:
    """Feeds one symbol's base bars into its ``SymbolAnalysis`` up to each step time.

    ``advance(T)`` consumes every base bar closed by ``T`` and reports the step-timeframe bar
    that closed exactly at ``T``, with the signal and ATR after it.
    Live (``SymbolActor``) and backtest drivers both step symbols through this class.

    ``bars`` is polled again whenever no bar is pending, so a live source (``LiveBars``) may
    run dry and yield again later; a file's iterator stays ended once it ends.
    """

    def __init__(
        self, analysis: SymbolAnalysis, bars: Iterator[MarketBar], step: Timeframe
    ) -> None:
        self.analysis = analysis
        self.step = step
        self._bars = bars
        self._next: MarketBar | None = next(bars, None)

    def _peek(self) -> MarketBar | None:
        if self._next is None:
            self._next = next(self._bars, None)
        return self._next

    @property
    def exhausted(self) -> bool:
        """No bar pending: the end of a file; for a live source, until its next bar arrives."""
        return self._peek() is None

    @property
    def next_close(self) -> datetime | None:
        """Close time of the next unconsumed bar (None while there is none)."""
        bar = self._peek()
        return None if bar is None else bar.close_time

    def advance(self, until: datetime) -> SymbolStep:
        consumed: list[MarketBar] = []
        step_bar: MarketBar | None = None
        analysis = self.analysis
        while (bar := self._peek()) is not None and bar.close_time <= until:
            self._next = None
            for snapshot in analysis.on_bar(bar):
                closed_at = snapshot.bar_time + self.step.duration
                if snapshot.timeframe is self.step and closed_at == until:
                    step_bar = analysis.last_bar(self.step)
            consumed.append(bar)
        last_close = consumed[-1].close if consumed else None
        signal: Signal | None = None
        atr: Decimal | None = None
        if step_bar is not None:
            signal = analysis.signal(created_at=until)
            latest = analysis.snapshot(self.step)
            value = latest.values.get("atr_14") if latest is not None else None
            atr = Decimal(repr(value)) if value is not None else None
        return SymbolStep(
            analysis.symbol, until, tuple(consumed), step_bar, signal, atr, last_close
        )


@dataclass(frozen=True)
class OrderUpdate:
    state: OrderState
    fills: tuple[Fill, ...] = ()


class DeskState(BaseModel):
    """Everything the desk remembers between steps; ``model_dump_json`` checkpoints it."""

    model_config = ConfigDict(extra="forbid")

    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    closes: dict[str, list[float]] = Field(default_factory=dict)
    open_orders: list[str] = Field(default_factory=list)
    booked_fills: list[tuple[str, str]] = Field(default_factory=list)


class TradingDesk:
    def __init__(
        self,
        settings: LifecycleSettings,
        instruments: Mapping[str, InstrumentSpec],
        max_symbol_exposure_pct: float,
        correlation_window_bars: int,
        state: DeskState | None = None,
    ) -> None:
        self.state = state or DeskState()
        self.lifecycle = PositionLifecycle(settings, dict(instruments), self.state.lifecycle)
        self._symbol_cap = Decimal(str(max_symbol_exposure_pct)) / 100
        self._window = correlation_window_bars + 1
        self._booked = set(self.state.booked_fills)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        instruments: Mapping[str, InstrumentSpec] = BINANCE_SPOT,
        lifecycle: LifecycleSettings | None = None,
        state: DeskState | None = None,
    ) -> TradingDesk:
        """The desk every driver builds: the lifecycle and caps from one config."""
        return cls(
            lifecycle or LifecycleSettings.from_settings(settings),
            instruments,
            settings.risk.max_symbol_exposure_pct,
            settings.risk.correlation_window_bars,
            state,
        )

    def reconfigure(self, settings: Settings, lifecycle: LifecycleSettings | None = None) -> None:
        """Hot reload between steps: stops, targets and the symbol cap for the next plan; open
        trades keep their state (an open stop moves under the new multiples from its next bar)."""
        self.lifecycle.settings = lifecycle or LifecycleSettings.from_settings(settings)
        self._symbol_cap = Decimal(str(settings.risk.max_symbol_exposure_pct)) / 100
        self._window = settings.risk.correlation_window_bars + 1

    # ------------------------------------------------------------------ market

    def marks(self, steps: Sequence[SymbolStep]) -> dict[str, Mark]:
        """The latest close of every symbol that has one, stamped with the step time."""
        return {s.symbol: Mark(s.last_close, s.time) for s in steps if s.last_close is not None}

    def closes(self, steps: Sequence[SymbolStep]) -> dict[str, list[float]]:
        """Step-timeframe close history per symbol (for risk's correlation table)."""
        for step in steps:
            if step.step_bar is not None:
                self.record_closes(step.symbol, (float(step.step_bar.close),))
        return self.state.closes

    def record_closes(self, symbol: str, closes: Sequence[float] | FloatArray) -> None:
        """Append step closes to a symbol's history (a backtest catching up on idle steps);
        only the last window of them is kept, so only those are read."""
        history = self.state.closes.setdefault(symbol, [])
        history.extend(float(close) for close in closes[-self._window :])
        del history[: -self._window]

    # ------------------------------------------------------------------ decisions

    def plan(self, steps: Sequence[SymbolStep], equity: Decimal) -> list[RiskRequest]:
        """Stop/target exits of open trades first, then signal entries and reversals."""
        requests: list[RiskRequest] = []
        for step in steps:
            if step.step_bar is None:
                continue
            atr = step.atr or Decimal(0)
            requests.extend(RiskRequest(i) for i in self.lifecycle.on_bar(step.step_bar, atr))
            if step.signal is None or step.last_close is None:
                continue
            max_quantity = equity * self._symbol_cap / step.last_close if equity > 0 else Decimal(0)
            entries, exits = self.lifecycle.on_signal(
                step.signal, atr, step.last_close, max_quantity
            )
            requests.extend(RiskRequest(i) for i in exits)
            requests.extend(
                RiskRequest(e.intent, stop_price=e.stop_price, confidence=e.confidence)
                for e in entries
            )
        return requests

    def approve(
        self, requests: Sequence[RiskRequest], decisions: Sequence[OrderDecision]
    ) -> list[OrderIntent]:
        """Orders for what risk let through, at the quantity it approved."""
        orders = []
        for request, decision in zip(requests, decisions, strict=True):
            self.lifecycle.on_decision(decision)
            if decision.outcome is DecisionOutcome.DENIED:
                continue
            intent = request.intent
            if decision.approved_quantity != intent.quantity:
                intent = intent.model_copy(update={"quantity": decision.approved_quantity})
            orders.append(intent)
            self.state.open_orders.append(intent.client_order_id)
        return orders

    def track(self, intents: Sequence[OrderIntent]) -> None:
        """Orders sent outside ``approve`` (risk's flatten exits) that updates must follow."""
        self.state.open_orders.extend(i.client_order_id for i in intents)

    def follow(self, client_order_id: str, booked: Sequence[Fill]) -> None:
        """An order placed by hand (the HTTP API) whose ``booked`` fills are already with risk:
        later fills reach risk through ``on_updates`` like the desk's own."""
        if client_order_id not in self.state.open_orders:
            self.state.open_orders.append(client_order_id)
        for fill in booked:
            key = (fill.client_order_id, fill.trade_id)
            if key not in self._booked:
                self._booked.add(key)
                self.state.booked_fills.append(key)

    # ------------------------------------------------------------------ execution

    def on_updates(self, updates: Sequence[OrderUpdate]) -> tuple[list[Fill], list[OrderState]]:
        """Book new fills (each once) and ended orders; returns them for risk and the journal."""
        fills: list[Fill] = []
        ended: list[OrderState] = []
        for update in updates:
            for fill in update.fills:
                key = (fill.client_order_id, fill.trade_id)
                if key in self._booked:
                    continue
                self._booked.add(key)
                self.state.booked_fills.append(key)
                self.lifecycle.on_fill(fill)
                fills.append(fill)
            if update.state.status.is_terminal:
                self.lifecycle.on_order_end(update.state)
                ended.append(update.state)
        done = {s.client_order_id for s in ended}
        self.state.open_orders = [i for i in self.state.open_orders if i not in done]
        return fills, ended

    def open_order_ids(self) -> list[str]:
        return list(self.state.open_orders)
