"""Outcome tracking: rolling windows, no-trade keys, outliers; the sizing multiplier's bounds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trading.contracts import OrderIntent, OrderType, Side
from trading.learning.outcomes import DAY_MS, Outcome, OutcomeStats, OutcomeTracker
from trading.learning.sizing import performance_multiplier, scaled_request
from trading.risk.gate import RiskRequest


def _o(day: int, r: float, pattern: str = "PIN_BAR") -> Outcome:
    return Outcome(day * DAY_MS, pattern, "BULL", "15m", r, r * 100, 3_600_000)


def test_no_trades_reports_none_not_zero() -> None:
    stats = OutcomeTracker(30).stats(100 * DAY_MS, pattern="PIN_BAR")
    assert stats == OutcomeStats(0, None, None, None, None, None)


def test_window_drops_old_trades_and_outliers_are_clipped() -> None:
    tracker = OutcomeTracker(window_days=30, r_clip=5.0)
    tracker.record([_o(1, -1.0), _o(50, 1.0), _o(51, -1.0), _o(52, 1000.0)])
    stats = tracker.stats(60 * DAY_MS)
    assert stats.trades == 3, "the day-1 trade is outside the 30-day window"
    assert stats.expectancy_r == (1.0 - 1.0 + 5.0) / 3
    assert stats.avg_r == 1.0
    assert stats.win_rate == 2 / 3
    assert tracker.by_key(60 * DAY_MS)[("PIN_BAR", "BULL", "15m")].trades == 3


@given(st.lists(st.floats(-1e9, 1e9), max_size=40))
def test_multiplier_is_bounded_whatever_the_history(rs: list[float]) -> None:
    tracker = OutcomeTracker(90)
    tracker.record(_o(1, r) for r in rs)
    m = performance_multiplier(tracker.stats(2 * DAY_MS), floor=0.5, cap=1.25)
    assert 0.5 <= m <= 1.25


def test_scaled_request_keeps_confidence_in_range_and_leaves_exits_alone() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    intent = OrderIntent.for_signal(
        strategy="s",
        symbol="BTC/USDT",
        signal_time=at,
        seq=0,
        side=Side.BUY,
        order_type=OrderType.MARKET,
        quantity=Decimal(1),
        created_at=at,
    )
    entry = RiskRequest(intent, stop_price=Decimal(90), confidence=0.9)
    assert scaled_request(entry, 1.25).confidence == 1.0
    assert scaled_request(entry, 0.5).confidence == 0.45
    exit_ = replace(entry, stop_price=None)
    assert scaled_request(exit_, 0.5) is exit_
