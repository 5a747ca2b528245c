"""Live performance against hand computations on a known sequence of fills and equity marks."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading.backtest.trades import EntryNote
from trading.contracts import Fill, Liquidity, Side
from trading.observability.performance import LivePerformance, pnl

T0 = datetime(2025, 10, 1, tzinfo=UTC)


def _fill(n: int, coid: str, symbol: str, side: Side, qty: str, price: str, fee: str) -> Fill:
    return Fill(
        trade_id=f"t{n}",
        client_order_id=coid,
        symbol=symbol,
        side=side,
        price=Decimal(price),
        quantity=Decimal(qty),
        fee=Decimal(fee),
        fee_asset="USDT",
        liquidity=Liquidity.TAKER,
        ts=T0 + timedelta(minutes=5 * n),
    )


BUY, SELL = Side.BUY, Side.SELL
FILLS = [
    _fill(1, "b1", "BTC/USDT", BUY, "1", "100", "0.1"),
    _fill(2, "b2", "BTC/USDT", BUY, "1", "110", "0.11"),  # average entry 105
    _fill(3, "b3", "BTC/USDT", SELL, "1", "120", "0.12"),  # realizes (120 - 105) x 1 = 15
    _fill(4, "e1", "ETH/USDT", BUY, "2", "50", "0.05"),
    _fill(5, "e1x", "ETH/USDT", SELL, "2", "45", "0.045"),  # -10, net -10.095: a loss
    _fill(6, "e2", "ETH/USDT", BUY, "1", "40", "0.04"),
    _fill(7, "e2x", "ETH/USDT", SELL, "1", "44", "0.044"),  # +4, net 3.916: a win
]
NOTES = {
    "e1": EntryNote(stop_price=45, confidence=0.6, patterns=("hammer",)),
    "e2": EntryNote(stop_price=38, confidence=0.7, patterns=("hammer", "doji")),
}


def test_pnl_realizes_at_average_cost_and_marks_the_rest_with_fees_and_funding() -> None:
    result = pnl(FILLS, {"BTC/USDT": Decimal("130")}, funding=Decimal("2"))
    assert result.realized == Decimal("15") + Decimal("-10") + Decimal("4")
    assert result.unrealized == Decimal("25")  # 1 BTC held at 105, marked 130
    assert result.fees == Decimal("0.509")
    assert result.net == Decimal("9") + Decimal("25") - Decimal("0.509") - Decimal("2")


def test_a_position_without_a_mark_counts_at_its_entry() -> None:
    assert pnl(FILLS[:2], {}, Decimal(0)).unrealized == 0


def test_win_rate_cost_per_trade_and_hit_rate_per_pattern() -> None:
    live = LivePerformance(Decimal("1000"), fills=list(FILLS), notes=dict(NOTES))
    live.funding, live.llm_spend_usd = Decimal("2"), Decimal("0.6")
    report = live.report({"BTC/USDT": Decimal("130")})
    assert report.closed_trades == 2
    assert report.win_rate == 0.5
    # three trades (two closed ETH, the open BTC one): fees 0.509 + funding 2 + LLM 0.6
    assert report.cost_per_trade_usd == pytest.approx((0.509 + 2 + 0.6) / 3)
    assert report.hit_rate_by_pattern == {"doji": 1.0, "hammer": 0.5}


def _marked(window: int, step: timedelta, equity: list[str]) -> LivePerformance:
    live = LivePerformance(Decimal(equity[0]), window=window)
    for i, value in enumerate(equity):
        live.mark_equity(T0 + i * step, Decimal(value))
    return live


def test_rolling_sharpe_sortino_and_mar_by_hand() -> None:
    """Daily returns +10 %, -10 %, +10 %: mean 1/30, sample sd sqrt(0.04/3), downside
    sqrt(0.01/3); 365 steps a year; drawdown 110 -> 99 is 10 %."""
    report = _marked(10, timedelta(days=1), ["100", "110", "99", "108.9"]).report({})
    mean, sd, downside = 1 / 30, math.sqrt(0.04 / 3), math.sqrt(0.01 / 3)
    assert report.sharpe == pytest.approx(mean / sd * math.sqrt(365))
    assert report.sortino == pytest.approx(mean / downside * math.sqrt(365))
    assert report.max_drawdown == pytest.approx(0.1)
    assert report.mar == pytest.approx((1.089 ** (365 / 3) - 1) / 0.1, rel=1e-9)


def test_the_window_forgets_older_marks() -> None:
    """Window 2: the returns -10 %, +10 % only; their mean is 0, so is Sharpe."""
    report = _marked(2, timedelta(days=1), ["100", "110", "99", "108.9"]).report({})
    assert report.sharpe == pytest.approx(0.0)
    assert report.max_drawdown == pytest.approx(0.1)
