"""Run outputs: metrics rows, trades and equity tables (Parquet), summary JSON, HTML report.

The HTML report draws with Plotly (``trading.backtest.charts``: dated axes, trades on the price,
a monthly heatmap) and loads ``plotly.min.js`` from its own directory, so it opens offline; its
tables show returns, drawdowns and rates as percentages.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from trading.backtest import charts
from trading.backtest.engine import BacktestResult
from trading.backtest.metrics import summarize
from trading.contracts import DecisionOutcome, Timeframe, utc_from_ms
from trading.patterns.series import FloatArray, IntArray

SUMMARY_KEYS = ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "trades")
PERCENT_KEYS = frozenset(
    {"total_return", "max_drawdown", "win_rate", "annual_return", "exposure", "hit_rate"}
)
Prices = Mapping[str, tuple[IntArray, FloatArray]]  # symbol -> bar close times, closes


def run_summary(result: BacktestResult, run_id: str, **labels: Any) -> dict[str, Any]:
    """One ``summary.json`` entry: every metric plus the parameters and labels of the run."""
    metrics = summarize(
        result.time_ms,
        result.equity,
        result.gross_exposure,
        result.trades,
        result.initial_balance,
        funding=result.funding_paid,
    )
    return {
        "run_id": run_id,
        **labels,
        "symbols": list(result.symbols),
        "params": dict(result.params),
        "base_bars": result.base_bars,
        "funding_paid": result.funding_paid,
        **metrics,
        **decision_counts(result),
    }


def decision_counts(result: BacktestResult) -> dict[str, dict[str, int]]:
    """Risk's decisions by outcome, and the denials and the resizes by reason."""
    counts: dict[str, dict[str, int]] = {
        "decisions_by_outcome": {},
        "denials_by_reason": {},
        "resizes_by_reason": {},
    }
    for decision in result.decisions:
        _count(counts["decisions_by_outcome"], str(decision.outcome))
        if decision.reason is not None:
            kind = "denials" if decision.outcome is DecisionOutcome.DENIED else "resizes"
            _count(counts[f"{kind}_by_reason"], str(decision.reason))
    return counts


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def trade_rows(result: BacktestResult, run_id: str) -> list[dict[str, Any]]:
    rows = []
    for trade in result.trades:
        row = asdict(trade)
        row.pop("open_qty")
        row["patterns"] = ",".join(trade.patterns)
        row["run_id"] = run_id
        rows.append(row)
    return rows


def equity_frame(result: BacktestResult, run_id: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_id": [run_id] * len(result.time_ms),
            "time_ms": result.time_ms,
            "equity": result.equity,
            "gross_exposure": result.gross_exposure,
        }
    )


TRADE_SCHEMA = {
    "run_id": pl.Utf8,
    "symbol": pl.Utf8,
    "side": pl.Utf8,
    "entry_ms": pl.Int64,
    "exit_ms": pl.Int64,
    "quantity": pl.Float64,
    "entry_price": pl.Float64,
    "exit_price": pl.Float64,
    "gross_pnl": pl.Float64,
    "fees": pl.Float64,
    "pnl": pl.Float64,
    "r_multiple": pl.Float64,
    "confidence": pl.Float64,
    "patterns": pl.Utf8,
    "regime": pl.Float64,
    "timeframe": pl.Utf8,
    "entry_client_id": pl.Utf8,
    "fills": pl.Int64,
}


EQUITY_SCHEMA = {
    "run_id": pl.Utf8,
    "time_ms": pl.Int64,
    "equity": pl.Float64,
    "gross_exposure": pl.Float64,
}

LEADERBOARD_KEYS = ("run_id", "sharpe", "total_return", "max_drawdown", "params", "window")


def trades_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=TRADE_SCHEMA)


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_summary(path: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    path.write_text(json.dumps(_clean(list(entries)), indent=2, sort_keys=True, default=str))


def leaderboard(
    entries: Sequence[Mapping[str, Any]], by: str = "sharpe"
) -> list[Mapping[str, Any]]:
    return sorted(entries, key=lambda e: -(e.get(by) or 0.0))


# ---------------------------------------------------------------------- HTML


def monthly_returns(time_ms: IntArray, equity: FloatArray, initial: float) -> dict[str, float]:
    """Return of each UTC month from the equity at the end of the previous month. A sample is
    stamped with its bar's close, so it belongs to the month of the instant before: the bar
    closing at 00:00 on the 1st is the last of the month before, not a month of its own."""
    out: dict[str, float] = {}
    previous = initial
    months = [utc_from_ms(t - 1).strftime("%Y-%m") for t in time_ms.tolist()]
    for i, month in enumerate(months):
        last = i + 1 == len(months) or months[i + 1] != month
        if last:
            out[month] = float(equity[i] / previous - 1.0)
            previous = float(equity[i])
    return out


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            text = _cell(column, row.get(column))
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _cell(column: str, value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, float) and column in PERCENT_KEYS:
        return f"{value:.2%}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:,.4g}"
    if column.endswith("_ms") and isinstance(value, int):
        return utc_from_ms(value).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def html_report(
    entries: Sequence[Mapping[str, Any]],
    best: BacktestResult | None,
    title: str = "raytrader backtest",
    *,
    trades: Sequence[Mapping[str, Any]] = (),
    prices: Prices | None = None,
) -> str:
    """The leaderboard, and for the best run: its price with the trades (``trades``: its round
    trips as ``trade_rows``; ``prices``: closes per symbol), equity, drawdown, monthly returns,
    patterns, risk decisions and denials by reason, and the trade list."""
    board = leaderboard(entries)
    columns = ["run_id", *SUMMARY_KEYS, "annual_return", "calmar", "profit_factor", "params"]
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<script src='{charts.PLOTLY_JS}'></script>",
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
        "</style></head><body>",
        f"<h1>{html.escape(title)}</h1><h2>Leaderboard (by Sharpe)</h2>",
        _table(board[:50], columns),
    ]
    if best is not None and len(best.time_ms):
        parts += [f"<h2>Best run: {html.escape(str(board[0].get('run_id')))}</h2>"]
        parts += _best_run(board[0], best, trades, prices or {})
    parts.append("</body></html>")
    return "\n".join(parts)


def _best_run(
    entry: Mapping[str, Any],
    best: BacktestResult,
    trades: Sequence[Mapping[str, Any]],
    prices: Prices,
) -> list[str]:
    """The best run's charts and tables."""
    parts = [
        charts.fragment(charts.price_figure(symbol, *prices[symbol], trades), f"price-{i}")
        for i, symbol in enumerate(best.symbols)
        if symbol in prices
    ]
    monthly = monthly_returns(best.time_ms, best.equity, best.initial_balance)
    parts += [
        charts.fragment(charts.equity_figure(best.time_ms, best.equity), "equity"),
        charts.fragment(charts.drawdown_figure(best.time_ms, best.equity), "drawdown"),
        charts.fragment(charts.monthly_heatmap(monthly), "monthly"),
    ]
    patterns = entry.get("hit_rate_by_pattern") or {}
    rows = [{"pattern": k, **v} for k, v in patterns.items()]
    parts += ["<h3>Per pattern</h3>", _table(rows, ["pattern", "trades", "hit_rate", "avg_r"])]
    outcomes = entry.get("decisions_by_outcome") or {}
    denials = entry.get("denials_by_reason") or {}
    parts += [
        "<h3>Risk decisions by outcome</h3>",
        _table(
            [{"outcome": k, "count": v} for k, v in sorted(outcomes.items())], ["outcome", "count"]
        ),
        "<h3>Denials by reason</h3>",
        _table(
            [{"reason": k, "count": v} for k, v in sorted(denials.items())], ["reason", "count"]
        ),
        "<h3>Trades</h3>",
        _table(trades, TRADE_COLUMNS),
    ]
    return parts


def _counts_table(name: str, counts: Mapping[str, int]) -> str:
    return _table([{name: k, "count": v} for k, v in sorted(counts.items())], [name, "count"])


TRADE_COLUMNS = (
    "symbol",
    "side",
    "entry_ms",
    "exit_ms",
    "quantity",
    "entry_price",
    "exit_price",
    "fees",
    "pnl",
    "r_multiple",
    "patterns",
)


def write_outputs(
    out: Path,
    entries: Sequence[Mapping[str, Any]],
    trades: pl.DataFrame,
    equity: pl.DataFrame,
    best: BacktestResult | None,
    prices: Prices | None = None,
) -> None:
    """``summary.json``, ``trades.parquet``, ``equity.parquet``, ``report.html`` (with
    ``plotly.min.js`` beside it) and ``leaderboard.json`` in ``out``; ``prices``: closes per
    symbol for the best run's price chart."""
    out.mkdir(parents=True, exist_ok=True)
    write_summary(out / "summary.json", entries)
    trades.write_parquet(out / "trades.parquet")
    equity.write_parquet(out / "equity.parquet")
    best_id = leaderboard(entries)[0].get("run_id") if entries else None
    best_trades = trades.filter(pl.col("run_id") == best_id).to_dicts() if best_id else []
    page = html_report(entries, best, trades=best_trades, prices=prices)
    (out / "report.html").write_text(page)
    (out / charts.PLOTLY_JS).write_text(charts.plotly_js())
    board = [{k: e.get(k) for k in LEADERBOARD_KEYS} for e in leaderboard(entries)]
    (out / "leaderboard.json").write_text(json.dumps(board, default=str, indent=1))


def write_run_outputs(
    out: Path,
    runs: Sequence[Mapping[str, Any]],
    initial_balance: float,
    prices: Prices | None = None,
) -> None:
    """``write_outputs`` of finished run payloads (each its ``summary``, ``trades`` rows and
    ``equity`` columns, as ``trading.backtest.batch.run_batch`` returns them)."""
    entries = [r["summary"] for r in runs]
    trades = trades_frame([t for r in runs for t in r["trades"]])
    best = max(runs, key=lambda r: r["summary"].get("sharpe") or 0.0, default=None)
    best_result = _payload_result(best, initial_balance) if best is not None else None
    write_outputs(out, entries, trades, _payloads_equity(runs), best_result, prices)


def _payloads_equity(runs: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    frames = [
        pl.DataFrame(
            {"run_id": [r["summary"]["run_id"]] * len(r["equity"]["time_ms"]), **r["equity"]}
        )
        for r in runs
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema=EQUITY_SCHEMA)


def _payload_result(run: Mapping[str, Any], initial_balance: float) -> BacktestResult:
    """A run payload as the result the HTML report draws (its equity curve and labels)."""
    summary, equity = run["summary"], run["equity"]
    return BacktestResult(
        symbols=tuple(summary["symbols"]),
        step=Timeframe.M15,
        time_ms=np.asarray(equity["time_ms"], dtype=np.int64),
        equity=np.asarray(equity["equity"], dtype=np.float64),
        gross_exposure=np.asarray(equity["gross_exposure"], dtype=np.float64),
        orders=[],
        decisions=[],
        fills=[],
        trades=[],
        funding_paid=summary.get("funding_paid", 0.0),
        initial_balance=initial_balance,
        base_bars=summary.get("base_bars", 0),
        params=summary["params"],
    )


def walk_forward_folds(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per fold: the parameters best on the training window (Sharpe) and their test result."""
    train = [e for e in entries if e.get("train") is None]
    test = [e for e in entries if e.get("train") is not None]
    folds = []
    for window in sorted({t["window"] for t in train}):
        best = max((t for t in train if t["window"] == window), key=_sharpe)
        chosen = [t for t in test if t["train"] == window and t["params"] == best["params"]]
        if chosen:
            folds.append(
                {
                    "train": window,
                    "params": best["params"],
                    "train_sharpe": best.get("sharpe"),
                    "test": chosen[0],
                }
            )
    return folds


def _sharpe(entry: Mapping[str, Any]) -> float:
    sharpe: float = entry.get("sharpe") or 0.0
    return sharpe


def write_walk_forward(path: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    path.write_text(json.dumps(walk_forward_folds(entries), indent=1, default=str))
