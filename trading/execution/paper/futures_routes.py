"""The paper exchange's USDⓈ-M REST API (``/fapi/...``) over ``PaperFuturesExchange``:
market data, orders (plain and the algo service's conditional ones), trades, leverage, margin
type, listenKey, account and positionRisk; signed like the spot API by ``PaperServer``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from trading.contracts import now_ms
from trading.execution.paper import market_data
from trading.execution.paper.exchange import BinanceError, required_param
from trading.execution.paper.futures import PaperFuturesExchange, algo_params

Handler = Callable[[web.Request], Any]


class SignedApi(Protocol):
    """What the routes need of the server (``PaperServer``): authenticated parameters, the
    API-key check, pushing reports, and the listen keys that carry futures events."""

    futures_listen_keys: set[str]

    async def params(self, request: web.Request) -> dict[str, str]: ...

    def check_api_key(self, request: web.Request) -> None: ...

    def publish(self) -> None: ...


class FuturesRoutes:
    """Handlers of ``/fapi/v1``, ``/fapi/v2`` and ``/fapi/v3`` for one paper futures account."""

    def __init__(self, server: SignedApi, exchange: PaperFuturesExchange) -> None:
        self.server, self.exchange = server, exchange

    def routes(self) -> list[web.RouteDef]:
        public = {
            "klines": market_data.klines,
            "ticker/price": market_data.ticker_price,
            "ticker/24hr": market_data.ticker_24hr,
            "depth": market_data.depth,
        }
        routes = [web.get(f"/fapi/v1/{path}", self._public(view)) for path, view in public.items()]
        return [
            *routes,
            web.get("/fapi/v1/ping", self._ping),
            web.get("/fapi/v1/time", self._time),
            web.get("/fapi/v1/exchangeInfo", self._exchange_info),
            web.get("/fapi/v1/premiumIndex", self._premium_index),
            web.post("/fapi/v1/order", self._place),
            web.get("/fapi/v1/order", self._query),
            web.delete("/fapi/v1/order", self._cancel),
            web.post("/fapi/v1/algoOrder", self._place_algo),
            web.get("/fapi/v1/algoOrder", self._query_algo),
            web.delete("/fapi/v1/algoOrder", self._cancel_algo),
            web.get("/fapi/v1/openOrders", self._open_orders),
            web.get("/fapi/v1/allOrders", self._all_orders),
            web.get("/fapi/v1/userTrades", self._trades),
            web.post("/fapi/v1/leverage", self._leverage),
            web.post("/fapi/v1/marginType", self._margin_type),
            web.get("/fapi/v1/leverageBracket", self._brackets),
            web.post("/fapi/v1/listenKey", self._listen_key),
            web.put("/fapi/v1/listenKey", self._keep_alive),
            web.delete("/fapi/v1/listenKey", self._keep_alive),
            web.get("/fapi/v2/account", self._account),
            web.get("/fapi/v3/account", self._account),
            web.get("/fapi/v2/positionRisk", self._position_risk),
            web.get("/fapi/v3/positionRisk", self._position_risk),
        ]

    def _public(self, view: Callable[..., Any]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(view(self.exchange, request.query))

        return handler

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": now_ms()})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        info = market_data.exchange_info(
            self.exchange, request.query, futures=True, server_time_ms=now_ms()
        )
        return web.json_response(info)

    async def _premium_index(self, request: web.Request) -> web.Response:
        """Mark price: the paper mark is the last close; funding is not charged here."""
        symbol = market_data.known_symbol(self.exchange, request.query)
        mark = format(self.exchange.mark_price(symbol), "f")
        return web.json_response(
            {
                "symbol": symbol,
                "markPrice": mark,
                "indexPrice": mark,
                "lastFundingRate": "0",
                "nextFundingTime": 0,
                "time": self.exchange.event_time_ms(),
            }
        )

    async def _place(self, request: web.Request) -> web.Response:
        order = self.exchange.place(await self.server.params(request))
        self.server.publish()
        return web.json_response(self.exchange.order_json(order))

    async def _query(self, request: web.Request) -> web.Response:
        params = await self.server.params(request)
        order = self.exchange.order(params, -2013, "Order does not exist.")
        return web.json_response(self.exchange.order_json(order))

    async def _cancel(self, request: web.Request) -> web.Response:
        order = self.exchange.cancel(await self.server.params(request))
        self.server.publish()
        return web.json_response(self.exchange.order_json(order))

    async def _place_algo(self, request: web.Request) -> web.Response:
        params = algo_params(await self.server.params(request))
        if params.get("type") not in self.exchange.stop_types:
            raise BinanceError(400, -1116, "Invalid orderType.")
        order = self.exchange.place(params)
        self.server.publish()
        return web.json_response(self.exchange.algo_json(order))

    async def _query_algo(self, request: web.Request) -> web.Response:
        params = algo_params(await self.server.params(request))
        order = self.exchange.order(params, -2013, "Order does not exist.")
        return web.json_response(self.exchange.algo_json(order))

    async def _cancel_algo(self, request: web.Request) -> web.Response:
        order = self.exchange.cancel(algo_params(await self.server.params(request)))
        self.server.publish()
        return web.json_response(self.exchange.algo_json(order))

    async def _open_orders(self, request: web.Request) -> web.Response:
        params = await self.server.params(request)
        orders = self.exchange.open_orders(params.get("symbol"))
        return web.json_response([self.exchange.order_json(o) for o in orders])

    async def _all_orders(self, request: web.Request) -> web.Response:
        params = await self.server.params(request)
        orders = self.exchange.all_orders(required_param(params, "symbol"))
        return web.json_response([self.exchange.order_json(o) for o in orders])

    async def _trades(self, request: web.Request) -> web.Response:
        params = await self.server.params(request)
        orders = self.exchange.all_orders(required_param(params, "symbol"))
        order_id = params.get("orderId")
        trades = [
            self.exchange.trade_json(t)
            for o in orders
            if order_id is None or str(o.order_id) == order_id
            for t in o.trades
        ]
        return web.json_response(sorted(trades, key=lambda t: t["id"]))

    async def _leverage(self, request: web.Request) -> web.Response:
        params = await self.server.params(request)
        return web.json_response(self.exchange.set_leverage(params))

    async def _margin_type(self, request: web.Request) -> web.Response:
        params = await self.server.params(request)
        return web.json_response(self.exchange.set_margin_type(params))

    async def _brackets(self, request: web.Request) -> web.Response:
        params = await self.server.params(request)
        return web.json_response(self.exchange.leverage_brackets(params))

    async def _listen_key(self, request: web.Request) -> web.Response:
        """``POST /fapi/v1/listenKey``: the user stream is ``/ws/<listenKey>`` on this host."""
        self.server.check_api_key(request)
        key = f"fpaper{self.exchange.random.getrandbits(64):x}"
        self.server.futures_listen_keys.add(key)
        return web.json_response({"listenKey": key})

    async def _keep_alive(self, request: web.Request) -> web.Response:
        """``PUT`` (keep alive) and ``DELETE`` (close) ``/fapi/v1/listenKey``."""
        self.server.check_api_key(request)
        return web.json_response({})

    async def _account(self, request: web.Request) -> web.Response:
        await self.server.params(request)
        return web.json_response(self.exchange.account_json())

    async def _position_risk(self, request: web.Request) -> web.Response:
        params = await self.server.params(request)
        return web.json_response(self.exchange.position_risk(params))
