"""``raytrader backtest``: a grid x symbols x windows of backtests fanned out as Ray tasks.

The market data goes into the object store once (``ray.put``) and every task reads that one
copy (numpy buffers are zero-copy from shared memory). Runs go out in batches that share an
analysis (``trading.backtest.batch``): a grid over risk or lifecycle parameters analyses once
per batch, and there are at least two batches per CPU so the workers stay busy. Each finished
run is written to ``OUT/runs/<run_id>.json`` as it arrives, so a failed task (retried first)
loses only its batch and a re-run resumes by skipping the ids already there. The engine is
``trading.backtest``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import ray
from rich.console import Console
from rich.progress import Progress as ProgressBar

from trading.backtest.batch import batches, run_batch
from trading.backtest.data import MarketData, Window, load_market
from trading.backtest.engine import BacktestConfig
from trading.backtest.grid import RunSpec, config_digest, plan_runs, read_grid
from trading.backtest.report import write_run_outputs, write_walk_forward
from trading.backtest.runs import RunStore
from trading.config import load_settings
from trading.contracts import Timeframe
from trading.report.tables import leaderboard_table


@dataclass(frozen=True)
class BacktestOptions:
    data: Path
    symbols: tuple[str, ...]
    window: Window
    out: Path
    timeframes: tuple[Timeframe, ...] | None = None
    base: Timeframe = Timeframe.M5
    grid: Path | None = None
    walk: tuple[timedelta, timedelta] | None = None
    funding_dir: Path | None = None
    per_symbol: bool = False
    max_retries: int = 2
    config: BacktestConfig = field(default_factory=BacktestConfig)


run_task = ray.remote(run_batch)

Progress = Callable[[int, int, int], None]


def run_grid(options: BacktestOptions, on_progress: Progress | None = None) -> dict[str, Any]:
    """Plan, fan out, gather; returns ``{"runs", "failed", "skipped"}`` and writes OUT."""
    config = _config(options)
    grid = read_grid(options.grid) if options.grid else [{}]
    specs = plan_runs(
        grid, options.symbols, options.window, options.walk, options.per_symbol, _digest(options)
    )
    store = RunStore(options.out)
    done = store.done()
    todo = [s for s in specs if s.run_id not in done]
    count = _counter(len(specs), len(specs) - len(todo), on_progress)
    market = _market(options)
    failed = _fan_out(options, config, market, todo, store, done, count)
    wanted = {s.run_id for s in specs}
    runs = [done[i] for i in sorted(done) if i in wanted]
    _write(options, config, runs, market)
    return {"runs": len(runs), "failed": failed, "skipped": len(specs) - len(todo)}


def _market(options: BacktestOptions) -> MarketData:
    """The window's bars (and funding), read once: the runs' input and the report's prices."""
    o = options
    return load_market(o.data, o.symbols, o.base, o.window, o.funding_dir)


def _write(
    options: BacktestOptions, config: BacktestConfig, runs: list[dict[str, Any]], market: MarketData
) -> None:
    """The outputs of ``runs``: the report draws the symbols' closes over the window."""
    write_run_outputs(options.out, runs, float(config.initial_balance), market.closes())
    if options.walk is not None:
        write_walk_forward(options.out / "walk_forward.json", [r["summary"] for r in runs])


def _digest(options: BacktestOptions) -> str:
    """What configures every run beyond its grid parameters (so another ``--config`` or
    ``--timeframes`` into the same ``--out`` never reuses its results)."""
    config = _config(options)
    run = (config.initial_balance, config.signals, config.venue, config.funding, options.base)
    return config_digest(config.settings, config.lifecycle, config.fills, run)


def _config(options: BacktestOptions) -> BacktestConfig:
    """The options' config with ``--timeframes`` applied."""
    settings = options.config.settings
    if options.timeframes is not None:
        settings = settings.model_copy(update={"timeframes": options.timeframes})
    return replace(options.config, settings=settings)


def _counter(total: int, finished: int, on_progress: Progress | None) -> Callable[[int, int], None]:
    """Counts finished runs (resumed ones first) and reports each batch to ``on_progress``."""
    progress = [finished]

    def count(runs: int, failed: int) -> None:
        progress[0] += runs
        if on_progress is not None:
            on_progress(progress[0], total, failed)

    return count


def _fan_out(
    options: BacktestOptions,
    config: BacktestConfig,
    market: MarketData,
    todo: Sequence[RunSpec],
    store: RunStore,
    done: dict[str, dict[str, Any]],
    count: Callable[[int, int], None],
) -> list[dict[str, str]]:
    """Each batch's runs kept as it lands; returns the failed runs."""
    pending = _submit(options, config, market, todo)
    failed: list[dict[str, str]] = []
    while pending:
        [ref], _ = ray.wait(list(pending), num_returns=1)
        batch = pending.pop(ref)
        failed += _keep(ref, batch, store, done)
        count(len(batch), len(failed))
    return failed


Batches = dict[ray.ObjectRef[list[dict[str, Any]]], list[RunSpec]]


def _submit(
    options: BacktestOptions, config: BacktestConfig, market: MarketData, todo: Sequence[RunSpec]
) -> Batches:
    """The data into the object store once, then two batches per CPU out as tasks."""
    data_ref = ray.put(market)
    task = run_task.options(max_retries=options.max_retries, retry_exceptions=True)
    cpus = max(1, int(ray.available_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
    return {task.remote(data_ref, b, config): b for b in batches(todo, config, 2 * cpus)}


def _keep(
    ref: ray.ObjectRef[list[dict[str, Any]]],
    batch: Sequence[RunSpec],
    store: RunStore,
    done: dict[str, dict[str, Any]],
) -> list[dict[str, str]]:
    """A finished batch's runs written (and done), or its failure written per run."""
    try:
        payloads = ray.get(ref)
    except Exception as exc:  # a task that failed after its retries fails its runs only
        return [store.write_error(spec.run_id, repr(exc)[:500]) for spec in batch]
    for spec, payload in zip(batch, payloads, strict=True):
        store.write(spec.run_id, payload)
        done[spec.run_id] = payload
    return []


class RunProgress:
    """A ``rich`` progress bar of finished runs on stderr (the results table goes to stdout)."""

    def __init__(self, console: Console) -> None:
        columns = ProgressBar.get_default_columns()
        self._bar = ProgressBar(*columns, console=console, transient=True)
        self._task = self._bar.add_task("runs", total=None)

    def __call__(self, done: int, total: int, failed: int) -> None:
        label = f"runs ({failed} failed)" if failed else "runs"
        self._bar.update(self._task, completed=done, total=total, description=label)

    def __enter__(self) -> RunProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()


def main(options: BacktestOptions, address: str | None) -> int:
    """Start or join Ray, run the grid, print where the outputs are."""
    import os

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    started = time.perf_counter()
    if not ray.is_initialized():
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            _temp_dir=None if address else os.environ.setdefault("RAY_TMPDIR", "/tmp/ray"),  # noqa: S108
        )
    with RunProgress(Console(stderr=True)) as progress:
        outcome = run_grid(options, progress)
    elapsed = time.perf_counter() - started
    _print_results(options, outcome, elapsed)
    return 1 if outcome["failed"] else 0


def _print_results(options: BacktestOptions, outcome: dict[str, Any], elapsed: float) -> None:
    """The best runs as a table, then the counts and where the files are."""
    summary = options.out / "summary.json"
    entries = json.loads(summary.read_text()) if summary.is_file() else []
    console = Console()
    console.print(leaderboard_table(entries))
    console.print(
        f"{outcome['runs']} runs ({outcome['skipped']} resumed, {len(outcome['failed'])} failed) "
        f"in {elapsed:.1f}s -> {options.out}/report.html, summary.json",
        highlight=False,
    )


def options_from_args(args: Any) -> BacktestOptions:
    """CLI arguments -> options (config from ``--config`` or the bundled default)."""
    settings = load_settings(args.config)
    timeframes = tuple(Timeframe(t) for t in args.timeframes) if args.timeframes else None
    return BacktestOptions(
        data=args.data,
        symbols=tuple(args.symbols or settings.symbols),
        window=Window(args.start, args.end),
        out=args.out,
        timeframes=timeframes,
        base=settings.base_timeframe,
        grid=args.grid,
        walk=args.walk_forward,
        funding_dir=args.funding,
        per_symbol=args.per_symbol,
        config=BacktestConfig(settings=settings),
    )
