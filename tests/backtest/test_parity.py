"""The backtest produces the live pipeline's orders: vectorized signals equal the streamed
SymbolStepper/SymbolAnalysis ones, and BarMatchingVenue fills equal the real PaperExchange's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from trading.backtest.data import MarketData, Window, load_market, parse_day
from trading.backtest.engine import (
    BacktestConfig,
    BacktestResult,
    run_backtest,
    symbol_steps,
    with_params,
)
from trading.contracts import Timeframe


def _key(result: BacktestResult) -> list[tuple[str, str, str, str]]:
    return [
        (o.client_order_id, o.side.value, str(o.quantity.normalize()), o.created_at.isoformat())
        for o in result.orders
    ]


def test_vectorized_steps_equal_the_streamed_live_steps(reference_data: MarketData) -> None:
    config = BacktestConfig()
    fast = symbol_steps(reference_data, config)
    live = symbol_steps(reference_data, replace(config, signals="stream"))
    for symbol in fast:
        a, b = fast[symbol], live[symbol]
        assert np.array_equal(a.time_ms, b.time_ms)
        assert np.array_equal(a.base_end, b.base_end)
        assert np.array_equal(a.direction, b.direction)
        np.testing.assert_allclose(a.score, b.score, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(a.confidence, b.confidence)
        np.testing.assert_array_equal(a.atr, b.atr)
        np.testing.assert_array_equal(a.bars.close, b.bars.close)


def test_backtest_orders_equal_live_path_with_the_paper_exchange(
    reference_data: MarketData,
) -> None:
    """Streamed analysis + real PaperExchange (the live embedded venue) vs the fast path."""
    config = replace(BacktestConfig(), params={"lifecycle.min_confidence": 0.55})
    config = replace(config, lifecycle=replace(config.lifecycle_or_default(), min_confidence=0.55))
    fast = run_backtest(reference_data, config)
    live = run_backtest(reference_data, replace(config, signals="stream", venue="paper"))
    assert len(fast.orders) >= 10, "the window must trade for the comparison to mean anything"
    assert _key(fast) == _key(live)
    assert [(f.client_order_id, f.price, f.quantity, f.fee) for f in fast.fills] == [
        (f.client_order_id, f.price, f.quantity, f.fee) for f in live.fills
    ]
    np.testing.assert_array_equal(fast.equity, live.equity)


def test_same_inputs_same_orders_twice(reference_data: MarketData) -> None:
    config = BacktestConfig()
    assert _key(run_backtest(reference_data, config)) == _key(run_backtest(reference_data, config))


def test_skipping_idle_steps_changes_nothing(spot_dir: Path, shared_data: Path) -> None:
    """The fast path jumps from a flat, calm step to the next signal strong enough to act on;
    stepping every bar through desk, risk and venue (the reference) gives the same orders,
    decisions, fills, funding and equity curve, on three symbols with perpetual funding."""
    data = load_market(
        spot_dir,
        ("BTC/USDT", "ETH/USDT", "SOL/USDT"),
        Timeframe.M5,
        Window(parse_day("2025-02-01"), parse_day("2025-03-15")),
        funding_dir=shared_data / "binance_futures_2025",
    )
    config = with_params(BacktestConfig(), {"lifecycle.min_confidence": 0.52})
    steps = symbol_steps(data, config)
    fast = run_backtest(data, config, steps)
    every = run_backtest(data, replace(config, skip_idle=False), steps)
    assert len(fast.orders) > 20
    assert fast.funding_paid != 0
    assert [o.model_dump() for o in fast.orders] == [o.model_dump() for o in every.orders]
    assert [d.model_dump() for d in fast.decisions] == [d.model_dump() for d in every.decisions]
    assert [f.model_dump() for f in fast.fills] == [f.model_dump() for f in every.fills]
    assert fast.funding_paid == every.funding_paid
    assert fast.equity.tolist() == every.equity.tolist()
    assert fast.gross_exposure.tolist() == every.gross_exposure.tolist()
    assert fast.trades == every.trades
