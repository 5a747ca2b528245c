"""Result tables for the terminal (``rich``): the backtest's leaderboard, returns and rates as
percentages. What the HTML report shows first, readable where the command ran."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table


def leaderboard_table(entries: Sequence[Mapping[str, Any]], top: int = 10) -> Table:
    """The ``top`` runs by Sharpe: id, window, parameters, return, Sharpe, drawdown, trades."""
    board = sorted(entries, key=lambda e: -(e.get("sharpe") or 0.0))
    table = Table(title=f"Backtest: best {min(top, len(board))} of {len(board)} runs by Sharpe")
    for name in ("run", "window", "params", "return", "Sharpe", "max drawdown", "win rate"):
        left = name in {"run", "window", "params"}
        table.add_column(name, justify="left" if left else "right", no_wrap=name != "params")
    table.add_column("trades", justify="right")
    for entry in board[:top]:
        table.add_row(
            str(entry.get("run_id", ""))[:8],
            str(entry.get("window", "")),
            _params(entry.get("params") or {}),
            _percent(entry.get("total_return")),
            _number(entry.get("sharpe")),
            _percent(entry.get("max_drawdown")),
            _percent(entry.get("win_rate")),
            str(entry.get("trades", 0)),
        )
    return table


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "-"


def _percent(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.2%}"


def _number(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.2f}"
