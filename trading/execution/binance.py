"""Venue adapter speaking Binance spot REST + the user-data WebSocket (``executionReport``).

Used against the paper exchange; the same wire shapes as Binance. With an API key and secret,
SIGNED endpoints (order place/query/cancel/amend, myTrades, account) carry ``timestamp``,
``recvWindow`` and ``signature``, the hex HMAC-SHA256 of the exact query string keyed by the
secret, as Binance's spot API specifies ("SIGNED (TRADE, USER_DATA) Endpoint security"); the
key goes in ``X-MBX-APIKEY``. Failures are classified for the engine: a timeout, a dropped
connection after the request went out, or a 5xx leaves the outcome unknown; a refused
connection, 429 or -1021 (outside recvWindow) means the venue did not act.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from trading.contracts import (
    Liquidity,
    OrderIntent,
    OrderStatus,
    OrderType,
    Quantity,
    now_ms,
)
from trading.execution.gateway import (
    Accepted,
    Canceled,
    Expired,
    Filled,
    OrderEvent,
    OrderEventRecord,
    Rejected,
    Replaced,
    VenueFill,
    VenueReport,
)
from trading.execution.reconciliation import VenueOrder
from trading.execution.retry import (
    Network,
    RateLimited,
    ServerError,
    Timeout,
    VenueError,
    VenueRejected,
)
from trading.execution.venue import PlaceAck
from trading.market.instruments import InstrumentSpec, specs_from_exchange_info, venue_symbol

ORDER_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_LOSS",
    OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
}
STATUSES = {
    "NEW": OrderStatus.ACCEPTED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.PENDING_CANCEL,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
ORDER_NOT_FOUND = -2013
OUTSIDE_RECV_WINDOW = -1021
DUPLICATE_ORDER = -2010
INVALID_SIGNATURE = -1022
Credentials = Callable[[bool], tuple[str, str] | None]
"""``(api_key, api_secret)`` from a secrets provider; called with True to reread after a
rotation (the venue answered -1022), None when there are none."""


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def signature(total_params: str, secret: str) -> str:
    """Binance's request signature: hex HMAC-SHA256 of totalParams (the query string
    concatenated with the body) keyed by the API secret."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """The query string of ``params`` with its ``signature`` appended."""
    query = urlencode(params)
    return f"{query}&signature={signature(query, secret)}"


def order_params(intent: OrderIntent) -> dict[str, str]:
    """The ``POST /api/v3/order`` parameters of an intent; its client id is ``newClientOrderId``."""
    params = {
        "symbol": venue_symbol(intent.symbol),
        "side": intent.side.value,
        "type": ORDER_TYPES[intent.order_type],
        "quantity": format(intent.quantity, "f"),
        "newClientOrderId": intent.client_order_id,
        "newOrderRespType": "RESULT",
    }
    if intent.limit_price is not None:
        params["price"] = format(intent.limit_price, "f")
        params["timeInForce"] = intent.time_in_force.value
    if intent.stop_price is not None:
        params["stopPrice"] = format(intent.stop_price, "f")
    return params


def execution_event(report: Mapping[str, Any]) -> OrderEventRecord | None:
    """Our event for one ``executionReport``; None for kinds the order book does not track."""
    kind = report["x"]
    event: OrderEvent
    if kind == "NEW":
        event = Accepted(venue_order_id=str(report["i"]))
    elif kind == "TRADE":
        event = Filled(
            trade_id=str(report["t"]),
            quantity=Decimal(report["l"]),
            price=Decimal(report["L"]),
            fee=Decimal(report["n"]),
            fee_asset=report["N"],
            liquidity=Liquidity.MAKER if report["m"] else Liquidity.TAKER,
        )
    elif kind == "CANCELED":
        event = Canceled()
    elif kind == "REJECTED":
        event = Rejected(reason=str(report.get("r") or "rejected by venue"))
    elif kind in ("EXPIRED", "TRADE_PREVENTION"):
        event = Expired()
    elif kind == "REPLACED":
        price = Decimal(report["p"])
        event = Replaced(quantity=Decimal(report["q"]), limit_price=price if price > 0 else None)
    else:
        return None
    client_order_id = report.get("C") or report["c"]
    return OrderEventRecord(client_order_id=client_order_id, ts=from_ms(report["E"]), event=event)


class BinanceUserStream:
    """The user-data WebSocket as batches of order events."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket

    async def __aiter__(self) -> AsyncIterator[Sequence[OrderEventRecord]]:
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            payload = json.loads(message.data)
            if payload.get("e") != "executionReport":
                continue
            record = execution_event(payload)
            if record is not None:
                yield [record]

    async def close(self) -> None:
        await self._socket.close()


class WsApiUserStream(BinanceUserStream):
    """The user data subscribed on the WebSocket API: events arrive wrapped as
    ``{"subscriptionId": N, "event": {...}}``; other messages (answers) are skipped."""

    async def __aiter__(self) -> AsyncIterator[Sequence[OrderEventRecord]]:
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data).get("event") or {}
            record = execution_event(event) if event.get("e") == "executionReport" else None
            if record is not None:
                yield [record]


def ws_api_subscription(api_key: str, secret: str, timestamp_ms: int) -> dict[str, Any]:
    """``userDataStream.subscribe.signature``: the WebSocket API signs its parameters sorted
    by name (Binance spot "WebSocket API: SIGNED request security")."""
    params = {"apiKey": api_key, "timestamp": str(timestamp_ms)}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = signature(payload, secret)
    method = "userDataStream.subscribe.signature"
    return {"id": f"subscribe-{timestamp_ms}", "method": method, "params": params}


class BinanceVenue:
    """Binance-compatible REST + WS venue at ``base_url`` (the paper exchange by default)."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "paper",
        request_timeout_s: float = 2.0,
        recv_window_ms: int = 5_000,
        api_key: str | None = None,
        api_secret: str | None = None,
        credentials: Credentials | None = None,
        ws_api_url: str | None = None,
    ) -> None:
        """``api_secret`` (with ``api_key``) signs every SIGNED request; neither is logged.
        ``credentials`` instead: read now, and reread once when the venue refuses a signature
        (-1022), then the request retried: a rotated secret is picked up without a restart.
        ``ws_api_url`` (with a key and secret): user data from the WebSocket API subscription,
        else from the listenKey stream (the paper exchange's; retired for Binance spot)."""
        if api_secret is not None and not api_key:
            raise ValueError("api_secret needs api_key")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.recv_window_ms = recv_window_ms
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._credentials = credentials
        self.ws_api_url = ws_api_url
        self._use((api_key or "", api_secret) if credentials is None else credentials(False))

    def _use(self, pair: tuple[str, str | None] | None) -> None:
        key, self._secret = pair or ("", None)
        self._headers = {"X-MBX-APIKEY": key} if key else {}

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    def _url(self, path: str, params: Mapping[str, str], *, signed: bool) -> URL:
        """The request URL with its query string built once, exactly as signed."""
        if signed and self._secret is not None:
            stamped = dict(params)
            stamped.setdefault("recvWindow", str(self.recv_window_ms))
            stamped.setdefault("timestamp", str(now_ms()))
            query = signed_query(stamped, self._secret)
        else:
            query = urlencode(params)
        return URL(
            f"{self.base_url}{path}?{query}" if query else self.base_url + path, encoded=True
        )

    async def _call(
        self, method: str, path: str, params: Mapping[str, str], *, signed: bool = False
    ) -> Any:
        try:
            return await self._send(method, path, params, signed=signed)
        except VenueError as error:
            if error.code != INVALID_SIGNATURE or self._credentials is None:
                raise
        self._use(await asyncio.to_thread(self._credentials, True))
        return await self._send(method, path, params, signed=signed)

    async def _send(
        self, method: str, path: str, params: Mapping[str, str], *, signed: bool
    ) -> Any:
        url = self._url(path, params, signed=signed)
        try:
            async with self._http().request(method, url, headers=self._headers) as response:
                body = await response.text()
                if response.status < 300:
                    return json.loads(body)
                raise self._failure(response.status, response.headers, body)
        except (TimeoutError, aiohttp.ServerTimeoutError) as error:
            raise VenueError(Timeout(), outcome_unknown=True) from error
        except aiohttp.ClientConnectorError as error:
            raise VenueError(Network(), outcome_unknown=False) from error
        except aiohttp.ClientError as error:
            raise VenueError(Network(), outcome_unknown=True) from error

    @staticmethod
    def _failure(status: int, headers: Mapping[str, str], body: str) -> VenueError:
        try:
            answer = json.loads(body)
            code, msg = int(answer.get("code", 0)), str(answer.get("msg", body))
        except (ValueError, AttributeError):
            code, msg = 0, body[:200] or f"HTTP {status}"
        if status in (418, 429):
            after = headers.get("Retry-After")
            retry_after_ms = int(float(after) * 1000) if after else None
            return VenueError(RateLimited(retry_after_ms=retry_after_ms), outcome_unknown=False)
        if status >= 500:
            return VenueError(ServerError(status=status), outcome_unknown=True, code=code)
        if code == OUTSIDE_RECV_WINDOW:
            return VenueError(Network(), outcome_unknown=False, code=code)
        reason = f"{code}: {msg}" if code else msg
        return VenueError(
            VenueRejected(status=status, reason=reason),
            outcome_unknown=code == DUPLICATE_ORDER,
            code=code,
        )

    async def place(self, intent: OrderIntent, timestamp_ms: int) -> PlaceAck:
        params = order_params(intent)
        params["timestamp"] = str(timestamp_ms)
        params["recvWindow"] = str(self.recv_window_ms)
        answer = await self._call("POST", "/api/v3/order", params, signed=True)
        return PlaceAck(venue_order_id=str(answer["orderId"]), status=STATUSES[answer["status"]])

    async def query(self, symbol: str, client_order_id: str) -> VenueReport:
        """The order by client id plus its trades; ``found=False`` when the venue never had it."""
        pair = venue_symbol(symbol)
        now = datetime.now(UTC)
        try:
            order = await self._call(
                "GET",
                "/api/v3/order",
                {"symbol": pair, "origClientOrderId": client_order_id},
                signed=True,
            )
        except VenueError as error:
            if error.code == ORDER_NOT_FOUND:
                return VenueReport(found=False, ts=now)
            raise
        trades = await self._call(
            "GET",
            "/api/v3/myTrades",
            {"symbol": pair, "orderId": str(order["orderId"])},
            signed=True,
        )
        status = STATUSES[order["status"]]
        return VenueReport(
            found=True,
            status=status,
            venue_order_id=str(order["orderId"]),
            fills=tuple(
                VenueFill(
                    trade_id=str(t["id"]),
                    quantity=Decimal(t["qty"]),
                    price=Decimal(t["price"]),
                    fee=Decimal(t["commission"]),
                    fee_asset=t["commissionAsset"],
                    liquidity=Liquidity.MAKER if t["isMaker"] else Liquidity.TAKER,
                    ts=from_ms(t["time"]),
                )
                for t in trades
            ),
            reason="rejected by venue" if status is OrderStatus.REJECTED else None,
            ts=now,
        )

    async def cancel(self, symbol: str, client_order_id: str) -> None:
        params = {"symbol": venue_symbol(symbol), "origClientOrderId": client_order_id}
        await self._call("DELETE", "/api/v3/order", params, signed=True)

    async def amend(self, symbol: str, client_order_id: str, quantity: Quantity) -> None:
        params = {
            "symbol": venue_symbol(symbol),
            "origClientOrderId": client_order_id,
            "newQty": format(quantity, "f"),
        }
        await self._call("PUT", "/api/v3/order/amend/keepPriority", params, signed=True)

    async def balances(self) -> dict[str, Decimal]:
        answer = await self._call("GET", "/api/v3/account", {}, signed=True)
        return {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in answer["balances"]}

    async def ping(self) -> None:
        await self._call("GET", "/api/v3/ping", {})

    async def open_orders(self, symbols: Sequence[str]) -> list[VenueOrder]:
        """The orders the venue holds open for ``symbols`` (``GET /api/v3/openOrders``)."""
        found: list[VenueOrder] = []
        for symbol in symbols:
            params = {"symbol": venue_symbol(symbol)}
            answer = await self._call("GET", "/api/v3/openOrders", params, signed=True)
            found += [VenueOrder(o["clientOrderId"], symbol) for o in answer]
        return found

    async def instruments(self) -> dict[str, InstrumentSpec]:
        """Every trading symbol's filters from ``GET /api/v3/exchangeInfo``."""
        return specs_from_exchange_info(await self._call("GET", "/api/v3/exchangeInfo", {}))

    async def open_user_stream(self) -> BinanceUserStream:
        api_key = self._headers.get("X-MBX-APIKEY")
        if self.ws_api_url and api_key and self._secret:
            return await self._subscribe_user_data(self.ws_api_url, api_key, self._secret)
        answer = await self._call("POST", "/api/v3/userDataStream", {})
        url = f"{self.base_url.replace('http', 'ws', 1)}/ws/{answer['listenKey']}"
        try:
            socket = await self._http().ws_connect(url, heartbeat=5.0)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise VenueError(Network(), outcome_unknown=False) from error
        return BinanceUserStream(socket)

    async def _subscribe_user_data(self, url: str, api_key: str, secret: str) -> WsApiUserStream:
        """Connect to the WebSocket API and subscribe; a refusal is a ``VenueError`` naming
        Binance's code and message."""
        try:
            socket = await self._http().ws_connect(url, heartbeat=5.0)
            await socket.send_json(ws_api_subscription(api_key, secret, now_ms()))
            answer = json.loads(await socket.receive_str(timeout=5.0))
        except (aiohttp.ClientError, TimeoutError, ValueError, TypeError) as error:
            raise VenueError(Network(), outcome_unknown=False) from error
        if answer.get("status") != 200:
            await socket.close()
            refusal = answer.get("error") or {}
            code, msg = refusal.get("code"), refusal.get("msg")
            reason = f"{code}: {msg} (userDataStream.subscribe.signature)"
            failure = VenueRejected(status=int(answer.get("status") or 400), reason=reason)
            raise VenueError(failure, outcome_unknown=False, code=code)
        return WsApiUserStream(socket)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)
