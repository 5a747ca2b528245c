"""The backtest's terminal table: best runs first, percentages as percentages."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from trading.report.tables import leaderboard_table

ENTRIES: list[dict[str, Any]] = [
    {
        "run_id": "aaaaaaaa1111",
        "window": "2025-10-01..2025-11-01",
        "params": {"x": 1},
        "total_return": 0.0123,
        "sharpe": 0.5,
        "max_drawdown": 0.031,
        "win_rate": 0.4,
        "trades": 10,
    },
    {
        "run_id": "bbbbbbbb2222",
        "window": "2025-10-01..2025-11-01",
        "params": {"x": 2},
        "total_return": -0.02,
        "sharpe": 1.25,
        "max_drawdown": 0.1,
        "win_rate": 0.55,
        "trades": 7,
    },
    {
        "run_id": "cccccccc3333",
        "window": "2025-10-01..2025-11-01",
        "params": {},
        "total_return": None,
        "sharpe": None,
        "max_drawdown": None,
        "win_rate": None,
        "trades": 0,
    },
]


def _text(top: int) -> list[str]:
    console = Console(record=True, width=160)
    console.print(leaderboard_table(ENTRIES, top=top))
    return console.export_text().splitlines()


def test_best_runs_by_sharpe_with_percentages() -> None:
    lines = _text(top=2)
    assert lines[0].strip() == "Backtest: best 2 of 3 runs by Sharpe"
    rows = [line for line in lines if "2025-10-01" in line]
    assert len(rows) == 2
    for text in ("bbbbbbbb", "-2.00%", "1.25", "10.00%", "55.00%"):
        assert text in rows[0]
    for text in ("aaaaaaaa", "1.23%", "0.50", "3.10%", "40.00%"):
        assert text in rows[1]


def test_missing_metrics_show_as_dashes() -> None:
    [row] = [line for line in _text(top=3) if "cccccccc" in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == ["cccccccc", "2025-10-01..2025-11-01", "-", "-", "-", "-", "-", "0"]
