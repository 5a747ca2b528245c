"""The regression gate's reference configuration: fixed symbols, window, parameters, seedless."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from trading.backtest.data import MarketData
from trading.backtest.engine import BacktestConfig, run_backtest, with_params
from trading.backtest.report import run_summary

REFERENCE_PARAMS = {"lifecycle.min_confidence": 0.55}


def reference_summary(data: MarketData) -> dict[str, Any]:
    config = with_params(replace(BacktestConfig(), funding=False), REFERENCE_PARAMS)
    return run_summary(run_backtest(data, config), "reference")
