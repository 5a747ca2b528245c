"""The RiskActor's gate: idempotent by id, and resumable from its checkpoint."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tests.risk.scenario import T0, fill, intent
from trading.contracts import DecisionOutcome, DenialReason, Side
from trading.risk import Mark, RiskPolicy, TradingState
from trading.risk.gate import RiskGate, RiskRequest

POLICY = RiskPolicy()


def _gate(tmp_path: Path) -> RiskGate:
    gate = RiskGate.restore(POLICY, tmp_path / "risk.json", Decimal("100000"))
    gate.update_market(T0, {"BTC/USDT": Mark(Decimal("60000"), T0)})
    return gate


def _buy(quantity: str = "0.1") -> RiskRequest:
    return RiskRequest(
        intent(("BTC/USDT"), Side.BUY, quantity), stop_price=Decimal("59000"), confidence=1.0
    )


def test_a_retried_decision_is_answered_from_the_memo(tmp_path: Path) -> None:
    gate = _gate(tmp_path)
    request = _buy()
    first = gate.decide([request])
    again = gate.decide([request, request])
    assert first[0].outcome is DecisionOutcome.APPROVED
    assert again == [first[0], first[0]]
    assert len(gate.portfolio.pending) == 1, "the retry did not reserve exposure twice"


def test_a_fill_reported_twice_is_booked_once(tmp_path: Path) -> None:
    gate = _gate(tmp_path)
    request = _buy()
    gate.decide([request])
    execution = fill(
        "BTC/USDT", Side.BUY, "0.1", "60000", client_order_id=request.intent.client_order_id
    )
    assert gate.on_fills([execution, execution]) == 1
    assert gate.portfolio.positions["BTC/USDT"].quantity == Decimal("0.1")
    assert gate.portfolio.pending == {}


def test_restart_from_checkpoint_keeps_book_memo_and_safe_mode(tmp_path: Path) -> None:
    gate = _gate(tmp_path)
    request = _buy()
    decision = gate.decide([request])[0]
    execution = fill(
        "BTC/USDT", Side.BUY, "0.1", "60000", client_order_id=request.intent.client_order_id
    )
    gate.on_fills([execution])
    crash = T0 + timedelta(hours=1)
    # BTC -92%: equity 100,000 -> ~94,480, a 5.5% drawdown; then a second leg trips 8%.
    gate.update_market(crash, {"BTC/USDT": Mark(Decimal("5000"), crash)})
    gate.portfolio.balance -= Decimal("3000")
    gate.update_market(crash, {"BTC/USDT": Mark(Decimal("5000"), crash)})
    assert gate.portfolio.drawdown.state is TradingState.REDUCING
    gate.checkpoint(tmp_path / "risk.json")

    restored = RiskGate.restore(POLICY, tmp_path / "risk.json", Decimal("1"))
    restored.update_market(crash, {"BTC/USDT": Mark(Decimal("5000"), crash)})
    assert restored.portfolio == gate.portfolio
    assert restored.decide([request]) == [decision]
    assert restored.on_fills([execution]) == 0
    denied = restored.decide([_buy("0.01")])[0]
    assert denied.reason is DenialReason.SAFE_MODE
    summary = restored.summary()
    assert summary.state is TradingState.REDUCING
    assert summary.exposure_by_symbol == {"BTC/USDT": Decimal("500.0")}
