"""Orders in flight count against every cap whatever the symbol's history: a symbol traded and
flat again keeps its position entry (quantity 0, realized PnL) in the book, and its reserved,
not yet filled orders must count exactly as those of a symbol never traded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.risk.scenario import book, fill, intent, market
from tests.risk.test_properties import START, SYMBOLS, correlation_tables, policies
from trading.contracts import DecisionOutcome, DenialReason, Side
from trading.market.instruments import BINANCE_SPOT
from trading.risk import Correlations, MarketView, Portfolio, RiskDecision, RiskPolicy, evaluate

D = Decimal
POLICY = RiskPolicy()  # symbol cap 10 % of equity
ETH = "ETH/USDT"


def _buy_eth(portfolio: Portfolio, quantity: str) -> RiskDecision:
    return evaluate(
        intent(ETH, Side.BUY, quantity),
        portfolio,
        market({ETH: "3000"}),
        policy=POLICY,
        stop_price=D(2_940),
        confidence=1.0,
    )


def _flat_after_a_round_trip() -> Portfolio:
    """10 000 USDT after 0.5 ETH bought at 2 900 and sold at 3 000 (fee-free): 50 realized."""
    portfolio = book("9950")
    portfolio.apply_fill(fill(ETH, Side.BUY, "0.5", "2900", fee_rate=D(0)))
    portfolio.apply_fill(fill(ETH, Side.SELL, "0.5", "3000", fee_rate=D(0)))
    return portfolio


def test_in_flight_orders_count_against_caps_after_the_position_went_flat() -> None:
    """Equity 10 000, symbol cap 1 000 USDT: the first 0.3 ETH buy (900) fits; the second,
    concurrent one has 100 USDT of room, 100 / 3 000 = 0.0333 ETH at the 0.0001 lot."""
    portfolio = _flat_after_a_round_trip()
    assert portfolio.positions[ETH].quantity == 0
    assert portfolio.positions[ETH].realized_pnl == D(50)
    equity = portfolio.balance
    assert equity == D(10_000)
    cap = POLICY.symbol_cap * equity
    first = _buy_eth(portfolio, "0.3")
    assert (first.outcome, first.approved_quantity) == (DecisionOutcome.APPROVED, D("0.3"))
    room = (cap - D("0.3") * 3_000) / 3_000
    expected = BINANCE_SPOT[ETH].round_quantity_down(room)
    assert expected == D("0.0333")
    second = _buy_eth(portfolio, "0.3")
    assert (second.outcome, second.reason) == (DecisionOutcome.RESIZED, DenialReason.SYMBOL_CAP)
    assert second.approved_quantity == expected
    assert portfolio.positions[ETH].realized_pnl == D(50)


def test_a_flat_symbol_in_flight_resizes_like_a_never_traded_one() -> None:
    decided = []
    for portfolio in (book("10000"), _flat_after_a_round_trip()):
        _buy_eth(portfolio, "0.3")
        second = _buy_eth(portfolio, "0.3")
        decided.append((second.outcome, second.reason, second.approved_quantity, second.numbers))
    assert decided[0] == decided[1]


def test_a_flat_symbol_in_flight_without_a_mark_is_stale_data() -> None:
    """The caps need its mark once its orders in flight count: no mark, no new risk."""
    portfolio = _flat_after_a_round_trip()
    _buy_eth(portfolio, "0.3")
    decision = evaluate(
        intent("BTC/USDT", Side.BUY, "0.01"),
        portfolio,
        market({"BTC/USDT": "60000"}),
        policy=POLICY,
        stop_price=D(59_000),
        confidence=1.0,
    )
    assert (decision.outcome, decision.reason) == (
        DecisionOutcome.DENIED,
        DenialReason.STALE_MARKET_DATA,
    )
    assert decision.numbers["missing_mark"] == ETH


# --------------------------------------------------------------------------- property

round_trips = st.dictionaries(
    st.sampled_from(SYMBOLS),
    st.lists(
        st.tuples(st.sampled_from(Side), st.integers(1, 50), st.integers(-500, 500)),
        min_size=1,
        max_size=4,
    ),  # fills: side, notional in tenths of a % of equity, price move in basis points
    min_size=1,
)
requests = st.lists(
    st.tuples(
        st.sampled_from(SYMBOLS),
        st.sampled_from(Side),
        st.sampled_from([1, 3, 5, 8, 15, 40]),  # notional, % of equity
        st.floats(0, 1),  # confidence
        st.integers(10, 3_000),  # stop distance, basis points
    ),
    min_size=2,
    max_size=12,
)


def _return_to_flat(portfolio: Portfolio, symbol: str, fills: list[tuple[Any, ...]]) -> None:
    """Book ``fills`` in ``symbol``, then the fill that closes what they left open."""
    spec = BINANCE_SPOT[symbol]
    for n, (side, tenths, move_bps) in enumerate(fills):
        price = spec.round_price_down(START[symbol] * (1 + D(move_bps) / 10_000))
        qty = max(spec.round_quantity_down(D(100_000) * tenths / 1_000 / price), spec.lot_size)
        portfolio.apply_fill(fill(symbol, side, qty, price, client_order_id=f"h-{symbol}-{n}"))
    held = portfolio.positions[symbol].quantity
    if held:
        side = Side.SELL if held > 0 else Side.BUY
        portfolio.apply_fill(fill(symbol, side, abs(held), START[symbol]))
    assert portfolio.positions[symbol].quantity == 0


def _request(
    portfolio: Portfolio, view: MarketView, policy: RiskPolicy, request: tuple[Any, ...]
) -> RiskDecision:
    symbol, side, notional_pct, confidence, stop_bps = request
    spec, price = BINANCE_SPOT[symbol], START[symbol]
    quantity = max(
        spec.round_quantity_down(portfolio.balance * notional_pct / 100 / price), spec.lot_size
    )
    offset = price * D(stop_bps) / 10_000
    stop = spec.round_price_down(price - offset) if side is Side.BUY else price + offset
    stop = spec.round_price_up(stop) if side is Side.SELL else max(stop, spec.tick_size)
    return evaluate(
        intent(symbol, side, quantity),
        portfolio,
        view,
        policy=policy,
        stop_price=stop,
        confidence=confidence,
    )


def _assert_within_caps(
    portfolio: Portfolio,
    policy: RiskPolicy,
    correlations: Correlations,
    equity: Decimal,
    request: tuple[Any, ...],
) -> None:
    """Held plus reserved notional per symbol, gross, per side, margin and the intent's cluster
    (signed in its direction) within their limits."""
    exposure = {s: q * START[s] for s, q in portfolio.exposure_quantities().items()}
    gross = sum((abs(v) for v in exposure.values()), D(0))
    assert all(abs(v) <= policy.symbol_cap * equity for v in exposure.values())
    assert gross <= policy.gross_cap * equity
    assert gross <= policy.default_leverage * equity
    for sign in (1, -1):
        side_total = sum((abs(v) for v in exposure.values() if v * sign > 0), D(0))
        assert side_total <= policy.side_cap * equity
    symbol, side = request[0], request[1]
    cluster = exposure.get(symbol, D(0)) * side.sign
    for other, notional in exposure.items():
        rho = correlations.get(symbol, other)
        if other != symbol and rho is not None and abs(rho) >= policy.limits.max_correlation:
            cluster += notional * side.sign * (1 if rho > 0 else -1)
    assert cluster <= policy.symbol_cap * equity


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policy=policies(),
    correlations=correlation_tables,
    history=round_trips,
    concurrent=requests,
)
def test_reserved_and_held_exposure_stays_within_every_cap_after_a_return_to_flat(
    policy: RiskPolicy,
    correlations: Correlations,
    history: dict[str, list[tuple[Any, ...]]],
    concurrent: list[tuple[Any, ...]],
) -> None:
    portfolio = Portfolio(balance=D(100_000))
    for symbol, fills in history.items():
        _return_to_flat(portfolio, symbol, fills)
    realized = {s: p.realized_pnl for s, p in portfolio.positions.items()}
    equity = portfolio.balance
    view = market(START, correlations=correlations)
    for request in concurrent:
        decision = _request(portfolio, view, policy, request)
        if decision.outcome is not DecisionOutcome.DENIED:
            assert decision.numbers["equity"] == equity
            _assert_within_caps(portfolio, policy, correlations, equity, request)
    assert {s: p.realized_pnl for s, p in portfolio.positions.items()} == realized
