"""CI regression gate: the reference configuration must not lose Sharpe or gain drawdown
beyond the thresholds stored with its baseline (re-baseline deliberately, in review)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.backtest.reference import reference_summary
from trading.backtest.data import MarketData

BASELINE = Path(__file__).with_name("baseline_reference.json")


def test_reference_sharpe_and_drawdown_do_not_worsen(reference_data: MarketData) -> None:
    baseline = json.loads(BASELINE.read_text())
    limits, before = baseline["thresholds"], baseline["metrics"]
    now = reference_summary(reference_data)
    assert now["sharpe"] >= before["sharpe"] - limits["sharpe_drop"], (now["sharpe"], before)
    assert now["max_drawdown"] <= before["max_drawdown"] + limits["max_drawdown_rise"], (
        now["max_drawdown"],
        before,
    )


def test_reference_run_is_reproducible(reference_data: MarketData) -> None:
    """Locked window and no randomness: the same numbers as the stored baseline."""
    before = json.loads(BASELINE.read_text())["metrics"]
    now = reference_summary(reference_data)
    assert now["trades"] == before["trades"]
    assert abs(now["total_return"] - before["total_return"]) < 1e-12
