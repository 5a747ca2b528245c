"""``Orchestrator``: drives the clock and runs each step of the pipeline across the actors.

Per step (a close of the finest analysis timeframe): symbol actors advance in parallel,
the paper venue's market clock follows, risk sees the marks, the ``TradingDesk`` plans,
risk decides, execution sends, fills come back to risk, and the whole step is journaled.
After the step is journaled (one batch per step, written once however often it is retried),
the desk, the step cursor and the counters are checkpointed in one atomic file: a restarted
orchestrator (``max_restarts=-1``; Ray retries ``run``) resumes at the next step, and a step
the crash interrupted is redone over idempotent calls (symbol ``advance``, risk decisions
memoized by client id, execution by client id, the journal by batch id).

Replay steps through data time; live (``run(live=True)``) steps at each wall-clock close plus a
grace for the venue's closed bar to arrive, and each step hands the paper venue (which has no
data files then) the closed bars it consumed with the clock, so orders fill on those very bars.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import ray
from ray.actor import ActorHandle

from actors.config_watch import DEFAULT_INTERVAL_S, watch_config
from actors.metrics import timed
from actors.router import RouterClient
from actors.step_ports import RemoteRisk, RemoteVenue
from trading.config import Settings, SignalSettings
from trading.contracts import Fill, Signal, epoch_us
from trading.execution.clock import StepSchedule, run_schedule
from trading.execution.desk import SymbolStep, TradingDesk
from trading.execution.progress import SessionProgress as SessionProgress
from trading.execution.progress import step_events
from trading.execution.step import trade_step
from trading.failure.checkpoint import load_checkpoint, save_checkpoint
from trading.failure.guard import guarded
from trading.failure.taxonomy import (
    DataError,
    ErrorClass,
    Incident,
    Recovery,
    RecoveryAction,
    classify,
)
from trading.journal.recorder import ConfigChange
from trading.observability.process import configure_observability
from trading.observability.tracing import carrier, flush_traces, traced_call
from trading.reload import ConfigFileWatch, config_changes, refusal

ORCHESTRATOR_ACTOR = "orchestrator"
CHECKPOINT_FILE = "desk.json"


@dataclass(frozen=True)
class Handles:
    symbols: dict[str, ActorHandle[Any]]
    risk: ActorHandle[Any]
    execution: ActorHandle[Any]
    journal: ActorHandle[Any]
    paper: ActorHandle[Any] | None
    router: RouterClient | None = None


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _between_reloads(
    method: Callable[Concatenate[Any, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[Any, _P], Coroutine[Any, Any, _T]]:
    """Hold the orchestrator's reload lock for the call: a reload lands between steps."""

    @functools.wraps(method)
    async def locked(self: Any, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        async with self._reload_lock:
            return await method(self, *args, **kwargs)

    return locked


async def _symbol_steps(symbols: Iterable[str], calls: list[Any]) -> list[SymbolStep]:
    """The symbol actors' steps (``calls`` in the order of ``symbols``); bad data raises a
    ``DataError`` naming its symbol."""
    answers = await asyncio.gather(*calls, return_exceptions=True)
    steps: list[SymbolStep] = []
    for symbol, answer in zip(symbols, answers, strict=True):
        if isinstance(answer, BaseException):
            if classify(answer) is not ErrorClass.DATA:
                raise answer
            raise DataError(f"{type(answer).__name__}: {answer}", symbol) from answer
        steps.append(answer)
    return steps


@ray.remote(num_cpus=0.1, max_restarts=-1, max_task_retries=-1)
class Orchestrator:
    def __init__(
        self, settings: Settings, handles: Handles, data_dir: str, *, live: bool = False
    ) -> None:
        """``live``: the paper venue has no data files and takes each step's closed bars."""
        self._settings = settings
        self._handles = handles
        self._live = live
        self._path = Path(data_dir) / CHECKPOINT_FILE
        self._checkpoint = load_checkpoint(self._path)
        self._desk = TradingDesk.from_settings(settings, state=self._checkpoint.desk)
        self._step = min(settings.timeframes, key=lambda tf: tf.seconds).duration
        self._signals: dict[str, Signal] = {}
        self._progress = self._checkpoint.progress
        self._stopping = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._signal_reloads = self._checkpoint.signal_reloads
        self._recovery = Recovery()
        self._watch: asyncio.Task[None] | None = None
        configure_observability(settings.observability, ORCHESTRATOR_ACTOR)

    async def run(
        self,
        start: datetime,
        end: datetime | None = None,
        speed: float = 0.0,
        live: bool = False,
        grace_s: float = 2.0,
    ) -> SessionProgress:
        """Step the clock from ``start`` until ``end``, the data's end, or ``stop``; ``speed``
        X paces steps at X times real time (0: as fast as the pipeline goes). ``live`` steps
        each close ``grace_s`` after it passes on the wall clock, and never runs out of data."""
        cursor = self._checkpoint.cursor
        if cursor is not None and cursor >= start:  # a restart resumes at the next step
            start = cursor + self._step
        schedule = StepSchedule(start, self._step, end, speed, live, grace_s)
        return await run_schedule(schedule, self._guarded, self._stopping, self._progress)

    async def _guarded(self, clock: datetime) -> list[SymbolStep]:
        """The step under the failure policies: each failure acted on, journaled, retried."""
        return await guarded(
            lambda: self.step(clock), self._recovery, self._act, self._report, clock
        )

    async def _act(self, incident: Incident, _: BaseException) -> str:
        """Take the incident's recovery action; what was done, for the journal."""
        action, symbol = incident.action, incident.symbol
        if action == RecoveryAction.PAUSE_SYMBOL and symbol in self._handles.symbols:
            self._checkpoint.paused.append(symbol)
            self._save(None)
            return f"{symbol} paused, the other symbols trade on; step retried"
        if action == RecoveryAction.HALT:
            return await self._tell_risk("halt", incident, "risk HALTED; the session stops")
        if action in (RecoveryAction.SAFE_MODE, RecoveryAction.PAUSE_SYMBOL):
            return await self._tell_risk("safe_mode", incident, "SAFE_MODE; step retried")
        if action == RecoveryAction.DEGRADE:
            return "step retried; the router falls back to its next model or the offline analyst"
        return "step retried"

    async def _tell_risk(self, method: str, incident: Incident, done: str) -> str:
        """Risk's ``halt`` or ``safe_mode``; a risk that cannot be reached is said so."""
        try:
            await getattr(self._handles.risk, method).remote(incident.ts, incident.cause)
        except ray.exceptions.RayError as exc:
            return f"{method} not reached ({type(exc).__name__}); step retried"
        return done

    async def _report(self, incident: Incident) -> None:
        await self._handles.journal.record.remote([incident], incident.ts)

    @_between_reloads
    @traced_call("orchestrator.step")
    @timed("raytrader_step_latency_seconds", "one pipeline step across the actors")
    async def step(self, clock: datetime) -> list[SymbolStep]:
        """One pipeline step at ``clock``: advance, trade, journal (once), count, checkpoint."""
        h, desk = self._handles, self._desk
        steps = await self._advance(clock)
        done = await trade_step(
            desk, RemoteRisk(h.risk), RemoteVenue(h.execution, desk), steps, clock
        )
        self._signals.update((s.symbol, s.signal) for s in steps if s.signal is not None)
        events = step_events(steps, done, clock)
        records = await h.journal.record.remote(events, clock, f"step {clock.isoformat()}")
        self._progress.count(steps, done, records, clock)
        self._save(clock)
        return steps

    def _save(self, cursor: datetime | None) -> None:
        """Checkpoint the desk, the counters, the reloads and (after a step) the cursor."""
        self._checkpoint.desk = self._desk.state
        self._checkpoint.cursor = cursor or self._checkpoint.cursor
        save_checkpoint(self._checkpoint, self._path)

    async def _advance(self, clock: datetime) -> list[SymbolStep]:
        """Symbol actors in parallel, then the paper venue's market clock (live: with the
        closed bars the step consumed)."""
        h, paused = self._handles, self._checkpoint.paused
        symbols = {s: actor for s, actor in h.symbols.items() if s not in paused}
        steps = await _symbol_steps(
            symbols, [actor.advance.remote(clock, trace=carrier()) for actor in symbols.values()]
        )
        if h.paper is not None:
            fresh = {s.symbol: s.bars for s in steps if s.bars} if self._live else None
            await h.paper.advance_to.remote(epoch_us(clock) // 1000, fresh)
        return steps

    def follow(self, client_order_id: str, booked: list[Fill]) -> None:
        """Take over an order placed through the API (its later fills, its end)."""
        self._desk.follow(client_order_id, booked)
        self._save(None)

    def progress(self) -> SessionProgress:
        return self._progress

    def latest_signals(self) -> dict[str, Signal]:
        return dict(self._signals)

    @_between_reloads
    async def apply_settings(self, settings: Settings, source: str, digest: str) -> ConfigChange:
        """Hot reload between steps, all or nothing: signal weights reach every symbol actor,
        limits reach risk, stops and targets the desk; journaled with each changed key. A change
        of a key only a restart can change is refused (``ReloadRefusedError``), journaled too."""
        changes = config_changes(self._settings, settings)
        refused = refusal(self._settings, changes)
        if refused is not None:
            await self._journal_config(source, digest, changes, str(refused))
            raise refused
        if changes:
            h = self._handles
            after = datetime.fromisoformat(self._progress.clock) if self._progress.clock else None
            self._signal_reloads.append((after, settings.signals))
            await asyncio.gather(
                *(actor.apply_signals.remote(settings.signals) for actor in h.symbols.values()),
                h.risk.apply_policy.remote(settings),
            )
            self._desk.reconfigure(settings)
            self._settings = settings
        return await self._journal_config(source, digest, changes)

    async def reject_config(self, source: str, digest: str, error: str) -> ConfigChange:
        """An invalid config (bad key, bad signature): journaled, the settings unchanged."""
        return await self._journal_config(source, digest, {}, error)

    async def _journal_config(
        self, source: str, digest: str, changes: dict[str, Any], error: str | None = None
    ) -> ConfigChange:
        now = datetime.fromisoformat(self._progress.clock) if self._progress.clock else None
        change = ConfigChange(
            now or datetime.now(UTC), source, digest, changes, error is None, error
        )
        await self._handles.journal.record.remote([change])
        self._save(None)  # a reload reconfigured the desk and pushed signal settings
        return change

    async def watch_config(
        self,
        path: str,
        interval_s: float = DEFAULT_INTERVAL_S,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        """Hot-reload each valid edit of ``path`` (polled every ``interval_s``) until ``stop``;
        ``overrides`` (e.g. the CLI's ``--symbols``) are laid over every version read."""
        if self._watch is None:
            watch = ConfigFileWatch(Path(path), overrides, trust=self.settings)
            self._watch = asyncio.get_running_loop().create_task(
                watch_config(
                    watch, self.apply_settings, self.reject_config, self._stopping, interval_s
                )
            )

    def settings(self) -> Settings:
        return self._settings

    def signal_reloads(self) -> list[tuple[datetime | None, SignalSettings]]:
        """Every signal-settings push with the step close it followed (for symbol resumes)."""
        return list(self._signal_reloads)

    def stop(self) -> None:
        self._stopping.set()
        flush_traces()

    def ping(self) -> bool:
        return True
