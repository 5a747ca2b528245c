"""Performance metrics of an equity curve and its round trips (crypto trades 24/7: 365 days)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from trading.backtest.trades import TradeRecord
from trading.patterns.series import FloatArray, IntArray

YEAR_MS = 365 * 24 * 3600 * 1000


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def drawdown(equity: FloatArray) -> FloatArray:
    """Fractional drawdown from the running peak at every point (<= 0)."""
    if not len(equity):
        return np.zeros(0)
    peak = np.maximum.accumulate(equity)
    out: FloatArray = equity / peak - 1.0
    return out


def equity_metrics(time_ms: IntArray, equity: FloatArray, initial: float) -> dict[str, Any]:
    """Total/annual return, Sharpe and Sortino (per-step returns, rf = 0, annualized by
    sqrt(steps per 365-day year)), max drawdown with its peak and trough times, and MAR
    (annual return over |max drawdown|, Calmar over the whole window)."""
    if len(equity) < 2:
        metrics: dict[str, Any] = dict.fromkeys(
            ("total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "calmar"), 0.0
        )
        return metrics | {"max_drawdown_peak_ms": None, "max_drawdown_trough_ms": None}
    curve = np.concatenate([[initial], equity])
    returns = np.diff(curve) / curve[:-1]
    step_ms = float(np.median(np.diff(time_ms))) if len(time_ms) > 1 else 1.0
    per_year = YEAR_MS / step_ms
    years = max((time_ms[-1] - time_ms[0] + step_ms) / YEAR_MS, 1e-12)
    total = curve[-1] / initial - 1.0
    annual = math.expm1(min(math.log1p(total) / years, 700.0)) if total > -1 else -1.0
    sd = float(np.std(returns, ddof=1))
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    mean = float(np.mean(returns))
    depth = drawdown(curve)
    max_dd = float(-depth.min())
    # The initial balance stands one step before the first bar's time.
    curve_ms = np.concatenate([[time_ms[0] - int(step_ms)], time_ms])
    trough = int(np.argmin(depth))
    peak = int(np.flatnonzero(depth[: trough + 1] == 0.0)[-1])
    return {
        "total_return": float(total),
        "annual_return": float(annual),
        "sharpe": mean / sd * math.sqrt(per_year) if sd > 0 else 0.0,
        "sortino": mean / downside * math.sqrt(per_year) if downside > 0 else 0.0,
        "max_drawdown": max_dd,
        "max_drawdown_peak_ms": int(curve_ms[peak]) if max_dd > 0 else None,
        "max_drawdown_trough_ms": int(curve_ms[trough]) if max_dd > 0 else None,
        "calmar": float(annual / max_dd) if max_dd > 0 else 0.0,
    }


def trade_metrics(
    trades: Sequence[TradeRecord], funding: float = 0.0, llm_spend: float = 0.0
) -> dict[str, Any]:
    """Win rate, expectancy (mean net PnL), avg R and profit factor over closed round trips;
    cost per trade: fees plus the run's funding paid and LLM spend, over every trade."""
    closed = [t for t in trades if t.exit_ms is not None]
    pnl = np.array([t.pnl for t in closed])
    wins, losses = pnl[pnl > 0], pnl[pnl <= 0]
    rs = [t.r_multiple for t in closed if t.r_multiple is not None]
    fees = sum(t.fees for t in trades)
    loss_sum = float(-losses.sum())
    return {
        "trades": len(closed),
        "win_rate": float(len(wins) / len(closed)) if closed else 0.0,
        "expectancy": float(pnl.mean()) if closed else 0.0,
        "avg_r": float(np.mean(rs)) if rs else 0.0,
        "profit_factor": _finite(float(wins.sum()) / loss_sum) if loss_sum > 0 else None,
        "cost_per_trade": (fees + funding + llm_spend) / len(trades) if trades else 0.0,
        "fees": fees,
    }


def pattern_hit_rates(trades: Sequence[TradeRecord]) -> dict[str, dict[str, float]]:
    """Per pattern tag present at entry: closed trades, hit rate (won) and mean R."""
    table: dict[str, list[TradeRecord]] = defaultdict(list)
    for trade in trades:
        if trade.exit_ms is None:
            continue
        for tag in trade.patterns or ("none",):
            table[tag].append(trade)
    out = {}
    for tag, rows in sorted(table.items()):
        rs = [t.r_multiple for t in rows if t.r_multiple is not None]
        out[tag] = {
            "trades": float(len(rows)),
            "hit_rate": sum(t.pnl > 0 for t in rows) / len(rows),
            "avg_r": float(np.mean(rs)) if rs else 0.0,
        }
    return out


def summarize(
    time_ms: IntArray,
    equity: FloatArray,
    gross_exposure: FloatArray,
    trades: Sequence[TradeRecord],
    initial: float,
    funding: float = 0.0,
    llm_spend: float = 0.0,
) -> dict[str, Any]:
    """Every metric of one run; ``exposure`` is the share of steps holding a position."""
    metrics = equity_metrics(time_ms, equity, initial)
    metrics.update(trade_metrics(trades, funding, llm_spend))
    metrics["exposure"] = float(np.mean(gross_exposure > 0)) if len(gross_exposure) else 0.0
    metrics["hit_rate_by_pattern"] = pattern_hit_rates(trades)
    return metrics
