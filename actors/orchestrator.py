"""``Orchestrator``: drives the clock and runs each step of the pipeline across the actors.

Per step (a close of the finest analysis timeframe): symbol actors advance in parallel,
the paper venue's market clock follows, risk sees the marks, the ``TradingDesk`` plans,
risk decides, execution sends, fills come back to risk, and the whole step is journaled.
The desk's state is checkpointed every step, so a restarted orchestrator resumes.

Replay steps through data time; live (``run(live=True)``) steps at each wall-clock close plus a
grace for the venue's closed bar to arrive, and each step hands the paper venue (which has no
data files then) the closed bars it consumed with the clock, so orders fill on those very bars.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import ray
from ray.actor import ActorHandle

from actors.config_watch import DEFAULT_INTERVAL_S, watch_config
from actors.router import RouterClient
from actors.step_ports import RemoteRisk, RemoteVenue
from trading.config import Settings, SignalSettings
from trading.contracts import DecisionOutcome, Fill, OrderDecision, Signal, epoch_us
from trading.execution.desk import DeskState, SymbolStep, TradingDesk
from trading.execution.gateway import SendOutcome, SubmitOutcome
from trading.execution.step import trade_step
from trading.journal.recorder import ConfigChange, EquityPoint, Recordable
from trading.reload import ConfigFileWatch, config_changes, refusal
from trading.risk.gate import RiskSummary

ORCHESTRATOR_ACTOR = "orchestrator"


@dataclass
class SessionProgress:
    steps: int = 0
    clock: str | None = None
    base_bars: int = 0
    signals: int = 0
    decisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DecisionOutcome, 0))
    orders: int = 0
    fills: int = 0
    equity: str | None = None
    trading_state: str | None = None
    journal_records: int = 0
    step_ms: list[float] = field(default_factory=list)  # the last 1,000 steps' latency
    done: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Handles:
    symbols: dict[str, ActorHandle]
    risk: ActorHandle
    execution: ActorHandle
    journal: ActorHandle
    paper: ActorHandle | None
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


@ray.remote(num_cpus=0.1)
class Orchestrator:
    def __init__(
        self, settings: Settings, handles: Handles, data_dir: str, *, live: bool = False
    ) -> None:
        """``live``: the paper venue has no data files and takes each step's closed bars."""
        self._settings = settings
        self._handles = handles
        self._live = live
        self._checkpoint = Path(data_dir) / "desk.json"
        state = (
            DeskState.model_validate_json(self._checkpoint.read_text())
            if self._checkpoint.exists()
            else None
        )
        self._desk = TradingDesk.from_settings(settings, state=state)
        self._step = min(settings.timeframes, key=lambda tf: tf.seconds).duration
        self._signals: dict[str, Signal] = {}
        self._progress = SessionProgress()
        self._stopping = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        # each signal-settings push and the step close it followed: a restarted symbol actor
        # replays them (``signal_reloads``)
        self._signal_reloads: list[tuple[datetime | None, SignalSettings]] = []
        self._watch: asyncio.Task[None] | None = None

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
        clock = start
        loop = asyncio.get_running_loop()
        pace_s = self._step.total_seconds() / speed if speed > 0 and not live else 0.0
        try:
            while not self._stopping.is_set() and (end is None or clock <= end):
                if live and not await self._wall_clock_passed(clock, grace_s):
                    break
                began = loop.time()
                steps = await self.step(clock)
                latency = self._progress.step_ms
                latency.append((loop.time() - began) * 1000)
                del latency[:-1000]
                if pace_s:
                    await asyncio.sleep(max(0.0, pace_s - (loop.time() - began)))
                if not live and all(not s.bars for s in steps) and clock > start:
                    break
                clock += self._step
        except Exception as exc:  # surfaced in progress and to the caller
            self._progress.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._progress.done = True
        return self._progress

    async def _wall_clock_passed(self, close: datetime, grace_s: float) -> bool:
        """Sleep until ``grace_s`` after ``close`` on the wall clock; False if stopped first."""
        delay_s = (close - datetime.now(UTC)).total_seconds() + grace_s
        if delay_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay_s)
        return not self._stopping.is_set()

    @_between_reloads
    async def step(self, clock: datetime) -> list[SymbolStep]:
        h, desk = self._handles, self._desk
        steps: list[SymbolStep] = await asyncio.gather(
            *(actor.advance.remote(clock) for actor in h.symbols.values())
        )
        if h.paper is not None:
            fresh = {s.symbol: s.bars for s in steps if s.bars} if self._live else None
            await h.paper.advance_to.remote(epoch_us(clock) // 1000, fresh)
        done = await trade_step(
            desk, RemoteRisk(h.risk), RemoteVenue(h.execution, desk), steps, clock
        )
        signals = [s.signal for s in steps if s.signal is not None]
        self._signals.update((s.symbol, s) for s in signals)
        events: list[Recordable] = [bar for s in steps for bar in s.bars]
        events += signals
        events += done.decisions
        events += [o.state for o in done.outcomes]
        events += done.fills
        events += done.ended
        summary = done.summary
        events.append(EquityPoint(clock, summary.equity, summary.balance, summary.gross_exposure))
        records = await h.journal.record.remote(events, clock)
        self._checkpoint.write_text(desk.state.model_dump_json())
        self._count(
            steps, signals, done.decisions, done.outcomes, done.fills, done.summary, records, clock
        )
        return steps

    def _count(
        self,
        steps: list[SymbolStep],
        signals: list[Signal],
        decisions: list[OrderDecision],
        outcomes: list[SubmitOutcome],
        fills: list[Fill],
        summary: RiskSummary,
        records: int,
        clock: datetime,
    ) -> None:
        p = self._progress
        p.steps += 1
        p.clock = clock.isoformat()
        p.base_bars += sum(len(s.bars) for s in steps)
        p.signals += len(signals)
        for decision in decisions:
            p.decisions[decision.outcome] += 1
        p.orders += sum(isinstance(o, SendOutcome) for o in outcomes)
        p.fills += len(fills)
        p.equity = format(summary.equity.quantize(Decimal("0.01")), "f")
        p.trading_state = str(summary.state)
        p.journal_records = records

    def follow(self, client_order_id: str, booked: list[Fill]) -> None:
        """Take over an order placed through the API (its later fills, its end)."""
        self._desk.follow(client_order_id, booked)

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
            watch = ConfigFileWatch(Path(path), overrides)
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

    def ping(self) -> bool:
        return True
