"""Re-run the pipeline from a journal and check it decides exactly as it did.

The journal holds, step by step, the base bars every symbol saw, and the venue's answers
(order states, fills). Feeding the bars through fresh ``SymbolAnalysis`` objects, the same
``TradingDesk`` and ``RiskGate``, and the journaled fills where the venue answered, must
reproduce every risk decision: same client ids, outcomes, reasons, quantities and evidence.
Each applied hot reload (a ``config`` record) is laid over the settings between the same two
steps as in the session, on the same objects: signal weights, risk limits, the desk's stops.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from trading.config import Settings
from trading.contracts import (
    Fill,
    MarketBar,
    OrderDecision,
    OrderIntent,
    OrderState,
    OrderStatus,
    Signal,
)
from trading.execution.desk import OrderUpdate, SymbolStep, SymbolStepper, TradingDesk
from trading.execution.gateway import SubmitOutcome
from trading.execution.step import LocalRisk, run_now, trade_step
from trading.journal.chain import read
from trading.journal.recorder import ConfigChange
from trading.reload import config_changes
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
    reloads: list[ConfigChange] = field(default_factory=list)  # applied before this step


@dataclass(frozen=True)
class RerunReport:
    steps: int
    decisions: int
    mismatches: tuple[tuple[OrderDecision | None, OrderDecision | None], ...]
    signals_recomputed: int
    signal_mismatches: tuple[tuple[Signal | None, Signal], ...]
    reloads: int = 0  # applied hot reloads re-applied

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
    """The journal's events grouped by their step clock (the record time), in order; each
    applied reload goes with the next step (it landed after the step it is stamped with)."""
    current: Step | None = None
    reloads: list[ConfigChange] = []
    for record in read(path):
        if record["kind"] == "config":
            change = _config_change(record["payload"])
            if change.applied and change.changes:
                reloads.append(change)
            continue
        cls = _KINDS.get(record["kind"])
        if cls is None:
            continue
        clock = datetime.fromisoformat(record["ts"])
        if current is None or current.clock != clock:
            if current is not None:
                yield current
            current = Step(clock, reloads=reloads)
            reloads = []
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


class ReloadMismatchError(ValueError):
    """A journaled reload does not follow from the settings the rerun runs with: they are not
    the session's (the journaled old value of ``key`` differs from the running one)."""

    def __init__(self, key: str, journaled: Any, running: Any) -> None:
        super().__init__(
            f"journaled reload of {key}: {journaled!r}, the rerun's settings give {running!r}"
        )
        self.key = key


def _config_change(payload: dict[str, Any]) -> ConfigChange:
    return ConfigChange(
        datetime.fromisoformat(payload["ts"]),
        payload["source"],
        payload["digest"],
        payload["changes"],
        payload["applied"],
        payload["error"],
    )


def reloaded(settings: Settings, change: ConfigChange) -> Settings:
    """``settings`` with a journaled reload's new values at its dotted keys; the change must be
    exactly what the session saw (its old values are ``settings``' values)."""
    document = settings.model_dump(mode="json")
    for key, values in change.changes.items():
        *parents, leaf = key.split(".")
        node = document
        for name in parents:
            node = node.setdefault(name, {})
        if values["new"] is None:
            node.pop(leaf, None)
        else:
            node[leaf] = values["new"]
    after = Settings.model_validate(document)
    seen = config_changes(settings, after)
    for key in dict.fromkeys([*change.changes, *seen]):
        if seen.get(key) != change.changes.get(key):
            journaled, running = change.changes.get(key), seen.get(key)
            raise ReloadMismatchError(key, journaled, running)
    return after


def rerun(path: Path, settings: Settings, initial_balance: Decimal) -> RerunReport:
    """Decide every journaled step again and compare with what was journaled; ``settings`` are
    the session's at its start (each applied reload is laid over them where it landed)."""
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
    decided = recomputed = reloads = 0
    for step in steps:
        for change in step.reloads:
            settings = reloaded(settings, change)
            for stepper in steppers.values():
                stepper.analysis.apply_signal_settings(settings.signals)
            risk.policy = RiskPolicy.from_settings(settings)
            desk.reconfigure(settings)
            reloads += 1
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
        done = run_now(
            trade_step(desk, LocalRisk(risk), JournaledVenue(step), symbol_steps, step.clock)
        )
        decided += len(done.decisions)
        if done.decisions != step.decisions:
            mismatches.extend(_pairs(done.decisions, step.decisions))
    return RerunReport(
        len(steps), decided, tuple(mismatches), recomputed, tuple(signal_mismatches), reloads
    )


class JournaledVenue:
    """The venue's journaled answers of one step as a venue port: the orders' final states
    and the fills (an order with fills and no final state is still open)."""

    def __init__(self, step: Step) -> None:
        self.step = step

    async def execute(
        self, orders: Sequence[OrderIntent], steps: Sequence[SymbolStep]
    ) -> tuple[list[SubmitOutcome], list[OrderUpdate]]:
        fills_by_order: dict[str, list[Fill]] = defaultdict(list)
        for fill in self.step.fills:
            fills_by_order[fill.client_order_id].append(fill)
        updates = [
            OrderUpdate(state, tuple(fills_by_order.pop(state.client_order_id, ())))
            for state in self.step.states
            if state.status.is_terminal
        ]
        updates += [OrderUpdate(_open(fills[0]), tuple(fills)) for fills in fills_by_order.values()]
        return [], updates


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
