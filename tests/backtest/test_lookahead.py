"""No look-ahead (freqtrade lookahead-analysis style): cutting future bars changes no past step
output and no past order."""

from __future__ import annotations

from dataclasses import replace

from trading.backtest.data import MarketData
from trading.backtest.engine import BacktestConfig
from trading.backtest.lookahead import lookahead_check


def test_truncating_future_data_changes_no_past_decision(reference_data: MarketData) -> None:
    config = replace(BacktestConfig(), lifecycle=None)
    config = replace(config, lifecycle=replace(config.lifecycle_or_default(), min_confidence=0.55))
    start = reference_data.window.start_ms
    day = 86_400_000
    cuts = [start + 4 * day + 7 * 300_000, start + 9 * day + 13 * 300_000]
    report = lookahead_check(reference_data, config, cuts)
    assert report.clean, report
