"""Hypothesis strategies that generate valid contracts (shared by the contract test modules)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import strategies as st

from trading.contracts import (
    DecisionOutcome,
    DenialReason,
    Direction,
    Fill,
    IndicatorSnapshot,
    Liquidity,
    MarketBar,
    OrderDecision,
    OrderIntent,
    OrderState,
    OrderStatus,
    OrderType,
    PatternHit,
    PatternKind,
    Position,
    Regime,
    Side,
    Signal,
    Timeframe,
    TimeInForce,
)

utc_times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2199, 12, 31), timezones=st.just(UTC)
)
symbols = st.one_of(
    st.sampled_from(["BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT", "1000PEPE/USDT"]),
    st.from_regex(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?", fullmatch=True),
)
client_ids = st.from_regex(r"[.A-Z:/a-z0-9_-]{1,36}", fullmatch=True)
strategy_names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True)
venue_ids = st.from_regex(r"[!-~]{1,64}", fullmatch=True)
feature_names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
confidences = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def positive_decimals(draw: st.DrawFn, max_digits: int = 20) -> Decimal:
    """Positive decimals with 0..18 places and trailing zeros kept (e.g. ``0.0100``)."""
    mantissa = draw(st.integers(min_value=1, max_value=10**max_digits - 1))
    places = draw(st.integers(min_value=0, max_value=18))
    return Decimal(mantissa).scaleb(-places)


non_negative_decimals = st.one_of(st.just(Decimal("0")), positive_decimals())


@st.composite
def market_bars(draw: st.DrawFn) -> MarketBar:
    timeframe = draw(st.sampled_from(list(Timeframe)))
    low, a, b, high = sorted(draw(st.lists(positive_decimals(12), min_size=4, max_size=4)))
    open_, close = (a, b) if draw(st.booleans()) else (b, a)
    return MarketBar(
        symbol=draw(symbols),
        timeframe=timeframe,
        open_time=timeframe.floor(draw(utc_times)),
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=draw(non_negative_decimals),
        closed=draw(st.booleans()),
    )


indicator_snapshots = st.builds(
    IndicatorSnapshot,
    symbol=symbols,
    timeframe=st.sampled_from(list(Timeframe)),
    bar_time=utc_times,
    close=positive_decimals(),
    values=st.dictionaries(feature_names, finite_floats, max_size=8),
)

pattern_hits = st.builds(
    PatternHit,
    kind=st.sampled_from(list(PatternKind)),
    direction=st.sampled_from(list(Direction)),
    symbol=symbols,
    timeframe=st.sampled_from(list(Timeframe)),
    bar_time=utc_times,
    bar_index=st.integers(min_value=0, max_value=10**7),
    levels=st.dictionaries(feature_names, positive_decimals(), max_size=4),
    confidence=confidences,
    components=st.dictionaries(feature_names, finite_floats, max_size=4),
)


@st.composite
def signals(draw: st.DrawFn) -> Signal:
    direction = draw(st.sampled_from(list(Direction)))
    if direction is Direction.LONG:
        score = draw(st.floats(min_value=1e-9, max_value=1.0))
    elif direction is Direction.SHORT:
        score = draw(st.floats(min_value=-1.0, max_value=-1e-9))
    else:
        score = draw(st.floats(min_value=-1.0, max_value=1.0))
    low, high = sorted(draw(st.lists(positive_decimals(), min_size=2, max_size=2, unique=True)))
    entry, stop = {
        Direction.LONG: (high, low),
        Direction.SHORT: (low, high),
        Direction.NEUTRAL: (low, None),
    }[direction]
    return Signal(
        symbol=draw(symbols),
        bar_time=draw(utc_times),
        created_at=draw(utc_times),
        direction=direction,
        score=score,
        confidence=draw(confidences),
        timeframes=tuple(
            draw(st.lists(st.sampled_from(Timeframe.analysis()), min_size=1, unique=True))
        ),
        regime=draw(st.sampled_from(list(Regime))),
        high_volatility=draw(st.booleans()),
        reasons=tuple(draw(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=4))),
        components=draw(st.dictionaries(feature_names, finite_floats, max_size=4)),
        analyst=draw(st.sampled_from(["offline-v1", "anthropic:claude-sonnet"])),
        entry_price=entry,
        stop_price=stop,
    )


@st.composite
def order_intents(draw: st.DrawFn) -> OrderIntent:
    order_type = draw(st.sampled_from(list(OrderType)))
    needs_limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
    return OrderIntent(
        client_order_id=draw(client_ids),
        strategy=draw(strategy_names),
        symbol=draw(symbols),
        side=draw(st.sampled_from(list(Side))),
        order_type=order_type,
        quantity=draw(positive_decimals()),
        limit_price=draw(positive_decimals()) if needs_limit else None,
        stop_price=draw(positive_decimals()) if needs_stop else None,
        time_in_force=draw(st.sampled_from(list(TimeInForce))),
        reduce_only=draw(st.booleans()),
        signal_time=draw(utc_times),
        created_at=draw(utc_times),
    )


@st.composite
def order_decisions(draw: st.DrawFn) -> OrderDecision:
    outcome = draw(st.sampled_from(list(DecisionOutcome)))
    requested = draw(positive_decimals())
    if outcome is DecisionOutcome.APPROVED:
        approved, reason = requested, None
    elif outcome is DecisionOutcome.DENIED:
        approved, reason = Decimal(0), draw(st.sampled_from(list(DenialReason)))
    else:
        requested = requested + 1
        approved = requested - draw(st.sampled_from([Decimal("0.5"), Decimal("1")]))
        reason = draw(st.sampled_from(list(DenialReason)))
    return OrderDecision(
        client_order_id=draw(client_ids),
        outcome=outcome,
        reason=reason,
        requested_quantity=requested,
        approved_quantity=approved,
        decided_at=draw(utc_times),
        evidence=draw(st.dictionaries(feature_names, st.text(max_size=40), max_size=4)),
    )


fills = st.builds(
    Fill,
    trade_id=venue_ids,
    client_order_id=client_ids,
    symbol=symbols,
    side=st.sampled_from(list(Side)),
    price=positive_decimals(),
    quantity=positive_decimals(),
    fee=non_negative_decimals,
    fee_asset=st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True),
    liquidity=st.sampled_from(list(Liquidity)),
    ts=utc_times,
)


@st.composite
def order_states(draw: st.DrawFn) -> OrderState:
    status = draw(st.sampled_from(list(OrderStatus)))
    quantity = draw(positive_decimals()) + 1
    if status in (OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.REJECTED):
        filled = Decimal(0)
    elif status is OrderStatus.FILLED:
        filled = quantity
    elif status is OrderStatus.PARTIALLY_FILLED:
        filled = quantity - 1
    else:
        filled = draw(st.sampled_from([Decimal(0), quantity - 1]))
    return OrderState(
        client_order_id=draw(client_ids),
        symbol=draw(symbols),
        side=draw(st.sampled_from(list(Side))),
        status=status,
        quantity=quantity,
        filled_quantity=filled,
        avg_fill_price=draw(positive_decimals()) if filled > 0 else None,
        venue_order_id=draw(st.none() | venue_ids),
        reject_reason="venue: insufficient balance" if status is OrderStatus.REJECTED else None,
        updated_at=draw(utc_times),
    )


@st.composite
def positions(draw: st.DrawFn) -> Position:
    quantity = draw(st.one_of(st.just(Decimal(0)), positive_decimals(), positive_decimals()))
    if draw(st.booleans()):
        quantity = -quantity
    return Position(
        symbol=draw(symbols),
        quantity=quantity,
        avg_entry_price=draw(positive_decimals()) if quantity != 0 else None,
        realized_pnl=draw(non_negative_decimals) * draw(st.sampled_from([1, -1])),
        fees_paid=draw(non_negative_decimals),
        updated_at=draw(utc_times),
    )
