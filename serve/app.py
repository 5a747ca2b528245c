"""The HTTP API: one Ray Serve deployment with a FastAPI ingress over the session's actors.

``start_api(handles, orchestrator, port)`` starts Serve on 127.0.0.1 and returns the base URL;
``stop_api()`` shuts it down. The OpenAPI schema is at ``/openapi.json``, docs at ``/docs``.
"""

# Serve's ingress pickles the FastAPI app by value when the class is decorated: the routes'
# annotations must be real objects (no ``from __future__ import annotations``) and every
# helper they call must be defined above the class.

import asyncio
import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from ray import serve as ray_serve
from ray.actor import ActorHandle

from actors.execution import EXECUTION_ACTOR
from actors.journal import JOURNAL_ACTOR
from actors.orchestrator import ORCHESTRATOR_ACTOR, Handles, SessionProgress
from actors.paper import PAPER_ACTOR
from actors.risk import RISK_ACTOR
from actors.symbol import actor_name
from serve.metrics import CONTENT_TYPE_LATEST, Observation, exposition
from serve.orders import ClientIdConflictError, ManualOrders
from serve.schemas import (
    ActorHealth,
    Health,
    ManualOrder,
    OrderResult,
    Positions,
    PositionView,
    ReloadRequest,
    ReloadResult,
    RiskView,
    Signals,
)
from trading.config import DEFAULT_CONFIG, ConfigError, Settings, load_settings
from trading.reload import ReloadRefusedError
from trading.report.progress import SymbolProgress
from trading.risk.gate import RiskSummary

APP_NAME = "raytrader"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
PING_TIMEOUT_S = 0.15
READ_TIMEOUT_S = 5.0

api = FastAPI(
    title="raytrader",
    version="1",
    description="Signals, positions, risk and manual orders of a raytrader session.",
)


async def _timed(call: Awaitable[Any], timeout_s: float) -> Any:
    return await asyncio.wait_for(call, timeout_s)


def _problem_key(problem: str) -> str | None:
    """The dotted key path a ``ConfigError`` problem starts with (``risk.max_leverage: ...``)."""
    head, sep, _ = problem.partition(": ")
    if sep and head and " " not in head:
        return head
    return None


def _market_time(progress: SessionProgress) -> datetime:
    """The session's clock (replay time) once it has stepped, else the wall clock."""
    return datetime.fromisoformat(progress.clock) if progress.clock else datetime.now(UTC)


def _last_close(progress: SymbolProgress) -> Decimal | None:
    return Decimal(progress.last_close) if progress.last_close else None


def _invalid(field: str, value: Any, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", field), "msg": message, "input": value}]
    )


@ray_serve.deployment(
    name="api",
    ray_actor_options={"num_cpus": 0.1},
    max_ongoing_requests=64,
    logging_config={"log_level": "WARNING", "enable_access_log": False},
)
@ray_serve.ingress(api)
class RaytraderApi:
    def __init__(self, handles: Handles, orchestrator: ActorHandle[Any], config_path: str) -> None:
        self._handles = handles
        self._orchestrator = orchestrator
        self._config_path = Path(config_path)
        self._orders = ManualOrders(handles, orchestrator)

    def _probes(self) -> dict[str, Awaitable[Any]]:
        """One cheap call per actor; the journal has no ping, its head is as cheap."""
        h = self._handles
        probes: dict[str, Awaitable[Any]] = {
            ORCHESTRATOR_ACTOR: self._orchestrator.ping.remote(),
            RISK_ACTOR: h.risk.ping.remote(),
            EXECUTION_ACTOR: h.execution.ping.remote(),
            JOURNAL_ACTOR: h.journal.head.remote(),
        }
        if h.paper is not None:
            probes[PAPER_ACTOR] = h.paper.ping.remote()
        for symbol, actor in h.symbols.items():
            probes[actor_name(symbol)] = actor.ping.remote()
        return probes

    @api.get("/healthz", responses={503: {"model": Health, "description": "an actor failed"}})
    async def healthz(self, response: Response) -> Health:
        """Ping every actor (each within 150 ms); 503 names the ones that failed."""
        probes = self._probes()
        started = time.perf_counter()

        async def probe(call: Awaitable[Any]) -> ActorHealth:
            error: str | None = None
            try:
                await _timed(call, PING_TIMEOUT_S)
            except TimeoutError:
                error = f"no answer within {PING_TIMEOUT_S * 1000:.0f} ms"
            except Exception as exc:  # a dead or failing actor is what this reports
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            latency_ms = (time.perf_counter() - started) * 1000
            return ActorHealth(ok=error is None, latency_ms=round(latency_ms, 3), error=error)

        results = await asyncio.gather(*(probe(call) for call in probes.values()))
        actors = dict(zip(probes, results, strict=True))
        failed = sorted(name for name, health in actors.items() if not health.ok)
        if failed:
            response.status_code = 503
        return Health(status="failing" if failed else "ok", actors=actors, failed=failed)

    @api.get("/v1/signals")
    async def signals(
        self, symbol: str | None = Query(None, description="one symbol, e.g. BTC/USDT")
    ) -> Signals:
        """The latest explained Signal per symbol (or of one); 404 for a symbol not traded."""
        known = list(self._handles.symbols)
        if symbol is not None and symbol not in known:
            raise HTTPException(404, f"unknown symbol {symbol!r}; known: {', '.join(known)}")
        latest = await _timed(self._orchestrator.latest_signals.remote(), READ_TIMEOUT_S)
        wanted = [symbol] if symbol is not None else known
        return Signals(signals={s: latest.get(s) for s in wanted})

    @api.get("/v1/positions")
    async def positions(self) -> Positions:
        """Net positions from the execution gateway, with risk's marked exposure."""
        h = self._handles
        quantities, summary = await _timed(
            asyncio.gather(h.execution.positions.remote(), h.risk.summary.remote()),
            READ_TIMEOUT_S,
        )
        symbols = sorted({s for s, q in quantities.items() if q} | set(summary.exposure_by_symbol))
        return Positions(
            positions=[
                PositionView(
                    symbol=s,
                    quantity=quantities.get(s, Decimal(0)),
                    exposure=summary.exposure_by_symbol.get(s, Decimal(0)),
                )
                for s in symbols
            ]
        )

    @api.get("/v1/risk")
    async def risk(self) -> RiskView:
        """Trading state (SAFE_MODE is REDUCING), equity, exposure, drawdown from the peaks."""
        summary: RiskSummary = await _timed(self._handles.risk.summary.remote(), READ_TIMEOUT_S)
        return RiskView.from_summary(summary)

    @api.post("/v1/orders", responses={409: {"description": "client_order_id names another order"}})
    async def orders(self, order: ManualOrder) -> OrderResult:
        """A manual intent through risk then execution; the same client id never sends twice."""
        if order.symbol not in self._handles.symbols:
            known = ", ".join(self._handles.symbols)
            raise _invalid("symbol", order.symbol, f"not traded in this session; known: {known}")
        progress, symbol_progress = await _timed(
            asyncio.gather(
                self._orchestrator.progress.remote(),
                self._handles.symbols[order.symbol].progress.remote(),
            ),
            READ_TIMEOUT_S,
        )
        try:
            intent = order.to_intent(_market_time(progress))
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from exc
        try:
            return await self._orders.place(order, intent, _last_close(symbol_progress))
        except ClientIdConflictError as exc:
            raise HTTPException(409, {"field": "client_order_id", "msg": str(exc)}) from exc

    @api.post("/v1/config/reload")
    async def reload_config(
        self, request: Annotated[ReloadRequest | None, Body()] = None
    ) -> ReloadResult:
        """Load and validate a config file, then hot-apply it between steps, all or nothing
        (audited in the journal); 422 names each bad key, 409 each key only a restart can
        change (symbols, timeframes, venue, router), refused and journaled."""
        path = Path(request.path) if request is not None and request.path else self._config_path
        try:
            settings = await asyncio.to_thread(load_settings, path)
        except ConfigError as exc:
            problems = [{"key": _problem_key(p), "msg": p} for p in exc.problems]
            raise HTTPException(422, {"path": str(exc.path), "problems": problems}) from exc
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        try:
            await _timed(
                self._orchestrator.apply_settings.remote(settings, f"api:{path}", digest),
                READ_TIMEOUT_S,
            )
        except ReloadRefusedError as exc:
            raise HTTPException(
                409, {"key": exc.keys[0], "keys": list(exc.keys), "msg": str(exc)}
            ) from exc
        return ReloadResult(path=str(path), digest=digest, applied=True)

    @api.get("/metrics", response_class=Response)
    async def metrics(self) -> Response:
        """Prometheus text exposition, read from the actors on every scrape."""
        h = self._handles
        sources: dict[str, Awaitable[Any]] = {
            "progress": self._orchestrator.progress.remote(),
            "risk": h.risk.summary.remote(),
            "execution": h.execution.stats.remote(),
            "journal": h.journal.head.remote(),
        }
        if h.paper is not None:
            sources["venue"] = h.paper.stats.remote()
        answers = await asyncio.gather(
            *(_timed(call, READ_TIMEOUT_S) for call in sources.values()), return_exceptions=True
        )
        read = dict(zip(sources, answers, strict=True))
        errors = {k: repr(v) for k, v in read.items() if isinstance(v, BaseException)}
        values = {k: v for k, v in read.items() if k not in errors}
        observation = Observation(
            progress=values.get("progress"),
            risk=values.get("risk"),
            execution=values.get("execution"),
            journal_records=values["journal"][0] if "journal" in values else None,
            venue=values.get("venue"),
            errors=errors,
        )
        return Response(exposition(observation), media_type=CONTENT_TYPE_LATEST)


def session_handles(settings: Settings, namespace: str = "raytrader") -> tuple[Handles, Any]:
    """The handles of a running session's named actors (started by ``raytrader run``)."""
    import ray

    from actors.router import ROUTER_POOL_ACTOR, RouterPool

    def named(name: str) -> ActorHandle[Any]:
        return ray.get_actor(name, namespace=namespace)

    def optional(name: str) -> ActorHandle[Any] | None:
        try:
            return named(name)
        except ValueError:
            return None

    controller = optional(ROUTER_POOL_ACTOR)
    handles = Handles(
        symbols={s: named(actor_name(s)) for s in settings.symbols},
        risk=named(RISK_ACTOR),
        execution=named(EXECUTION_ACTOR),
        journal=named(JOURNAL_ACTOR),
        paper=optional(PAPER_ACTOR),
        router=RouterPool(controller, settings.router.pool) if controller is not None else None,
    )
    return handles, named(ORCHESTRATOR_ACTOR)


def build_app(args: dict[str, str]) -> Any:
    """RayService ``import_path`` builder: the API over the named actors of a session running
    in ``args["namespace"]`` (default ``raytrader``), configured by ``args["config_path"]``."""
    config_path = Path(args.get("config_path", str(DEFAULT_CONFIG)))
    handles, orchestrator = session_handles(
        load_settings(config_path), args.get("namespace", "raytrader")
    )
    return RaytraderApi.bind(handles, orchestrator, str(config_path))  # type: ignore[attr-defined]


def start_api(
    handles: Handles,
    orchestrator: ActorHandle[Any],
    port: int = DEFAULT_PORT,
    *,
    host: str = DEFAULT_HOST,
    config_path: Path = DEFAULT_CONFIG,
    ready_timeout_s: float = 30.0,
) -> str:
    """Start Serve on ``host:port`` with the API at ``/``; returns the base URL once it answers."""
    ray_serve.start(
        http_options={"host": host, "port": port},
        logging_config={"log_level": "WARNING", "enable_access_log": False},
    )
    ray_serve.run(
        RaytraderApi.bind(handles, orchestrator, str(config_path)),  # type: ignore[attr-defined]
        name=APP_NAME,
        route_prefix="/",
    )
    url = f"http://{host}:{port}"
    _wait_until_routed(url + "/openapi.json", ready_timeout_s)
    return url


def _wait_until_routed(url: str, timeout_s: float) -> None:
    """The proxy learns routes shortly after ``serve.run`` returns: poll until it serves ours."""
    deadline = time.monotonic() + timeout_s
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        try:
            with direct.open(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"Serve did not route {url} within {timeout_s} s")
        time.sleep(0.05)


def stop_api() -> None:
    """Shut Serve down (its proxy, controller and the API replica)."""
    ray_serve.shutdown()  # type: ignore[no-untyped-call]
