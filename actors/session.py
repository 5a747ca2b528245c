"""Start-up and stop of the paper-trading session behind ``raytrader run``: every actor, one
clock, one journal (``actors.run_loop`` drives it).

With ``SessionOptions.feed`` the symbol actors stream a live venue and the orchestrator steps
on the wall clock, handing the paper venue (started with no data files) each step's closed bars:
orders are sent, filled on those live bars and journaled (paper trading: no real account).

Placement: the actors that write under the data dir (journal, risk, execution, paper venue,
orchestrator) are pinned with a hard node affinity to the node that owns it
(``SessionOptions.state_node_id``, default the driver's), so Ray restarts them only where their
files are; that dir must be durable storage on that node or a shared mount; so is the router
pool's LLM budget actor (its ledger file). With ``SessionOptions.shared_state`` (the dir is a
mount every node reaches) the affinity is soft: a lost node's state actors restart elsewhere.
Symbol actors keep no files (a restarted one resumes from its source and the orchestrator's
clock) and spread, as do router replicas (their LLM cache and call log are per node).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.execution import EXECUTION_ACTOR, ExecutionActor
from actors.journal import JOURNAL_ACTOR, JournalActor
from actors.orchestrator import ORCHESTRATOR_ACTOR, Handles, Orchestrator
from actors.paper import PAPER_ACTOR, PaperVenueActor
from actors.risk import RISK_ACTOR, RiskActor
from actors.router import RouterClient, start_router_pool
from actors.symbol import SymbolActor, actor_name
from actors.watchdog import start_watchdog, stop_watchdog
from trading.config import Settings, VenueKind
from trading.execution.venue_kinds import check_listed
from trading.failure.watchdog import WatchdogLimits
from trading.market.live import VenueFeed
from trading.market.replay import BUNDLED_DATA, data_file
from trading.signals.second_opinion import OpinionPort


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
    shared_state: bool = False  # data_dir on storage every node reaches: soft placement
    watchdog: WatchdogLimits | None = None  # set: a Watchdog checks and repairs the session


def state_placement(options: SessionOptions) -> NodeAffinitySchedulingStrategy:
    """Affinity to the node that owns the data dir: hard, so a restart never lands where the
    WAL, checkpoints and journal are missing; soft with ``shared_state`` (every node reaches
    the dir), so Ray restarts the state actors on a surviving node when that one is lost."""
    node_id = options.state_node_id or ray.get_runtime_context().get_node_id()
    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=options.shared_state)


# ``X.options`` below carry ``type: ignore[attr-defined]``: mypy ignores class decorators, so it
# sees the bare class where ``ray.remote`` made an ``ActorClass``.


def start_actors(options: SessionOptions) -> tuple[Handles, ray.actor.ActorHandle[Any]]:
    """Journal, paper venue, risk, execution, one actor per symbol, and the orchestrator
    (live: the paper venue has no data files and is fed each step's bars by the orchestrator)."""
    settings, data_dir = options.settings, options.data_dir.resolve()
    check_listed(settings.venue, settings.symbols)  # before any actor: nothing to clean up
    pinned = state_placement(options)
    journal, risk = _start_books(options, data_dir, pinned)
    sources, files = market_sources(options)
    paper, execution = _start_venue(settings, data_dir, files, pinned)
    router = _start_router(settings, data_dir, pinned) if settings.features.llm_opinion else None
    symbols = _start_symbols(settings, sources, router)
    handles = Handles(symbols, risk, execution, journal, paper, router)
    orchestrator = Orchestrator.options(name=ORCHESTRATOR_ACTOR, scheduling_strategy=pinned).remote(  # type: ignore[attr-defined]
        settings, handles, str(data_dir), live=options.feed is not None
    )
    if options.watchdog is not None:
        _start_watchdog(options, handles, orchestrator, pinned)
    return handles, orchestrator


def _start_watchdog(
    options: SessionOptions,
    handles: Handles,
    orchestrator: ray.actor.ActorHandle[Any],
    pinned: NodeAffinitySchedulingStrategy,
) -> None:
    """The watchdog over every actor; steps are due each step period when they are paced
    (live, or replay at ``speed``), otherwise it does not time them."""
    settings, limits = options.settings, options.watchdog or WatchdogLimits()
    step_s = min(tf.seconds for tf in settings.timeframes)
    paced = (
        step_s if options.feed is not None else step_s / options.speed if options.speed else None
    )
    wal_dir = options.data_dir.resolve() / "wal"
    budget = settings.router.budget
    start_watchdog(handles, orchestrator, wal_dir, limits, paced, budget, pinned)


def market_sources(
    options: SessionOptions,
) -> tuple[dict[str, str | VenueFeed], dict[str, str | None]]:
    """Each symbol's bar source and the paper venue's data file (live: the feed, no file)."""
    symbols = options.settings.symbols
    if options.feed is not None:
        return dict.fromkeys(symbols, options.feed), dict.fromkeys(symbols)
    base = options.settings.base_timeframe
    paths = {s: str(data_file(options.market_data, s, base)) for s in symbols}
    return dict(paths), dict(paths)


def _start_router(
    settings: Settings, data_dir: Path, pinned: NodeAffinitySchedulingStrategy
) -> RouterClient:
    """The LLM router pool; its budget actor is stateful: pinned."""
    return start_router_pool(
        settings.router,
        str(data_dir),
        budget_options={"scheduling_strategy": pinned},
        observability=settings.observability,
        security=settings.security,
    )


def _start_books(
    options: SessionOptions, data_dir: Path, pinned: NodeAffinitySchedulingStrategy
) -> tuple[ray.actor.ActorHandle[Any], ray.actor.ActorHandle[Any]]:
    """The journal and the risk actor (detached: it outlives a driver that dies), pinned."""
    journal = JournalActor.options(name=JOURNAL_ACTOR, scheduling_strategy=pinned).remote(  # type: ignore[attr-defined]
        str(data_dir), security=options.settings.security
    )
    risk = RiskActor.options(  # type: ignore[attr-defined]
        name=RISK_ACTOR, lifetime="detached", scheduling_strategy=pinned
    ).remote(options.settings, str(data_dir / "risk.json"), str(options.initial_balance))
    return journal, risk


def _start_venue(
    settings: Settings,
    data_dir: Path,
    files: dict[str, str | None],
    pinned: NodeAffinitySchedulingStrategy,
) -> tuple[ray.actor.ActorHandle[Any] | None, ray.actor.ActorHandle[Any]]:
    """The execution actor connected to ``venue.kind``'s venue: the paper venue (started,
    serving its URL) or a real one (``check_listed`` has read its listing)."""
    paper = (
        _start_paper(settings, files, pinned) if settings.venue.kind is VenueKind.PAPER else None
    )
    venue_url = ray.get(paper.start.remote()) if paper is not None else ""
    execution = ExecutionActor.options(name=EXECUTION_ACTOR, scheduling_strategy=pinned).remote(  # type: ignore[attr-defined]
        *(str(data_dir / "wal"), venue_url, settings.symbols),
        venue=settings.venue,
        observability=settings.observability,
        security=settings.security,
    )
    return paper, execution


def _start_paper(
    settings: Settings, files: dict[str, str | None], pinned: NodeAffinitySchedulingStrategy
) -> ray.actor.ActorHandle[Any]:
    """The built-in paper venue over the session's data files (live: none, fed each step)."""
    paper: ray.actor.ActorHandle[Any] = PaperVenueActor.options(  # type: ignore[attr-defined]
        name=PAPER_ACTOR, scheduling_strategy=pinned
    ).remote(files, settings.venue.maker_fee_bps, settings.venue.taker_fee_bps, settings.venue)
    return paper


def _start_symbols(
    settings: Settings, sources: dict[str, str | VenueFeed], router: OpinionPort | None
) -> dict[str, ray.actor.ActorHandle[Any]]:
    """One ``SymbolActor`` per symbol, spread (they keep no files)."""
    return {
        symbol: SymbolActor.options(name=actor_name(symbol), scheduling_strategy="SPREAD").remote(  # type: ignore[attr-defined]
            symbol,
            settings.base_timeframe,
            settings.timeframes,
            source,
            settings.signals,
            router,
            observability=settings.observability,
        )
        for symbol, source in sources.items()
    }


def stop_actors(handles: Handles, orchestrator: ray.actor.ActorHandle[Any]) -> None:
    """Close the venue connections, then kill every actor of the session (named ones free
    their names for the next session); the watchdog first, so it repairs nothing that stops."""
    stop_watchdog()
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
