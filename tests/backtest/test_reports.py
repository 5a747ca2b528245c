"""Metrics on known curves and trades; the report files a run writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trading.backtest.data import MarketData
from trading.backtest.engine import BacktestConfig, run_backtest, with_params
from trading.backtest.metrics import equity_metrics, trade_metrics
from trading.backtest.report import (
    equity_frame,
    run_summary,
    trade_rows,
    trades_frame,
    write_outputs,
)
from trading.backtest.trades import TradeRecord


def _trade(pnl: float, r: float | None) -> TradeRecord:
    return TradeRecord(
        "BTC/USDT",
        "BUY",
        0,
        1,
        1.0,
        100.0,
        100.0 + pnl,
        pnl,
        0.0,
        pnl,
        r,
        0.6,
        ("PIN_BAR:+",),
        1.0,
        "15m",
        "rt-x",
    )


def test_drawdown_and_returns_of_a_known_curve() -> None:
    times = np.arange(4, dtype=np.int64) * 900_000
    metrics = equity_metrics(times, np.array([110.0, 99.0, 121.0, 121.0]), 100.0)
    assert metrics["total_return"] == pytest.approx(0.21)
    assert metrics["max_drawdown"] == pytest.approx(0.1)


def test_trade_metrics_survive_zero_trades_and_count_wins() -> None:
    assert trade_metrics([])["trades"] == 0
    m = trade_metrics([_trade(10, 1.0), _trade(-5, -0.5), _trade(20, 2.0)])
    assert m["win_rate"] == pytest.approx(2 / 3)
    assert m["profit_factor"] == pytest.approx(6.0)
    assert m["avg_r"] == pytest.approx(2.5 / 3)


def test_run_writes_summary_parquet_and_html(reference_data: MarketData, tmp_path: Path) -> None:
    config = with_params(BacktestConfig(), {"lifecycle.min_confidence": 0.55})
    result = run_backtest(reference_data, config)
    entry = run_summary(result, "r1")
    for key in (
        "total_return",
        "sharpe",
        "sortino",
        "max_drawdown",
        "win_rate",
        "trades",
        "params",
        "annual_return",
        "calmar",
        "expectancy",
        "avg_r",
        "profit_factor",
        "exposure",
        "hit_rate_by_pattern",
        "cost_per_trade",
    ):
        assert key in entry
    write_outputs(
        tmp_path,
        [entry],
        trades_frame(trade_rows(result, "r1")),
        equity_frame(result, "r1"),
        result,
    )
    assert json.loads((tmp_path / "summary.json").read_text())[0]["params"] == {
        "lifecycle.min_confidence": 0.55
    }
    assert pl.read_parquet(tmp_path / "trades.parquet").height == len(result.trades)
    assert pl.read_parquet(tmp_path / "equity.parquet").height == len(result.time_ms)
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") == 3
    assert "Per pattern" in page
