"""``evaluate``: every check resizes or denies with its typed reason and the numbers behind it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.risk.scenario import T0, book, fill, intent, market
from trading.config import RiskLimits, load_settings
from trading.contracts import DecisionOutcome, DenialReason, OrderDecision, Side
from trading.risk import (
    Correlations,
    MarketView,
    Portfolio,
    RiskPolicy,
    TradingState,
    evaluate,
    liquidation_price,
)

D = Decimal
POLICY = RiskPolicy()
WIDE = RiskPolicy(
    limits=RiskLimits(
        max_gross_exposure_pct=100, max_symbol_exposure_pct=100, max_side_exposure_pct=100
    )
)
BTC_MARKET = market({"BTC/USDT": "60000", "ETH/USDT": "3000", "SOL/USDT": "150"})
BTC_STOP = D(58_800)


def _buy_btc(
    quantity: str = "0.1",
    *,
    portfolio: Portfolio | None = None,
    market: MarketView = BTC_MARKET,
    policy: RiskPolicy = POLICY,
    stop_price: Decimal | None = BTC_STOP,
    confidence: float = 0.5,
    leverage: float | None = None,
) -> OrderDecision:
    decision = evaluate(
        intent("BTC/USDT", Side.BUY, quantity),
        portfolio or Portfolio(balance=D(100_000)),
        market,
        policy=policy,
        stop_price=stop_price,
        confidence=confidence,
        leverage=leverage,
    )
    return decision.to_order_decision()


def test_an_intent_inside_every_limit_is_approved_unchanged() -> None:
    decision = _buy_btc("0.1")
    assert decision.outcome is DecisionOutcome.APPROVED
    assert decision.approved_quantity == D("0.1")
    assert decision.evidence["equity"] == "100000"


def test_size_above_the_risk_budget_is_resized_to_it() -> None:
    """Same numbers as test_btc_long_size_worked_by_hand: 1 BTC asked, 0.90178 fits 1.125 %."""
    decision = _buy_btc("1", policy=WIDE)
    assert (decision.outcome, decision.reason) == (DecisionOutcome.RESIZED, "RISK_PER_TRADE")
    assert decision.approved_quantity == D("0.90178")
    assert decision.evidence["risk_amount"] == "1125.000"


def test_symbol_cap_resizes_to_the_lot_that_fits() -> None:
    """10 % of 100 000 = 10 000 USDT at 60 000 = 0.1666.. BTC -> 0.16666."""
    decision = _buy_btc("0.5")
    assert (decision.reason, decision.approved_quantity) == ("SYMBOL_CAP", D("0.16666"))


def test_symbol_cap_counts_the_existing_position() -> None:
    """Long 0.15 BTC (9 000) leaves 1 000 USDT: 0.01666 BTC."""
    portfolio = book("100000", ("BTC/USDT", "0.15", "60000"))
    decision = _buy_btc("0.1", portfolio=portfolio)
    assert (decision.reason, decision.approved_quantity) == ("SYMBOL_CAP", D("0.01666"))


def test_gross_cap_counts_every_symbol_at_its_mark() -> None:
    """ETH 9 000 + SOL 9 000 = 18 000 of a 20 000 gross cap: 2 000 left = 0.03333 BTC."""
    portfolio = book("100000", ("ETH/USDT", "3", "3000"), ("SOL/USDT", "-60", "150"))
    decision = _buy_btc("0.1", portfolio=portfolio)
    assert (decision.reason, decision.approved_quantity) == ("EXPOSURE_CAP", D("0.03333"))


def test_side_cap_counts_only_the_same_side() -> None:
    """Side cap 10 %, gross 20 %: a 9 000 USDT short does not use the long side's room."""
    policy = RiskPolicy(limits=RiskLimits(max_side_exposure_pct=10, max_symbol_exposure_pct=10))
    shorted = book("100000", ("ETH/USDT", "-3", "3000"))
    assert _buy_btc("0.1", portfolio=shorted, policy=policy).outcome is DecisionOutcome.APPROVED
    longed = book("100000", ("ETH/USDT", "3", "3000"))
    decision = _buy_btc("0.1", portfolio=longed, policy=policy)
    assert (decision.reason, decision.approved_quantity) == ("SIDE_CAP", D("0.01666"))


def test_a_resize_below_min_notional_is_denied_with_the_binding_reason() -> None:
    """9 998 of 10 000 used: 2 USDT of room is below the 5 USDT minimum notional."""
    portfolio = book("100000", ("BTC/USDT", "0.16663", "60000"))
    decision = _buy_btc("0.1", portfolio=portfolio)
    assert (decision.outcome, decision.reason) == (DecisionOutcome.DENIED, "SYMBOL_CAP")
    assert "resized_below_min_notional" in decision.evidence


def test_an_order_below_min_notional_is_denied() -> None:
    decision = _buy_btc("0.00008")
    assert (decision.outcome, decision.reason) == (DecisionOutcome.DENIED, "MIN_NOTIONAL")


def test_a_quantity_off_the_lot_grid_is_rounded_down() -> None:
    decision = _buy_btc("0.100005")
    assert (decision.outcome, decision.approved_quantity) == (DecisionOutcome.RESIZED, D("0.1"))
    assert decision.evidence["lot_size"] == "0.00001"


def test_approved_orders_in_flight_count_until_filled_or_released() -> None:
    """Two 0.1 BTC intents before any fill: the second only gets the 0.06666 that is left."""
    portfolio = Portfolio(balance=D(100_000))
    first = evaluate(
        intent("BTC/USDT", Side.BUY, "0.1"),
        portfolio,
        BTC_MARKET,
        policy=POLICY,
        stop_price=D(58_800),
        confidence=0.5,
    )
    second = evaluate(
        intent("BTC/USDT", Side.BUY, "0.1"),
        portfolio,
        BTC_MARKET,
        policy=POLICY,
        stop_price=D(58_800),
        confidence=0.5,
    )
    assert first.approved_quantity == D("0.1")
    assert (second.reason, second.approved_quantity) == (DenialReason.SYMBOL_CAP, D("0.06666"))
    portfolio.apply_fill(
        fill("BTC/USDT", Side.BUY, "0.1", "60000", client_order_id=first.client_order_id)
    )
    portfolio.release(second.client_order_id)
    assert portfolio.pending == {}
    assert portfolio.positions["BTC/USDT"].quantity == D("0.1")


def test_unknown_symbol_is_denied() -> None:
    decision = evaluate(
        intent("DOGE/USDT", Side.BUY, "10"),
        Portfolio(balance=D(1000)),
        BTC_MARKET,
        policy=POLICY,
        stop_price=D("0.1"),
    )
    assert decision.reason is DenialReason.UNKNOWN_SYMBOL


def test_a_mark_older_than_the_limit_is_stale() -> None:
    later = MarketView(now=T0 + timedelta(seconds=121), marks=BTC_MARKET.marks)
    decision = _buy_btc(market=later)
    assert decision.reason == "STALE_MARKET_DATA"
    assert decision.evidence["stale_symbol"] == "BTC/USDT"


def test_a_stale_mark_of_an_open_position_blocks_new_risk() -> None:
    portfolio = book("100000", ("ETH/USDT", "1", "3000"))
    marks = dict(BTC_MARKET.marks)
    marks["ETH/USDT"] = type(marks["ETH/USDT"])(D(3000), T0 - timedelta(minutes=5))
    decision = _buy_btc(portfolio=portfolio, market=MarketView(now=T0, marks=marks))
    assert (decision.reason, decision.evidence["stale_symbol"]) == ("STALE_MARKET_DATA", "ETH/USDT")


def test_a_missing_mark_is_stale_market_data() -> None:
    decision = _buy_btc(market=market({"ETH/USDT": "3000"}))
    assert (decision.reason, decision.evidence["missing_mark"]) == ("STALE_MARKET_DATA", "BTC/USDT")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"market": market({"BTC/USDT": "NaN"})}, "bad_mark"),
        ({"stop_price": None}, "needs a positive stop_price"),
        ({"stop_price": D("NaN")}, "needs a positive stop_price"),
        ({"stop_price": D(61_000)}, "wrong side"),
        ({"confidence": float("nan")}, "confidence"),
        ({"portfolio": Portfolio(balance=D(0))}, "equity must be positive"),
        ({"portfolio": Portfolio(balance=D(-5))}, "equity must be positive"),
    ],
)
def test_bad_input_is_denied_with_the_cause_in_evidence(
    kwargs: dict[str, Any], needle: str
) -> None:
    decision = _buy_btc(**kwargs)
    assert (decision.outcome, decision.reason) == (DecisionOutcome.DENIED, "INVALID_INPUT")
    assert needle in " ".join(f"{k} {v}" for k, v in decision.evidence.items())


def test_a_non_decimal_mark_is_invalid_input() -> None:
    broken = MarketView(now=T0, marks={"BTC/USDT": "60000"})  # type: ignore[dict-item]  # the bad type is the test
    decision = _buy_btc(market=broken)
    assert (decision.reason, decision.evidence["bad_mark"]) == ("INVALID_INPUT", "BTC/USDT")


class _BrokenCorrelations(Correlations):
    def cluster_row(self, symbol: str, threshold: float) -> dict[str, float]:
        raise RuntimeError("correlation table corrupted")


def test_an_unexpected_exception_becomes_a_denial_not_an_order() -> None:
    broken = MarketView(now=T0, marks=BTC_MARKET.marks, correlations=_BrokenCorrelations())
    decision = _buy_btc(market=broken)
    assert (decision.outcome, decision.reason) == (DecisionOutcome.DENIED, "INVALID_INPUT")
    assert decision.evidence["error"] == "RuntimeError: correlation table corrupted"
    assert decision.approved_quantity == 0


def test_leverage_above_the_hard_maximum_is_denied() -> None:
    assert _buy_btc(leverage=12).reason == "LEVERAGE_CAP"
    capped = RiskPolicy(limits=RiskLimits(max_leverage=5, default_leverage=3))
    assert _buy_btc(leverage=6, policy=capped).reason == "LEVERAGE_CAP"
    assert _buy_btc(leverage=5, policy=capped).outcome is DecisionOutcome.APPROVED


def test_liquidation_price_worked_by_hand() -> None:
    """Entry 100, 10x, maintenance 0.5 %: long 100 * 0.9 / 0.995 = 90.4523,
    short 100 * 1.1 / 1.005 = 109.4527."""
    long_liq = liquidation_price(D(100), Side.BUY, D(10), D("0.005"))
    short_liq = liquidation_price(D(100), Side.SELL, D(10), D("0.005"))
    assert round(long_liq, 4) == D("90.4523")
    assert round(short_liq, 4) == D("109.4527")


def test_a_stop_beyond_liquidation_is_denied() -> None:
    """10x long from 60 000: liquidation 54 271.36, +1 % buffer 54 814.07; a stop at 54 000
    is past it, one at 55 000 is inside."""
    decision = _buy_btc(leverage=10, stop_price=D(54_000))
    assert decision.reason == "STOP_BEYOND_LIQUIDATION"
    assert decision.evidence["liquidation_price"].startswith("54271.35")
    assert _buy_btc(leverage=10, stop_price=D(55_000)).outcome is DecisionOutcome.APPROVED


def test_rate_limit_denies_the_intent_after_the_window_is_full() -> None:
    policy = RiskPolicy(limits=RiskLimits(max_intents_per_window=3, rate_limit_window_seconds=60))
    portfolio = Portfolio(balance=D(100_000))
    reasons = [_buy_btc("0.0001", portfolio=portfolio, policy=policy).reason for _ in range(4)]
    assert reasons == [None, None, None, "RATE_LIMIT"]
    later = market({"BTC/USDT": "60000"}, now=T0 + timedelta(seconds=61))
    assert _buy_btc("0.0001", portfolio=portfolio, policy=policy, market=later).reason is None


def test_reduce_only_is_capped_at_the_position_and_needs_no_stop() -> None:
    portfolio = book("100000", ("BTC/USDT", "0.1", "60000"))
    ok = evaluate(
        intent("BTC/USDT", Side.SELL, "0.05", reduce_only=True),
        portfolio,
        BTC_MARKET,
        policy=POLICY,
    )
    assert ok.outcome is DecisionOutcome.APPROVED
    capped = evaluate(
        intent("BTC/USDT", Side.SELL, "0.3", reduce_only=True), portfolio, BTC_MARKET, policy=POLICY
    )
    assert (capped.outcome, capped.approved_quantity) == (DecisionOutcome.RESIZED, D("0.1"))
    wrong = evaluate(
        intent("BTC/USDT", Side.BUY, "0.05", reduce_only=True), portfolio, BTC_MARKET, policy=POLICY
    )
    assert (wrong.outcome, wrong.reason) == (DecisionOutcome.DENIED, DenialReason.INVALID_INPUT)


def test_a_flip_keeps_the_closing_part_and_sizes_the_new_side() -> None:
    """Long 0.1 BTC, sell 0.5: 0.1 closes; the new short is capped at 10 % = 0.16666."""
    portfolio = book("100000", ("BTC/USDT", "0.1", "60000"))
    decision = evaluate(
        intent("BTC/USDT", Side.SELL, "0.5"),
        portfolio,
        BTC_MARKET,
        policy=POLICY,
        stop_price=D(61_200),
        confidence=0.5,
    )
    assert (decision.reason, decision.approved_quantity) == (DenialReason.SYMBOL_CAP, D("0.26666"))


def test_halted_denies_everything_including_reduce_only() -> None:
    portfolio = book("100000", ("BTC/USDT", "0.1", "60000"))
    portfolio.drawdown.halt(T0, "operator kill switch")
    reduce = evaluate(
        intent("BTC/USDT", Side.SELL, "0.1", reduce_only=True), portfolio, BTC_MARKET, policy=POLICY
    )
    assert (reduce.reason, reduce.evidence["note"]) == (DenialReason.HALTED, "operator kill switch")
    portfolio.drawdown.reset(T0, D(100_000))
    assert portfolio.drawdown.state is TradingState.ACTIVE


def test_every_decision_converts_to_the_order_decision_contract() -> None:
    for quantity in ("0.1", "0.5", "0.00001"):
        decision = _buy_btc(quantity)
        assert all(len(value) <= 200 for value in decision.evidence.values())


def test_policy_from_the_bundled_settings_uses_the_venue_taker_fee() -> None:
    policy = RiskPolicy.from_settings(load_settings())
    assert policy.taker_fee_rate == D("0.0004")
    assert policy.max_leverage == 10
    assert policy.daily_keep == D("0.92")
