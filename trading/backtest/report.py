"""Run outputs: metrics rows, trades and equity tables (Parquet), summary JSON, HTML report.

The HTML is self-contained: inline SVG for the equity curve, drawdown and the monthly returns
heatmap, and tables for the leaderboard and per-pattern hit rates.
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

from trading.backtest.engine import BacktestResult
from trading.backtest.metrics import drawdown, summarize
from trading.contracts import Timeframe, utc_from_ms
from trading.patterns.series import FloatArray, IntArray

SUMMARY_KEYS = ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "trades")


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
    }


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


def _polyline(x: FloatArray, y: FloatArray, width: int, height: int, colour: str) -> str:
    if len(x) < 2 or not np.isfinite(y).any():
        return ""
    step = max(1, len(x) // 1500)
    x, y = x[::step], y[::step]
    lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
    span = hi - lo or 1.0
    px = (x - x[0]) / ((x[-1] - x[0]) or 1) * (width - 60) + 50
    py = height - 20 - (y - lo) / span * (height - 40)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
    return (
        f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<rect width="100%" height="100%" fill="#fafafa"/>'
        f'<text x="2" y="14" font-size="11">{hi:,.4g}</text>'
        f'<text x="2" y="{height - 6}" font-size="11">{lo:,.4g}</text>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{points}"/></svg>'
    )


def monthly_returns(time_ms: IntArray, equity: FloatArray, initial: float) -> dict[str, float]:
    """Return of each UTC month from the equity at the end of the previous month."""
    out: dict[str, float] = {}
    previous = initial
    months = [utc_from_ms(t).strftime("%Y-%m") for t in time_ms.tolist()]
    for i, month in enumerate(months):
        last = i + 1 == len(months) or months[i + 1] != month
        if last:
            out[month] = float(equity[i] / previous - 1.0)
            previous = float(equity[i])
    return out


def _heatmap(monthly: Mapping[str, float]) -> str:
    if not monthly:
        return "<p>no months</p>"
    years = sorted({m[:4] for m in monthly})
    cells = []
    for row, year in enumerate(years):
        cells.append(f'<text x="0" y="{row * 24 + 40}" font-size="11">{year}</text>')
        for month in range(1, 13):
            value = monthly.get(f"{year}-{month:02d}")
            x, y = 40 + (month - 1) * 44, row * 24 + 24
            if value is None:
                colour, label = "#eee", ""
            else:
                strength = min(abs(value) / 0.1, 1.0)
                channel = int(255 * (1 - strength))
                colour = (
                    f"rgb({channel},255,{channel})"
                    if value >= 0
                    else f"rgb(255,{channel},{channel})"
                )
                label = f"{value * 100:.1f}%"
            cells.append(
                f'<rect x="{x}" y="{y}" width="42" height="22" fill="{colour}"/>'
                f'<text x="{x + 2}" y="{y + 15}" font-size="10">{label}</text>'
            )
    header = "".join(
        f'<text x="{40 + i * 44 + 12}" y="16" font-size="10">{name}</text>'
        for i, name in enumerate("JFMAMJJASOND")
    )
    height = len(years) * 24 + 30
    return f'<svg width="600" height="{height}" xmlns="http://www.w3.org/2000/svg">{header}{"".join(cells)}</svg>'


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def html_report(
    entries: Sequence[Mapping[str, Any]],
    best: BacktestResult | None,
    title: str = "raytrader backtest",
) -> str:
    """The leaderboard, and for the best run its equity, drawdown, monthly heatmap, patterns."""
    board = leaderboard(entries)
    columns = ["run_id", *SUMMARY_KEYS, "annual_return", "calmar", "profit_factor", "params"]
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
        "</style></head><body>",
        f"<h1>{html.escape(title)}</h1><h2>Leaderboard (by Sharpe)</h2>",
        _table(board[:50], columns),
    ]
    if best is not None and len(best.time_ms):
        x = best.time_ms.astype(np.float64)
        curve = best.equity
        parts += [
            f"<h2>Best run: {html.escape(str(board[0].get('run_id')))}</h2><h3>Equity</h3>",
            _polyline(x, curve, 900, 220, "#1f77b4"),
            "<h3>Drawdown</h3>",
            _polyline(x, drawdown(curve), 900, 140, "#d62728"),
            "<h3>Monthly returns</h3>",
            _heatmap(monthly_returns(best.time_ms, curve, best.initial_balance)),
        ]
        patterns = board[0].get("hit_rate_by_pattern") or {}
        rows = [{"pattern": k, **v} for k, v in patterns.items()]
        parts += ["<h3>Per pattern</h3>", _table(rows, ["pattern", "trades", "hit_rate", "avg_r"])]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_outputs(
    out: Path,
    entries: Sequence[Mapping[str, Any]],
    trades: pl.DataFrame,
    equity: pl.DataFrame,
    best: BacktestResult | None,
) -> None:
    """``summary.json``, ``trades.parquet``, ``equity.parquet``, ``report.html`` and
    ``leaderboard.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_summary(out / "summary.json", entries)
    trades.write_parquet(out / "trades.parquet")
    equity.write_parquet(out / "equity.parquet")
    (out / "report.html").write_text(html_report(entries, best))
    board = [{k: e.get(k) for k in LEADERBOARD_KEYS} for e in leaderboard(entries)]
    (out / "leaderboard.json").write_text(json.dumps(board, default=str, indent=1))


def write_run_outputs(out: Path, runs: Sequence[Mapping[str, Any]], initial_balance: float) -> None:
    """``write_outputs`` of finished run payloads (each its ``summary``, ``trades`` rows and
    ``equity`` columns, as ``trading.backtest.batch.run_batch`` returns them)."""
    entries = [r["summary"] for r in runs]
    trades = trades_frame([t for r in runs for t in r["trades"]])
    best = max(runs, key=lambda r: r["summary"].get("sharpe") or 0.0, default=None)
    best_result = _payload_result(best, initial_balance) if best is not None else None
    write_outputs(out, entries, trades, _payloads_equity(runs), best_result)


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
