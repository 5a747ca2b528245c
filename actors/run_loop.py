"""The run loop behind ``raytrader run``: archive the last session, start the actors, step the
orchestrator's clock until the data ends, ``duration_s`` or Ctrl-C, then collect the summary
(``trading.report.summary``) and stop every actor."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import ray
from ray.actor import ActorHandle

from actors.orchestrator import Handles, SessionProgress
from actors.session import SessionOptions, start_actors, stop_actors
from trading.contracts import IndicatorSnapshot
from trading.journal.archive import archive_previous
from trading.journal.chain import VerifyReport
from trading.market.live import next_close
from trading.report.summary import SessionSummary, write_summary
from trading.risk.gate import RiskSummary

ProgressCallback = Callable[[SessionProgress, float], None]
StartedCallback = Callable[[Handles, ActorHandle[Any]], Callable[[], None] | None]
"""Called once the actors are up (e.g. to start the HTTP API); returns its own stop hook."""


def run_session(
    options: SessionOptions,
    on_progress: ProgressCallback | None = None,
    on_started: StartedCallback | None = None,
) -> SessionSummary:
    """Replay the data through every actor until it ends, ``duration_s`` or Ctrl-C (live:
    from the next wall-clock close until ``duration_s`` or Ctrl-C)."""
    options.data_dir.mkdir(parents=True, exist_ok=True)
    archive_previous(options.data_dir)
    handles, orchestrator = start_actors(options)
    stop_started = on_started(handles, orchestrator) if on_started is not None else None
    run, started = _start_run(options, handles, orchestrator), time.monotonic()
    progress = _wait(run, orchestrator, options, on_progress)
    if stop_started is not None:
        stop_started()
    summary = _collect(options, handles, progress, time.monotonic() - started)
    stop_actors(handles, orchestrator)
    write_summary(summary)
    return summary


def _start_run(
    options: SessionOptions, handles: Handles, orchestrator: ActorHandle[Any]
) -> ray.ObjectRef[SessionProgress]:
    """Start the orchestrator's clock at the first step close (see ``_clock``)."""
    start, end = _clock(options, handles)
    live = options.feed is not None
    run: ray.ObjectRef[SessionProgress] = orchestrator.run.remote(
        start, end, options.speed, live, options.grace_s
    )
    return run


def _clock(options: SessionOptions, handles: Handles) -> tuple[datetime, datetime | None]:
    """The first step close (live: the next wall-clock one; replay: the first step boundary
    at or after the earliest bar) and, with ``max_bars``, the last base bar's close."""
    settings = options.settings
    step = min(settings.timeframes, key=lambda tf: tf.seconds)
    if options.feed is not None:
        start = next_close(datetime.now(UTC), step)
    else:
        firsts: list[datetime | None] = ray.get(
            [a.first_close.remote() for a in handles.symbols.values()]
        )
        start = min(f for f in firsts if f is not None)
        start += (-start.timestamp() % step.duration.total_seconds()) * timedelta(seconds=1)
    if options.max_bars is None:
        return start, None
    base = settings.base_timeframe.duration
    return start, start - base + options.max_bars * base


def _wait(
    run: ray.ObjectRef[SessionProgress],
    orchestrator: ActorHandle[Any],
    options: SessionOptions,
    on_progress: ProgressCallback | None,
) -> SessionProgress:
    """The run's final progress, once it ends (Ctrl-C stops it first)."""
    try:
        _poll(run, orchestrator, options, on_progress)
    except KeyboardInterrupt:
        ray.get(orchestrator.stop.remote())
    progress: SessionProgress = ray.get(run)
    return progress


def _poll(
    run: ray.ObjectRef[SessionProgress],
    orchestrator: ActorHandle[Any],
    options: SessionOptions,
    on_progress: ProgressCallback | None,
) -> None:
    """Report progress every ``poll_s`` until the run ends; stop it after ``duration_s``."""
    started = time.monotonic()
    while True:
        ready, _ = ray.wait([run], timeout=options.poll_s)
        elapsed = time.monotonic() - started
        if on_progress is not None:
            current: ray.ObjectRef[SessionProgress] = orchestrator.progress.remote()
            on_progress(ray.get(current), elapsed)
        if ready:
            return
        if options.duration_s is not None and elapsed >= options.duration_s:
            ray.get(orchestrator.stop.remote())


def _collect(
    options: SessionOptions, handles: Handles, progress: SessionProgress, elapsed_s: float
) -> SessionSummary:
    """Ask every actor for its part of the summary (the journal is anchored and closed)."""
    symbols = list(handles.symbols.values())
    snapshots: list[dict[str, IndicatorSnapshot]] = ray.get([a.snapshots.remote() for a in symbols])
    return SessionSummary(
        elapsed_s=elapsed_s,
        progress=progress,
        symbols=ray.get([a.progress.remote() for a in symbols]),
        snapshots=dict(zip(handles.symbols, snapshots, strict=True)),
        risk=cast(RiskSummary, ray.get(handles.risk.summary.remote())),
        venue=cast(dict[str, Any], ray.get(handles.paper.stats.remote())) if handles.paper else {},
        journal=_close_journal(handles),
        data_dir=options.data_dir,
        settings=options.settings,
        positions=cast(dict[str, Decimal], ray.get(handles.execution.positions.remote())),
        feed=options.feed,
    )


def _close_journal(handles: Handles) -> VerifyReport:
    ray.get(handles.journal.anchor.remote())
    report: VerifyReport = ray.get(handles.journal.verify.remote())
    ray.get(handles.journal.close.remote())
    return report
