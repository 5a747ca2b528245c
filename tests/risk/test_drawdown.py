"""Drawdown protection: SAFE_MODE trips at the exact bar, blocks new risk, and is left only by
reset or by the next UTC period plus the cool-down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.risk.scenario import book, fill, intent, market
from trading.config import RiskLimits
from trading.contracts import DecisionOutcome, DenialReason, Side
from trading.risk import (
    DrawdownGuard,
    Portfolio,
    RiskPolicy,
    SafeModeTrigger,
    TradingState,
    evaluate,
    observe_equity,
)

D = Decimal
POLICY = RiskPolicy()


def _state(guard: DrawdownGuard) -> TradingState:
    """The guard's state, read afresh (an inline read would stay narrowed by mypy)."""
    return guard.state


def _first_trip(portfolio: Portfolio, bars: list[tuple[datetime, str]]) -> int | None:
    for index, (now, price) in enumerate(bars):
        observe_equity(portfolio, market({"BTC/USDT": price}, now=now), POLICY)
        if portfolio.drawdown.state is TradingState.REDUCING:
            return index
    return None


def test_daily_drawdown_trips_on_the_bar_that_reaches_eight_percent() -> None:
    """Balance 100 000, long 1 BTC from 50 000: equity = 50 000 + price.
    Hourly closes 50 000, 54 000 (day peak 104 000), 50 000, 46 000 (96 000: -7.7 %),
    45 700 (95 700: -7.98 %), 45 680 (95 680 = 104 000 * 0.92: exactly -8 %) -> trips on bar 5.
    """
    portfolio = book("100000", ("BTC/USDT", "1", "50000"))
    start = datetime(2025, 3, 3, tzinfo=UTC)
    closes = ["50000", "54000", "50000", "46000", "45700", "45680", "40000"]
    bars = [(start + timedelta(hours=i), c) for i, c in enumerate(closes)]
    assert _first_trip(portfolio, bars) == 5
    guard = portfolio.drawdown
    assert (guard.trigger, guard.day_peak) == (SafeModeTrigger.DAILY_DRAWDOWN, D(104_000))


def test_monthly_drawdown_trips_on_the_day_that_reaches_twenty_percent() -> None:
    """One daily bar each: every day's first observation is its own peak, so no daily trip.
    Equity = 50 000 + price: 100 000, 96 000, 92 000, 88 000, 84 000 (-16 %), 80 000 (-20 %)
    -> trips on day 5."""
    portfolio = book("100000", ("BTC/USDT", "1", "50000"))
    start = datetime(2025, 3, 1, tzinfo=UTC)
    closes = ["50000", "46000", "42000", "38000", "34000", "30000", "29000"]
    bars = [(start + timedelta(days=i), c) for i, c in enumerate(closes)]
    assert _first_trip(portfolio, bars) == 5
    assert portfolio.drawdown.trigger is SafeModeTrigger.MONTHLY_DRAWDOWN
    assert portfolio.drawdown.month_peak == D(100_000)


def test_safe_mode_blocks_new_risk_but_allows_reducing() -> None:
    portfolio = book("100000", ("BTC/USDT", "1", "50000"))
    now = datetime(2025, 3, 3, 5, tzinfo=UTC)
    portfolio.drawdown.observe(
        D(104_000), now, POLICY.daily_keep, POLICY.monthly_keep, POLICY.cooldown
    )
    quotes = market({"BTC/USDT": "41000", "ETH/USDT": "3000"}, now=now)
    buy = evaluate(
        intent("ETH/USDT", Side.BUY, "0.1", now=now),
        portfolio,
        quotes,
        policy=POLICY,
        stop_price=D(2900),
    )
    assert (buy.outcome, buy.reason) == (DecisionOutcome.DENIED, DenialReason.SAFE_MODE)
    assert buy.evidence["trigger"] == "DAILY_DRAWDOWN"
    sell = evaluate(
        intent("BTC/USDT", Side.SELL, "0.4", now=now, reduce_only=True),
        portfolio,
        quotes,
        policy=POLICY,
    )
    assert sell.outcome is DecisionOutcome.APPROVED
    flip = evaluate(
        intent("BTC/USDT", Side.SELL, "3", now=now),
        portfolio,
        quotes,
        policy=POLICY,
        stop_price=D(42_000),
    )
    assert (flip.outcome, flip.reason, flip.approved_quantity) == (
        DecisionOutcome.RESIZED,
        DenialReason.SAFE_MODE,
        D(1),
    )


def test_safe_mode_trip_returns_flatten_intents_when_the_flag_is_on() -> None:
    policy = RiskPolicy(flatten_on_safe_mode=True)
    portfolio = book("100000", ("BTC/USDT", "1", "50000"), ("ETH/USDT", "-2", "3000"))
    now = datetime(2025, 3, 3, 5, tzinfo=UTC)
    assert (
        observe_equity(
            portfolio, market({"BTC/USDT": "50000", "ETH/USDT": "3000"}, now=now), policy
        )
        == ()
    )
    exits = observe_equity(
        portfolio, market({"BTC/USDT": "40000", "ETH/USDT": "3000"}, now=now), policy
    )
    assert [(i.symbol, i.side, i.quantity, i.reduce_only) for i in exits] == [
        ("BTC/USDT", Side.SELL, D(1), True),
        ("ETH/USDT", Side.BUY, D(2), True),
    ]


def test_daily_safe_mode_releases_after_the_next_day_starts_plus_cooldown() -> None:
    """Tripped 2025-03-03 05:00, cool-down 60 min: REDUCING at 03-04 00:59, ACTIVE at 01:00."""
    guard = book("100000").drawdown
    trip = datetime(2025, 3, 3, 5, tzinfo=UTC)

    def observe(equity: int, now: datetime) -> bool:
        return guard.observe(
            D(equity), now, POLICY.daily_keep, POLICY.monthly_keep, POLICY.cooldown
        )

    observe(100_000, trip - timedelta(hours=1))
    assert observe(91_000, trip) is True
    observe(95_000, datetime(2025, 3, 3, 23, 59, tzinfo=UTC))
    assert guard.state is TradingState.REDUCING
    observe(95_000, datetime(2025, 3, 4, 0, 59, tzinfo=UTC))
    assert guard.state is TradingState.REDUCING
    observe(95_000, datetime(2025, 3, 4, 1, 0, tzinfo=UTC))
    assert _state(guard) is TradingState.ACTIVE


def test_monthly_safe_mode_waits_for_the_next_month_not_the_next_day() -> None:
    guard = book("100000").drawdown

    def observe(equity: int, now: datetime) -> bool:
        return guard.observe(
            D(equity), now, POLICY.daily_keep, POLICY.monthly_keep, POLICY.cooldown
        )

    for day, equity in enumerate((100_000, 95_000, 90_000, 85_000, 80_000)):
        observe(equity, datetime(2025, 3, 10 + day, tzinfo=UTC))
    assert guard.trigger is SafeModeTrigger.MONTHLY_DRAWDOWN
    observe(80_000, datetime(2025, 3, 20, 12, tzinfo=UTC))
    assert guard.state is TradingState.REDUCING
    observe(80_000, datetime(2025, 4, 1, 0, 30, tzinfo=UTC))
    assert guard.state is TradingState.REDUCING
    observe(80_000, datetime(2025, 4, 1, 1, 0, tzinfo=UTC))
    assert _state(guard) is TradingState.ACTIVE


def test_explicit_reset_resumes_trading_with_peaks_rebased() -> None:
    """Trip at BTC 40 000, cut the position to 0.1 BTC reduce-only, reset: new risk fits again."""
    portfolio = book("100000", ("BTC/USDT", "1", "50000"))
    now = datetime(2025, 3, 3, 5, tzinfo=UTC)
    observe_equity(portfolio, market({"BTC/USDT": "50000"}, now=now), POLICY)
    quotes = market({"BTC/USDT": "40000", "ETH/USDT": "3000"}, now=now)
    observe_equity(portfolio, quotes, POLICY)
    assert portfolio.drawdown.state is TradingState.REDUCING
    cut = evaluate(
        intent("BTC/USDT", Side.SELL, "0.9", now=now, reduce_only=True),
        portfolio,
        quotes,
        policy=POLICY,
    )
    portfolio.apply_fill(fill("BTC/USDT", Side.SELL, cut.approved_quantity, "40000", now=now))
    eth = intent("ETH/USDT", Side.BUY, "0.1", now=now)
    blocked = evaluate(eth, portfolio, quotes, policy=POLICY, stop_price=D(2900))
    assert blocked.reason is DenialReason.SAFE_MODE
    portfolio.drawdown.reset(now, D(90_000))
    buy = evaluate(eth, portfolio, quotes, policy=POLICY, stop_price=D(2900))
    assert buy.outcome is DecisionOutcome.APPROVED
    assert portfolio.drawdown.day_peak == D(90_000)


def test_a_stricter_configured_threshold_trips_earlier() -> None:
    """daily 5 %: 104 000 * 0.95 = 98 800 -> the 46 000 bar (equity 96 000) trips, bar 3."""
    policy = RiskPolicy(limits=RiskLimits(daily_drawdown_pct=5))
    portfolio = book("100000", ("BTC/USDT", "1", "50000"))
    start = datetime(2025, 3, 3, tzinfo=UTC)
    for index, close in enumerate(["50000", "54000", "50000", "46000"]):
        observe_equity(
            portfolio, market({"BTC/USDT": close}, now=start + timedelta(hours=index)), policy
        )
        if portfolio.drawdown.state is TradingState.REDUCING:
            break
    assert index == 3
