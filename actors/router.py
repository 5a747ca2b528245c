"""``RouterPool``: actors serving LLM second opinions with a shared cache and eval store.

Each ``RouterActor`` is an async actor (bounded concurrency) around ``trading.llm.LLMRouter``;
the pool spreads requests round-robin. Cache and evaluation store are SQLite files in the
session's data directory, shared by every router on the node. With no API keys configured,
every answer comes from the offline analyst, labelled as such.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import ray
from ray.actor import ActorHandle

from trading.config import RouterSettings
from trading.contracts import IndicatorSnapshot, Regime, Timeframe
from trading.llm import AnalysisRequest, LLMOpinion, LLMRouter

ROUTER_ACTOR = "router"


@ray.remote(num_cpus=0.05, max_concurrency=32, max_restarts=-1, max_task_retries=-1)
class RouterActor:
    def __init__(self, settings: RouterSettings, data_dir: str) -> None:
        directory = Path(data_dir)
        cache = settings.cache.model_copy(update={"path": str(directory / "llm-cache.db")})
        evaluation = settings.evaluation.model_copy(update={"path": str(directory / "llm-eval.db")})
        self._router = LLMRouter(
            settings.model_copy(update={"cache": cache, "evaluation": evaluation})
        )

    async def opinion(self, request: AnalysisRequest) -> LLMOpinion:
        return await self._router.opinion(request)

    def counters(self) -> dict[str, object]:
        return dict(vars(self._router.counters))

    def ping(self) -> bool:
        return True


class RouterPool:
    """Round-robin over router actors (a plain, picklable list of handles)."""

    def __init__(self, routers: Sequence[ActorHandle]) -> None:
        self.routers = tuple(routers)
        self._next = itertools.cycle(range(len(self.routers)))

    def __reduce__(self) -> tuple[type[RouterPool], tuple[tuple[ActorHandle, ...]]]:
        return (RouterPool, (self.routers,))

    async def opinion(self, request: AnalysisRequest) -> LLMOpinion:
        router = self.routers[next(self._next)]
        opinion: LLMOpinion = await router.opinion.remote(request)
        return opinion


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
