"""One trading step, written once for the live orchestrator, the backtest and the journal rerun.

``trade_step`` runs the desk against a risk port and a venue port: risk marks the book, the
desk plans, risk decides, the desk approves, risk's flatten exits follow the approved orders,
the venue answers, and risk books the fills and releases the ended orders. The live driver's
ports are Ray actor handles; the backtest's and the rerun's answer at once, so ``run_now``
drives the same coroutine without an event loop.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from trading.contracts import Fill, OrderDecision, OrderIntent, OrderState
from trading.execution.desk import OrderUpdate, SymbolStep, TradingDesk
from trading.risk.engine import Mark
from trading.risk.gate import RiskGate, RiskRequest, RiskSummary

if TYPE_CHECKING:
    from trading.execution.gateway import SubmitOutcome

_T = TypeVar("_T")


class RiskPort(Protocol):
    """The risk gate as a step sees it (in-process or the risk actor)."""

    async def update_market(
        self, now: datetime, marks: Mapping[str, Mark], closes: Mapping[str, Sequence[float]]
    ) -> Sequence[OrderIntent]: ...

    async def summary(self) -> RiskSummary: ...

    async def decide(self, requests: Sequence[RiskRequest]) -> list[OrderDecision]: ...

    async def on_fills(self, fills: Sequence[Fill]) -> None: ...

    async def release(self, client_order_ids: Sequence[str]) -> None: ...


class VenuePort(Protocol):
    """Where a step's orders go: answers with the send outcomes and every open order's update.

    The one venue protocol of a step: the execution actor (``actors.step_ports.RemoteVenue``),
    a backtest venue (``trading.backtest.venues.BacktestVenuePort``) and the journal rerun
    (``trading.journal.rerun.JournaledVenue``)."""

    async def execute(
        self, orders: Sequence[OrderIntent], steps: Sequence[SymbolStep]
    ) -> tuple[list[SubmitOutcome], list[OrderUpdate]]: ...


@dataclass
class StepResult:
    """What one step produced, for the journal, the progress counters and backtest reports."""

    summary: RiskSummary
    requests: list[RiskRequest] = field(default_factory=list)
    decisions: list[OrderDecision] = field(default_factory=list)
    orders: list[OrderIntent] = field(default_factory=list)  # approved, then risk's flatten
    outcomes: list[SubmitOutcome] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    ended: list[OrderState] = field(default_factory=list)


async def trade_step(
    desk: TradingDesk,
    risk: RiskPort,
    venue: VenuePort,
    steps: Sequence[SymbolStep],
    clock: datetime,
) -> StepResult:
    """Mark, plan, decide, approve, send, book: the step every driver runs."""
    flatten = await risk.update_market(clock, desk.marks(steps), desk.closes(steps))
    summary = await risk.summary()
    requests = desk.plan(steps, summary.equity)
    decisions = await risk.decide(requests) if requests else []
    orders = desk.approve(requests, decisions)
    desk.track(flatten)
    orders += flatten
    outcomes, updates = await venue.execute(orders, steps)
    fills, ended = desk.on_updates(updates)
    if fills:
        await risk.on_fills(fills)
    if ended:
        await risk.release([s.client_order_id for s in ended])
    return StepResult(summary, requests, decisions, orders, outcomes, fills, ended)


class StepSuspendedError(RuntimeError):
    """A coroutine given to ``run_now`` waited on something: one of its ports is not local."""


def run_now(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """The result of a coroutine that never suspends, without an event loop (the backtest's
    hot loop: local ports answer at once)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: _T = done.value
        return result
    coroutine.close()
    raise StepSuspendedError("run_now: the coroutine suspended; drive it with an event loop")


class LocalRisk:
    """An in-process ``RiskGate`` as a risk port."""

    def __init__(self, gate: RiskGate) -> None:
        self.gate = gate

    async def update_market(
        self, now: datetime, marks: Mapping[str, Mark], closes: Mapping[str, Sequence[float]]
    ) -> Sequence[OrderIntent]:
        return self.gate.update_market(now, marks, closes)

    async def summary(self) -> RiskSummary:
        return self.gate.summary()

    async def decide(self, requests: Sequence[RiskRequest]) -> list[OrderDecision]:
        return self.gate.decide(requests)

    async def on_fills(self, fills: Sequence[Fill]) -> None:
        self.gate.on_fills(fills)

    async def release(self, client_order_ids: Sequence[str]) -> None:
        self.gate.release(client_order_ids)
