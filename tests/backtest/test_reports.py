"""Metrics on known curves and trades; the report files a run writes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trading.backtest.charts import price_figure
from trading.backtest.data import MarketData
from trading.backtest.engine import BacktestConfig, run_backtest, with_params
from trading.backtest.grid import config_digest, plan_runs
from trading.backtest.metrics import equity_metrics, trade_metrics
from trading.backtest.report import (
    equity_frame,
    html_report,
    monthly_returns,
    run_summary,
    trade_rows,
    trades_frame,
    write_outputs,
)
from trading.backtest.trades import TradeRecord
from trading.contracts import utc_from_ms


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
    assert "<script src='plotly.min.js'></script>" in page
    assert "cdn" not in page.lower()  # offline: the library is the file beside the page
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000
    assert all(f'id="{name}"' in page for name in ("equity", "drawdown", "monthly"))
    assert "Per pattern" in page


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_monthly_returns_count_the_bar_closing_at_midnight_in_the_month_it_ends() -> None:
    """Closes at 23:45 and 00:00 on the 1st: the second bar is still March's (it covers the
    last quarter hour of March), so no April appears for a window ending on 1 April."""
    times = np.array(
        [
            _ms("2025-03-15T00:00+00:00"),
            _ms("2025-03-31T23:45+00:00"),
            _ms("2025-04-01T00:00+00:00"),
        ]
    )
    monthly = monthly_returns(times, np.array([101.0, 105.0, 110.0]), 100.0)
    assert monthly == {"2025-03": pytest.approx(0.10)}
    times[-1] = _ms("2025-04-01T00:15+00:00")
    monthly = monthly_returns(times, np.array([101.0, 105.0, 110.0]), 100.0)
    assert monthly == {"2025-03": pytest.approx(0.05), "2025-04": pytest.approx(110 / 105 - 1)}


def test_report_marks_each_trade_on_dated_price_and_shows_percentages(
    reference_data: MarketData,
) -> None:
    config = with_params(BacktestConfig(), {"lifecycle.min_confidence": 0.55})
    result = run_backtest(reference_data, config)
    assert result.trades, "the reference window trades"
    entry = run_summary(result, "r1") | {"total_return": 0.1234}
    rows = trade_rows(result, "r1")
    page = html_report([entry], result, trades=rows, prices=reference_data.closes())
    assert "12.34%" in page  # a return as a percentage, not 0.1234
    first, last = utc_from_ms(int(result.time_ms[0])), utc_from_ms(int(result.time_ms[-1]))
    assert first.isoformat() in page  # dated axes
    assert last.isoformat() in page
    assert "BUY entry" in page or "SELL entry" in page
    for trade in rows:
        assert utc_from_ms(trade["entry_ms"]).isoformat() in page
        assert utc_from_ms(trade["exit_ms"]).strftime("%Y-%m-%d %H:%M") in page  # trade list
    outcomes = entry["decisions_by_outcome"]
    assert sum(outcomes.values()) == len(result.decisions)
    assert sum(entry["denials_by_reason"].values()) == outcomes.get("DENIED", 0)
    assert sum(entry["resizes_by_reason"].values()) == outcomes.get("RESIZED", 0)


def test_another_config_or_timeframes_never_reuses_a_run_id(reference_data: MarketData) -> None:
    """The stale-result case: the same grid into the same --out under another config."""
    settings = BacktestConfig().settings
    other = settings.model_copy(update={"timeframes": settings.timeframes[:2]})
    window = reference_data.window
    ids = {
        digest: plan_runs([{}], ["BTC/USDT"], window, config=digest)[0].run_id
        for digest in (config_digest(settings), config_digest(other), config_digest(settings))
    }
    assert len(ids) == 2
    assert len(set(ids.values())) == 2


def test_price_chart_marks_entries_and_only_closed_trades_exits() -> None:
    times = np.array([_ms("2025-03-01T00:15+00:00"), _ms("2025-03-01T00:30+00:00")])
    closed = {"symbol": "BTC/USDT", "side": "BUY", "entry_ms": int(times[0]), "entry_price": 100.0}
    closed |= {"exit_ms": int(times[1]), "exit_price": 104.0, "pnl": 4.0}
    still_open = closed | {"side": "SELL", "exit_ms": None, "exit_price": None, "pnl": None}
    figure = price_figure("BTC/USDT", times, np.array([100.0, 104.0]), [closed, still_open])
    traces = {trace.name: trace for trace in figure.data}
    assert set(traces) == {"BTC/USDT", "BUY entry", "SELL entry", "exit"}
    assert list(traces["exit"].y) == [104.0]
    assert list(traces["BUY entry"].y) == list(traces["SELL entry"].y) == [100.0]
    assert traces["exit"].text == ("PnL 4.00",)
