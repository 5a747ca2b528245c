"""The LLM router pool: one Ray Serve deployment of replicas around ``trading.llm.LLMRouter``.

``LLMRouterDeployment`` runs in its own handle-only Serve application (``llm-router``, no HTTP
route). Serve scales it on the requests each replica holds (``router.pool``: min and max
replicas, target ongoing requests per replica, up- and down-scale delays), bounds each replica
by ``max_ongoing_requests``, lets a surplus replica finish what it holds before stopping it,
replaces a lost one, exports the replica counts (``ray_serve_*`` metrics) and shows the
deployment on the dashboard's Serve page.

What Serve does not give stays here: one ``BudgetActor`` (``actors.budget``) for the whole pool,
against which every replica reserves each provider call; the per-endpoint call bound of each
replica (``router.max_calls_per_provider``, so ``x pool.max_replicas`` for the pool); the cache
and evaluation store, SQLite files in the session's data dir shared by the replicas of a node.
With no API keys configured, every answer comes from the offline analyst, labelled as such.
``RouterClient`` is the picklable opinion port the symbol actors hold.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray import serve
from ray.actor import ActorHandle
from ray.exceptions import RayActorError
from ray.serve.handle import DeploymentHandle

from actors.budget import BUDGET_ACTOR, BudgetActor, RemoteLedger
from actors.llm_metrics import MeteredEvaluationStore
from actors.serving import SERVE_LOGGING, delete_app, start_serve
from trading.config import ObservabilitySettings, RouterSettings, SecuritySettings
from trading.llm import AnalysisRequest, LLMOpinion, LLMRouter
from trading.llm.keyed import pool_clients
from trading.observability.process import configure_observability
from trading.observability.tracing import annotate, carrier, traced_call

ROUTER_APP = "llm-router"
ROUTER_DEPLOYMENT = "LLMRouterDeployment"
_SETTLE_S = 30.0  # past its request deadline, a call's reservation is dropped after this long
_DRAIN_MARGIN_S = 5.0  # a stopping replica's time to finish, past the request deadline
_ASKS = 3  # a request whose replica dies while holding it is asked again, this often in all


@serve.deployment(name=ROUTER_DEPLOYMENT, logging_config=SERVE_LOGGING)
class LLMRouterDeployment:
    """One replica: an ``LLMRouter`` over the node's cache and evaluation files and the pool's
    budget."""

    def __init__(
        self,
        settings: RouterSettings,
        data_dir: str,
        budget: ActorHandle[Any] | None = None,
        observability: ObservabilitySettings | None = None,
        security: SecuritySettings | None = None,
    ) -> None:
        directory = Path(data_dir)
        directory.mkdir(parents=True, exist_ok=True)  # a node without the session's data dir
        cache = settings.cache.model_copy(update={"path": str(directory / "llm-cache.db")})
        evaluation = settings.evaluation.model_copy(update={"path": str(directory / "llm-eval.db")})
        self._router = LLMRouter(
            settings.model_copy(update={"cache": cache, "evaluation": evaluation}),
            clients=pool_clients(settings, security),
            ledger=RemoteLedger(budget) if budget is not None else None,
            evaluation=MeteredEvaluationStore(evaluation),
        )
        configure_observability(observability or ObservabilitySettings(), ROUTER_DEPLOYMENT)

    @traced_call("router.opinion")
    async def opinion(self, request: AnalysisRequest) -> LLMOpinion:
        annotate(symbol=request.symbol, timeframe=str(request.timeframe))
        answer = await self._router.opinion(request)
        annotate(model=answer.source, cache=str(answer.cache), offline=answer.offline)
        return answer

    async def ping(self) -> bool:
        return True


@dataclass(frozen=True)
class RouterClient:
    """The pool's client (picklable; the opinion port of the symbol actors): Serve's handle
    picks the replica; a request whose replica dies while holding it is asked again."""

    handle: DeploymentHandle[Any]
    app_name: str = ROUTER_APP
    budget: ActorHandle[Any] | None = None

    async def opinion(self, request: AnalysisRequest) -> LLMOpinion:
        for _ in range(_ASKS - 1):
            with contextlib.suppress(RayActorError):  # its replica died, or is unreachable
                answer: LLMOpinion = await self.handle.opinion.remote(request, trace=carrier())
                return answer
        last: LLMOpinion = await self.handle.opinion.remote(request, trace=carrier())
        return last

    def stop(self) -> None:
        """Delete the pool's Serve application and kill its budget actor (a session's end)."""
        delete_app(self.app_name)
        if self.budget is not None:
            ray.kill(self.budget, no_restart=True)


def budget_actor_name(app_name: str) -> str:
    """``llm-budget`` for the default pool, ``<app>-llm-budget`` for another."""
    return BUDGET_ACTOR if app_name == ROUTER_APP else f"{app_name}-{BUDGET_ACTOR}"


def _start_budget(
    settings: RouterSettings, data_dir: str, name: str, options: dict[str, Any]
) -> ActorHandle[Any]:
    """The pool's one budget actor, starting a new run of its caps."""
    settle_s = settings.request_timeout_ms / 1000 + _SETTLE_S
    budget: ActorHandle[Any] = BudgetActor.options(  # type: ignore[attr-defined]
        name=name, **options
    ).remote(settings.budget, data_dir, uuid.uuid4().hex, settle_s)
    return budget


def start_router_pool(
    settings: RouterSettings,
    data_dir: str,
    *,
    name: str = ROUTER_APP,
    replica_options: dict[str, Any] | None = None,
    budget_options: dict[str, Any] | None = None,
    observability: ObservabilitySettings | None = None,
    security: SecuritySettings | None = None,
) -> RouterClient:
    """Start the pool's budget actor and Serve application; return once ``min_replicas`` answer.
    ``replica_options``: the replicas' ``ray_actor_options``; ``budget_options``: the budget
    actor's (e.g. pinned to the data dir's node); ``security``: where the LLM keys are read."""
    budget = _start_budget(settings, data_dir, budget_actor_name(name), budget_options or {})
    start_serve()
    options = deployment_options(settings, replica_options)
    deployment = LLMRouterDeployment.options(**options)  # type: ignore[attr-defined]
    app = deployment.bind(settings, data_dir, budget, observability, security)
    handle = serve.run(app, name=name, route_prefix=None)
    return RouterClient(handle, name, budget)


def deployment_options(
    settings: RouterSettings, replica_options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The deployment's Serve options from ``router.pool``; a replica being stopped has until
    the request deadline (and a margin) to finish what it holds."""
    pool = settings.pool
    return {
        "autoscaling_config": {
            "min_replicas": pool.min_replicas,
            "max_replicas": pool.max_replicas,
            "target_ongoing_requests": pool.target_ongoing_requests,
            "upscale_delay_s": pool.upscale_delay_s,
            "downscale_delay_s": pool.downscale_delay_s,
            "metrics_interval_s": pool.metrics_interval_s,
            "look_back_period_s": pool.look_back_period_s,
        },
        "max_ongoing_requests": pool.max_ongoing_requests,
        "graceful_shutdown_timeout_s": settings.request_timeout_ms / 1000 + _DRAIN_MARGIN_S,
        "ray_actor_options": {"num_cpus": 0.05, **(replica_options or {})},
    }


def router_client(app_name: str = ROUTER_APP, namespace: str | None = None) -> RouterClient | None:
    """The client of a pool that runs (started by a session), by its application name."""
    if app_name not in serve.status().applications:
        return None
    budget = None
    with contextlib.suppress(ValueError):
        budget = ray.get_actor(budget_actor_name(app_name), namespace=namespace)
    return RouterClient(serve.get_deployment_handle(ROUTER_DEPLOYMENT, app_name), app_name, budget)
