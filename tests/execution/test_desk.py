"""The trading desk: one step from analysis outputs to orders and booked fills."""

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
)
from trading.execution.desk import OrderUpdate, SymbolStep, TradingDesk
from trading.execution.lifecycle import LifecycleSettings
from trading.market.instruments import BINANCE_SPOT
from trading.risk.gate import RiskRequest

T0 = datetime(2025, 10, 1, 0, 15, tzinfo=UTC)
D = Decimal


def _step(close: str, *, signal: bool, t: datetime = T0) -> SymbolStep:
    bar = MarketBar(
        symbol="ETH/USDT",
        timeframe=Timeframe.M15,
        open_time=t - timedelta(minutes=15),
        open=D(close),
        high=D(close) + 10,
        low=D(close) - 10,
        close=D(close),
        volume=D("100"),
    )
    sig = Signal(
        symbol="ETH/USDT",
        bar_time=bar.open_time,
        created_at=t,
        direction=Direction.LONG,
        score=0.6,
        confidence=0.8,
        timeframes=(Timeframe.M15, Timeframe.H1),
        regime=Regime.BULL,
        reasons=("15m: bullish engulfing",),
        analyst="offline-v1",
    )
    return SymbolStep(
        "ETH/USDT", t, (), bar, sig if signal else None, atr=D("20"), last_close=D(close)
    )


def _approved(request: RiskRequest) -> OrderDecision:
    """Risk's verdict letting ``request`` through unchanged."""
    return OrderDecision(
        client_order_id=request.intent.client_order_id,
        outcome=DecisionOutcome.APPROVED,
        requested_quantity=request.intent.quantity,
        approved_quantity=request.intent.quantity,
        decided_at=T0,
    )


def _desk() -> TradingDesk:
    return TradingDesk(LifecycleSettings(), BINANCE_SPOT, 10.0, 100)


def test_signal_becomes_a_sized_request_then_an_order_at_the_approved_quantity() -> None:
    """Equity 100,000 at a 10% symbol cap and ETH at 2,500 allows at most 4 ETH; risk
    approves 1.5 of them, and the order goes out for 1.5."""
    desk = _desk()
    step = _step("2500", signal=True)
    [request] = desk.plan([step], equity=D("100000"))
    assert request.intent.quantity == D("4.0000")
    assert request.stop_price == D("2460"), "2,500 - 2 x ATR 20"
    decision = OrderDecision(
        client_order_id=request.intent.client_order_id,
        outcome=DecisionOutcome.RESIZED,
        reason=DenialReason.RISK_PER_TRADE,
        requested_quantity=request.intent.quantity,
        approved_quantity=D("1.5"),
        decided_at=T0,
    )
    [order] = desk.approve([request], [decision])
    assert order.quantity == D("1.5")
    assert desk.open_order_ids() == [order.client_order_id]
    assert desk.marks([step])["ETH/USDT"].price == D("2500")
    assert desk.closes([step]) == {"ETH/USDT": [2500.0]}


def test_fills_are_booked_once_and_ended_orders_leave_the_open_list() -> None:
    desk = _desk()
    [request] = desk.plan([_step("2500", signal=True)], equity=D("100000"))
    decision = _approved(request)
    [order] = desk.approve([request], [decision])
    fill = Fill(
        trade_id="1",
        client_order_id=order.client_order_id,
        symbol="ETH/USDT",
        side=Side.BUY,
        price=D("2500"),
        quantity=order.quantity,
        fee=D("1"),
        fee_asset="USDT",
        liquidity=Liquidity.TAKER,
        ts=T0,
    )
    state = OrderState(
        client_order_id=order.client_order_id,
        symbol="ETH/USDT",
        side=Side.BUY,
        status=OrderStatus.FILLED,
        quantity=order.quantity,
        filled_quantity=order.quantity,
        avg_fill_price=D("2500"),
        updated_at=T0,
    )
    fills, ended = desk.on_updates([OrderUpdate(state, (fill,)), OrderUpdate(state, (fill,))])
    assert fills == [fill]
    assert [s.client_order_id for s in ended] == [order.client_order_id] * 2
    assert desk.open_order_ids() == []
    # the trade is open: a later bar through the stop produces a reduce-only exit request
    later = T0 + timedelta(minutes=15)
    [exit_request] = desk.plan([_step("2400", signal=False, t=later)], equity=D("100000"))
    assert exit_request.intent.reduce_only
    assert exit_request.intent.quantity == order.quantity


def test_stepper_feeds_real_bars_and_reports_each_15m_close() -> None:
    from trading.contracts import Timeframe
    from trading.execution.desk import SymbolStepper
    from trading.market.frames import read_bars
    from trading.market.replay import BUNDLED_DATA, column_bars
    from trading.signals.analysis import SymbolAnalysis

    columns = read_bars(BUNDLED_DATA / "BTC_USDT-5m.parquet").columns().take(slice(0, 30))
    stepper = SymbolStepper(
        SymbolAnalysis("BTC/USDT", Timeframe.M5),
        column_bars(columns, "BTC/USDT", Timeframe.M5),
        Timeframe.M15,
    )
    start = datetime(2025, 10, 1, tzinfo=UTC)
    steps = [stepper.advance(start + timedelta(minutes=15 * k)) for k in range(1, 11)]
    assert [len(s.bars) for s in steps] == [3] * 10
    assert [s.step_bar.open_time for s in steps if s.step_bar] == [
        start + timedelta(minutes=15 * k) for k in range(10)
    ]
    assert all(s.signal is not None and s.signal.bar_time <= s.time for s in steps)
    assert steps[-1].last_close == steps[-1].bars[-1].close
    assert stepper.exhausted
    assert stepper.advance(start + timedelta(hours=3)).bars == ()


def test_an_order_placed_by_hand_is_followed_without_booking_its_fills_twice() -> None:
    desk = _desk()
    fill = Fill(
        trade_id="9",
        client_order_id="rt-manual",
        symbol="ETH/USDT",
        side=Side.BUY,
        price=D("2500"),
        quantity=D("1"),
        fee=D(0),
        fee_asset="USDT",
        liquidity=Liquidity.MAKER,
        ts=T0,
    )
    desk.follow("rt-manual", [fill])
    assert desk.open_order_ids() == ["rt-manual"]
    later = fill.model_copy(update={"trade_id": "10"})
    resting = OrderState(
        client_order_id="rt-manual",
        symbol="ETH/USDT",
        side=Side.BUY,
        status=OrderStatus.FILLED,
        quantity=D("2"),
        filled_quantity=D("2"),
        avg_fill_price=D("2500"),
        updated_at=T0,
    )
    fills, ended = desk.on_updates([OrderUpdate(resting, (fill, later))])
    assert fills == [later], "the fill the API already booked is not booked again"
    assert [s.client_order_id for s in ended] == ["rt-manual"]
    assert desk.open_order_ids() == []


def test_a_rejected_entry_leaves_the_open_list_and_drops_its_trade() -> None:
    """An approved entry the venue rejects ends: it leaves the open list and the lifecycle
    forgets the trade, so the next signal can enter again."""
    desk = _desk()
    [request] = desk.plan([_step("2500", signal=True)], equity=D("100000"))
    decision = _approved(request)
    [order] = desk.approve([request], [decision])
    rejected = OrderState(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        status=OrderStatus.REJECTED,
        quantity=order.quantity,
        filled_quantity=D(0),
        reject_reason="no venue",
        updated_at=T0,
    )
    orders = [order]
    fills, ended = desk.on_updates([OrderUpdate(rejected)])
    assert fills == []
    assert [(s.client_order_id, s.status, s.reject_reason) for s in ended] == [
        (orders[0].client_order_id, "REJECTED", "no venue")
    ]
    assert desk.open_order_ids() == []
    assert desk.lifecycle.open_symbols() == []
    later = T0 + timedelta(minutes=15)
    assert len(desk.plan([_step("2500", signal=True, t=later)], equity=D("100000"))) == 1
