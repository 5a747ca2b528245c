"""The paper-trading session behind ``raytrader run``: every actor, one clock, one journal.

With ``SessionOptions.feed`` the symbol actors stream a live venue and the orchestrator steps
on the wall clock, handing the paper venue (started with no data files) each step's closed bars:
orders are sent, filled on those live bars and journaled (paper trading: no real account).

Placement: the actors that write under the data dir (journal, risk, execution, paper venue,
orchestrator) are pinned with a hard node affinity to the node that owns it
(``SessionOptions.state_node_id``, default the driver's), so Ray restarts them only where their
files are; that dir must be durable storage on that node or a shared mount; so is the router
pool's LLM budget actor (its ledger file). Symbol actors keep no files (a restarted one resumes
from its source and the orchestrator's clock) and spread, as do router replicas (their LLM cache
and call log are per node).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.execution import EXECUTION_ACTOR, ExecutionActor
from actors.journal import JOURNAL_ACTOR, JournalActor
from actors.orchestrator import ORCHESTRATOR_ACTOR, Handles, Orchestrator, SessionProgress
from actors.paper import PAPER_ACTOR, PaperVenueActor
from actors.risk import RISK_ACTOR, RiskActor
from actors.router import start_router_pool
from actors.symbol import SymbolActor, SymbolProgress, actor_name
from trading.config import Settings
from trading.contracts import IndicatorSnapshot
from trading.journal.chain import VerifyReport
from trading.market.live import VenueFeed, next_close
from trading.market.replay import BUNDLED_DATA, data_file
from trading.risk.gate import RiskSummary

SESSION_FILES = (
    "journal.jsonl",
    "raytrader.db",
    "raytrader.db-wal",
    "raytrader.db-shm",
    "wal",
    "risk.json",
    "risk-settings.json",
    "desk.json",
    "run-summary.json",
)


@dataclass(frozen=True)
class SessionOptions:
    settings: Settings
    market_data: Path = BUNDLED_DATA
    data_dir: Path = Path("raytrader-data")
    duration_s: float | None = None
    max_bars: int | None = None
    speed: float = 0.0
    initial_balance: Decimal = Decimal("100000")
    poll_s: float = 1.0
    feed: VenueFeed | None = None  # live: stream this venue instead of replaying files
    grace_s: float = 2.0  # live: step this long after each wall-clock close
    state_node_id: str | None = None  # the node holding data_dir (default: the driver's)


@dataclass
class SessionSummary:
    elapsed_s: float
    progress: SessionProgress
    symbols: list[SymbolProgress]
    snapshots: dict[str, dict[str, IndicatorSnapshot]]
    risk: RiskSummary
    venue: dict[str, Any]
    journal: VerifyReport
    data_dir: Path
    positions: dict[str, Decimal] = field(default_factory=dict)
    feed: VenueFeed | None = None

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.jsonl"


ProgressCallback = Callable[[SessionProgress, float], None]
StartedCallback = Callable[[Handles, ray.actor.ActorHandle], Callable[[], None] | None]
"""Called once the actors are up (e.g. to start the HTTP API); returns its own stop hook."""


def archive_previous(data_dir: Path) -> Path | None:
    """Move the last session's journal, store, WAL and checkpoints under ``archive/<time>``."""
    present = [data_dir / name for name in SESSION_FILES if (data_dir / name).exists()]
    if not present:
        return None
    target = data_dir / "archive" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target.mkdir(parents=True)
    for path in present:
        shutil.move(str(path), target / path.name)
    return target


def state_placement(options: SessionOptions) -> NodeAffinitySchedulingStrategy:
    """Hard affinity to the node that owns the data dir, so a restart never lands where the
    WAL, checkpoints and journal are missing."""
    node_id = options.state_node_id or ray.get_runtime_context().get_node_id()
    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)


def start_actors(options: SessionOptions) -> tuple[Handles, ray.actor.ActorHandle]:
    """Journal, paper venue, risk, execution, one actor per symbol, and the orchestrator
    (live: the paper venue has no data files and is fed each step's bars by the orchestrator)."""
    settings, data_dir = options.settings, options.data_dir.resolve()
    sources: dict[str, str | VenueFeed]
    pinned = state_placement(options)
    journal = JournalActor.options(name=JOURNAL_ACTOR, scheduling_strategy=pinned).remote(
        str(data_dir)
    )
    risk = RiskActor.options(
        name=RISK_ACTOR, lifetime="detached", scheduling_strategy=pinned
    ).remote(settings, str(data_dir / "risk.json"), str(options.initial_balance))
    files: dict[str, str | None]
    if options.feed is not None:
        sources = dict.fromkeys(settings.symbols, options.feed)
        files = dict.fromkeys(settings.symbols)
    else:
        paths = {
            s: str(data_file(options.market_data, s, settings.base_timeframe))
            for s in settings.symbols
        }
        sources, files = dict(paths), dict(paths)
    paper = PaperVenueActor.options(name=PAPER_ACTOR, scheduling_strategy=pinned).remote(
        files, settings.venue.maker_fee_bps, settings.venue.taker_fee_bps, settings.venue
    )
    venue_url = ray.get(paper.start.remote())
    execution = ExecutionActor.options(name=EXECUTION_ACTOR, scheduling_strategy=pinned).remote(
        str(data_dir / "wal"), venue_url, settings.symbols, venue=settings.venue
    )
    router = None
    if settings.features.llm_opinion:
        router = start_router_pool(  # the pool's budget actor is stateful: pinned
            settings.router, str(data_dir), budget_options={"scheduling_strategy": pinned}
        )
    symbols = {
        symbol: SymbolActor.options(name=actor_name(symbol), scheduling_strategy="SPREAD").remote(
            symbol, settings.base_timeframe, settings.timeframes, source, settings.signals, router
        )
        for symbol, source in sources.items()
    }
    handles = Handles(symbols, risk, execution, journal, paper, router)
    orchestrator = Orchestrator.options(name=ORCHESTRATOR_ACTOR, scheduling_strategy=pinned).remote(
        settings, handles, str(data_dir), live=options.feed is not None
    )
    return handles, orchestrator


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
    settings = options.settings
    step_timeframe = min(settings.timeframes, key=lambda tf: tf.seconds)
    live = options.feed is not None
    if live:
        start = next_close(datetime.now(UTC), step_timeframe)
    else:
        firsts = ray.get([a.first_close.remote() for a in handles.symbols.values()])
        start = min(f for f in firsts if f is not None)
        step = step_timeframe.duration
        start = start + (-start.timestamp() % step.total_seconds()) * timedelta(seconds=1)
    end = None
    if options.max_bars is not None:
        end = (
            start
            - settings.base_timeframe.duration
            + options.max_bars * (settings.base_timeframe.duration)
        )
    run = orchestrator.run.remote(start, end, options.speed, live, options.grace_s)
    started = time.monotonic()
    try:
        while True:
            ready, _ = ray.wait([run], timeout=options.poll_s)
            elapsed = time.monotonic() - started
            if on_progress is not None:
                on_progress(ray.get(orchestrator.progress.remote()), elapsed)
            if ready:
                break
            if options.duration_s is not None and elapsed >= options.duration_s:
                ray.get(orchestrator.stop.remote())
    except KeyboardInterrupt:
        ray.get(orchestrator.stop.remote())
    progress: SessionProgress = ray.get(run)
    if stop_started is not None:
        stop_started()
    summary = SessionSummary(
        elapsed_s=time.monotonic() - started,
        progress=progress,
        symbols=ray.get([a.progress.remote() for a in handles.symbols.values()]),
        snapshots=dict(
            zip(
                settings.symbols,
                ray.get([a.snapshots.remote() for a in handles.symbols.values()]),
                strict=True,
            )
        ),
        risk=ray.get(handles.risk.summary.remote()),
        venue=ray.get(handles.paper.stats.remote()) if handles.paper else {},
        journal=_close_journal(handles),
        data_dir=options.data_dir,
        positions=ray.get(handles.execution.positions.remote()),
        feed=options.feed,
    )
    stop_actors(handles, orchestrator)
    _write_summary(summary)
    return summary


def _close_journal(handles: Handles) -> VerifyReport:
    ray.get(handles.journal.anchor.remote())
    report: VerifyReport = ray.get(handles.journal.verify.remote())
    ray.get(handles.journal.close.remote())
    return report


def stop_actors(handles: Handles, orchestrator: ray.actor.ActorHandle) -> None:
    """Close the venue connections, then kill every actor of the session (named ones free
    their names for the next session)."""
    for closing in (handles.execution, handles.paper):
        if closing is not None:
            with contextlib.suppress(ray.exceptions.RayActorError):
                ray.get(closing.stop.remote())
    if handles.router is not None:
        handles.router.stop()
    for actor in (
        orchestrator,
        handles.risk,
        handles.execution,
        handles.journal,
        handles.paper,
        *handles.symbols.values(),
    ):
        if actor is not None:
            ray.kill(actor)


def _write_summary(summary: SessionSummary) -> None:
    import json

    document = {
        "elapsed_s": round(summary.elapsed_s, 3),
        "progress": asdict(summary.progress),
        "symbols": [asdict(p) for p in summary.symbols],
        "risk": {k: str(v) for k, v in asdict(summary.risk).items()},
        "venue": summary.venue,
        "positions": {s: format(q, "f") for s, q in summary.positions.items()},
        "live_feed": asdict(summary.feed) if summary.feed is not None else None,
        "journal": {
            "path": str(summary.journal_path),
            "records": summary.journal.records,
            "intact": summary.journal.ok,
        },
        "snapshots": {
            symbol: {tf: snap.model_dump(mode="json") for tf, snap in by_tf.items()}
            for symbol, by_tf in summary.snapshots.items()
        },
    }
    path = summary.data_dir / "run-summary.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def format_summary(summary: SessionSummary) -> str:
    """A plain-text report: one row per symbol, then orders, risk and the journal."""
    header = ["symbol", "5m bars", "15m", "1h", "4h", "1d", "last close", "position", "1h RSI"]
    rows = [header]
    for p in summary.symbols:
        snaps = summary.snapshots.get(p.symbol, {})
        hourly = snaps.get("1h")
        rows.append(
            [
                p.symbol,
                f"{p.base_bars:,}",
                *(f"{p.closed_bars.get(tf, 0):,}" for tf in ("15m", "1h", "4h", "1d")),
                p.last_close or "-",
                format(summary.positions.get(p.symbol, Decimal(0)), "f"),
                f"{hourly.values['rsi_14']:.1f}" if hourly and "rsi_14" in hourly.values else "-",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    progress, risk = summary.progress, summary.risk
    decisions = ", ".join(f"{k.lower()} {v}" for k, v in progress.decisions.items())
    lines += [
        "",
        f"signals {progress.signals:,}; risk decisions: {decisions}; "
        f"orders sent {progress.orders}; fills {progress.fills}; "
        f"venue accepted {summary.venue.get('accepted', 0)}, "
        f"duplicate client ids {summary.venue.get('duplicate_attempts', 0)}",
        f"equity {risk.equity:.2f} (balance {risk.balance:.2f}, gross exposure "
        f"{risk.gross_exposure:.2f}); trading state {risk.state}",
        f"{progress.base_bars:,} base bars in {progress.steps:,} steps, {summary.elapsed_s:.1f} s; "
        f"journal {summary.journal_path} ({summary.journal.records:,} records, "
        f"{'intact' if summary.journal.ok else 'BROKEN'})",
    ]
    if summary.feed is not None:
        lines += _live_lines(summary)
    if progress.error:
        lines.append(f"error: {progress.error}")
    return "\n".join(lines)


def _live_lines(summary: SessionSummary) -> list[str]:
    """The live session's label and each symbol's feed health."""
    assert summary.feed is not None  # noqa: S101 - only called for live sessions
    lines = [
        f"LIVE feed {summary.feed.rest_url} ({summary.feed.stream_url}): paper trading; orders "
        "go to the built-in paper venue and fill on the live bars each step consumed "
        "(no real account)"
    ]
    for p in summary.symbols:
        f = p.feed
        if f is not None:
            lines.append(
                f"  {p.symbol}: {f.received_bars} closed bars ({f.warmup_bars} warm-up), "
                f"last close {f.last_close or '-'}; connects {f.connects}, disconnects "
                f"{f.disconnects}, backfilled {f.backfilled_bars}, unfilled {f.unfilled_bars}, "
                f"rejected {f.rejected}, refused for skew {f.refused_for_skew}"
                + (f"; STOPPED: {f.stopped}" if f.stopped else "")
            )
    return lines
