"""``Watchdog``: checks the session every few seconds and repairs what it finds.

The detectors and their repairs are ``trading.failure.watchdog``; this shell observes (a ping
of every actor within the call timeout, the orchestrator's progress, the execution breaker, the
WAL's size on disk, the LLM budget), repairs (restart an actor: ``ray.kill`` with restart, so
Ray brings it back from its checkpoint; reset a feed: restart its symbol actor, which reopens
the feed at the clock; SAFE_MODE through risk; the model switch is the router's own fallback to
the offline analyst, recorded) and journals each repair as an incident."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ray
from ray.actor import ActorHandle

from actors.budget import BUDGET_ACTOR
from actors.execution import EXECUTION_ACTOR
from actors.journal import JOURNAL_ACTOR
from actors.orchestrator import ORCHESTRATOR_ACTOR, Handles
from actors.risk import RISK_ACTOR
from actors.router import ROUTER_APP, budget_actor_name
from actors.symbol import actor_name
from trading.config import Budget
from trading.failure.taxonomy import Incident
from trading.failure.watchdog import (
    Finding,
    Observation,
    Repair,
    WatchdogCore,
    WatchdogLimits,
    budget_exhausted,
    feed_age_s,
)

WATCHDOG_ACTOR = "watchdog"
WATCH_INTERVAL_S = 5.0


def wal_bytes(wal_dir: Path) -> int:
    """The WAL's size on disk: it grows with every intent and event logged."""
    if not wal_dir.is_dir():
        return 0
    return sum(p.stat().st_size for p in wal_dir.rglob("*") if p.is_file())


async def _answer(call: Awaitable[Any], timeout_s: float) -> Any:
    """The call's answer, or None when it failed or took longer than ``timeout_s``."""
    with contextlib.suppress(TimeoutError, ray.exceptions.RayError):
        return await asyncio.wait_for(call, timeout_s)
    return None


def _incident(finding: Finding, now: datetime, outcome: str) -> Incident:
    subject = finding.subject
    return Incident(
        ts=now,
        error_class=finding.error_class,
        cause=f"{finding.problem}: {finding.detail}",
        action=finding.repair,
        outcome=outcome,
        symbol=subject.removeprefix("symbol:") if subject.startswith("symbol:") else None,
        source=WATCHDOG_ACTOR,
    )


@ray.remote(num_cpus=0, max_restarts=-1)
class Watchdog:
    def __init__(
        self,
        actors: Mapping[str, ActorHandle[Any]],
        wal_dir: str,
        limits: WatchdogLimits | None = None,
        step_period_s: float | None = None,
        budget: Budget | None = None,
    ) -> None:
        """``actors`` by name (``orchestrator``, ``risk``, ``execution``, ``journal``,
        ``symbol:...`` and ``llm-budget`` are used by name); ``step_period_s``: the paced step
        interval (None: no overdue check); ``budget``: the LLM caps to call exhausted."""
        self._actors = dict(actors)
        self._wal_dir = Path(wal_dir)
        self._core = WatchdogCore(limits)
        self._step_period_s, self._budget = step_period_s, budget
        self._stopping = asyncio.Event()

    async def watch(self, interval_s: float = 5.0) -> int:
        """Check every ``interval_s`` until ``stop``; how many repairs were made."""
        repairs = 0
        while not self._stopping.is_set():
            repairs += len(await self.check())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval_s)
        return repairs

    async def check(self) -> list[Incident]:
        """One check: observe, repair each finding due, journal the repairs."""
        seen = await self._observe()
        incidents = [await self._repair(finding) for finding in self._core.check(seen)]
        journal = self._actors.get("journal")
        if incidents and journal is not None:
            await _answer(journal.record.remote(incidents), self._core.limits.call_timeout_s)
        return incidents

    async def _observe(self) -> Observation:
        timeout_s = self._core.limits.call_timeout_s
        unanswered = await self._unanswered(timeout_s)
        progress = await self._call("orchestrator", "progress", timeout_s)
        breaker = await self._call("execution", "breaker_open", timeout_s)
        return Observation(
            now_s=time.monotonic(),
            steps_done=progress.steps if progress is not None else 0,
            step_period_s=self._step_period_s,
            session_done=progress.done if progress is not None else False,
            unanswered=unanswered,
            breaker_open=bool(breaker),
            wal_bytes=wal_bytes(self._wal_dir),
            orders_sent=progress.orders if progress is not None else 0,
            feed_age_s=await self._feed_ages(timeout_s),
            llm_exhausted=await self._llm_exhausted(timeout_s),
        )

    async def _feed_ages(self, timeout_s: float) -> dict[str, float | None]:
        """Each live symbol actor's seconds since its feed's last closed bar."""
        now, ages = datetime.now(UTC), {}
        for name in (n for n in self._actors if n.startswith("symbol:")):
            progress = await self._call(name, "progress", timeout_s)
            feed = progress.feed if progress is not None else None
            ages[name] = feed_age_s(feed.last_close, now) if feed is not None else None
        return ages

    async def _llm_exhausted(self, timeout_s: float) -> bool:
        spending = await self._call(BUDGET_ACTOR, "spending", timeout_s)
        return (
            self._budget is not None
            and spending is not None
            and budget_exhausted(spending, self._budget)
        )

    async def _call(self, name: str, method: str, timeout_s: float) -> Any:
        actor = self._actors.get(name)
        if actor is None:
            return None
        return await _answer(getattr(actor, method).remote(), timeout_s)

    async def _unanswered(self, timeout_s: float) -> tuple[str, ...]:
        """The actors whose ping got no answer within ``timeout_s``."""
        names = list(self._actors)
        answers = await asyncio.gather(
            *(_answer(self._actors[n].ping.remote(), timeout_s) for n in names)
        )
        return tuple(n for n, answer in zip(names, answers, strict=True) if answer is None)

    async def _repair(self, finding: Finding) -> Incident:
        """Take the finding's repair; the incident saying what was done."""
        now = datetime.now(UTC)
        if finding.repair in (Repair.RESTART_ACTOR, Repair.RESET_FEED):
            outcome = self._restart(finding.subject)
        elif finding.repair == Repair.SAFE_MODE:
            outcome = await self._safe_mode(now, finding)
        else:
            outcome = "the router answers with the offline analyst while the budget refuses"
        return _incident(finding, now, outcome)

    def _restart(self, name: str) -> str:
        actor = self._actors.get(name)
        if actor is None:
            return f"{name} is not watched; nothing restarted"
        ray.kill(actor, no_restart=False)
        return f"{name} killed; Ray restarts it from its checkpoint"

    async def _safe_mode(self, now: datetime, finding: Finding) -> str:
        risk = self._actors.get("risk")
        if risk is None:
            return "risk is not watched; SAFE_MODE not entered"
        try:
            await asyncio.wait_for(
                risk.safe_mode.remote(now, finding.detail), self._core.limits.call_timeout_s
            )
        except (TimeoutError, ray.exceptions.RayError) as exc:
            return f"SAFE_MODE not reached ({type(exc).__name__})"
        return "risk in SAFE_MODE (reduce-only until an operator resets)"

    def stop(self) -> None:
        self._stopping.set()

    def ping(self) -> bool:
        return True


def watched_actors(handles: Handles, orchestrator: ActorHandle[Any]) -> dict[str, ActorHandle[Any]]:
    """The session's actors by the names the watchdog uses (the budget's when it is up)."""
    actors = {
        ORCHESTRATOR_ACTOR: orchestrator,
        RISK_ACTOR: handles.risk,
        EXECUTION_ACTOR: handles.execution,
        JOURNAL_ACTOR: handles.journal,
        **{actor_name(symbol): actor for symbol, actor in handles.symbols.items()},
    }
    if handles.router is not None:
        with contextlib.suppress(ValueError):
            actors[BUDGET_ACTOR] = ray.get_actor(budget_actor_name(ROUTER_APP))
    return actors


def start_watchdog(
    handles: Handles,
    orchestrator: ActorHandle[Any],
    wal_dir: Path,
    limits: WatchdogLimits,
    step_period_s: float | None,
    budget: Budget,
    placement: Any,
) -> ActorHandle[Any]:
    """The named ``watchdog``, placed with the state actors (it reads the WAL's size), watching."""
    watchdog: ActorHandle[Any] = Watchdog.options(  # type: ignore[attr-defined]
        name=WATCHDOG_ACTOR, scheduling_strategy=placement
    ).remote(watched_actors(handles, orchestrator), str(wal_dir), limits, step_period_s, budget)
    watchdog.watch.remote(WATCH_INTERVAL_S)
    return watchdog


def stop_watchdog() -> None:
    """Kill the session's watchdog, if one runs (its name is free for the next session)."""
    with contextlib.suppress(ValueError):
        ray.kill(ray.get_actor(WATCHDOG_ACTOR))
