"""A manual order, written once: risk decides, the gateway sends the approved quantity once,
fills reach risk, an ended order is released, and the decision, order and fills are journaled.

Idempotency is by ``client_order_id`` end to end: risk answers a repeated id with its first
decision, the gateway answers it with the order's state instead of sending again, and a denial
is journaled the first time only. The ports are Ray actor handles behind the API and local
objects in tests, as for ``trade_step``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from trading.contracts import DecisionOutcome, Fill, OrderDecision, OrderIntent, OrderState
from trading.execution.desk import OrderUpdate
from trading.execution.gateway import DuplicateOutcome, SendOutcome, SubmitOutcome
from trading.execution.step import RiskPort
from trading.journal.recorder import Recordable
from trading.risk.gate import RiskRequest

DENIALS_REMEMBERED = 10_000


class ClientIdConflictError(ValueError):
    """A client id already names a different order."""


class OrderPort(Protocol):
    """The execution gateway as a manual order sees it: send once, then read the update."""

    async def submit(
        self, intents: Sequence[OrderIntent], reference_prices: Mapping[str, Decimal] | None
    ) -> list[SubmitOutcome]: ...

    async def updates(self, client_order_ids: Sequence[str]) -> list[OrderUpdate]: ...


class JournalPort(Protocol):
    """The audit journal: one batch of events at one market time."""

    async def record(self, events: Sequence[Recordable], ts: datetime | None) -> int: ...


class DeskPort(Protocol):
    """The session's desk, which takes over an open manual order's later fills and its end."""

    async def follow(self, client_order_id: str, booked: list[Fill]) -> None: ...


@dataclass(frozen=True)
class ManualPorts:
    risk: RiskPort
    orders: OrderPort
    journal: JournalPort
    desk: DeskPort | None = None


class DenialLog:
    """The client ids whose denial is journaled already (the latest ``capacity``)."""

    def __init__(self, capacity: int = DENIALS_REMEMBERED) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first(self, client_order_id: str) -> bool:
        """True the first time an id is seen (then remembered)."""
        if client_order_id in self._ids:
            return False
        self._ids[client_order_id] = None
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True


@dataclass(frozen=True)
class ManualPlacement:
    """Risk's decision and the order as the gateway knows it; ``sent`` only for the call that
    sent it."""

    decision: OrderDecision
    sent: bool
    order: OrderState | None = None


async def place_manual_order(
    request: RiskRequest,
    reference_price: Decimal | None,
    ports: ManualPorts,
    denials: DenialLog,
) -> ManualPlacement:
    """Decide, send the approved quantity once, book what the first send produced."""
    intent = request.intent
    [decision] = await ports.risk.decide([request])
    _check_same_order(intent, decision)
    if decision.outcome is DecisionOutcome.DENIED:
        if denials.first(decision.client_order_id):
            await ports.journal.record([intent, decision], decision.decided_at)
        return ManualPlacement(decision, sent=False)
    prices = {intent.symbol: reference_price} if reference_price is not None else None
    [outcome] = await ports.orders.submit([_approved(intent, decision)], prices)
    _check_same_state(intent, outcome)
    state = outcome.state
    if not isinstance(outcome, DuplicateOutcome):
        state = await _book(decision, outcome.state, ports)
    return ManualPlacement(decision, isinstance(outcome, SendOutcome), state)


async def _book(decision: OrderDecision, sent: OrderState, ports: ManualPorts) -> OrderState:
    """First time at the gateway: fills to risk, an ended order's reservation released, the
    decision, order and fills journaled at the decision's market time, an open order followed."""
    client_order_id = decision.client_order_id
    updates = await ports.orders.updates([client_order_id])
    state, fills = (updates[0].state, updates[0].fills) if updates else (sent, ())
    if fills:
        await ports.risk.on_fills(fills)
    if state.status.is_terminal:
        await ports.risk.release([client_order_id])
    events: list[Recordable] = [decision, state, *fills]
    await ports.journal.record(events, decision.decided_at)
    if ports.desk is not None and not state.status.is_terminal:
        await ports.desk.follow(client_order_id, list(fills))
    return state


def _approved(intent: OrderIntent, decision: OrderDecision) -> OrderIntent:
    """The intent at the quantity risk approved."""
    if decision.approved_quantity == intent.quantity:
        return intent
    return intent.model_copy(update={"quantity": decision.approved_quantity})


def _check_same_order(intent: OrderIntent, decision: OrderDecision) -> None:
    if decision.requested_quantity != intent.quantity:
        raise ClientIdConflictError(
            f"client_order_id {intent.client_order_id} was decided for quantity "
            f"{decision.requested_quantity}, not {intent.quantity}"
        )


def _check_same_state(intent: OrderIntent, outcome: SubmitOutcome) -> None:
    state = outcome.state
    if (state.symbol, state.side) != (intent.symbol, intent.side):
        raise ClientIdConflictError(
            f"client_order_id {intent.client_order_id} names a {state.side} {state.symbol} "
            f"order, not {intent.side} {intent.symbol}"
        )
