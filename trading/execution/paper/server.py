"""The paper exchange on 127.0.0.1, speaking Binance: REST (``/api/v3/order``,
``/api/v3/myTrades``, ``/api/v3/account``, ...) and a user-data WebSocket pushing
``executionReport`` events, plus admin endpoints (``/_paper/...``: stats, faults, outage, the
market clock, bars as they close).

Started with an API key and secret it checks SIGNED requests as Binance does (HMAC-SHA256
signature, recvWindow). Fault injection: outage (the port closes), latency, timeouts after
accept and rate-limit storms (429 + Retry-After); the exchange applies the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from trading.contracts import now_ms
from trading.execution.binance import signature
from trading.execution.paper import market_data
from trading.execution.paper.bars import BarError, PaperBar
from trading.execution.paper.exchange import BinanceError, Faults, PaperExchange, required_param
from trading.execution.paper.futures import PaperFuturesExchange

API_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{64}")  # Binance API keys: 64 letters and digits
MAX_RECV_WINDOW_MS = 60_000
FUTURE_TOLERANCE_MS = 1_000  # Binance refuses timestamps this far ahead of its clock


def _unsigned(raw: str) -> str:
    """A raw query string or form body without its ``signature`` parameter."""
    return "&".join(p for p in raw.split("&") if p and not p.startswith("signature="))


def _integer(params: Mapping[str, str], name: str) -> int:
    text = required_param(params, name)
    if not text.isdigit():
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return int(text)


def _decimal_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError('expected a decimal string, e.g. "60000.5"')
    return value


DecimalText = Annotated[Decimal, BeforeValidator(_decimal_text), Field(allow_inf_nan=False)]


def order_trade_update(report: Mapping[str, Any]) -> dict[str, Any]:
    """A spot-shaped execution report as the USDⓈ-M user stream sends it
    (``ORDER_TRADE_UPDATE``, the order under ``o``, one-way position side ``BOTH``)."""
    keys = ("s", "c", "S", "o", "f", "q", "p", "P", "x", "X", "i", "l", "z", "L", "n", "N", "T")
    order = {key: report[key] for key in keys}
    order.update({"sp": report["P"], "ap": "0", "t": report["t"], "m": report["m"]})
    order.update({"R": False, "ps": "BOTH", "rp": "0"})
    del order["P"]
    return {"e": "ORDER_TRADE_UPDATE", "E": report["E"], "T": report["T"], "o": order}


class BarIn(BaseModel):
    """One closed bar as ``POST /_paper/bars`` takes it (prices as decimal strings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open_time_ms: Annotated[int, Field(strict=True, ge=0)]
    open: DecimalText
    high: DecimalText
    low: DecimalText
    close: DecimalText
    volume: DecimalText


class BarBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bars: dict[str, list[BarIn]]


class PaperServer:
    """The exchange on 127.0.0.1: REST, user-data WebSocket, admin endpoints, fault switches."""

    def __init__(
        self,
        exchange: PaperExchange,
        *,
        bar_interval_ms: int = 50,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        api_secret: str | None = None,
        futures: PaperFuturesExchange | None = None,
    ) -> None:
        """With ``api_key`` and ``api_secret`` every SIGNED endpoint requires that key in
        ``X-MBX-APIKEY``, a valid signature and a timestamp within its recvWindow. With
        ``futures`` the USDⓈ-M API (``/fapi/...``) serves that account too."""
        if (api_key is None) != (api_secret is None):
            raise ValueError("api_key and api_secret go together")
        if api_key is not None and not API_KEY_FORMAT.fullmatch(api_key):
            raise ValueError("api_key: expected 64 letters and digits")
        self._api_key, self._api_secret = api_key, api_secret
        self.exchange = exchange
        self.futures = futures
        self.bar_interval_ms = bar_interval_ms
        self.host, self.port = host, port
        self.outage_until = 0.0
        self._sockets: set[web.WebSocketResponse] = set()
        self._queues: dict[web.WebSocketResponse, asyncio.Queue[str]] = {}
        self._futures_queues: dict[web.WebSocketResponse, asyncio.Queue[str]] = {}
        self._subscriptions: dict[asyncio.Queue[str], int] = {}  # WebSocket API user data
        self.subscriptions_made = 0
        self.futures_listen_keys: set[str] = set()
        self._closing = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        app = web.Application(middlewares=[self._faults_middleware])
        app.add_routes(
            [
                web.get("/api/v3/ping", self._ping),
                web.get("/api/v3/time", self._time),
                web.get("/api/v3/exchangeInfo", self._exchange_info),
                web.get("/api/v3/klines", self._public(market_data.klines)),
                web.get("/api/v3/ticker/price", self._public(market_data.ticker_price)),
                web.get("/api/v3/ticker/24hr", self._public(market_data.ticker_24hr)),
                web.get("/api/v3/depth", self._public(market_data.depth)),
                web.get("/api/v3/openOrders", self._open_orders),
                web.get("/api/v3/allOrders", self._all_orders),
                web.post("/api/v3/order", self._place),
                web.get("/api/v3/order", self._query),
                web.delete("/api/v3/order", self._cancel),
                web.put("/api/v3/order/amend/keepPriority", self._amend),
                web.get("/api/v3/myTrades", self._trades),
                web.get("/api/v3/account", self._account),
                web.post("/api/v3/userDataStream", self._listen_key),
                web.get("/ws/{listen_key}", self._user_stream),
                web.get("/ws-api/v3", self._ws_api),
                web.get("/_paper/stats", self._stats),
                web.post("/_paper/faults", self._set_faults),
                web.post("/_paper/outage", self._outage),
                web.post("/_paper/clock", self._advance_clock),
                web.post("/_paper/bars", self._append_bars),
            ]
        )
        if futures is not None:
            from trading.execution.paper.futures_routes import FuturesRoutes

            app.add_routes(FuturesRoutes(self, futures).routes())
        self.app = app

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        await self._open_site()
        if self.bar_interval_ms > 0:
            self._spawn(self._clock())

    async def _open_site(self) -> None:
        if self._runner is None:
            raise RuntimeError("PaperServer.start() has not run")
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await self._site.start()
        server = self._site._server
        if self.port == 0 and server is not None and hasattr(server, "sockets"):
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._closing.set()
        for task in list(self._tasks):
            task.cancel()
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----------------------------------------------------------------- faults

    @property
    def in_outage(self) -> bool:
        return time.monotonic() < self.outage_until

    async def begin_outage(self, seconds: float) -> None:
        """Close the port and every connection for ``seconds``, then listen again."""
        self.outage_until = time.monotonic() + seconds
        if self._site is not None:
            await self._site.stop()
            self._site = None
        for socket in list(self._sockets):
            await socket.close()
        self._spawn(self._end_outage(seconds))

    async def _end_outage(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._open_site()

    @web.middleware
    async def _faults_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.in_outage and request.transport is not None:
            request.transport.abort()
            raise web.HTTPServiceUnavailable()
        faults = self.exchange.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        trading = request.path.startswith("/api/")
        if trading and faults.rate_limit and self.exchange.random.random() < faults.rate_limit:
            return web.json_response(
                {"code": -1003, "msg": "Too many requests; current limit is 6000 per minute."},
                status=429,
                headers={"Retry-After": str(faults.retry_after_s)},
            )
        try:
            response: web.StreamResponse = await handler(request)
        except BinanceError as error:
            return web.json_response({"code": error.code, "msg": error.msg}, status=error.status)
        return response

    # ----------------------------------------------------------------- handlers

    async def params(self, request: web.Request) -> dict[str, str]:
        """A SIGNED endpoint's parameters (query string and form body), authenticated."""
        params = dict(request.query)
        body = await request.text() if request.can_read_body else ""
        params.update(parse_qsl(body, keep_blank_values=True))
        if self._api_secret is not None:
            self.check_api_key(request)
            self._check_signature(request.rel_url.raw_query_string, body, params)
        self._check_window(params)
        return params

    def check_api_key(self, request: web.Request) -> None:
        if self._api_key is None:
            return
        key = request.headers.get("X-MBX-APIKEY", "")
        if not API_KEY_FORMAT.fullmatch(key):
            raise BinanceError(401, -2014, "API-key format invalid.")
        if not hmac.compare_digest(key, self._api_key):
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")

    def _check_signature(self, raw_query: str, body: str, params: Mapping[str, str]) -> None:
        """Binance: the signature is the HMAC-SHA256 of totalParams, the query string
        concatenated with the body (each without its ``signature`` parameter)."""
        assert self._api_secret is not None  # noqa: S101 - only called when signing
        sent = required_param(params, "signature").lower()
        required_param(params, "timestamp")
        total_params = _unsigned(raw_query) + _unsigned(body)
        if not hmac.compare_digest(signature(total_params, self._api_secret), sent):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")

    def _check_window(self, params: Mapping[str, str]) -> None:
        """Binance's timing rule: ``timestamp < serverTime + 1000`` and
        ``serverTime - timestamp <= recvWindow`` (default 5000, at most 60000)."""
        if "timestamp" not in params:
            return
        timestamp, window = _integer(params, "timestamp"), 5_000
        if "recvWindow" in params:
            window = _integer(params, "recvWindow")
        if not 0 < window <= MAX_RECV_WINDOW_MS:
            raise BinanceError(400, -1131, "recvWindow must be less than 60000")
        now = now_ms()
        if timestamp >= now + FUTURE_TOLERANCE_MS:
            raise BinanceError(
                400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if now - timestamp > window:
            raise BinanceError(
                400, -1021, "Timestamp for this request is outside of the recvWindow."
            )

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": now_ms()})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        info = market_data.exchange_info(
            self.exchange, request.query, futures=False, server_time_ms=now_ms()
        )
        return web.json_response(info)

    def _public(self, view: Any, futures: bool = False) -> Any:
        """A public market-data endpoint answering ``view(exchange, query)``."""

        async def handler(request: web.Request) -> web.Response:
            exchange = self.futures if futures and self.futures is not None else self.exchange
            return web.json_response(view(exchange, request.query))

        return handler

    async def _open_orders(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        orders = self.exchange.open_orders(params.get("symbol"))
        return web.json_response([o.to_json() for o in orders])

    async def _all_orders(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        orders = self.exchange.all_orders(required_param(params, "symbol"))
        return web.json_response([o.to_json() for o in orders])

    async def _place(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        order = self.exchange.place(params)
        self.publish()
        faults = self.exchange.faults
        if (
            faults.timeout_after_accept
            and self.exchange.random.random() < faults.timeout_after_accept
        ):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), faults.hang_s)
        fills = [t.fill_json() for t in order.trades]
        answer = {**order.to_json(), "transactTime": order.created_ms, "fills": fills}
        return web.json_response(answer)

    async def _query(self, request: web.Request) -> web.Response:
        order = self.exchange.order(await self.params(request), -2013, "Order does not exist.")
        return web.json_response(order.to_json())

    async def _cancel(self, request: web.Request) -> web.Response:
        order = self.exchange.cancel(await self.params(request))
        self.publish()
        return web.json_response({**order.to_json(), "origClientOrderId": order.client_order_id})

    async def _amend(self, request: web.Request) -> web.Response:
        order = self.exchange.amend(await self.params(request))
        self.publish()
        return web.json_response(
            {"transactTime": order.updated_ms, "executionId": 0, "amendedOrder": order.to_json()}
        )

    async def _trades(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        symbol = required_param(params, "symbol")
        order_id = params.get("orderId")
        trades = [
            t.to_json()
            for o in self.exchange.orders.values()
            if o.symbol == symbol and (order_id is None or str(o.order_id) == order_id)
            for t in o.trades
        ]
        return web.json_response(sorted(trades, key=lambda t: t["id"]))

    async def _account(self, request: web.Request) -> web.Response:
        await self.params(request)
        locked = self.exchange.locked()
        balances = [
            {"asset": a, "free": format(v - locked[a], "f"), "locked": format(locked[a], "f")}
            for a, v in self.exchange.balances.items()
        ]
        answer = {
            "makerCommission": 10,
            "takerCommission": 10,
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "updateTime": now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
        }
        return web.json_response(answer)

    async def _listen_key(self, request: web.Request) -> web.Response:
        self.check_api_key(request)  # a USER_STREAM endpoint: the key, no signature
        return web.json_response({"listenKey": f"paper{self.exchange.random.getrandbits(64):x}"})

    async def _user_stream(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=5.0)
        await socket.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._sockets.add(socket)
        futures = request.match_info["listen_key"] in self.futures_listen_keys
        queues = self._futures_queues if futures else self._queues
        queues[socket] = queue
        writer = asyncio.get_running_loop().create_task(self._write(socket, queue))
        try:
            async for message in socket:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            writer.cancel()
            self._sockets.discard(socket)
            queues.pop(socket, None)
        return socket

    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        """The spot WebSocket API (``/ws-api/v3``): ``ping``, ``time`` and
        ``userDataStream.subscribe.signature``, after which this connection receives the
        account's events as ``{"subscriptionId": N, "event": {...}}``."""
        socket = web.WebSocketResponse(heartbeat=5.0)
        await socket.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._sockets.add(socket)
        writer = asyncio.get_running_loop().create_task(self._write(socket, queue))
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    break
                queue.put_nowait(json.dumps(self._ws_api_answer(message.data, socket, queue)))
        finally:
            writer.cancel()
            self._sockets.discard(socket)
            self._queues.pop(socket, None)
            self._subscriptions.pop(queue, None)
        return socket

    def _ws_api_answer(
        self, text: str, socket: web.WebSocketResponse, queue: asyncio.Queue[str]
    ) -> dict[str, Any]:
        """One WebSocket API request's answer (Binance's ``status`` and ``result``/``error``)."""
        try:
            request = json.loads(text)
            request_id, method = request.get("id"), request.get("method")
            params = {k: str(v) for k, v in (request.get("params") or {}).items()}
        except (ValueError, AttributeError):
            error = {"code": -1102, "msg": "Request body is not valid JSON."}
            return {"id": None, "status": 400, "error": error}
        try:
            if method == "ping":
                return {"id": request_id, "status": 200, "result": {}}
            if method == "time":
                return {"id": request_id, "status": 200, "result": {"serverTime": now_ms()}}
            if method == "userDataStream.subscribe.signature":
                self._check_ws_signature(params)
                self._queues[socket] = queue
                self._subscriptions[queue] = subscription = self.subscriptions_made
                self.subscriptions_made += 1
                result = {"subscriptionId": subscription}
                return {"id": request_id, "status": 200, "result": result}
            raise BinanceError(400, -1100, f"Unknown method {method!r}.")
        except BinanceError as error:
            failure = {"code": error.code, "msg": error.msg}
            return {"id": request_id, "status": error.status, "error": failure}

    def _check_ws_signature(self, params: Mapping[str, str]) -> None:
        """WebSocket API signing: HMAC-SHA256 of the parameters sorted by name (``signature``
        left out), the key in ``apiKey``; the timestamp within its recvWindow."""
        self._check_window({**params, "timestamp": required_param(params, "timestamp")})
        if self._api_secret is None:
            return
        if not hmac.compare_digest(required_param(params, "apiKey"), self._api_key or ""):
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
        sent = required_param(params, "signature").lower()
        if not hmac.compare_digest(signature(payload, self._api_secret), sent):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")

    async def _write(self, socket: web.WebSocketResponse, queue: asyncio.Queue[str]) -> None:
        latency = self.exchange.faults.latency_ms / 1000
        while not socket.closed:
            payload = await queue.get()
            if latency:
                await asyncio.sleep(latency)
            await socket.send_str(payload)

    def publish(self) -> None:
        for report in self.exchange.take_reports():
            payload = json.dumps(report)
            for queue in self._queues.values():
                if queue in self._subscriptions:
                    wrapped = {"subscriptionId": self._subscriptions[queue], "event": report}
                    queue.put_nowait(json.dumps(wrapped))
                else:
                    queue.put_nowait(payload)
        if self.futures is None:
            return
        for report in self.futures.take_reports():
            payload = json.dumps(order_trade_update(report))
            for queue in self._futures_queues.values():
                queue.put_nowait(payload)

    def _exchanges(self) -> list[PaperExchange]:
        return [self.exchange] if self.futures is None else [self.exchange, self.futures]

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(self.bar_interval_ms / 1000)
            for exchange in self._exchanges():
                exchange.step()
            self.publish()

    def advance_to(self, until_ms: int) -> int:
        """Drive the market clock from a replay (with ``bar_interval_ms=0``); pushes reports."""
        stepped = sum(exchange.advance_to(until_ms) for exchange in self._exchanges())
        self.publish()
        return stepped

    async def _advance_clock(self, request: web.Request) -> web.Response:
        """``POST /_paper/clock {"until_ms": T}``: ``advance_to`` over HTTP."""
        body = await request.json()
        stepped = self.advance_to(int(body["until_ms"]))
        return web.json_response({"stepped": stepped, "bar_index": self.exchange.bar_index})

    async def _append_bars(self, request: web.Request) -> web.Response:
        """``POST /_paper/bars {"bars": {"BTC/USDT": [{"open_time_ms": T, "open": "6.1", ...}]}}``:
        ``append`` over HTTP, all or nothing; a bad bar is a 400 naming its field."""
        try:
            batch = BarBatch.model_validate_json(await request.read())
            added = self.exchange.append(
                {
                    s: [PaperBar(**bar.model_dump()) for bar in bars]
                    for s, bars in batch.bars.items()
                }
            )
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            field = "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
            ).lstrip(".")
            return web.json_response({"field": field or "<body>", "msg": first["msg"]}, status=400)
        except BarError as error:
            return web.json_response(
                {"field": f"bars.{error.field}", "msg": error.reason}, status=400
            )
        held = {s: len(bars) for s, bars in self.exchange.bars.items()}
        return web.json_response({"added": added, "bars_held": held})

    async def _stats(self, request: web.Request) -> web.Response:
        """The spot exchange's stats; with a futures account, its own under ``futures``."""
        stats = self.exchange.stats()
        stats["ws_api_subscriptions"] = self.subscriptions_made
        if self.futures is not None:
            stats["futures"] = self.futures.stats()
        return web.json_response(stats)

    async def _set_faults(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.exchange.faults = Faults.model_validate(
            {**self.exchange.faults.model_dump(), **update}
        )
        return web.json_response(self.exchange.faults.model_dump())

    async def _outage(self, request: web.Request) -> web.Response:
        seconds = float((await request.json())["seconds"])
        self._spawn(self._outage_soon(seconds))
        return web.json_response({"outage_s": seconds})

    async def _outage_soon(self, seconds: float) -> None:
        await asyncio.sleep(0.05)  # let the admin answer go out first
        await self.begin_outage(seconds)
