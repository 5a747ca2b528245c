"""Runs in batches that share their analysis: a grid over risk, lifecycle or fill parameters
re-uses one ``symbol_steps`` (three quarters of a run's time) for every run on the same
symbols, window and signal settings; the parallel driver sends a batch per task."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from trading.backtest.data import MarketData
from trading.backtest.engine import BacktestConfig, run_backtest, symbol_steps, with_params
from trading.backtest.grid import RunSpec
from trading.backtest.report import run_summary, trade_rows
from trading.backtest.signals import StepSeries

AnalysisKey = tuple[str, tuple[str, ...], str, str]


def analysis_key(spec: RunSpec, config: BacktestConfig) -> AnalysisKey:
    """What a run's analysis depends on: window, symbols, signal settings and timeframes (a
    run whose parameters do not apply gets a key of its own: it fails alone, in its task)."""
    try:
        settings = with_params(config, spec.params).settings
    except (KeyError, ValueError, TypeError):
        return spec.window.label(), spec.symbols, f"invalid parameters of run {spec.run_id}", ""
    signals = settings.signals.model_dump_json()
    timeframes = ",".join(str(tf) for tf in settings.timeframes)
    return spec.window.label(), spec.symbols, signals + timeframes, config.signals


def batches(
    specs: Sequence[RunSpec], config: BacktestConfig, min_batches: int
) -> list[list[RunSpec]]:
    """Runs grouped by analysis, groups split so there are at least ``min_batches`` batches
    (where there are that many runs): each batch computes its analysis once."""
    groups: dict[AnalysisKey, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(analysis_key(spec, config), []).append(spec)
    out: list[list[RunSpec]] = []
    for group in groups.values():
        pieces = min(len(group), max(1, math.ceil(min_batches * len(group) / len(specs))))
        size = math.ceil(len(group) / pieces)
        out.extend(group[i : i + size] for i in range(0, len(group), size))
    return out


def run_batch(
    data: MarketData, specs: Sequence[RunSpec], config: BacktestConfig
) -> list[dict[str, Any]]:
    """Each run's summary, trades and equity; runs on one analysis key compute it once."""
    analyses: dict[AnalysisKey, dict[str, StepSeries]] = {}
    payloads = []
    for spec in specs:
        cut = data.cut(spec.window)
        cut = replace(cut, bars={s: cut.bars[s] for s in spec.symbols})
        run_config = with_params(config, spec.params)
        key = analysis_key(spec, config)
        if key not in analyses:
            analyses[key] = symbol_steps(cut, run_config)
        result = run_backtest(cut, run_config, analyses[key])
        labels = {
            "window": spec.window.label(),
            "train": spec.train.label() if spec.train else None,
        }
        payloads.append(
            {
                "summary": run_summary(result, spec.run_id, **labels),
                "trades": trade_rows(result, spec.run_id),
                "equity": {  # arrays: Ray hands them over without copying
                    "time_ms": result.time_ms,
                    "equity": result.equity,
                    "gross_exposure": result.gross_exposure,
                },
            }
        )
    return payloads
