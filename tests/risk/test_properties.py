"""Risk invariants over random sequences of intents, fills, price moves, time and resets:
approved positions stay inside the symbol, gross, side, cluster and leverage caps; new risk
never exceeds the maximum risk per trade; SAFE_MODE trips on the configured drawdown and
blocks new risk until it is reset or released."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.risk.scenario import T0, fill, intent
from trading.config import RiskLimits
from trading.contracts import DecisionOutcome, DenialReason, Side
from trading.market.instruments import BINANCE_SPOT
from trading.risk import (
    Correlations,
    Mark,
    MarketView,
    Portfolio,
    RiskDecision,
    RiskPolicy,
    SafeModeTrigger,
    TradingState,
    evaluate,
    observe_equity,
)

D = Decimal
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
START = {"BTC/USDT": D(60_000), "ETH/USDT": D(3_000), "SOL/USDT": D(150), "XRP/USDT": D("0.6")}
PAIRS = [(a, b) for i, a in enumerate(SYMBOLS) for b in SYMBOLS[i + 1 :]]


@st.composite
def policies(draw: st.DrawFn) -> RiskPolicy:
    symbol_pct = draw(st.sampled_from([5.0, 10.0, 40.0]))
    limits = RiskLimits(
        max_symbol_exposure_pct=symbol_pct,
        max_gross_exposure_pct=min(100.0, symbol_pct + draw(st.sampled_from([0.0, 10.0, 60.0]))),
        max_side_exposure_pct=draw(st.sampled_from([10.0, 20.0, 100.0])),
        daily_drawdown_pct=draw(st.sampled_from([3.0, 8.0])),
        monthly_drawdown_pct=draw(st.sampled_from([10.0, 20.0])),
        default_leverage=draw(st.sampled_from([1.0, 3.0])),
        max_leverage=draw(st.sampled_from([3.0, 10.0])),
        max_intents_per_window=10_000,
    )
    return RiskPolicy(limits=limits)


correlation_tables = st.lists(
    st.sampled_from([-0.95, -0.5, 0.0, 0.5, 0.8, 0.99]), min_size=len(PAIRS), max_size=len(PAIRS)
).map(lambda rhos: Correlations(dict(zip(PAIRS, rhos, strict=True))))

intents = st.tuples(
    st.just("intent"),
    st.sampled_from(SYMBOLS),
    st.sampled_from(Side),
    st.sampled_from([1, 2, 3, 5, 8, 15, 40, 150]),  # notional, % of equity
    st.floats(0, 1),  # confidence
    st.integers(10, 3_000),  # stop distance, basis points
    st.sampled_from([False, False, False, True]),  # reduce_only
    st.sampled_from([None, None, None, 1.0, 5.0, 10.0, 20.0]),  # leverage
)
actions = st.lists(
    st.one_of(
        intents,
        intents,
        intents,
        st.tuples(st.just("move"), st.sampled_from(SYMBOLS), st.integers(-4_000, 4_000)),
        st.tuples(st.just("wait"), st.integers(1, 3_000)),
        st.tuples(st.just("shock"), st.integers(0, 1_500)),
        st.tuples(st.just("reset")),
    ),
    min_size=10,
    max_size=60,
)


@dataclass
class Peaks:
    """An independent model of the UTC day/month equity peaks the guard must respect."""

    day: Any = None
    day_peak: Decimal = Decimal(0)
    month: Any = None
    month_peak: Decimal = Decimal(0)

    def observe(self, equity: Decimal, now: datetime) -> None:
        if self.day != now.date():
            self.day, self.day_peak = now.date(), equity
        if self.month != (now.year, now.month):
            self.month, self.month_peak = (now.year, now.month), equity
        self.day_peak, self.month_peak = max(self.day_peak, equity), max(self.month_peak, equity)

    def rebase(self, equity: Decimal, now: datetime) -> None:
        self.day, self.day_peak = now.date(), equity
        self.month, self.month_peak = (now.year, now.month), equity


@dataclass
class World:
    policy: RiskPolicy
    correlations: Correlations
    portfolio: Portfolio = field(default_factory=lambda: Portfolio(balance=D(100_000)))
    prices: dict[str, Decimal] = field(default_factory=lambda: dict(START))
    now: datetime = T0
    peaks: Peaks = field(default_factory=Peaks)

    def market(self) -> MarketView:
        marks = {s: Mark(p, self.now) for s, p in self.prices.items()}
        return MarketView(now=self.now, marks=marks, correlations=self.correlations)

    def equity(self) -> Decimal:
        return self.portfolio.equity(self.prices)


def _exposures(world: World) -> tuple[dict[str, Decimal], Decimal, dict[int, Decimal]]:
    per_symbol = {
        s: p.quantity * world.prices[s] for s, p in world.portfolio.positions.items() if p.quantity
    }
    gross = sum((abs(v) for v in per_symbol.values()), D(0))
    sides = {
        sign: sum((abs(v) for v in per_symbol.values() if (v > 0) == (sign > 0)), D(0))
        for sign in (1, -1)
    }
    return per_symbol, gross, sides


def _check_caps(world: World, decision: RiskDecision, symbol: str, side: Side) -> None:
    policy, equity = world.policy, decision.numbers["equity"]
    assert isinstance(equity, Decimal)
    per_symbol, gross, sides = _exposures(world)
    own = abs(per_symbol.get(symbol, D(0)))
    assert own <= policy.symbol_cap * equity
    assert gross <= policy.gross_cap * equity
    assert sides[side.sign] <= policy.side_cap * equity
    assert gross <= policy.max_leverage * equity
    cluster = own
    for other, notional in per_symbol.items():
        rho = world.correlations.get(symbol, other)
        if other != symbol and rho is not None and abs(rho) >= policy.limits.max_correlation:
            aligned = ((notional > 0) == (rho > 0)) == (side is Side.BUY)
            cluster += abs(notional) if aligned else -abs(notional)
    assert cluster <= policy.symbol_cap * equity


def _step_intent(world: World, action: tuple[Any, ...]) -> None:
    _, symbol, side, notional_pct, confidence, stop_bps, reduce_only, leverage = action
    spec, price = BINANCE_SPOT[symbol], world.prices[symbol]
    equity = max(world.equity(), D(1))
    quantity = max(spec.round_quantity_down(equity * notional_pct / 100 / price), spec.lot_size)
    offset = price * D(stop_bps) / 10_000
    stop = spec.round_price_down(price - offset) if side is Side.BUY else price + offset
    stop = spec.round_price_up(stop) if side is Side.SELL else max(stop, spec.tick_size)
    held = (
        world.portfolio.positions[symbol].quantity if symbol in world.portfolio.positions else D(0)
    )
    reducing = reduce_only or (held * side.sign < 0 and quantity <= abs(held))
    guard = world.portfolio.drawdown
    release = guard.release_time(world.policy.cooldown)
    in_safe_mode = guard.state is TradingState.REDUCING and (release is None or world.now < release)
    order = intent(symbol, side, quantity, now=world.now, reduce_only=reduce_only)
    decision = evaluate(
        order,
        world.portfolio,
        world.market(),
        policy=world.policy,
        stop_price=stop,
        confidence=confidence,
        leverage=leverage,
    )
    decision.to_order_decision()  # every decision fits the audit contract
    approved = decision.approved_quantity
    assert approved <= quantity
    closing = min(approved, abs(held)) if held * side.sign < 0 else D(0)
    new_risk = approved - closing
    if reducing:
        assert new_risk == 0
    if in_safe_mode and not reducing:
        assert new_risk == 0
        assert decision.reason is DenialReason.SAFE_MODE
    if new_risk > 0:
        assert decision.outcome is not DecisionOutcome.DENIED
        pct = world.policy.risk_pct(confidence)
        assert pct <= world.policy.max_risk_pct
        equity_seen = decision.numbers["equity"]
        assert isinstance(equity_seen, Decimal)
        budget = equity_seen * pct / 100
        fee = world.policy.taker_fee_rate
        assert new_risk * (abs(price - stop) + fee * (price + stop)) <= budget
    if approved > 0:
        world.portfolio.apply_fill(
            fill(
                symbol, side, approved, price, client_order_id=order.client_order_id, now=world.now
            )
        )
    world.portfolio.release(order.client_order_id)
    if new_risk > 0:
        _check_caps(world, decision, symbol, side)


def _observe(world: World) -> None:
    equity = world.equity()
    world.peaks.observe(equity, world.now)
    observe_equity(world.portfolio, world.market(), world.policy)
    peaks, policy, guard = world.peaks, world.policy, world.portfolio.drawdown
    if equity <= peaks.month_peak * policy.monthly_keep:
        assert guard.state is TradingState.REDUCING
        assert guard.trigger is SafeModeTrigger.MONTHLY_DRAWDOWN
    elif equity <= peaks.day_peak * policy.daily_keep:
        assert guard.state is TradingState.REDUCING


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), correlations=correlation_tables, steps=actions)
def test_no_sequence_breaks_the_risk_limits(
    policy: RiskPolicy, correlations: Correlations, steps: list[tuple[Any, ...]]
) -> None:
    world = World(policy, correlations)
    _observe(world)
    for action in steps:
        world.now += timedelta(minutes=1)
        kind = action[0]
        if kind == "intent":
            _step_intent(world, action)
        elif kind == "move":
            spec = BINANCE_SPOT[action[1]]
            moved = world.prices[action[1]] * (1 + D(action[2]) / 10_000)
            world.prices[action[1]] = max(spec.round_price_down(moved), spec.tick_size * 10)
        elif kind == "wait":
            world.now += timedelta(minutes=action[1])
        elif kind == "shock":
            world.portfolio.balance -= max(world.equity(), D(0)) * D(action[1]) / 10_000
        else:
            equity = world.equity()
            world.portfolio.drawdown.reset(world.now, equity)
            world.peaks.rebase(equity, world.now)
        _observe(world)
