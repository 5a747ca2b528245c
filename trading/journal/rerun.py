"""Re-run the pipeline from a journal and check it decides exactly as it did.

The journal holds, step by step, the base bars every symbol saw, and the venue's answers
(order states, fills). Feeding the bars through fresh ``SymbolAnalysis`` objects, the same
``TradingDesk`` and ``RiskGate``, and the journaled fills where the venue answered, must
reproduce every risk decision: same client ids, outcomes, reasons, quantities and evidence.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel

from trading.config import Settings
from trading.contracts import Fill, MarketBar, OrderDecision, OrderState, OrderStatus, Signal
from trading.execution.desk import OrderUpdate, SymbolStepper, TradingDesk
from trading.journal.chain import read
from trading.risk.engine import RiskPolicy
from trading.risk.gate import RiskGate
from trading.risk.portfolio import Portfolio
from trading.signals.analysis import SymbolAnalysis


@dataclass
class Step:
    """One journaled step: its clock and the events recorded for it."""

    clock: datetime
    bars: dict[str, list[MarketBar]] = field(default_factory=lambda: defaultdict(list))
    signals: dict[str, Signal] = field(default_factory=dict)
    decisions: list[OrderDecision] = field(default_factory=list)
    states: list[OrderState] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)


@dataclass(frozen=True)
class RerunReport:
    steps: int
    decisions: int
    mismatches: tuple[tuple[OrderDecision | None, OrderDecision | None], ...]
    signals_recomputed: int
    signal_mismatches: tuple[tuple[Signal | None, Signal], ...]

    @property
    def identical(self) -> bool:
        return not self.mismatches and not self.signal_mismatches


_KINDS: dict[str, type[BaseModel]] = {
    "bar": MarketBar,
    "signal": Signal,
    "decision": OrderDecision,
    "order": OrderState,
    "fill": Fill,
}


def journal_steps(path: Path) -> Iterator[Step]:
    """The journal's events grouped by their step clock (the record time), in order."""
    current: Step | None = None
    for record in read(path):
        cls = _KINDS.get(record["kind"])
        if cls is None:
            continue
        clock = datetime.fromisoformat(record["ts"])
        if current is None or current.clock != clock:
            if current is not None:
                yield current
            current = Step(clock)
        event = cls.model_validate_json(json.dumps(record["payload"]))
        if isinstance(event, MarketBar):
            current.bars[event.symbol].append(event)
        elif isinstance(event, Signal):
            current.signals[event.symbol] = event
        elif isinstance(event, OrderDecision):
            current.decisions.append(event)
        elif isinstance(event, OrderState):
            current.states.append(event)
        elif isinstance(event, Fill):
            current.fills.append(event)
    if current is not None:
        yield current


def rerun(path: Path, settings: Settings, initial_balance: Decimal) -> RerunReport:
    """Decide every journaled step again and compare with what was journaled."""
    steps = list(journal_steps(path))
    queues: dict[str, list[MarketBar]] = defaultdict(list)
    for step in steps:
        for symbol, bars in step.bars.items():
            queues[symbol].extend(bars)
    finest = min(settings.timeframes, key=lambda tf: tf.seconds)
    steppers = {
        symbol: SymbolStepper(
            SymbolAnalysis(
                symbol, settings.base_timeframe, settings.timeframes, signals=settings.signals
            ),
            iter(bars),
            finest,
        )
        for symbol, bars in queues.items()
    }
    risk = RiskGate(RiskPolicy.from_settings(settings), Portfolio(balance=initial_balance))
    desk = TradingDesk.from_settings(settings)
    mismatches: list[tuple[OrderDecision | None, OrderDecision | None]] = []
    signal_mismatches: list[tuple[Signal | None, Signal]] = []
    decided = recomputed = 0
    for step in steps:
        symbol_steps = []
        for stepper in steppers.values():
            symbol_step = stepper.advance(step.clock)
            journaled = step.signals.get(symbol_step.symbol)
            if journaled is not None and "+" in journaled.analyst:
                # an LLM opinion was blended in: an outside input, like the venue's fills
                symbol_step = replace(symbol_step, signal=journaled)
            elif journaled is not None or symbol_step.signal is not None:
                recomputed += 1
                if symbol_step.signal != journaled and journaled is not None:
                    signal_mismatches.append((symbol_step.signal, journaled))
            symbol_steps.append(symbol_step)
        flatten = risk.update_market(
            step.clock, desk.marks(symbol_steps), desk.closes(symbol_steps)
        )
        requests = desk.plan(symbol_steps, risk.summary().equity)
        decisions = risk.decide(requests)
        decided += len(decisions)
        if decisions != step.decisions:
            mismatches.extend(_pairs(decisions, step.decisions))
        desk.approve(requests, decisions)
        desk.track(flatten)
        fills_by_order: dict[str, list[Fill]] = defaultdict(list)
        for fill in step.fills:
            fills_by_order[fill.client_order_id].append(fill)
        updates = [
            OrderUpdate(state, tuple(fills_by_order.pop(state.client_order_id, ())))
            for state in step.states
            if state.status.is_terminal
        ]
        updates += [OrderUpdate(_open(fills[0]), tuple(fills)) for fills in fills_by_order.values()]
        fills, ended = desk.on_updates(updates)
        risk.on_fills(fills)
        risk.release(s.client_order_id for s in ended)
    return RerunReport(len(steps), decided, tuple(mismatches), recomputed, tuple(signal_mismatches))


def _open(fill: Fill) -> OrderState:
    """A stand-in state for an order that got fills this step and has not ended."""
    return OrderState(
        client_order_id=fill.client_order_id,
        symbol=fill.symbol,
        side=fill.side,
        status=OrderStatus.PARTIALLY_FILLED,
        quantity=fill.quantity * 2,
        filled_quantity=fill.quantity,
        avg_fill_price=fill.price,
        updated_at=fill.ts,
    )


def _pairs(
    ours: list[OrderDecision], journaled: list[OrderDecision]
) -> list[tuple[OrderDecision | None, OrderDecision | None]]:
    width = max(len(ours), len(journaled))
    padded_ours = ours + [None] * (width - len(ours))
    padded_journal = journaled + [None] * (width - len(journaled))
    return [(a, b) for a, b in zip(padded_ours, padded_journal, strict=True) if a != b]
