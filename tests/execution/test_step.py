"""``trade_step``: the one step sequence every driver runs, and ``run_now`` for local ports."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import pytest

from tests.execution.test_desk import T0, _approved, _desk, _step
from trading.contracts import (
    Fill,
    OrderDecision,
    OrderIntent,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
)
from trading.execution.desk import OrderUpdate, SymbolStep
from trading.execution.gateway import SubmitOutcome
from trading.execution.step import StepSuspendedError, run_now, trade_step
from trading.risk.drawdown import TradingState
from trading.risk.engine import Mark
from trading.risk.gate import RiskRequest, RiskSummary

EQUITY = Decimal("100000")


def _flatten() -> OrderIntent:
    return OrderIntent(
        client_order_id="rt-flatten-btc",
        strategy="risk-flatten",
        symbol="BTC/USDT",
        side=Side.SELL,
        order_type=OrderType.MARKET,
        quantity=Decimal("0.5"),
        reduce_only=True,
        signal_time=T0,
        created_at=T0,
    )


class ScriptedRisk:
    """A risk port that approves everything, trips a flatten, and records the calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.released: list[str] = []

    async def update_market(
        self, now: datetime, marks: Mapping[str, Mark], closes: Mapping[str, Sequence[float]]
    ) -> Sequence[OrderIntent]:
        self.calls.append("update_market")
        return (_flatten(),)

    async def summary(self) -> RiskSummary:
        self.calls.append("summary")
        return RiskSummary(
            TradingState.REDUCING, None, EQUITY, EQUITY, Decimal(0), {}, None, None, 0, 0
        )

    async def decide(self, requests: Sequence[RiskRequest]) -> list[OrderDecision]:
        self.calls.append("decide")
        return [_approved(r) for r in requests]

    async def on_fills(self, fills: Sequence[Fill]) -> None:
        self.calls.append("on_fills")

    async def release(self, client_order_ids: Sequence[str]) -> None:
        self.calls.append("release")
        self.released.extend(client_order_ids)


class RejectingVenue:
    """Rejects every order it is sent, in the order it got them."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []

    async def execute(
        self, orders: Sequence[OrderIntent], steps: Sequence[SymbolStep]
    ) -> tuple[list[SubmitOutcome], list[OrderUpdate]]:
        self.sent.append([o.client_order_id for o in orders])
        return [], [
            OrderUpdate(
                OrderState(
                    client_order_id=o.client_order_id,
                    symbol=o.symbol,
                    side=o.side,
                    status=OrderStatus.REJECTED,
                    quantity=o.quantity,
                    filled_quantity=Decimal(0),
                    reject_reason="test",
                    updated_at=T0,
                )
            )
            for o in orders
        ]


def test_approved_orders_go_out_before_the_flatten_in_one_batch_and_ended_ones_are_released() -> (
    None
):
    desk, risk, venue = _desk(), ScriptedRisk(), RejectingVenue()
    result = run_now(trade_step(desk, risk, venue, [_step("2500", signal=True)], T0))
    [entry] = result.requests
    assert venue.sent == [[entry.intent.client_order_id, "rt-flatten-btc"]]
    assert [o.client_order_id for o in result.orders] == venue.sent[0]
    assert result.summary.equity == EQUITY
    assert risk.calls == ["update_market", "summary", "decide", "release"]
    assert risk.released == venue.sent[0]
    assert desk.open_order_ids() == []


def test_no_request_means_no_decide_call() -> None:
    desk, risk, venue = _desk(), ScriptedRisk(), RejectingVenue()
    result = run_now(trade_step(desk, risk, venue, [_step("2500", signal=False)], T0))
    assert result.requests == []
    assert result.decisions == []
    assert "decide" not in risk.calls
    assert venue.sent == [["rt-flatten-btc"]]


def test_run_now_refuses_a_coroutine_that_suspends() -> None:
    async def waits() -> int:
        await asyncio.sleep(0)
        return 1

    async def answers() -> int:
        return 7

    assert run_now(answers()) == 7
    with pytest.raises(StepSuspendedError):
        run_now(waits())
