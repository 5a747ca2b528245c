"""Look-ahead analysis (freqtrade's lookahead-analysis): re-run on data cut at a time and check
that no decision before the cut changed. Any difference means something read the future."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trading.backtest.data import MarketData, Window
from trading.backtest.engine import BacktestConfig, run_backtest, symbol_steps
from trading.contracts import OrderIntent, utc_from_ms


@dataclass(frozen=True)
class LookaheadReport:
    """Cuts tried, and per cut the decisions before it that differ from the full run."""

    cuts_ms: tuple[int, ...]
    step_differences: int
    order_differences: int

    @property
    def clean(self) -> bool:
        return self.step_differences == 0 and self.order_differences == 0


def _orders_before(orders: Sequence[OrderIntent], cut_ms: int) -> list[tuple[str, str, str]]:
    return [
        (o.client_order_id, o.side.value, str(o.quantity))
        for o in orders
        if o.created_at.timestamp() * 1000 < cut_ms
    ]


def lookahead_check(
    data: MarketData, config: BacktestConfig, cuts_ms: Sequence[int]
) -> LookaheadReport:
    """Per-step signals, confidences and ATRs, and all orders created before each cut, must be
    identical with and without the bars after it."""
    full_steps = symbol_steps(data, config)
    full = run_backtest(data, config, full_steps)
    step_diffs = order_diffs = 0
    for cut in cuts_ms:
        truncated = data.cut(Window(data.window.start, utc_from_ms(cut)))
        steps = symbol_steps(truncated, config)
        for symbol, series in steps.items():
            reference = full_steps[symbol]
            n = int((series.time_ms < cut).sum())
            for name in ("time_ms", "score", "confidence", "direction", "atr"):
                a, b = getattr(series, name)[:n], getattr(reference, name)[:n]
                same = ((a == b) | ((a != a) & (b != b))).all()
                step_diffs += 0 if same else 1
        run = run_backtest(truncated, config, steps)
        order_diffs += _orders_before(run.orders, cut) != _orders_before(full.orders, cut)
    return LookaheadReport(tuple(cuts_ms), step_diffs, order_diffs)
