"""Position lifecycle: confident signals open trades, stops trail and exit, ids repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trading.contracts import (
    DecisionOutcome,
    DenialReason,
    Direction,
    Fill,
    Liquidity,
    MarketBar,
    OrderDecision,
    OrderState,
    OrderStatus,
    Regime,
    Side,
    Signal,
    Timeframe,
    client_order_id,
)
from trading.execution.lifecycle import (
    LifecycleSettings,
    PositionLifecycle,
    Purpose,
    TradeState,
)
from trading.market.instruments import BINANCE_SPOT

T0 = datetime(2025, 10, 1, tzinfo=UTC)
D = Decimal


def _signal(direction: Direction, confidence: float, t: datetime = T0) -> Signal:
    return Signal(
        symbol="BTC/USDT",
        bar_time=t,
        created_at=t,
        direction=direction,
        score={Direction.LONG: 0.5, Direction.SHORT: -0.5, Direction.NEUTRAL: 0.0}[direction],
        confidence=confidence,
        timeframes=(Timeframe.M15,),
        regime=Regime.BULL,
        reasons=("test",),
        analyst="offline-v1",
    )


def _bar(t: datetime, low: str, high: str, close: str) -> MarketBar:
    return MarketBar(
        symbol="BTC/USDT",
        timeframe=Timeframe.M15,
        open_time=t,
        open=D(close),
        high=D(high),
        low=D(low),
        close=D(close),
        volume=D("10"),
    )


def _fill(client_id: str, side: Side, qty: str, price: str, t: datetime) -> Fill:
    return Fill(
        trade_id=f"T{t.timestamp():.0f}{side}",
        client_order_id=client_id,
        symbol="BTC/USDT",
        side=side,
        price=D(price),
        quantity=D(qty),
        fee=D(0),
        fee_asset="USDT",
        liquidity=Liquidity.TAKER,
        ts=t,
    )


def _trade_state(lifecycle: PositionLifecycle) -> TradeState:
    """The BTC trade's state, read afresh (an inline read would stay narrowed by mypy)."""
    return lifecycle.state.trades["BTC/USDT"].state


def _lifecycle() -> PositionLifecycle:
    return PositionLifecycle(LifecycleSettings(), dict(BINANCE_SPOT))


def test_confident_long_signal_opens_with_an_atr_stop_and_a_deterministic_id() -> None:
    lifecycle = _lifecycle()
    entries, exits = lifecycle.on_signal(
        _signal(Direction.LONG, 0.7), atr=D("500"), mark=D("60000"), max_quantity=D("0.1234567")
    )
    assert exits == []
    [entry] = entries
    assert entry.intent.client_order_id == client_order_id(
        "confluence", "BTC/USDT", T0, int(Purpose.ENTRY)
    )
    assert entry.intent.quantity == D("0.12345"), "rounded down to the 0.00001 lot"
    assert entry.stop_price == D("59000"), "60,000 - 2 x 500"
    assert entry.confidence == 0.7
    assert lifecycle.state.trades["BTC/USDT"].state is TradeState.PENDING


def test_weak_or_neutral_signals_do_nothing() -> None:
    lifecycle = _lifecycle()
    for signal in (_signal(Direction.LONG, 0.59), _signal(Direction.NEUTRAL, 0.9)):
        assert lifecycle.on_signal(signal, D("500"), D("60000"), D("1")) == ([], [])
    assert lifecycle.open_symbols() == []


def test_denied_entry_drops_the_trade() -> None:
    lifecycle = _lifecycle()
    [entry], _ = lifecycle.on_signal(_signal(Direction.LONG, 0.7), D("500"), D("60000"), D("1"))
    lifecycle.on_decision(
        OrderDecision(
            client_order_id=entry.intent.client_order_id,
            outcome=DecisionOutcome.DENIED,
            reason=DenialReason.SAFE_MODE,
            requested_quantity=entry.intent.quantity,
            approved_quantity=D(0),
            decided_at=T0,
        )
    )
    assert lifecycle.open_symbols() == []


def test_stop_trails_to_breakeven_then_exits_when_touched() -> None:
    """Entry 60,000, stop 59,000 (R = 1,000), target at 3R = 63,000.
    A bar to 61,100 (> +1R) moves the stop to breakeven; max(61,100 - 3x500, 60,000) = 60,000.
    A later bar with low 59,990 touches it: a reduce-only SELL goes out, id purpose STOP."""
    lifecycle = _lifecycle()
    [entry], _ = lifecycle.on_signal(_signal(Direction.LONG, 0.8), D("500"), D("60000"), D("1"))
    lifecycle.on_fill(_fill(entry.intent.client_order_id, Side.BUY, "1", "60000", T0))
    trade = lifecycle.state.trades["BTC/USDT"]
    assert trade.state is TradeState.OPEN
    assert trade.target == D("63000")
    t1, t2 = T0 + timedelta(minutes=15), T0 + timedelta(minutes=30)
    assert lifecycle.on_bar(_bar(t1, "60200", "61100", "61000"), D("500")) == []
    assert trade.stop is not None
    assert trade.stop.stop == D("60000")
    [exit_intent] = lifecycle.on_bar(_bar(t2, "59990", "61050", "60100"), D("500"))
    assert exit_intent.side is Side.SELL
    assert exit_intent.reduce_only
    assert exit_intent.quantity == D("1")
    assert exit_intent.client_order_id == client_order_id(
        "confluence", "BTC/USDT", t2, int(Purpose.STOP)
    )
    lifecycle.on_fill(_fill(exit_intent.client_order_id, Side.SELL, "1", "60100", t2))
    assert lifecycle.open_symbols() == []


def test_opposite_signal_exits_and_a_rejected_exit_resumes_monitoring() -> None:
    lifecycle = _lifecycle()
    [entry], _ = lifecycle.on_signal(_signal(Direction.LONG, 0.8), D("500"), D("60000"), D("1"))
    lifecycle.on_fill(_fill(entry.intent.client_order_id, Side.BUY, "0.5", "60000", T0))
    t1 = T0 + timedelta(hours=1)
    _, [exit_intent] = lifecycle.on_signal(
        _signal(Direction.SHORT, 0.9, t1), D("500"), D("60000"), D("1")
    )
    assert exit_intent.quantity == D("0.5")
    assert _trade_state(lifecycle) is TradeState.CLOSING
    lifecycle.on_order_end(
        OrderState(
            client_order_id=exit_intent.client_order_id,
            symbol="BTC/USDT",
            side=Side.SELL,
            status=OrderStatus.REJECTED,
            quantity=D("0.5"),
            filled_quantity=D(0),
            reject_reason="venue down",
            updated_at=t1,
        )
    )
    assert _trade_state(lifecycle) is TradeState.OPEN


def test_lifecycle_state_round_trips_for_checkpoints() -> None:
    lifecycle = _lifecycle()
    [entry], _ = lifecycle.on_signal(_signal(Direction.SHORT, 0.8), D("500"), D("60000"), D("1"))
    lifecycle.on_fill(_fill(entry.intent.client_order_id, Side.SELL, "1", "60000", T0))
    restored = type(lifecycle.state).model_validate_json(lifecycle.state.model_dump_json())
    assert restored == lifecycle.state
    assert restored.trades["BTC/USDT"].target == D("57000")
