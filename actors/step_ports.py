"""The session's actors as the ports of ``trade_step`` and ``place_manual_order``: one remote
call per method."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from ray.actor import ActorHandle

from trading.contracts import Fill, OrderDecision, OrderIntent
from trading.execution.desk import OrderUpdate, SymbolStep, TradingDesk
from trading.execution.gateway import SubmitOutcome
from trading.journal.recorder import Recordable
from trading.observability.tracing import carrier
from trading.risk.engine import Mark
from trading.risk.gate import RiskRequest, RiskSummary


class RemoteRisk:
    """The ``risk`` actor as a risk port."""

    def __init__(self, risk: ActorHandle[Any]) -> None:
        self.risk = risk

    async def update_market(
        self, now: datetime, marks: Mapping[str, Mark], closes: Mapping[str, Sequence[float]]
    ) -> Sequence[OrderIntent]:
        flatten: Sequence[OrderIntent] = await self.risk.update_market.remote(
            now, marks, closes, trace=carrier()
        )
        return flatten

    async def summary(self) -> RiskSummary:
        summary: RiskSummary = await self.risk.summary.remote()
        return summary

    async def decide(self, requests: Sequence[RiskRequest]) -> list[OrderDecision]:
        decisions: list[OrderDecision] = await self.risk.decide.remote(requests, trace=carrier())
        return decisions

    async def on_fills(self, fills: Sequence[Fill]) -> None:
        await self.risk.on_fills.remote(fills, trace=carrier())

    async def release(self, client_order_ids: Sequence[str]) -> None:
        await self.risk.release.remote(client_order_ids)


class RemoteVenue:
    """The ``execution`` actor as a venue port: sends the orders with the step's last closes as
    reference prices, then collects the update of every order the desk still follows."""

    def __init__(self, execution: ActorHandle[Any], desk: TradingDesk) -> None:
        self.execution = execution
        self.desk = desk

    async def execute(
        self, orders: Sequence[OrderIntent], steps: Sequence[SymbolStep]
    ) -> tuple[list[SubmitOutcome], list[OrderUpdate]]:
        prices = {s.symbol: s.last_close for s in steps if s.last_close is not None}
        outcomes: list[SubmitOutcome] = (
            await self.execution.submit.remote(orders, prices, trace=carrier()) if orders else []
        )
        open_ids = self.desk.open_order_ids()
        updates: list[OrderUpdate] = (
            await self.execution.updates.remote(open_ids) if open_ids else []
        )
        return outcomes, updates


class RemoteOrders:
    """The ``execution`` actor as a manual order's gateway port."""

    def __init__(self, execution: ActorHandle[Any]) -> None:
        self.execution = execution

    async def submit(
        self, intents: Sequence[OrderIntent], reference_prices: Mapping[str, Decimal] | None
    ) -> list[SubmitOutcome]:
        outcomes: list[SubmitOutcome] = await self.execution.submit.remote(
            intents, reference_prices
        )
        return outcomes

    async def updates(self, client_order_ids: Sequence[str]) -> list[OrderUpdate]:
        updates: list[OrderUpdate] = await self.execution.updates.remote(client_order_ids)
        return updates


class RemoteJournal:
    """The ``journal`` actor as a journal port."""

    def __init__(self, journal: ActorHandle[Any]) -> None:
        self.journal = journal

    async def record(self, events: Sequence[Recordable], ts: datetime | None) -> int:
        records: int = await self.journal.record.remote(events, ts)
        return records


class RemoteDesk:
    """The orchestrator as the desk that follows an open manual order."""

    def __init__(self, orchestrator: ActorHandle[Any]) -> None:
        self.orchestrator = orchestrator

    async def follow(self, client_order_id: str, booked: list[Fill]) -> None:
        await self.orchestrator.follow.remote(client_order_id, booked)
