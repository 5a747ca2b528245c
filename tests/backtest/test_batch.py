"""Batches of runs share their analysis and give each run exactly its own result."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np

from tests.backtest.conftest import REFERENCE_SYMBOLS, REFERENCE_WINDOW
from trading.backtest.batch import analysis_key, batches, run_batch
from trading.backtest.data import MarketData, Window, parse_day
from trading.backtest.engine import BacktestConfig, run_backtest, with_params
from trading.backtest.grid import RunSpec, plan_runs
from trading.backtest.report import walk_forward_folds
from trading.backtest.runs import RunStore

CONFIG = BacktestConfig()


def _spec(**params: object) -> RunSpec:
    return RunSpec(dict(params), REFERENCE_SYMBOLS, REFERENCE_WINDOW)


def test_runs_differing_only_in_risk_or_lifecycle_share_an_analysis() -> None:
    a = _spec(**{"lifecycle.min_confidence": 0.55})
    b = _spec(**{"risk.risk_per_trade_max_pct": 1.0})
    c = _spec(**{"signals.direction_threshold": 0.3})
    assert analysis_key(a, CONFIG) == analysis_key(b, CONFIG)
    assert analysis_key(a, CONFIG) != analysis_key(c, CONFIG)
    assert analysis_key(a, replace(CONFIG, signals="stream")) != analysis_key(a, CONFIG)


def test_batches_split_groups_to_keep_every_worker_busy() -> None:
    same = [_spec(**{"lifecycle.min_confidence": c}) for c in (0.5, 0.52, 0.54, 0.56, 0.58, 0.6)]
    other = _spec(**{"signals.direction_threshold": 0.3})
    plan = batches([*same, other], CONFIG, 4)
    assert sorted(len(b) for b in plan) == [1, 2, 2, 2]
    assert [s for b in plan for s in b] == [*same, other]
    assert batches(same, CONFIG, 1) == [same]


def test_a_run_with_an_unknown_parameter_is_a_batch_of_its_own() -> None:
    good = _spec(**{"lifecycle.min_confidence": 0.55})
    bad = _spec(**{"broken.key": 1})
    assert batches([good, bad], CONFIG, 1) == [[good], [bad]]


def test_batch_results_equal_separate_runs(reference_data: MarketData) -> None:
    specs = [_spec(**{"lifecycle.min_confidence": c}) for c in (0.52, 0.6)]
    together = run_batch(reference_data, specs, CONFIG)
    for spec, payload in zip(specs, together, strict=True):
        alone = run_backtest(reference_data.cut(spec.window), with_params(CONFIG, spec.params))
        assert payload["summary"]["trades"] == len(alone.trades)
        assert payload["equity"]["equity"].tolist() == alone.equity.tolist()
    assert together[0]["equity"]["equity"].tolist() != together[1]["equity"]["equity"].tolist()


def test_walk_forward_plans_a_train_and_a_test_run_per_fold_and_parameter_set() -> None:
    window = Window(parse_day("2025-01-01"), parse_day("2025-01-22"))
    grid = [{"lifecycle.min_confidence": 0.55}, {"lifecycle.min_confidence": 0.6}]
    specs = plan_runs(grid, ("BTC/USDT",), window, (timedelta(days=7), timedelta(days=7)))
    labels = sorted(
        (s.params["lifecycle.min_confidence"], s.window.label(), s.train.label() if s.train else "")
        for s in specs
    )
    folds = [
        ("2025-01-01_2025-01-08", "2025-01-08_2025-01-15"),
        ("2025-01-08_2025-01-15", "2025-01-15_2025-01-22"),
    ]
    expected = sorted(
        (c, w, t)
        for c in (0.55, 0.6)
        for train, test in folds
        for w, t in ((train, ""), (test, train))
    )
    assert labels == expected
    assert len({s.run_id for s in specs}) == len(specs) == 8


def test_walk_forward_fold_tests_the_parameters_best_on_its_train_window() -> None:
    def entry(
        params: float, window: str, sharpe: float, train: str | None = None
    ) -> dict[str, object]:
        return {"params": {"p": params}, "window": window, "sharpe": sharpe, "train": train}

    entries = [
        entry(1, "jan", 0.5),
        entry(2, "jan", 1.5),
        entry(1, "feb", 9.0, train="jan"),
        entry(2, "feb", -1.0, train="jan"),
    ]
    [fold] = walk_forward_folds(entries)
    assert (fold["train"], fold["params"], fold["train_sharpe"]) == ("jan", {"p": 2}, 1.5)
    assert fold["test"] == entries[3]


def test_run_store_resumes_written_runs_and_not_failed_ones(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.write("a", {"summary": {"run_id": "a"}, "equity": {"time_ms": np.arange(2)}})
    assert store.write_error("b", "boom") == {"run_id": "b", "error": "boom"}
    assert RunStore(tmp_path).done() == {
        "a": {"summary": {"run_id": "a"}, "equity": {"time_ms": [0, 1]}}
    }
