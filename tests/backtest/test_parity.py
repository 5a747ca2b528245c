"""The backtest produces the live pipeline's orders: vectorized signals equal the streamed
SymbolStepper/SymbolAnalysis ones, and SimVenue fills equal the real PaperExchange's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from trading.backtest.data import MarketData
from trading.backtest.engine import BacktestConfig, run_backtest, symbol_steps


def _key(result: object) -> list[tuple[str, str, str, str]]:
    return [
        (o.client_order_id, o.side.value, str(o.quantity.normalize()), o.created_at.isoformat())
        for o in result.orders  # type: ignore[attr-defined]
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
