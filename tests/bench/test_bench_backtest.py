"""Backtest benchmarks (issue 10), printed next to backtesting.py and vectorbt measured in the
same process: full-pipeline bars/s on BTC 5m (~120k bars), SMA-grid config-bars/s, and the Ray
fan-out's parallel efficiency on 2 workers. Figures are reported, not asserted against targets
the pipeline does not reach (see the printed split of where the time goes)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.backtest.sma_oracle import sma_grid, sma_table
from trading.backtest.data import MarketData, Window, load_market, parse_day
from trading.backtest.engine import BacktestConfig, run_backtest, symbol_steps, with_params
from trading.contracts import Timeframe
from trading.indicators.averages import sma

pytestmark = pytest.mark.bench

FULL = Window(parse_day("2025-01-01"), parse_day("2026-03-01"))
FASTS = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
SLOWS = (60, 80, 100, 120, 140, 160, 180, 200, 220, 240)


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> MarketData:
    return load_market(shared_data / "binance_spot_2024_2026", ("BTC/USDT",), Timeframe.M5, FULL)


def _frame(data: MarketData) -> object:
    import pandas as pd

    c = data.bars["BTC/USDT"]
    return pd.DataFrame(
        {"Open": c.open, "High": c.high, "Low": c.low, "Close": c.close, "Volume": c.volume},
        index=pd.to_datetime(c.open_time_ms, unit="ms"),
    )


def _backtesting_py_bars_per_s(data: MarketData, repeats: int = 3) -> float:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.a = self.I(lambda c: np.asarray(sma(c, 10)), self.data.Close)
            self.b = self.I(lambda c: np.asarray(sma(c, 30)), self.data.Close)

        def next(self) -> None:
            if crossover(self.a, self.b):
                self.position.close()
                self.buy(size=1)
            elif crossover(self.b, self.a):
                self.position.close()
                self.sell(size=1)

    bt = Backtest(_frame(data), SmaCross, cash=1e7, commission=0.001, finalize_trades=True)
    return data.bar_count / _best_s(bt.run, repeats)


def _best_s(run: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` wall-clock runs (timeit's rule: the others measured the noise)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def test_full_pipeline_bars_per_second(btc: MarketData) -> None:
    """Analysis (4 timeframes, patterns, regimes, calibration) + desk, risk and venue on the
    steps that can act; flat calm stretches are skipped (tests/backtest/test_parity.py shows
    the skip changes nothing). Target: 1M bars/s per core."""
    config = with_params(BacktestConfig(), {"lifecycle.min_confidence": 0.55})
    steps = symbol_steps(btc, config)
    result = run_backtest(btc, config, steps)
    signals_s = _best_s(lambda: symbol_steps(btc, config), 5)
    loop_s = _best_s(lambda: run_backtest(btc, config, steps), 5)
    every_s = _best_s(lambda: run_backtest(btc, replace(config, skip_idle=False), steps), 1)
    ours = btc.bar_count / (signals_s + loop_s)
    reference = _backtesting_py_bars_per_s(btc)
    print(
        f"\nfull pipeline BTC 5m: {btc.bar_count:,} bars, {len(result.orders)} orders: "
        f"{ours:,.0f} bars/s (best of 5: vectorized analysis {signals_s:.3f}s = "
        f"{btc.bar_count / signals_s:,.0f} bars/s; desk/risk/venue loop {loop_s:.3f}s over "
        f"{len(result.time_ms):,} steps, {every_s:.2f}s when every step goes through it)"
        f"\nbacktesting.py bare SMA cross: {reference:,.0f} bars/s; ratio ours/backtesting.py "
        f"{ours / reference:.2f}; 1-min load average {os.getloadavg()[0]:.1f}"
    )
    assert result.orders


def test_sma_grid_config_bars_per_second_vs_vectorbt(btc: MarketData) -> None:
    import pandas as pd
    import vectorbt as vbt

    bars = btc.bars["BTC/USDT"]
    pairs = [(f, s) for f in FASTS for s in SLOWS]
    work = len(pairs) * len(bars)
    start = time.perf_counter()
    finals = sma_grid(bars, pairs, 1.0, 1e7, 0.001, sma_table(bars.close, [*FASTS, *SLOWS]))
    ours = work / (time.perf_counter() - start)
    close = pd.Series(bars.close)
    start = time.perf_counter()
    fast = vbt.MA.run(close, list(FASTS), short_name="fast")
    slow = vbt.MA.run(close, list(SLOWS), short_name="slow")
    fast_ma = np.repeat(fast.ma.to_numpy(), len(SLOWS), axis=1)
    slow_ma = np.tile(slow.ma.to_numpy(), (1, len(FASTS)))
    prev_fast, prev_slow = np.roll(fast_ma, 1, 0), np.roll(slow_ma, 1, 0)
    entries = (prev_fast < prev_slow) & (fast_ma > slow_ma)
    exits = (prev_slow < prev_fast) & (slow_ma > fast_ma)
    entries[0] = exits[0] = False
    portfolio = vbt.Portfolio.from_signals(
        close, entries, exits, short_entries=exits, short_exits=entries, fees=0.001
    )
    portfolio.total_return()
    theirs = work / (time.perf_counter() - start)
    print(
        f"\nSMA grid {len(pairs)} configs x {len(bars):,} bars: ours {ours:,.0f} config-bars/s, "
        f"vectorbt from_signals {theirs:,.0f} config-bars/s, ratio {ours / theirs:.2f}"
    )
    assert np.isfinite(finals).all()


@pytest.mark.ray
def test_ray_fan_out_parallel_efficiency(ray_session: object, btc: MarketData) -> None:
    """A grid of full-pipeline runs over the shared data in batches (each batch analyses once):
    the same batches one after another in-process vs two Ray workers reading one object-store
    copy. Also prints the grid's speed with one analysis for all runs vs one per run."""
    import ray

    from actors.backtest import run_task
    from trading.backtest.batch import batches, run_batch
    from trading.backtest.grid import RunSpec

    config = replace(BacktestConfig(), funding=False)
    specs = [
        RunSpec(
            {"lifecycle.min_confidence": c, "risk.risk_per_trade_max_pct": r}, ("BTC/USDT",), FULL
        )
        for c in (0.52, 0.55, 0.58, 0.6)
        for r in (1.0, 2.0)
    ]
    plan = batches(specs, config, 4)
    ref = ray.put(btc)
    ray.get([run_task.remote(ref, batch[:1], config) for batch in plan[:2]])  # warm both workers
    start = time.perf_counter()
    for batch in plan:
        run_batch(btc, batch, config)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    ray.get([run_task.remote(ref, batch, config) for batch in plan])
    parallel = time.perf_counter() - start
    start = time.perf_counter()
    for spec in specs:
        run_batch(btc, [spec], config)
    one_each = time.perf_counter() - start
    efficiency = serial / (2 * parallel)
    config_bars = len(specs) * btc.bar_count
    print(
        f"\nRay fan-out: {len(specs)} full-pipeline runs x {btc.bar_count:,} bars in "
        f"{len(plan)} batches: serial {serial:.2f}s, 2 workers {parallel:.2f}s, parallel "
        f"efficiency {efficiency:.2f}, {config_bars / parallel:,.0f} config-bars/s; one "
        f"analysis per run instead: {one_each:.2f}s serial (1-min load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: other processes skew this figure)"
    )
    assert efficiency > 0
