"""The Ray driver: one object-store copy of the data, a grid fanned out as tasks, partial
results kept when a run fails, and a re-run that resumes instead of recomputing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from tests.backtest.conftest import REFERENCE_SYMBOLS
from trading.backtest.data import Window, parse_day

if TYPE_CHECKING:  # the tests import actors.backtest lazily, inside each test
    from actors.backtest import BacktestOptions

pytestmark = pytest.mark.ray

WINDOW = Window(parse_day("2025-01-01"), parse_day("2025-01-08"))


def _options(spot_dir: Path, out: Path, grid: Path) -> BacktestOptions:
    from actors.backtest import BacktestOptions

    return BacktestOptions(
        data=spot_dir, symbols=REFERENCE_SYMBOLS, window=WINDOW, out=out, grid=grid
    )


def test_grid_runs_write_outputs_and_resume(
    ray_session: object, spot_dir: Path, tmp_path: Path
) -> None:
    from actors.backtest import run_grid

    grid = tmp_path / "grid.yaml"
    grid.write_text("lifecycle.min_confidence: [0.55, 0.6]\nbroken.key: [1]\n")
    options = _options(spot_dir, tmp_path / "out", grid)
    first = run_grid(options)
    assert first["runs"] == 0
    assert len(first["failed"]) == 2, "an unknown parameter fails its runs, not the driver"
    grid.write_text("lifecycle.min_confidence: [0.55, 0.6]\n")
    second = run_grid(options)
    assert second == {"runs": 2, "failed": [], "skipped": 0}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {tuple(e["params"].items()) for e in summary} == {
        (("lifecycle.min_confidence", 0.55),),
        (("lifecycle.min_confidence", 0.6),),
    }
    for entry in summary:
        for key in ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "trades"):
            assert key in entry
    assert pl.read_parquet(tmp_path / "out" / "equity.parquet").height > 0
    assert (tmp_path / "out" / "report.html").stat().st_size > 1000
    third = run_grid(options)
    assert third["skipped"] == 2, "a re-run resumes from the runs already written"


def test_walk_forward_writes_train_choice_and_test_result(
    ray_session: object, spot_dir: Path, tmp_path: Path
) -> None:
    from datetime import timedelta

    from actors.backtest import run_grid

    grid = tmp_path / "grid.yaml"
    grid.write_text("lifecycle.min_confidence: [0.55, 0.6]\n")
    options = replace(
        _options(spot_dir, tmp_path / "wf", grid),
        window=Window(parse_day("2025-01-01"), parse_day("2025-01-15")),
        walk=(timedelta(days=7), timedelta(days=7)),
    )
    outcome = run_grid(options)
    assert outcome["failed"] == []
    folds = json.loads((tmp_path / "wf" / "walk_forward.json").read_text())
    assert len(folds) == 1
    assert folds[0]["test"]["window"] == "2025-01-08_2025-01-15"
