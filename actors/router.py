"""``RouterPool``: an autoscaling pool of router actors serving LLM second opinions.

Each ``RouterActor`` is an async actor around ``trading.llm.LLMRouter``. Its cache and
evaluation store are SQLite files in the session's data directory, shared by every replica on
that node (a replica on another node keeps its own unless the directory is a shared mount).
With no API keys configured, every answer comes from the offline analyst, labelled as such.

The named ``RouterPoolController`` owns the replicas. Every ``pool.refresh_s`` it reads their
in-flight counts, adds replicas at once when the load exceeds ``target_in_flight`` per
replica (never more than ``max_replicas`` alive), and retires surplus ones once the pool has
been oversized for ``scale_down_after_s`` (down to the busiest need of that window): a
retiring replica leaves the advertised list, finishes what it holds, and only then is killed;
a dead one is dropped and replaced. ``RouterPool`` is the picklable client each
symbol actor holds: it routes every request to the least-loaded replica it knows and re-reads
the list from the controller in the background (one controller call per ``refresh_s`` at
most, none per request); a request that meets a dead replica is retried on another.

Provider calls are bounded per endpoint by ``router.max_calls_per_provider`` in each replica,
so by ``max_calls_per_provider x pool.max_replicas`` for the whole pool. The LLM budget is one
for the whole pool: every replica reserves each provider call against the pool's
``BudgetActor`` (``actors.budget``), which ``start_router_pool`` starts. The replica count
is exported through Ray's metrics as ``ray_raytrader_router_replicas{state}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import ray
from ray.actor import ActorHandle
from ray.util.metrics import Gauge

from actors.budget import BUDGET_ACTOR, BudgetActor, RemoteLedger
from trading.config import RouterPoolSettings, RouterSettings
from trading.contracts import IndicatorSnapshot, Regime, Timeframe
from trading.llm import AnalysisRequest, LLMOpinion, LLMRouter

ROUTER_POOL_ACTOR = "router-pool"
_STARTUP_TIMEOUT_S = 120.0
_STALE_VIEWS = 2  # a view older than this many refresh periods is re-read before routing
_RETIRE_GRACE = 3  # refresh periods a retiring replica keeps serving stale views
_WAIT_PERIODS = 30  # refresh periods a request waits for a replica when none answers
_SETTLE_S = 30.0  # past its request deadline, a call's reservation is dropped after this long


class NoRouterReplicaError(RuntimeError):
    """No replica of the pool answered a request (the controller could not keep one up)."""


@ray.remote(
    num_cpus=0.05,
    max_concurrency=32,
    max_restarts=-1,
    max_task_retries=-1,
    concurrency_groups={"control": 2},
)
class RouterActor:
    def __init__(
        self, settings: RouterSettings, data_dir: str, budget: ActorHandle[Any] | None = None
    ) -> None:
        directory = Path(data_dir)
        directory.mkdir(parents=True, exist_ok=True)  # a node without the session's data dir
        cache = settings.cache.model_copy(update={"path": str(directory / "llm-cache.db")})
        evaluation = settings.evaluation.model_copy(update={"path": str(directory / "llm-eval.db")})
        self._router = LLMRouter(
            settings.model_copy(update={"cache": cache, "evaluation": evaluation}),
            ledger=RemoteLedger(budget) if budget is not None else None,
        )
        self._in_flight = 0
        self._peak = 0

    async def opinion(self, request: AnalysisRequest) -> LLMOpinion:
        self._in_flight += 1
        self._peak = max(self._peak, self._in_flight)
        try:
            return await self._router.opinion(request)
        finally:
            self._in_flight -= 1

    @ray.method(concurrency_group="control")
    def load(self) -> tuple[int, int]:
        """Requests in flight now, and the most at once since the last reading."""
        peak, self._peak = self._peak, self._in_flight
        return self._in_flight, peak

    @ray.method(concurrency_group="control")
    async def drained(self) -> int:
        """Return once no request is in flight (the caller bounds the wait); the count held
        when asked."""
        held = self._in_flight
        while self._in_flight:
            await asyncio.sleep(0.05)
        return held

    def counters(self) -> dict[str, object]:
        return dict(vars(self._router.counters))

    @ray.method(concurrency_group="control")
    def ping(self) -> bool:
        return True


class ReplicaScaler:
    """How many replicas the load wants: more at once; fewer only once the pool has been
    oversized for ``scale_down_after_s``, and then as many as the busiest moment of that
    trailing window wanted (Kubernetes' HPA scale-down stabilization, the same rule)."""

    def __init__(self, pool: RouterPoolSettings) -> None:
        self._pool = pool
        self._surplus_since: float | None = None
        self._needs: deque[tuple[float, int]] = deque()

    def need(self, in_flight: int) -> int:
        pool = self._pool
        wanted = -(-in_flight // pool.target_in_flight)
        return min(pool.max_replicas, max(pool.min_replicas, wanted))

    def wanted(self, replicas: int, in_flight: int, now_s: float) -> int:
        window_s = self._pool.scale_down_after_s
        need = self.need(in_flight)
        self._needs.append((now_s, need))
        while self._needs[0][0] < now_s - window_s:
            self._needs.popleft()
        if need >= replicas:
            self._surplus_since = None
            return need
        if self._surplus_since is None:
            self._surplus_since = now_s
        if now_s - self._surplus_since < window_s:
            return replicas
        return max(n for _, n in self._needs)


@dataclass(frozen=True)
class PoolView:
    """What a pool copy routes over: the serving replicas and their last in-flight counts."""

    version: tuple[int, int]  # (controller incarnation, change count): newer compares greater
    replicas: tuple[tuple[str, ActorHandle[Any]], ...]
    loads: tuple[int, ...]


@dataclass
class PoolStats:
    """The controller's record, for progress, metrics and tests."""

    serving: int = 0
    starting: int = 0
    retiring: int = 0
    peak_alive: int = 0
    demand: int = 0
    added: int = 0
    reinstated: int = 0
    retired: list[str] = field(default_factory=list)
    retired_holding: dict[str, int] = field(default_factory=dict)  # in flight when drained
    errors: list[str] = field(default_factory=list)

    @property
    def alive(self) -> int:
        return self.serving + self.starting + self.retiring


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class RouterPoolController:
    """Owns the replicas (they die with it) and scales them on their in-flight counts."""

    def __init__(
        self,
        settings: RouterSettings,
        data_dir: str,
        replica_options: dict[str, Any] | None = None,
        budget: ActorHandle[Any] | None = None,
    ) -> None:
        self._settings, self._data_dir = settings, data_dir
        self._budget = budget  # the pool's one BudgetActor, handed to every replica
        self._pool = settings.pool
        self._options = {"scheduling_strategy": "SPREAD", **(replica_options or {})}
        self._scaler = ReplicaScaler(settings.pool)
        self._serving: dict[str, ActorHandle[Any]] = {}
        self._starting: dict[str, ActorHandle[Any]] = {}
        self._retiring: dict[str, tuple[ActorHandle[Any], asyncio.Task[None]]] = {}
        self._loads: dict[str, int] = {}
        self._version = (time.time_ns(), 0)
        self._ids = itertools.count(1)
        self._stats = PoolStats()
        self._admitting: set[asyncio.Task[None]] = set()
        # Ray exports it with its own metrics, as ray_raytrader_router_replicas{state=...}
        self._replicas_gauge = Gauge(
            "raytrader_router_replicas", "router replicas by state", tag_keys=("state",)
        )
        for _ in range(self._pool.min_replicas):
            self._add()
        # Ray runs an async actor's constructor on its event loop
        self._ticking = asyncio.get_running_loop().create_task(self._tick_forever())

    async def view(self) -> PoolView:
        """The serving replicas (the starting ones while none serves yet)."""
        replicas = self._serving or self._starting
        return PoolView(
            self._version,
            tuple(replicas.items()),
            tuple(self._loads.get(rid, 0) for rid in replicas),
        )

    async def stats(self) -> PoolStats:
        s = self._stats
        s.serving, s.starting, s.retiring = (
            len(self._serving),
            len(self._starting),
            len(self._retiring),
        )
        return s

    async def stop(self) -> None:
        """Stop scaling and kill every replica."""
        self._ticking.cancel()
        for task in [*self._admitting, *(t for _, t in self._retiring.values())]:
            task.cancel()
        handles = [*self._serving.values(), *self._starting.values()]
        handles += [h for h, _ in self._retiring.values()]
        if self._budget is not None:
            handles.append(self._budget)
        for handle in handles:
            ray.kill(handle, no_restart=True)
        self._serving.clear()
        self._starting.clear()
        self._retiring.clear()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._pool.refresh_s)
            try:
                await self._tick()
            except Exception as exc:  # a failed reading skips one tick, never stops scaling
                self._stats.errors = [*self._stats.errors[-9:], repr(exc)[:200]]

    async def _tick(self) -> None:
        loads = await self._read_loads()
        self._loads = {rid: now for rid, (now, _) in loads.items()}
        demand = sum(peak for _, peak in loads.values())
        self._stats.demand = demand
        size = len(self._serving) + len(self._starting)
        wanted = self._scaler.wanted(size, demand, time.monotonic())
        for _ in range(wanted - size):
            if self._retiring:
                self._reinstate(next(reversed(self._retiring)))
            else:
                self._add()
        if wanted < size:
            idle_first = sorted(self._serving, key=lambda rid: self._loads.get(rid, 0))
            for rid in [*self._starting, *idle_first][: size - wanted]:
                self._retire(rid)
        for state, replicas in (
            ("serving", len(self._serving)),
            ("starting", len(self._starting)),
            ("retiring", len(self._retiring)),
        ):
            self._replicas_gauge.set(replicas, tags={"state": state})

    async def _read_loads(self) -> dict[str, tuple[int, int]]:
        replicas = {**self._serving, **{rid: h for rid, (h, _) in self._retiring.items()}}
        refs: list[Any] = [h.load.remote() for h in replicas.values()]
        timeout_s = 5 * self._pool.refresh_s
        answers = await asyncio.gather(
            *(asyncio.wait_for(ref, timeout=timeout_s) for ref in refs), return_exceptions=True
        )
        loads: dict[str, tuple[int, int]] = {}
        for rid, answer in zip(replicas, answers, strict=True):
            if isinstance(answer, tuple):
                loads[rid] = answer
            elif isinstance(answer, ray.exceptions.ActorDiedError):
                self._lost(rid)  # a slow or restarting replica is only left out this tick
        return loads

    def _lost(self, rid: str) -> None:
        """Forget a dead replica (killed from outside, or its node gone); scaling replaces it."""
        retiring = self._retiring.pop(rid, None)
        if retiring is not None:
            retiring[1].cancel()
        elif self._serving.pop(rid, None) is None:
            return  # retired meanwhile: killed by its drain, not lost
        self._stats.errors = [*self._stats.errors[-9:], f"{rid} lost"]
        self._bump()

    def _bump(self) -> None:
        self._version = (self._version[0], self._version[1] + 1)

    def _alive(self) -> int:
        return len(self._serving) + len(self._starting) + len(self._retiring)

    def _add(self) -> None:
        rid = f"router-{next(self._ids)}"
        handle = RouterActor.options(**self._options).remote(
            self._settings, self._data_dir, self._budget
        )
        self._starting[rid] = handle
        self._stats.added += 1
        self._stats.peak_alive = max(self._stats.peak_alive, self._alive())
        task = asyncio.get_running_loop().create_task(self._admit(rid, handle))
        self._admitting.add(task)
        task.add_done_callback(self._admitting.discard)

    async def _admit(self, rid: str, handle: ActorHandle[Any]) -> None:
        """Advertise a new replica once it answers (its imports and SDK clients are loaded)."""
        try:
            await asyncio.wait_for(handle.ping.remote(), timeout=_STARTUP_TIMEOUT_S)
        except (TimeoutError, ray.exceptions.RayActorError) as exc:
            self._stats.errors = [*self._stats.errors[-9:], f"{rid} did not start: {exc!r}"[:200]]
            self._starting.pop(rid, None)
            ray.kill(handle, no_restart=True)
            return
        if self._starting.pop(rid, None) is not None:
            self._serving[rid] = handle
            self._bump()

    def _retire(self, rid: str) -> None:
        handle = self._serving.pop(rid, None) or self._starting.pop(rid)
        task = asyncio.get_running_loop().create_task(self._drain(rid, handle))
        self._retiring[rid] = (handle, task)
        self._bump()

    def _reinstate(self, rid: str) -> None:
        handle, task = self._retiring.pop(rid)
        task.cancel()
        self._serving[rid] = handle
        self._stats.reinstated += 1
        self._bump()

    async def _drain(self, rid: str, handle: ActorHandle[Any]) -> None:
        """Wait until no pool copy can still pick the replica and it holds no request, then
        kill it (a request that still meets it dead is retried elsewhere by the pool)."""
        await asyncio.sleep(_RETIRE_GRACE * self._pool.refresh_s)
        timeout_s = self._settings.request_timeout_ms / 1000 + self._pool.refresh_s
        held = -1  # did not drain in time (or was lost): killed anyway
        with contextlib.suppress(TimeoutError, ray.exceptions.RayActorError):
            held = await asyncio.wait_for(handle.drained.remote(), timeout=timeout_s)
        self._retiring.pop(rid, None)
        ray.kill(handle, no_restart=True)
        self._stats.retired.append(rid)
        self._stats.retired_holding[rid] = held


class RouterPool:
    """A picklable client of the pool: least-loaded routing over a periodically refreshed
    view of the controller's serving replicas (each copy reads its own view)."""

    def __init__(self, controller: ActorHandle[Any], pool: RouterPoolSettings) -> None:
        self.controller = controller
        self._pool = pool
        self._view = PoolView((0, 0), (), ())
        self._viewed_at = -float("inf")
        self._refreshing: asyncio.Task[None] | None = None
        self._in_flight: Counter[str] = Counter()
        self._turn = itertools.count()
        self.served: Counter[str] = Counter()  # answers per replica id, from this copy

    def __reduce__(self) -> tuple[type[RouterPool], tuple[ActorHandle[Any], RouterPoolSettings]]:
        return (RouterPool, (self.controller, self._pool))

    async def opinion(self, request: AnalysisRequest) -> LLMOpinion:
        """Ask the least-loaded replica. One that is gone (retired, lost, restarting) costs a
        view re-read and a try elsewhere; with none left, wait a period (at most
        ``_WAIT_PERIODS``) for the controller to replace them."""
        await self._fresh_view()
        dead: set[ActorHandle[Any]] = set()
        for _ in range(self._pool.max_replicas + _WAIT_PERIODS):
            chosen = self._least_loaded(dead)
            if chosen is None:
                dead.clear()
                await asyncio.sleep(self._pool.refresh_s)
                await self._refresh()
                continue
            rid, replica = chosen
            self._in_flight[rid] += 1
            try:
                opinion: LLMOpinion = await replica.opinion.remote(request)
            except ray.exceptions.RayActorError:
                dead.add(replica)  # retired or lost: re-read the view, try another replica
                await self._refresh()
                continue
            finally:
                self._in_flight[rid] -= 1
            self.served[rid] += 1
            return opinion
        raise NoRouterReplicaError(
            f"no router replica answered within {_WAIT_PERIODS} refresh periods"
        )

    def stop(self) -> None:
        """Kill the replicas and the controller (the end of a session)."""
        with contextlib.suppress(ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            ray.get(self.controller.stop.remote(), timeout=10)
        ray.kill(self.controller, no_restart=True)

    def _least_loaded(self, dead: set[ActorHandle[Any]]) -> tuple[str, ActorHandle[Any]] | None:
        view = self._view
        candidates = [i for i, (_, h) in enumerate(view.replicas) if h not in dead]
        if not candidates:
            return None
        turn, n = next(self._turn), len(view.replicas)
        best = min(
            candidates,
            key=lambda i: (view.loads[i] + self._in_flight[view.replicas[i][0]], (i - turn) % n),
        )
        return view.replicas[best]

    async def _fresh_view(self) -> None:
        """Re-read the view in the background once it is a period old; wait for it only when
        it is stale (a new or idle copy) or empty."""
        age_s = time.monotonic() - self._viewed_at
        if age_s > _STALE_VIEWS * self._pool.refresh_s or not self._view.replicas:
            await self._refresh()
        elif age_s > self._pool.refresh_s and self._refreshing is None:
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh())
            self._refreshing.add_done_callback(self._refreshed)

    def _refreshed(self, task: asyncio.Task[None]) -> None:
        self._refreshing = None
        if not task.cancelled():
            task.exception()  # a failed read keeps the old view; the next request tries again

    async def _refresh(self) -> None:
        asked_at = time.monotonic()
        view: PoolView = await self.controller.view.remote()
        if view.version >= self._view.version:
            self._view, self._viewed_at = view, asked_at


def start_router_pool(
    settings: RouterSettings,
    data_dir: str,
    *,
    name: str = ROUTER_POOL_ACTOR,
    replica_options: dict[str, Any] | None = None,
    budget_options: dict[str, Any] | None = None,
) -> RouterPool:
    """Start the pool's budget actor (a new run of its caps), the named controller (and its
    ``min_replicas``) and return a pool client.

    ``replica_options`` go to ``RouterActor.options`` (e.g. a ``runtime_env`` with keys),
    ``budget_options`` to ``BudgetActor.options`` (e.g. pinned to the data dir's node). The
    budget actor is ``llm-budget`` for the default pool, ``<name>-llm-budget`` for another."""
    budget_name = BUDGET_ACTOR if name == ROUTER_POOL_ACTOR else f"{name}-{BUDGET_ACTOR}"
    budget = BudgetActor.options(name=budget_name, **(budget_options or {})).remote(
        settings.budget, data_dir, uuid.uuid4().hex, settings.request_timeout_ms / 1000 + _SETTLE_S
    )
    controller = RouterPoolController.options(name=name).remote(
        settings, data_dir, replica_options, budget
    )
    ray.get(controller.view.remote())  # constructed, its first replicas asked for
    return RouterPool(controller, settings.pool)


def opinion_request(
    symbol: str,
    timeframe: Timeframe,
    regime: Regime,
    snapshots: dict[Timeframe, IndicatorSnapshot],
    as_of: datetime,
) -> AnalysisRequest:
    return AnalysisRequest(
        symbol=symbol,
        timeframe=timeframe,
        regime=regime,
        snapshots=tuple(snapshots[tf] for tf in sorted(snapshots, key=lambda t: t.seconds)),
        as_of=as_of,
    )
