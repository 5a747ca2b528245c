"""The HTTP API: one Ray Serve deployment with a FastAPI ingress over the session's actors.

``start_api(handles, orchestrator, port)`` starts Serve on 127.0.0.1 and returns the base URL;
``stop_api()`` shuts it down. Every route but ``/healthz`` needs a bearer token of a role
(``serve.auth``); the OpenAPI schema is at ``/openapi.json`` for viewers. The Swagger page is
off: a browser would fetch the schema without the token.
"""

# Serve's ingress pickles the FastAPI app by value when the class is decorated: the routes'
# annotations must be real objects (no ``from __future__ import annotations``) and every
# helper they call must be defined above the class.

import asyncio
import hashlib
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import ValidationError
from ray import serve as ray_serve
from ray.actor import ActorHandle

from actors.execution import EXECUTION_ACTOR
from actors.journal import JOURNAL_ACTOR
from actors.orchestrator import ORCHESTRATOR_ACTOR, Handles
from actors.paper import PAPER_ACTOR
from actors.risk import RISK_ACTOR
from actors.serving import delete_app, start_serve
from actors.step_ports import RemoteDesk, RemoteJournal, RemoteOrders, RemoteRisk
from actors.symbol import actor_name
from serve import ui
from serve.auth import BodyLimit, ConfiguredCors, Guard, GuardConfig, require
from serve.health import Readiness, probe_health, probe_readiness, session_probes
from serve.metrics import CONTENT_TYPE_LATEST, exposition, observe
from serve.schemas import (
    Health,
    Incidents,
    ManualOrder,
    OrderResult,
    Positions,
    ReloadRequest,
    ReloadResult,
    RiskView,
    Signals,
)
from trading.config import DEFAULT_CONFIG, ConfigError, SecuritySettings, Settings, load_settings
from trading.execution.manual import (
    ClientIdConflictError,
    DenialLog,
    ManualPorts,
    place_manual_order,
)
from trading.execution.progress import SessionProgress
from trading.reload import ReloadRefusedError
from trading.report.progress import SymbolProgress
from trading.risk.gate import RiskRequest, RiskSummary
from trading.security.access import ReloadPathError, allowed_reload, token_store_path
from trading.security.tls import Tls
from trading.security.tokens import Role

APP_NAME = "raytrader"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
PING_TIMEOUT_S = 0.15
READ_TIMEOUT_S = 5.0

api = FastAPI(
    title="raytrader",
    version="1",
    description="Signals, positions, risk and manual orders of a raytrader session.",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)
api.add_middleware(BodyLimit)
api.add_middleware(ConfiguredCors)
VIEWER, TRADER, ADMIN, SCRAPE = (
    require(r) for r in (Role.VIEWER, Role.TRADER, Role.ADMIN, Role.SCRAPE)
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


def _traded(handles: Handles, symbol: str) -> ActorHandle[Any]:
    """The symbol's actor; 422 naming ``symbol`` when the session does not trade it."""
    if symbol not in handles.symbols:
        known = ", ".join(handles.symbols)
        raise _invalid("symbol", symbol, f"not traded in this session; known: {known}")
    return handles.symbols[symbol]


def _risk_request(order: ManualOrder, now: datetime) -> RiskRequest:
    """The order as risk decides it; a bad field combination is a 422 naming the field."""
    try:
        intent = order.to_intent(now)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    return RiskRequest(
        intent,
        stop_price=order.stop_loss_price,
        confidence=order.confidence,
        leverage=order.leverage,
    )


def _without_values(problem: str) -> str:
    """A config problem without the file's value (``(got ...)``) or a YAML excerpt."""
    if problem.startswith("invalid YAML"):
        return "invalid YAML"
    return re.sub(r" \(got .*\)$", "", problem, flags=re.DOTALL)


def _reload_path(request: ReloadRequest | None, own: Path, reload_dir: str | None) -> Path:
    """The file a reload reads, resolved; 403 naming the rule when it is not an allowed one."""
    path = Path(request.path) if request is not None and request.path else own
    try:
        return allowed_reload(path, own, reload_dir)
    except ReloadPathError as exc:
        raise HTTPException(403, {"field": "path", "msg": str(exc)}) from exc


async def _read_config(path: Path, running: Settings) -> tuple[Settings, str]:
    """The validated settings in ``path`` and the SHA-256 of its bytes; 422 names each bad key
    (a missing or bad signature when ``running`` requires one) and the problem, never the
    file's values."""
    try:
        settings = await asyncio.to_thread(load_settings, path, trust=running)
    except ConfigError as exc:
        problems = [{"key": _problem_key(p), "msg": _without_values(p)} for p in exc.problems]
        raise HTTPException(422, {"path": str(exc.path), "problems": problems}) from exc
    return settings, hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(exc: ReloadRefusedError) -> HTTPException:
    """409 naming the first key only a restart can change, and all of them."""
    return HTTPException(409, {"key": exc.keys[0], "keys": list(exc.keys), "msg": str(exc)})


@ray_serve.deployment(
    name="api",
    ray_actor_options={"num_cpus": 0.1},
    max_ongoing_requests=64,
    logging_config={"log_level": "WARNING", "enable_access_log": False},
)
@ray_serve.ingress(api)
class RaytraderApi:
    def __init__(
        self, handles: Handles, orchestrator: ActorHandle[Any], config_path: str, guard: GuardConfig
    ) -> None:
        self.guard = Guard(guard, handles.journal)
        self._handles = handles
        self._orchestrator = orchestrator
        self._config_path = Path(config_path)
        self._manual = ManualPorts(
            RemoteRisk(handles.risk),
            RemoteOrders(handles.execution),
            RemoteJournal(handles.journal),
            RemoteDesk(orchestrator),
        )
        self._denials = DenialLog()
        self._settings = load_settings(self._config_path)

    def _probes(self) -> dict[str, Awaitable[Any]]:
        return session_probes(self._handles, self._orchestrator)

    @api.get("/healthz", responses={503: {"model": Health, "description": "an actor failed"}})
    async def healthz(self, response: Response) -> Health:
        """Ping every actor (each within 150 ms); 503 names the ones that failed."""
        health = await probe_health(self._probes(), PING_TIMEOUT_S)
        if health.failed:
            response.status_code = 503
        return health

    @api.get("/readyz", responses={503: {"model": Readiness, "description": "not ready yet"}})
    async def readyz(self, response: Response) -> Readiness:
        """200 once every actor answers and the venue stream has connected; 503 before."""
        stats: Awaitable[dict[str, int]] = self._handles.execution.stats.remote()
        readiness = await probe_readiness(self._probes(), stats, PING_TIMEOUT_S)
        if not readiness.ready:
            response.status_code = 503
        return readiness

    @api.get("/ui", include_in_schema=False)
    async def ui_page(self) -> FileResponse:
        """The dashboard's page (no session data: it reads ``/v1/stream`` with a token)."""
        return ui.page()

    @api.get("/ui/{name}", include_in_schema=False)
    async def ui_asset(self, name: str) -> Response:
        """The page's script, style and Plotly, from the installed package."""
        return ui.asset(name)

    @api.get("/v1/stream", dependencies=[VIEWER], response_class=StreamingResponse)
    async def stream(
        self,
        interval_ms: int = Query(1000, ge=200, le=60_000, description="between events"),
        events: int = Query(ui.STREAM_EVENTS, ge=1, le=ui.STREAM_EVENTS, description="then end"),
    ) -> StreamingResponse:
        """Server-sent events: the session's state (what /ui draws) every ``interval_ms``,
        ``events`` of them (the page reconnects when they end)."""
        snapshots = ui.events(self._snapshot, interval_ms / 1000, events)
        return StreamingResponse(snapshots, media_type="text/event-stream")

    async def _snapshot(self) -> dict[str, Any]:
        """Progress, risk against its limits, positions, signals, health and LLM spend."""
        h, orchestrator = self._handles, self._orchestrator
        reads = (
            orchestrator.progress.remote(),
            h.risk.summary.remote(),
            h.execution.positions.remote(),
            orchestrator.latest_signals.remote(),
            probe_health(self._probes(), PING_TIMEOUT_S),
            self._spending(),
        )
        progress, risk, held, signals, health, spent = await _timed(
            asyncio.gather(*reads), READ_TIMEOUT_S
        )
        snapshot = {"progress": progress, "risk": RiskView.from_summary(risk), "signals": signals}
        snapshot["positions"] = Positions.of(held, risk.exposure_by_symbol)
        snapshot["health"], snapshot["limits"] = health, ui.limits(self._settings)
        snapshot["llm"] = ui.spending(spent, self._settings)
        return snapshot

    async def _spending(self) -> Any:
        """The router pool's budget actor's spending (None without a pool)."""
        router = self._handles.router
        if router is None or router.budget is None:
            return None
        return await router.budget.spending.remote()

    @api.get("/openapi.json", include_in_schema=False, dependencies=[VIEWER])
    async def openapi(self, request: Request) -> dict[str, Any]:
        """The OpenAPI schema, for viewers."""
        schema: dict[str, Any] = request.app.openapi()
        return schema

    @api.get("/v1/signals", dependencies=[VIEWER])
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

    @api.get("/v1/positions", dependencies=[VIEWER])
    async def positions(self) -> Positions:
        """Net positions from the execution gateway, with risk's marked exposure."""
        h = self._handles
        quantities, summary = await _timed(
            asyncio.gather(h.execution.positions.remote(), h.risk.summary.remote()),
            READ_TIMEOUT_S,
        )
        return Positions.of(quantities, summary.exposure_by_symbol)

    @api.get("/v1/risk", dependencies=[VIEWER])
    async def risk(self) -> RiskView:
        """Trading state (SAFE_MODE is REDUCING), equity, exposure, drawdown from the peaks."""
        summary: RiskSummary = await _timed(self._handles.risk.summary.remote(), READ_TIMEOUT_S)
        return RiskView.from_summary(summary)

    @api.get("/v1/incidents", dependencies=[VIEWER])
    async def incidents(
        self, limit: int = Query(100, ge=1, le=1000, description="the last N incidents")
    ) -> Incidents:
        """Failures the session handled (error class, cause, action, outcome), oldest first."""
        found = await _timed(self._handles.journal.incidents.remote(limit), READ_TIMEOUT_S)
        return Incidents(incidents=found)

    @api.post(
        "/v1/orders",
        dependencies=[TRADER],
        responses={409: {"description": "client_order_id names another order"}},
    )
    async def orders(self, order: ManualOrder) -> OrderResult:
        """A manual intent through risk then execution; the same client id never sends twice."""
        actor = _traded(self._handles, order.symbol)
        progress, symbol_progress = await _timed(
            asyncio.gather(self._orchestrator.progress.remote(), actor.progress.remote()),
            READ_TIMEOUT_S,
        )
        request = _risk_request(order, _market_time(progress))
        try:
            placed = await place_manual_order(
                request, _last_close(symbol_progress), self._manual, self._denials
            )
        except ClientIdConflictError as exc:
            raise HTTPException(409, {"field": "client_order_id", "msg": str(exc)}) from exc
        return OrderResult.of(request.intent.client_order_id, placed)

    @api.post("/v1/config/reload", dependencies=[ADMIN])
    async def reload_config(
        self, request: Annotated[ReloadRequest | None, Body()] = None
    ) -> ReloadResult:
        """Load and validate a config file, then hot-apply it between steps, all or nothing
        (audited in the journal); only the session's config or files under
        ``security.reload_dir`` (403); 422 names each bad key, 409 each restart-only key."""
        path = _reload_path(request, self._config_path, self.guard.security.reload_dir)
        running = await _timed(self._orchestrator.settings.remote(), READ_TIMEOUT_S)
        settings, digest = await _read_config(path, running)
        try:
            await _timed(
                self._orchestrator.apply_settings.remote(settings, f"api:{path}", digest),
                READ_TIMEOUT_S,
            )
        except ReloadRefusedError as exc:
            raise _refused(exc) from exc
        return ReloadResult(path=str(path), digest=digest, applied=True)

    @api.get("/metrics", response_class=Response, dependencies=[SCRAPE])
    async def metrics(self) -> Response:
        """Prometheus text exposition, read from the actors on every scrape."""
        observation = await observe(self._metric_sources(), READ_TIMEOUT_S)
        return Response(exposition(observation), media_type=CONTENT_TYPE_LATEST)

    def _metric_sources(self) -> dict[str, Awaitable[Any]]:
        """What a scrape reads: progress, risk, execution counters, journal head, the venue."""
        h = self._handles
        sources: dict[str, Awaitable[Any]] = {
            "progress": self._orchestrator.progress.remote(),
            "risk": h.risk.summary.remote(),
            "execution": h.execution.stats.remote(),
            "journal": h.journal.head.remote(),
        }
        if h.paper is not None:
            sources["venue"] = h.paper.stats.remote()
        return sources


def _named(name: str, namespace: str) -> ActorHandle[Any]:
    import ray

    return ray.get_actor(name, namespace=namespace)


def _optional(name: str, namespace: str) -> ActorHandle[Any] | None:
    try:
        return _named(name, namespace)
    except ValueError:
        return None


def session_handles(settings: Settings, namespace: str = "raytrader") -> tuple[Handles, Any]:
    """The handles of a running session's named actors (started by ``raytrader run``)."""
    from actors.router import router_client

    handles = Handles(
        symbols={s: _named(actor_name(s), namespace) for s in settings.symbols},
        risk=_named(RISK_ACTOR, namespace),
        execution=_named(EXECUTION_ACTOR, namespace),
        journal=_named(JOURNAL_ACTOR, namespace),
        paper=_optional(PAPER_ACTOR, namespace),
        router=router_client(namespace=namespace),
    )
    return handles, _named(ORCHESTRATOR_ACTOR, namespace)


def guard_config(security: SecuritySettings, data_dir: Path) -> GuardConfig:
    """The guard's token file (``security.token_store`` or ``<data-dir>/tokens.json``)."""
    return GuardConfig(token_store_path(security.token_store, data_dir), security)


def build_app(args: dict[str, str]) -> Any:
    """RayService ``import_path`` builder: the API over the named actors of a session running
    in ``args["namespace"]`` (default ``raytrader``), configured by ``args["config_path"]``,
    its tokens in ``args["data_dir"]`` (default ``raytrader-data``) unless configured."""
    config_path = Path(args.get("config_path", str(DEFAULT_CONFIG)))
    settings = load_settings(config_path)
    handles, orchestrator = session_handles(settings, args.get("namespace", "raytrader"))
    guard = guard_config(settings.security, Path(args.get("data_dir", "raytrader-data")))
    return RaytraderApi.bind(handles, orchestrator, str(config_path), guard)  # type: ignore[attr-defined]


def start_api(
    handles: Handles,
    orchestrator: ActorHandle[Any],
    port: int = DEFAULT_PORT,
    *,
    host: str = DEFAULT_HOST,
    config_path: Path = DEFAULT_CONFIG,
    guard: GuardConfig,
    ready_timeout_s: float = 30.0,
    tls: Tls | None = None,
) -> str:
    """Start Serve on ``host:port`` (unless it runs there; HTTPS with ``tls``) with the API at
    ``/`` behind ``guard``; returns the base URL once it answers."""
    start_serve(port, host, tls)
    app = RaytraderApi.bind(handles, orchestrator, str(config_path), guard)  # type: ignore[attr-defined]
    ray_serve.run(app, name=APP_NAME, route_prefix="/")
    url = f"{'https' if tls else 'http'}://{host}:{port}"
    _wait_until_routed(url + "/healthz", ready_timeout_s, tls.certfile if tls else None)
    return url


def _wait_until_routed(url: str, timeout_s: float, cafile: str | None = None) -> None:
    """The proxy learns routes shortly after ``serve.run`` returns: poll until it serves ours
    (any answer of the app; the proxy answers 404 before it routes); HTTPS trusts ``cafile``."""
    deadline = time.monotonic() + timeout_s
    trusted = urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cafile))
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}), trusted)
    while True:
        try:
            with direct.open(url, timeout=2):
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"Serve did not route {url} within {timeout_s} s")
        time.sleep(0.05)


def stop_api() -> None:
    """Delete the API's application (Serve shuts down with its last application)."""
    delete_app(APP_NAME)
