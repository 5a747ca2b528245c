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
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import ray

from trading.backtest.batch import batches, run_batch
from trading.backtest.data import Window, load_market
from trading.backtest.engine import BacktestConfig, BacktestResult
from trading.backtest.grid import RunSpec, plan_runs, read_grid, walk_forward
from trading.backtest.report import (
    html_report,
    trades_frame,
    write_summary,
)
from trading.config import load_settings
from trading.contracts import Timeframe

RUNS_DIR = "runs"


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


def _done(out: Path) -> dict[str, dict[str, Any]]:
    """Runs already written (resuming skips them)."""
    found = {}
    for path in sorted((out / RUNS_DIR).glob("*.json")):
        if not path.name.endswith(".error.json"):
            found[path.stem] = json.loads(path.read_text())
    return found


def _plain(value: object) -> object:
    """JSON for what ``json`` does not know: numpy arrays as lists, anything else as text."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else str(value)


def _write_run(out: Path, run_id: str, payload: dict[str, Any]) -> None:
    path = out / RUNS_DIR / f"{run_id}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, default=_plain))
    tmp.replace(path)


def run_grid(
    options: BacktestOptions,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> dict[str, Any]:
    """Plan, fan out, gather; returns ``{"runs", "failed", "skipped"}`` and writes OUT."""
    settings = options.config.settings
    if options.timeframes is not None:
        settings = settings.model_copy(update={"timeframes": options.timeframes})
    config = replace(options.config, settings=settings)
    grid = read_grid(options.grid) if options.grid else [{}]
    specs = plan_runs(grid, options.symbols, options.window, None, options.per_symbol)
    if options.walk is not None:
        specs = []
        for train, test in walk_forward(options.window, *options.walk):
            for params in grid:
                for chosen in (
                    [(s,) for s in options.symbols] if options.per_symbol else [options.symbols]
                ):
                    specs.append(RunSpec(dict(params), chosen, train))
                    specs.append(RunSpec(dict(params), chosen, test, train))
    out = options.out
    (out / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    done = _done(out)
    todo = [s for s in specs if s.run_id not in done]
    data = load_market(
        options.data, options.symbols, options.base, options.window, options.funding_dir
    )
    data_ref = ray.put(data)
    task = run_task.options(max_retries=options.max_retries, retry_exceptions=True)
    cpus = max(1, int(ray.available_resources().get("CPU", 1)))
    pending = {
        task.remote(data_ref, batch, config): batch for batch in batches(todo, config, 2 * cpus)
    }
    failed: list[dict[str, str]] = []
    finished = len(specs) - len(todo)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            batch = pending.pop(ref)
            try:
                payloads = ray.get(ref)
            except Exception as exc:
                for spec in batch:
                    failed.append({"run_id": spec.run_id, "error": repr(exc)[:500]})
                    error_path = out / RUNS_DIR / f"{spec.run_id}.error.json"
                    error_path.write_text(json.dumps(failed[-1]))
            else:
                for spec, payload in zip(batch, payloads, strict=True):
                    _write_run(out, spec.run_id, payload)
                    done[spec.run_id] = payload
            finished += len(batch)
            if on_progress is not None:
                on_progress(finished, len(specs), len(failed))
    wanted = {s.run_id for s in specs}
    runs = [done[i] for i in sorted(done) if i in wanted]
    _write_outputs(out, runs, config)
    if options.walk is not None:
        _write_walk_forward(out, runs)
    return {"runs": len(runs), "failed": failed, "skipped": len(specs) - len(todo)}


def _write_outputs(out: Path, runs: Sequence[dict[str, Any]], config: BacktestConfig) -> None:
    entries = [r["summary"] for r in runs]
    write_summary(out / "summary.json", entries)
    trades_frame([t for r in runs for t in r["trades"]]).write_parquet(out / "trades.parquet")
    frames = [
        pl.DataFrame(
            {"run_id": [r["summary"]["run_id"]] * len(r["equity"]["time_ms"]), **r["equity"]}
        )
        for r in runs
    ]
    equity = (
        pl.concat(frames)
        if frames
        else pl.DataFrame(
            schema={
                "run_id": pl.Utf8,
                "time_ms": pl.Int64,
                "equity": pl.Float64,
                "gross_exposure": pl.Float64,
            }
        )
    )
    equity.write_parquet(out / "equity.parquet")
    best = max(runs, key=lambda r: r["summary"].get("sharpe") or 0.0, default=None)
    (out / "report.html").write_text(html_report(entries, _as_result(best, config)))
    board = sorted(entries, key=lambda e: -(e.get("sharpe") or 0.0))
    (out / "leaderboard.json").write_text(
        json.dumps(
            [
                {
                    k: e.get(k)
                    for k in (
                        "run_id",
                        "sharpe",
                        "total_return",
                        "max_drawdown",
                        "params",
                        "window",
                    )
                }
                for e in board
            ],
            default=str,
            indent=1,
        )
    )


def _as_result(run: dict[str, Any] | None, config: BacktestConfig) -> BacktestResult | None:
    import numpy as np

    if run is None:
        return None
    summary = run["summary"]
    return BacktestResult(
        symbols=tuple(summary["symbols"]),
        step=Timeframe.M15,
        time_ms=np.asarray(run["equity"]["time_ms"], dtype=np.int64),
        equity=np.asarray(run["equity"]["equity"], dtype=np.float64),
        gross_exposure=np.asarray(run["equity"]["gross_exposure"], dtype=np.float64),
        orders=[],
        decisions=[],
        fills=[],
        trades=[],
        funding_paid=summary.get("funding_paid", 0.0),
        initial_balance=float(config.initial_balance),
        base_bars=summary.get("base_bars", 0),
        params=summary["params"],
    )


def _write_walk_forward(out: Path, runs: Sequence[dict[str, Any]]) -> None:
    """Per fold: the parameters best on the training window (Sharpe) and their test result."""
    train = [r["summary"] for r in runs if r["summary"].get("train") is None]
    test = [r["summary"] for r in runs if r["summary"].get("train") is not None]
    folds = []
    for window in sorted({t["window"] for t in train}):
        on_train = [t for t in train if t["window"] == window]
        best = max(on_train, key=lambda t: t.get("sharpe") or 0.0)
        chosen = [t for t in test if t["train"] == window and t["params"] == best["params"]]
        if chosen:
            folds.append(
                {
                    "train": window,
                    "params": best["params"],
                    "train_sharpe": best.get("sharpe"),
                    "test": chosen[0],
                }
            )
    (out / "walk_forward.json").write_text(json.dumps(folds, indent=1, default=str))


def progress_line(done: int, total: int, failed: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "." * (width - filled)
    end = "\n" if done == total else ""
    print(f"\r[{bar}] {done}/{total} runs, {failed} failed", end=end, file=sys.stderr, flush=True)


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
    outcome = run_grid(options, progress_line)
    elapsed = time.perf_counter() - started
    print(
        f"{outcome['runs']} runs ({outcome['skipped']} resumed, {len(outcome['failed'])} failed) "
        f"in {elapsed:.1f}s -> {options.out}/summary.json, report.html"
    )
    return 1 if outcome["failed"] else 0


def options_from_args(args: Any) -> BacktestOptions:
    """CLI arguments -> options (config from ``--config`` or the bundled default)."""
    from trading.backtest.data import parse_day
    from trading.backtest.grid import parse_walk_forward

    settings = load_settings(args.config)
    timeframes = tuple(Timeframe(t) for t in args.timeframes) if args.timeframes else None
    return BacktestOptions(
        data=args.data,
        symbols=tuple(args.symbols or settings.symbols),
        window=Window(parse_day(args.start), parse_day(args.end)),
        out=args.out,
        timeframes=timeframes,
        base=settings.base_timeframe,
        grid=args.grid,
        walk=parse_walk_forward(args.walk_forward) if args.walk_forward else None,
        funding_dir=args.funding,
        per_symbol=args.per_symbol,
        config=BacktestConfig(settings=settings),
    )
