"""``place_manual_order`` over in-process ports: the real Rust gateway, a scripted risk gate,
a venue that fills on send, and a list for a journal."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from trading.contracts import (
    DecisionOutcome,
    DenialReason,
    Fill,
    Liquidity,
    OrderDecision,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
)
from trading.execution.desk import OrderUpdate
from trading.execution.gateway import (
    Accepted,
    Filled,
    OrderEventRecord,
    OrderGateway,
    SendOutcome,
    SubmitOutcome,
)
from trading.execution.manual import (
    ClientIdConflictError,
    DenialLog,
    ManualPorts,
    place_manual_order,
)
from trading.execution.rules import binance_spot_rules
from trading.journal.recorder import Recordable
from trading.risk.drawdown import TradingState
from trading.risk.engine import Mark
from trading.risk.gate import RiskRequest, RiskSummary

NOW = datetime(2025, 10, 1, 0, 15, tzinfo=UTC)
PRICE = Decimal("60000")


def _request(client_order_id: str, quantity: str, side: Side = Side.BUY) -> RiskRequest:
    intent = OrderIntent(
        client_order_id=client_order_id,
        strategy="manual",
        symbol="BTC/USDT",
        side=side,
        order_type=OrderType.MARKET,
        quantity=Decimal(quantity),
        signal_time=NOW,
        created_at=NOW,
    )
    return RiskRequest(intent, stop_price=PRICE * Decimal("0.98"))


class ScriptedRisk:
    """Approves up to ``cap`` (resizing above it, denying at 0); a repeated id gets its first
    decision, as the risk gate answers; records the fills and releases it is given."""

    def __init__(self, cap: Decimal) -> None:
        self.cap = cap
        self.decided: dict[str, OrderDecision] = {}
        self.fills: list[Fill] = []
        self.released: list[str] = []

    async def update_market(
        self, now: datetime, marks: Mapping[str, Mark], closes: Mapping[str, Sequence[float]]
    ) -> Sequence[OrderIntent]:
        return ()

    async def summary(self) -> RiskSummary:
        equity = Decimal("100000")
        return RiskSummary(
            TradingState.ACTIVE, None, equity, equity, Decimal(0), {}, None, None, 0, 0
        )

    async def decide(self, requests: Sequence[RiskRequest]) -> list[OrderDecision]:
        return [self._decide(r.intent) for r in requests]

    def _decide(self, intent: OrderIntent) -> OrderDecision:
        if intent.client_order_id not in self.decided:
            approved = min(intent.quantity, self.cap)
            outcome, reason = DecisionOutcome.APPROVED, None
            if approved < intent.quantity:
                outcome, reason = DecisionOutcome.RESIZED, DenialReason.EXPOSURE_CAP
            if approved == 0:
                outcome = DecisionOutcome.DENIED
            self.decided[intent.client_order_id] = OrderDecision(
                client_order_id=intent.client_order_id,
                outcome=outcome,
                reason=reason,
                requested_quantity=intent.quantity,
                approved_quantity=approved,
                decided_at=NOW,
            )
        return self.decided[intent.client_order_id]

    async def on_fills(self, fills: Sequence[Fill]) -> None:
        self.fills += fills

    async def release(self, client_order_ids: Sequence[str]) -> None:
        self.released += client_order_ids


class FillingVenue:
    """The real gateway in front of a venue that accepts each send and (``fills``) fills it
    whole at the reference price."""

    def __init__(self, wal_dir: Path, fills: bool = True) -> None:
        self.gateway = OrderGateway(wal_dir)
        self.gateway.set_rules(binance_spot_rules("BTC/USDT"))
        self.fills = fills
        self.sent: list[OrderIntent] = []

    async def submit(
        self, intents: Sequence[OrderIntent], reference_prices: Mapping[str, Decimal] | None
    ) -> list[SubmitOutcome]:
        outcomes = self.gateway.submit(intents, NOW, reference_prices)
        for outcome in outcomes:
            if isinstance(outcome, SendOutcome):
                self.sent.append(outcome.intent)
                self.gateway.apply(self._answer(outcome.intent))
        return outcomes

    def _answer(self, intent: OrderIntent) -> list[OrderEventRecord]:
        client_order_id = intent.client_order_id
        events = [
            OrderEventRecord(
                client_order_id=client_order_id, ts=NOW, event=Accepted(venue_order_id="1")
            )
        ]
        if self.fills:
            filled = Filled(
                trade_id="t-" + client_order_id,
                quantity=intent.quantity,
                price=PRICE,
                fee=Decimal("0.1"),
                fee_asset="USDT",
                liquidity=Liquidity.TAKER,
            )
            events.append(OrderEventRecord(client_order_id=client_order_id, ts=NOW, event=filled))
        return events

    async def updates(self, client_order_ids: Sequence[str]) -> list[OrderUpdate]:
        return [
            OrderUpdate(state, tuple(self.gateway.fills(i)))
            for i in client_order_ids
            if (state := self.gateway.state(i)) is not None
        ]


class ListJournal:
    def __init__(self) -> None:
        self.batches: list[list[Recordable]] = []

    async def record(self, events: Sequence[Recordable], ts: datetime | None) -> int:
        self.batches.append(list(events))
        return sum(len(b) for b in self.batches)


class FollowingDesk:
    def __init__(self) -> None:
        self.followed: list[tuple[str, list[Fill]]] = []

    async def follow(self, client_order_id: str, booked: list[Fill]) -> None:
        self.followed.append((client_order_id, booked))


class Session:
    """The four ports and the denial log of one API replica."""

    def __init__(self, tmp_path: Path, cap: str = "1", fills: bool = True) -> None:
        self.risk = ScriptedRisk(Decimal(cap))
        self.venue = FillingVenue(tmp_path, fills)
        self.journal = ListJournal()
        self.desk = FollowingDesk()
        self.ports = ManualPorts(self.risk, self.venue, self.journal, self.desk)
        self.denials = DenialLog()

    def place(self, request: RiskRequest) -> tuple[OrderDecision, bool, OrderStatus | None]:
        placed = asyncio.run(place_manual_order(request, PRICE, self.ports, self.denials))
        status = placed.order.status if placed.order is not None else None
        return placed.decision, placed.sent, status


def test_denial_is_journaled_once_and_nothing_is_sent(tmp_path: Path) -> None:
    session = Session(tmp_path, cap="0")
    answers = [session.place(_request("rt-m-deny", "0.01")) for _ in range(3)]
    assert [(d.outcome, sent, status) for d, sent, status in answers] == [
        (DecisionOutcome.DENIED, False, None)
    ] * 3
    assert [[type(e).__name__ for e in b] for b in session.journal.batches] == [
        ["OrderIntent", "OrderDecision"]
    ]
    assert session.venue.sent == []


def test_resized_order_sends_the_approved_quantity_and_books_its_fill(tmp_path: Path) -> None:
    """Risk cuts 0.01 BTC to 0.004: the venue gets 0.004, risk books the 0.004 fill and
    releases the filled order, and decision, order and fill are journaled together."""
    session = Session(tmp_path, cap="0.004")
    decision, sent, status = session.place(_request("rt-m-resize", "0.01"))
    assert (decision.outcome, sent, status) == (DecisionOutcome.RESIZED, True, OrderStatus.FILLED)
    assert [i.quantity for i in session.venue.sent] == [Decimal("0.004")]
    assert [f.quantity for f in session.risk.fills] == [Decimal("0.004")]
    assert session.risk.released == ["rt-m-resize"]
    [batch] = session.journal.batches
    assert [type(e).__name__ for e in batch] == ["OrderDecision", "OrderState", "Fill"]
    assert session.desk.followed == []


def test_duplicate_client_id_is_not_resent_nor_booked_twice(tmp_path: Path) -> None:
    session = Session(tmp_path)
    answers = [session.place(_request("rt-m-twice", "0.001")) for _ in range(3)]
    assert [(sent, status) for _, sent, status in answers] == [
        (True, OrderStatus.FILLED),
        (False, OrderStatus.FILLED),
        (False, OrderStatus.FILLED),
    ]
    assert len(session.venue.sent) == 1
    assert len(session.risk.fills) == 1
    assert session.risk.released == ["rt-m-twice"]
    assert len(session.journal.batches) == 1


def test_open_order_is_followed_by_the_desk_not_released(tmp_path: Path) -> None:
    session = Session(tmp_path, fills=False)
    _, sent, status = session.place(_request("rt-m-open", "0.001"))
    assert (sent, status) == (True, OrderStatus.ACCEPTED)
    assert session.risk.released == []
    assert session.risk.fills == []
    assert session.desk.followed == [("rt-m-open", [])]


def test_client_id_reused_for_another_order_is_a_conflict(tmp_path: Path) -> None:
    session = Session(tmp_path)
    session.place(_request("rt-m-one", "0.001"))
    with pytest.raises(ClientIdConflictError, match="quantity"):
        session.place(_request("rt-m-one", "0.002"))
    with pytest.raises(ClientIdConflictError, match="SELL"):
        session.place(_request("rt-m-one", "0.001", side=Side.SELL))
    assert len(session.venue.sent) == 1
