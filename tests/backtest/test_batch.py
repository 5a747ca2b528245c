"""Batches of runs share their analysis and give each run exactly its own result."""

from __future__ import annotations

from dataclasses import replace

from tests.backtest.conftest import REFERENCE_SYMBOLS, REFERENCE_WINDOW
from trading.backtest.batch import analysis_key, batches, run_batch
from trading.backtest.data import MarketData
from trading.backtest.engine import BacktestConfig, run_backtest, with_params
from trading.backtest.grid import RunSpec

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
