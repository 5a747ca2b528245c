"""Manual orders: risk decides, execution sends the approved quantity once, fills reach risk,
and the decision, order and fills are journaled once.

Idempotency is by ``client_order_id`` end to end: risk answers a repeated id with its first
decision and the gateway answers it with the order's state instead of sending again.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

from ray.actor import ActorHandle

from actors.orchestrator import Handles
from serve.schemas import ManualOrder, OrderResult
from trading.contracts import DecisionOutcome, OrderDecision, OrderIntent, OrderState
from trading.execution.desk import OrderUpdate
from trading.execution.gateway import DuplicateOutcome, SendOutcome, SubmitOutcome
from trading.journal.recorder import Recordable
from trading.risk.gate import RiskRequest

DENIALS_REMEMBERED = 10_000


class ClientIdConflictError(ValueError):
    """A client id already names a different order."""


class ManualOrders:
    def __init__(self, handles: Handles, orchestrator: ActorHandle[Any] | None = None) -> None:
        self._handles = handles
        self._orchestrator = orchestrator
        self._journaled_denials: OrderedDict[str, None] = OrderedDict()

    async def place(
        self, order: ManualOrder, intent: OrderIntent, reference_price: Decimal | None
    ) -> OrderResult:
        h = self._handles
        request = RiskRequest(
            intent,
            stop_price=order.stop_loss_price,
            confidence=order.confidence,
            leverage=order.leverage,
        )
        [decision] = await h.risk.decide.remote([request])
        _check_same_order(intent, decision)
        if decision.outcome is DecisionOutcome.DENIED:
            if self._first_denial(decision.client_order_id):
                await h.journal.record.remote([decision], decision.decided_at)
            return OrderResult(
                client_order_id=intent.client_order_id, decision=decision, sent=False
            )
        approved = intent
        if decision.approved_quantity != intent.quantity:
            approved = intent.model_copy(update={"quantity": decision.approved_quantity})
        prices = {intent.symbol: reference_price} if reference_price is not None else None
        [outcome] = await h.execution.submit.remote([approved], prices)
        _check_same_state(intent, outcome)
        state = outcome.state
        if not isinstance(outcome, DuplicateOutcome):
            state = await self._book(decision, outcome)
        return OrderResult(
            client_order_id=intent.client_order_id,
            decision=decision,
            sent=isinstance(outcome, SendOutcome),
            order=state,
        )

    async def _book(self, decision: OrderDecision, outcome: SubmitOutcome) -> OrderState:
        """First time at the gateway: fills to risk, an ended order's reservation released,
        and the decision, order and fills journaled at the decision's market time."""
        h = self._handles
        client_order_id = decision.client_order_id
        updates: list[OrderUpdate] = await h.execution.updates.remote([client_order_id])
        state, fills = (updates[0].state, updates[0].fills) if updates else (outcome.state, ())
        if fills:
            await h.risk.on_fills.remote(fills)
        if state.status.is_terminal:
            await h.risk.release.remote([client_order_id])
        events: list[Recordable] = [decision, state, *fills]
        await h.journal.record.remote(events, decision.decided_at)
        if self._orchestrator is not None and not state.status.is_terminal:
            await self._orchestrator.follow.remote(client_order_id, list(fills))
        return state

    def _first_denial(self, client_order_id: str) -> bool:
        if client_order_id in self._journaled_denials:
            return False
        self._journaled_denials[client_order_id] = None
        while len(self._journaled_denials) > DENIALS_REMEMBERED:
            self._journaled_denials.popitem(last=False)
        return True


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
