"""Record every risk decision over the bundled real data and hand-built adversarial requests.

``python -m tests.risk.record_decisions OUT.json.gz`` writes the decision set; the fixture
``decisions_before_refactor.json.gz`` was written by this script against the risk engine as it
stood before ``_evaluate`` was split into named checks (the pre-refactor oracle), and
``test_recorded_decisions.py`` recomputes the set and asserts it is unchanged.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from trading.backtest.data import Window, load_market, parse_day
from trading.backtest.engine import BacktestConfig, run_backtest, with_params
from trading.config import RiskLimits
from trading.contracts import (
    DenialReason,
    Fill,
    Liquidity,
    OrderDecision,
    OrderIntent,
    OrderType,
    Side,
    Timeframe,
)
from trading.risk import (
    Correlations,
    Mark,
    MarketView,
    Portfolio,
    RiskDecision,
    RiskPolicy,
    TradingState,
)
from trading.risk.engine import evaluate
from trading.risk.portfolio import PendingOrder, contract_decimal

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "trading" / "market" / "bundled"
BUNDLED_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT")
BUNDLED_WINDOW = Window(parse_day("2025-10-01"), parse_day("2025-12-31"))
BUSY_WINDOW = Window(parse_day("2025-11-01"), parse_day("2025-11-15"))
# Backtests over the bundled data: the default configuration, and a busier one (acts on weaker
# signals, wider caps, tight drawdown) so that risk sees many more requests and more reasons.
BACKTESTS: dict[str, tuple[Window, dict[str, Any]]] = {
    "default": (BUNDLED_WINDOW, {}),
    "busy": (
        BUSY_WINDOW,
        {
            "lifecycle.min_confidence": 0.3,
            "risk.max_symbol_exposure_pct": 30.0,
            "risk.max_gross_exposure_pct": 60.0,
            "risk.max_side_exposure_pct": 40.0,
            "risk.risk_per_trade_max_pct": 4.0,
            "risk.daily_drawdown_pct": 2.0,
            "risk.safe_mode_cooldown_minutes": 240,
        },
    ),
}

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
D = Decimal
PRICES = {"BTC/USDT": D(60_000), "ETH/USDT": D(3_000), "SOL/USDT": D(150), "XRP/USDT": D("0.6")}
SYMBOLS = tuple(PRICES)
PAIRS = [(a, b) for i, a in enumerate(SYMBOLS) for b in SYMBOLS[i + 1 :]]
Record = dict[str, Any]


def order_decision_record(case: str, decision: OrderDecision) -> Record:
    """What the oracle compares: id, outcome, reason, quantities, time and the evidence."""
    return {
        "case": case,
        "client_order_id": decision.client_order_id,
        "outcome": decision.outcome.value,
        "reason": None if decision.reason is None else decision.reason.value,
        "requested": str(decision.requested_quantity),
        "approved": str(decision.approved_quantity),
        "decided_at": decision.decided_at.isoformat(),
        "evidence": _normalized(decision.evidence),
    }


def _normalized(evidence: Mapping[str, str]) -> dict[str, str]:
    """The evidence with ``cluster_symbols`` sorted: the old engine listed symbols only pending
    (not held) in set order, which varies with the interpreter's string hash seed."""
    normalized = dict(evidence)
    if "cluster_symbols" in normalized:
        normalized["cluster_symbols"] = " ".join(sorted(normalized["cluster_symbols"].split()))
    return normalized


def risk_decision_record(case: str, decision: RiskDecision, portfolio: Portfolio) -> Record:
    """A decision plus what it left on the book: reservations, rate-limit count, state."""
    record = order_decision_record(case, decision.to_order_decision())
    record["flatten"] = [f"{i.symbol} {i.side} {i.quantity}" for i in decision.flatten]
    record["pending"] = sorted(
        f"{cid} {p.symbol} {p.side} {p.quantity}" for cid, p in portfolio.pending.items()
    )
    record["intents_in_window"] = len(portfolio.recent_intents)
    record["state"] = portfolio.drawdown.state.value
    return record


def backtest_records() -> Iterator[Record]:
    """Every decision of the bundled-data backtests, in the order risk made them."""
    for name, (window, params) in BACKTESTS.items():
        data = load_market(BUNDLED, BUNDLED_SYMBOLS, Timeframe.M5, window)
        config = with_params(replace(BacktestConfig(), funding=False), params)
        for decision in run_backtest(data, config).decisions:
            yield order_decision_record(f"backtest:{name}", decision)


# --------------------------------------------------------------------------- hand-built cases


def _intent(
    symbol: str,
    side: Side,
    quantity: str,
    seq: int,
    *,
    now: datetime = T0,
    reduce_only: bool = False,
    limit_price: str | None = None,
    stop_trigger: str | None = None,
) -> OrderIntent:
    order_type = OrderType.MARKET
    if limit_price is not None:
        order_type = OrderType.LIMIT
    elif stop_trigger is not None:
        order_type = OrderType.STOP_MARKET
    return OrderIntent.for_signal(
        strategy="oracle",
        symbol=symbol,
        signal_time=now,
        seq=seq,
        side=side,
        order_type=order_type,
        quantity=D(quantity),
        limit_price=None if limit_price is None else D(limit_price),
        stop_price=None if stop_trigger is None else D(stop_trigger),
        reduce_only=reduce_only,
        created_at=now,
    )


def _fill(symbol: str, signed_qty: Decimal, price: Decimal, trade: str) -> Fill:
    side = Side.BUY if signed_qty > 0 else Side.SELL
    qty = abs(signed_qty)
    return Fill(
        trade_id=trade,
        client_order_id="rt-oracle",
        symbol=symbol,
        side=side,
        price=price,
        quantity=qty,
        fee=contract_decimal(qty * price * D("0.0004")),
        fee_asset="USDT",
        liquidity=Liquidity.TAKER,
        ts=T0,
    )


def _book(balance: str, *holdings: tuple[str, str, str]) -> Portfolio:
    portfolio = Portfolio(balance=D(balance))
    for n, (symbol, qty, price) in enumerate(holdings):
        portfolio.apply_fill(_fill(symbol, D(qty), D(price), f"h{n}"))
    return portfolio


def _market(
    prices: dict[str, Any] | None = None,
    *,
    now: datetime = T0,
    correlations: Correlations | None = None,
    stale: tuple[str, ...] = (),
) -> MarketView:
    prices = PRICES if prices is None else prices
    marks = {
        s: Mark(D(p) if isinstance(p, (int, str)) else p, now - timedelta(hours=1) * (s in stale))
        for s, p in prices.items()
    }
    return MarketView(now=now, marks=marks, correlations=correlations or Correlations())


CORRELATED = Correlations({("BTC/USDT", "ETH/USDT"): 0.9, ("BTC/USDT", "SOL/USDT"): -0.85})
DEFAULT_POLICY = RiskPolicy()
ADVERSARIAL_POLICY = RiskPolicy(limits=RiskLimits(max_intents_per_window=3))
Case = Callable[[], Iterator[Record]]
CASES: dict[str, Case] = {}


def case(function: Case) -> Case:
    CASES[function.__name__] = function
    return function


def _one(
    name: str,
    intent: OrderIntent,
    portfolio: Portfolio,
    market: MarketView,
    policy: RiskPolicy = DEFAULT_POLICY,
    **kwargs: Any,
) -> Record:
    decision = evaluate(intent, portfolio, market, policy=policy, **kwargs)
    return risk_decision_record(name, decision, portfolio)


BUY, SELL = Side.BUY, Side.SELL


@case
def halted() -> Iterator[Record]:
    portfolio = _book("10000")
    portfolio.drawdown.halt(T0, "operator halt")
    yield _one("halted", _intent("BTC/USDT", BUY, "0.01", 1), portfolio, _market())


@case
def unknown_symbol() -> Iterator[Record]:
    intent = _intent("DOGE/USDT", BUY, "100", 2)
    yield _one("unknown_symbol", intent, _book("10000"), _market(), stop_price=D("0.1"))


@case
def reduce_paths() -> Iterator[Record]:
    market = _market()
    held = _book("10000", ("BTC/USDT", "0.05", "60000"))
    yield _one(
        "reduce_not_reducing", _intent("BTC/USDT", BUY, "0.01", 3, reduce_only=True), held, market
    )
    yield _one("reduce_partial", _intent("BTC/USDT", SELL, "0.02", 4), held, _market({}))
    yield _one(
        "reduce_only_capped", _intent("BTC/USDT", SELL, "0.5", 5, reduce_only=True), held, market
    )
    flat = _book("10000")
    yield _one(
        "reduce_only_flat", _intent("ETH/USDT", SELL, "1", 6, reduce_only=True), flat, market
    )
    held.drawdown.state = TradingState.REDUCING
    yield _one(
        "reduce_in_safe_mode", _intent("BTC/USDT", SELL, "0.5", 7, reduce_only=True), held, market
    )


@case
def marks() -> Iterator[Record]:
    flat = _book("10000")
    stop: dict[str, Any] = {"stop_price": D(59_000), "confidence": 0.5}
    yield _one("missing_mark", _intent("BTC/USDT", BUY, "0.01", 8), flat, _market({}), **stop)
    stale = _market(stale=("BTC/USDT",))
    yield _one("stale_mark", _intent("BTC/USDT", BUY, "0.01", 9), flat, stale, **stop)
    held = _book("10000", ("ETH/USDT", "1", "3000"))
    stale_held = _market(stale=("ETH/USDT",))
    yield _one("stale_held_mark", _intent("BTC/USDT", BUY, "0.01", 10), held, stale_held, **stop)
    no_held_mark = _market({"BTC/USDT": 60_000})
    yield _one(
        "missing_held_mark", _intent("BTC/USDT", BUY, "0.01", 11), held, no_held_mark, **stop
    )
    bad = _market({**PRICES, "ETH/USDT": D("NaN")})
    yield _one("bad_held_mark", _intent("BTC/USDT", BUY, "0.01", 12), held, bad, **stop)
    zero = _market({**PRICES, "BTC/USDT": D(0)})
    yield _one("zero_own_mark", _intent("BTC/USDT", BUY, "0.01", 13), flat, zero, **stop)
    bad_elsewhere = _market({**PRICES, "XRP/USDT": D(-1)})
    yield _one(
        "bad_unrelated_mark", _intent("BTC/USDT", BUY, "0.01", 14), flat, bad_elsewhere, **stop
    )
    pending = _book("10000")
    pending.pending["rt-other"] = PendingOrder("SOL/USDT", BUY, D(2))
    no_pending_mark = _market({"BTC/USDT": 60_000})
    yield _one(
        "missing_pending_mark",
        _intent("BTC/USDT", BUY, "0.01", 15),
        pending,
        no_pending_mark,
        **stop,
    )
    naive = MarketView(
        now=T0, marks={**_market().marks, "ETH/USDT": Mark(D(3000), datetime(2025, 3, 3, 12))}
    )
    yield _one(
        "naive_mark_time_fails_closed", _intent("BTC/USDT", BUY, "0.01", 16), held, naive, **stop
    )


@case
def equity_and_safe_mode() -> Iterator[Record]:
    stop: dict[str, Any] = {"stop_price": D(2_900), "confidence": 0.5}
    underwater = _book("1000", ("BTC/USDT", "1", "60000"))
    yield _one(
        "negative_equity",
        _intent("ETH/USDT", BUY, "0.1", 17),
        underwater,
        _market({**PRICES, "BTC/USDT": 50_000}),
        **stop,
    )
    for flatten in (False, True):
        portfolio = _book("10000", ("BTC/USDT", "0.1", "60000"))
        policy = RiskPolicy(flatten_on_safe_mode=flatten)
        evaluate(_intent("ETH/USDT", BUY, "0.1", 18), portfolio, _market(), policy=policy, **stop)
        crash = _market({**PRICES, "BTC/USDT": 45_000}, now=T0 + timedelta(minutes=5))
        name = f"drawdown_trips_safe_mode_flatten_{flatten}"
        yield _one(name, _intent("ETH/USDT", BUY, "0.1", 19), portfolio, crash, policy, **stop)
        opposite = _intent("BTC/USDT", SELL, "0.3", 20, now=T0 + timedelta(minutes=5))
        yield _one(f"{name}_opposite", opposite, portfolio, crash, policy, **stop)


@case
def rate_limit() -> Iterator[Record]:
    portfolio = _book("100000")
    market = _market()
    for seq in range(21, 26):
        intent = _intent("ETH/USDT", BUY, "0.01", seq)
        yield _one("rate_limit", intent, portfolio, market, ADVERSARIAL_POLICY, stop_price=D(2_950))
    later = _market(now=T0 + timedelta(seconds=61))
    intent = _intent("ETH/USDT", BUY, "0.01", 26, now=T0 + timedelta(seconds=61))
    yield _one(
        "rate_limit_window_rolls", intent, portfolio, later, ADVERSARIAL_POLICY, stop_price=D(2_950)
    )


@case
def leverage_and_inputs() -> Iterator[Record]:
    flat = _book("10000")
    market = _market()

    def buy(seq: int) -> OrderIntent:
        return _intent("ETH/USDT", BUY, "0.1", seq)

    yield _one("leverage_above_max", buy(27), flat, market, leverage=200.0, stop_price=D(2_900))
    yield _one("leverage_below_one", buy(28), flat, market, leverage=0.5, stop_price=D(2_900))
    yield _one("leverage_nan", buy(29), flat, market, leverage=float("nan"), stop_price=D(2_900))
    yield _one("confidence_above_one", buy(30), flat, market, confidence=1.5, stop_price=D(2_900))
    yield _one(
        "confidence_nan", buy(31), flat, market, confidence=float("nan"), stop_price=D(2_900)
    )
    yield _one("no_stop", buy(32), flat, market)
    yield _one("stop_nan", buy(33), flat, market, stop_price=D("NaN"))
    yield _one("stop_negative", buy(34), flat, market, stop_price=D(-5))
    yield _one("stop_wrong_side_buy", buy(35), flat, market, stop_price=D(3_100))
    sell = _intent("ETH/USDT", SELL, "0.1", 36)
    yield _one("stop_wrong_side_sell", sell, flat, market, stop_price=D(2_900))
    yield _one("stop_beyond_liquidation", buy(37), flat, market, leverage=10.0, stop_price=D(2_500))
    short = _intent("ETH/USDT", SELL, "0.1", 38)
    yield _one(
        "stop_beyond_liquidation_short", short, flat, market, leverage=10.0, stop_price=D(3_300)
    )
    yield _one(
        "full_risk_wide_caps",
        _intent("ETH/USDT", BUY, "10", 39),
        _book("1000"),
        market,
        RiskPolicy(
            limits=RiskLimits(
                max_symbol_exposure_pct=100,
                max_gross_exposure_pct=100,
                max_side_exposure_pct=100,
                risk_per_trade_max_pct=100,
                risk_per_trade_min_pct=100,
            )
        ),
        leverage=1.0,
        stop_price=D(2_999),
        confidence=1.0,
    )


@case
def entry_prices() -> Iterator[Record]:
    flat = _book("10000")
    market = _market()
    limit = _intent("ETH/USDT", BUY, "0.1", 40, limit_price="2950")
    yield _one("limit_entry", limit, flat, market, stop_price=D(2_900), confidence=0.7)
    limit_bad = _intent("ETH/USDT", BUY, "0.1", 41, limit_price="2800")
    yield _one("limit_below_stop", limit_bad, flat, market, stop_price=D(2_900))
    trigger = _intent("ETH/USDT", BUY, "0.1", 42, stop_trigger="3050")
    yield _one("stop_market_entry", trigger, flat, market, stop_price=D(2_950), confidence=0.3)


@case
def sizes_and_caps() -> Iterator[Record]:
    market = _market()
    flat = _book("10000")
    yield _one(
        "min_notional", _intent("XRP/USDT", BUY, "1", 43), flat, market, stop_price=D("0.55")
    )
    yield _one(
        "risk_per_trade",
        _intent("ETH/USDT", BUY, "5", 44),
        flat,
        market,
        stop_price=D(2_500),
        leverage=1.0,
    )
    yield _one(
        "symbol_cap",
        _intent("ETH/USDT", BUY, "5", 45),
        _book("10000"),
        market,
        stop_price=D(2_990),
        confidence=1.0,
    )
    yield _one(
        "approved",
        _intent("ETH/USDT", BUY, "0.1", 46),
        _book("10000"),
        market,
        stop_price=D(2_900),
        confidence=0.8,
    )
    yield _one(
        "lot_size_rounding",
        _intent("XRP/USDT", BUY, "2000.07", 47),
        _book("100000"),
        market,
        stop_price=D("0.55"),
        confidence=1.0,
    )
    tiny = _book("45")
    yield _one(
        "resized_below_min_notional",
        _intent("ETH/USDT", BUY, "1", 48),
        tiny,
        market,
        stop_price=D(2_990),
        confidence=1.0,
    )
    wide = RiskPolicy(
        limits=RiskLimits(
            max_symbol_exposure_pct=15, max_gross_exposure_pct=20, max_side_exposure_pct=20
        )
    )
    held = _book("10000", ("BTC/USDT", "0.025", "60000"), ("SOL/USDT", "-3", "150"))
    yield _one(
        "exposure_cap",
        _intent("ETH/USDT", BUY, "1", 49),
        held,
        market,
        wide,
        stop_price=D(2_990),
        confidence=1.0,
    )
    sided = RiskPolicy(
        limits=RiskLimits(
            max_symbol_exposure_pct=15, max_gross_exposure_pct=40, max_side_exposure_pct=20
        )
    )
    yield _one(
        "side_cap",
        _intent("ETH/USDT", BUY, "1", 50),
        held,
        market,
        sided,
        stop_price=D(2_990),
        confidence=1.0,
    )
    flip = _intent("SOL/USDT", BUY, "20", 51)
    yield _one("flip_short_to_long", flip, held, market, sided, stop_price=D(140), confidence=1.0)
    add = _intent("BTC/USDT", BUY, "0.01", 52)
    yield _one("add_to_long", add, held, market, sided, stop_price=D(59_000), confidence=1.0)


@case
def correlation() -> Iterator[Record]:
    market = _market(correlations=CORRELATED)
    policy = RiskPolicy(limits=RiskLimits(max_gross_exposure_pct=100, max_side_exposure_pct=100))
    held = _book("10000", ("BTC/USDT", "0.012", "60000"))
    yield _one(
        "correlated_long",
        _intent("ETH/USDT", BUY, "1", 53),
        held,
        market,
        policy,
        stop_price=D(2_990),
        confidence=1.0,
    )
    yield _one(
        "anti_correlated_long",
        _intent("SOL/USDT", BUY, "10", 54),
        held,
        market,
        policy,
        stop_price=D(149),
        confidence=1.0,
    )
    yield _one(
        "anti_correlated_short",
        _intent("SOL/USDT", SELL, "10", 55),
        held,
        market,
        policy,
        stop_price=D(151),
        confidence=1.0,
    )
    pending = _book("10000", ("BTC/USDT", "0.012", "60000"))
    pending.pending["rt-eth"] = PendingOrder("ETH/USDT", BUY, D("0.1"))
    pending.pending["rt-sol"] = PendingOrder("SOL/USDT", SELL, D("2"))
    yield _one(
        "correlated_with_pending",
        _intent("ETH/USDT", BUY, "1", 56),
        pending,
        market,
        policy,
        stop_price=D(2_990),
        confidence=1.0,
    )
    yield _one(
        "correlated_with_pending_btc",
        _intent("BTC/USDT", SELL, "0.05", 57),
        pending,
        market,
        policy,
        stop_price=D(60_500),
        confidence=1.0,
    )


@case
def reservations() -> Iterator[Record]:
    """Approved quantity is reserved: a second identical request sees the first in flight."""
    market = _market(correlations=CORRELATED)
    portfolio = _book("10000")
    for seq in (58, 59, 60):
        yield _one(
            "reservation",
            _intent("ETH/USDT", BUY, "0.3", seq),
            portfolio,
            market,
            stop_price=D(2_990),
            confidence=1.0,
        )
    retry = _intent("ETH/USDT", BUY, "0.3", 58)
    yield _one(
        "reservation_same_client_id", retry, portfolio, market, stop_price=D(2_990), confidence=1.0
    )


# --------------------------------------------------------------------------- seeded fuzz

FUZZ_SEED = 14
FUZZ_BOOKS = 300


def _fuzz_policy(rng: random.Random) -> RiskPolicy:
    symbol_pct = rng.choice([5.0, 10.0, 40.0])
    limits = RiskLimits(
        max_symbol_exposure_pct=symbol_pct,
        max_gross_exposure_pct=min(100.0, symbol_pct + rng.choice([0.0, 10.0, 60.0])),
        max_side_exposure_pct=rng.choice([10.0, 20.0, 100.0]),
        daily_drawdown_pct=rng.choice([3.0, 8.0]),
        max_correlation=rng.choice([0.5, 0.7, 0.9]),
        default_leverage=rng.choice([1.0, 3.0]),
        max_leverage=rng.choice([3.0, 10.0]),
        max_intents_per_window=rng.choice([4, 30]),
    )
    return RiskPolicy(limits=limits, flatten_on_safe_mode=rng.random() < 0.5)


def _fuzz_book(rng: random.Random, balance: Decimal) -> Portfolio:
    portfolio = Portfolio(balance=balance)
    for n, symbol in enumerate(SYMBOLS):
        if rng.random() < 0.4:
            notional = balance * D(rng.choice(["0.02", "0.05", "0.1", "0.3"]))
            qty = (notional / PRICES[symbol]).quantize(D("0.001")) * rng.choice([1, -1])
            if qty:
                portfolio.apply_fill(_fill(symbol, qty, PRICES[symbol], f"f{n}"))
        if rng.random() < 0.2:
            qty = (balance * D("0.05") / PRICES[symbol]).quantize(D("0.001")) or D("0.001")
            portfolio.pending[f"rt-pending-{n}"] = PendingOrder(
                symbol, rng.choice([BUY, SELL]), qty
            )
    return portfolio


def _fuzz_request(
    rng: random.Random, seq: int, now: datetime, price: Decimal, symbol: str
) -> tuple[OrderIntent, dict[str, Any]]:
    side = rng.choice([BUY, SELL])
    notional = D(rng.choice(["3", "50", "500", "2000", "8000", "30000"]))
    qty = max((notional / price).quantize(D("0.0001")), D("0.0001"))
    limit = None
    if rng.random() < 0.2:
        limit = str((price * D(rng.choice(["0.98", "1.0", "1.02"]))).quantize(D("0.0001")))
    intent = _intent(
        symbol, side, str(qty), seq, now=now, reduce_only=rng.random() < 0.1, limit_price=limit
    )
    distance = D(rng.choice(["0.002", "0.01", "0.05", "0.2", "-0.01", "0.6"]))
    stop = price * (1 - distance) if side is BUY else price * (1 + distance)
    kwargs: dict[str, Any] = {
        "stop_price": None if rng.random() < 0.05 else stop,
        "confidence": rng.choice([0.0, 0.3, 0.6, 1.0, 1.2]),
        "leverage": rng.choice([None, None, 1.0, 3.0, 5.0, 20.0]),
    }
    return intent, kwargs


def fuzz_records() -> Iterator[Record]:
    """Seeded random books, markets and request sequences (fills book some approvals)."""
    rng = random.Random(FUZZ_SEED)
    seq = 1000
    for book_no in range(FUZZ_BOOKS):
        policy = _fuzz_policy(rng)
        portfolio = _fuzz_book(rng, D(rng.choice(["500", "10000", "250000"])))
        table = Correlations(
            {pair: rng.choice([-0.95, -0.6, 0.0, 0.6, 0.8, 0.99]) for pair in PAIRS}
        )
        prices = dict(PRICES)
        now = T0
        for step in range(8):
            now += timedelta(seconds=rng.choice([1, 5, 30, 600, 90_000]))
            moved = rng.choice(SYMBOLS)
            prices[moved] = (
                prices[moved] * D(rng.choice(["0.7", "0.95", "1", "1.05", "1.3"]))
            ).quantize(D("0.0001"))
            stale = tuple(s for s in SYMBOLS if rng.random() < 0.03)
            market = _market(prices, now=now, correlations=table, stale=stale)
            symbol = rng.choice(SYMBOLS)
            seq += 1
            intent, kwargs = _fuzz_request(rng, seq, now, prices[symbol], symbol)
            decision = evaluate(intent, portfolio, market, policy=policy, **kwargs)
            yield risk_decision_record(f"fuzz:{book_no}:{step}", decision, portfolio)
            if decision.approved_quantity and rng.random() < 0.6:
                signed = decision.approved_quantity * (1 if intent.side is BUY else -1)
                portfolio.apply_fill(
                    replace_fill(
                        _fill(symbol, signed, prices[symbol], f"t{seq}"), intent.client_order_id
                    )
                )
            elif rng.random() < 0.3:
                portfolio.release(intent.client_order_id)


def replace_fill(fill: Fill, client_order_id: str) -> Fill:
    return fill.model_copy(update={"client_order_id": client_order_id})


def record() -> dict[str, list[Record]]:
    """The whole decision set, by source."""
    synthetic = [r for build in CASES.values() for r in build()]
    covered = {r["reason"] for r in synthetic}
    missing = {reason.value for reason in DenialReason} - covered
    if missing:
        raise AssertionError(f"adversarial cases miss denial reasons {sorted(missing)}")
    return {
        "backtest": list(backtest_records()),
        "adversarial": synthetic,
        "fuzz": list(fuzz_records()),
    }


def write(path: Path, decisions: dict[str, list[Record]]) -> None:
    text = json.dumps(decisions, indent=1, sort_keys=True).encode()
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as handle,
    ):
        handle.write(text)


def read(path: Path) -> dict[str, list[Record]]:
    with gzip.open(path, "rb") as handle:
        loaded: dict[str, list[Record]] = json.loads(handle.read())
    return loaded


if __name__ == "__main__":
    out = Path(sys.argv[1])
    write(out, record())
    print(f"wrote {out}")
