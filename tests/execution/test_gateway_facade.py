"""The typed facade speaks the Rust gateway's JSON both ways and adds no logic of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from trading.contracts import Liquidity, OrderIntent, OrderStatus, OrderType, Side
from trading.execution.gateway import (
    Accepted,
    DuplicateOutcome,
    EventRefused,
    Filled,
    FsyncPolicy,
    NotReconciledError,
    OrderEventRecord,
    OrderGateway,
    RejectedOutcome,
    SendOutcome,
    VenueFill,
    VenueReport,
)
from trading.execution.rules import binance_spot_rules

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def intent(seq: int, quantity: str = "0.01", **fields: object) -> OrderIntent:
    return OrderIntent.for_signal(
        strategy="facade",
        symbol="BTC/USDT",
        signal_time=NOW,
        seq=seq,
        side=Side.BUY,
        order_type=fields.pop("order_type", OrderType.MARKET),
        quantity=Decimal(quantity),
        created_at=NOW,
        **fields,
    )


def fill(client_order_id: str, trade_id: str, quantity: str) -> OrderEventRecord:
    return OrderEventRecord(
        client_order_id=client_order_id,
        ts=NOW,
        event=Filled(
            trade_id=trade_id,
            quantity=Decimal(quantity),
            price=Decimal("60000"),
            fee=Decimal("0.1"),
            fee_asset="USDT",
            liquidity=Liquidity.TAKER,
        ),
    )


def test_duplicate_client_id_is_not_resent_after_restart(tmp_path: Path) -> None:
    first = OrderGateway(tmp_path)
    (sent,) = first.submit([intent(0)], NOW)
    assert isinstance(sent, SendOutcome)
    del first
    restarted = OrderGateway(tmp_path)
    assert restarted.recovery.awaiting_reconciliation == (sent.state.client_order_id,)
    with pytest.raises(NotReconciledError):
        restarted.submit([intent(0)], NOW)
    outcome = restarted.reconcile(
        sent.state.client_order_id,
        VenueReport(found=True, status=OrderStatus.ACCEPTED, venue_order_id="7", ts=NOW),
    )
    assert outcome.resend is None
    assert outcome.state.status is OrderStatus.ACCEPTED
    (again,) = restarted.submit([intent(0)], NOW)
    assert isinstance(again, DuplicateOutcome)


def test_order_the_venue_never_saw_is_resent_with_the_same_client_id(tmp_path: Path) -> None:
    (sent,) = OrderGateway(tmp_path).submit([intent(1)], NOW)
    restarted = OrderGateway(tmp_path)
    outcome = restarted.reconcile(sent.state.client_order_id, VenueReport(found=False, ts=NOW))
    assert outcome.resend is not None
    assert outcome.resend.client_order_id == sent.state.client_order_id


def test_partial_fills_accumulate_and_an_overfill_is_refused(tmp_path: Path) -> None:
    gateway = OrderGateway(tmp_path, FsyncPolicy.NEVER)
    (sent,) = gateway.submit([intent(2, "0.03")], NOW)
    cid = sent.state.client_order_id
    accepted = OrderEventRecord(client_order_id=cid, ts=NOW, event=Accepted(venue_order_id="1"))
    results = gateway.apply([accepted, fill(cid, "t1", "0.01"), fill(cid, "t1", "0.01")])
    assert all(not isinstance(r, EventRefused) for r in results)
    state = gateway.state(cid)
    assert state is not None
    assert state.status is OrderStatus.PARTIALLY_FILLED
    assert state.filled_quantity == Decimal("0.01")  # the repeated trade id counted once
    (refused,) = gateway.apply([fill(cid, "t2", "0.03")])
    assert isinstance(refused, EventRefused)
    assert "exceed" in refused.error
    gateway.apply([fill(cid, "t3", "0.02")])
    assert gateway.positions() == {"BTC/USDT": Decimal("0.03")}
    assert [f.trade_id for f in gateway.fills(cid)] == ["t1", "t3"]


def test_reconcile_feeds_venue_fills_into_the_order(tmp_path: Path) -> None:
    (sent,) = OrderGateway(tmp_path).submit([intent(3, "0.02")], NOW)
    cid = sent.state.client_order_id
    restarted = OrderGateway(tmp_path)
    venue_fill = VenueFill(
        trade_id="9",
        quantity=Decimal("0.02"),
        price=Decimal("61000.5"),
        fee=Decimal("1.22"),
        fee_asset="USDT",
        liquidity=Liquidity.MAKER,
        ts=NOW,
    )
    report = VenueReport(
        found=True, status=OrderStatus.FILLED, venue_order_id="3", fills=(venue_fill,), ts=NOW
    )
    state = restarted.reconcile(cid, report).state
    assert state.status is OrderStatus.FILLED
    assert state.avg_fill_price == Decimal("61000.5")


def test_rules_round_the_sent_intent_and_reject_dust_with_a_reason(tmp_path: Path) -> None:
    gateway = OrderGateway(tmp_path, FsyncPolicy.NEVER)
    gateway.set_rules(binance_spot_rules("BTC/USDT"))
    limit = intent(4, "0.123456789", order_type=OrderType.LIMIT, limit_price=Decimal("60000.019"))
    sent, dust = gateway.submit([limit, intent(5, "0.000001")], NOW)
    assert isinstance(sent, SendOutcome)
    assert sent.intent.quantity == Decimal("0.12345")
    assert sent.intent.limit_price == Decimal("60000.01")
    assert isinstance(dust, RejectedOutcome)
    assert dust.state.reject_reason is not None
    assert "below the minimum" in dust.state.reject_reason
