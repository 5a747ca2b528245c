"""Venue adapter over ccxt for real exchanges: Binance spot (``binance``) and USDT-M futures
(``binanceusdm``) by default, any ``ccxt.exchanges`` id by name; ``sandbox=True`` is their
testnet, ``rest_url`` a Binance-compatible host (the paper exchange).

ccxt is optional (``pip install 'raytrader[ccxt]'``). Our client id goes out as
``newClientOrderId`` and orders are found again by ``origClientOrderId``. The order stream polls:
every order placed here is queried until it ends and its trades become events
(``PollingStream``; ccxt's ``watch_orders`` is not used yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from trading.contracts import Liquidity, OrderIntent, OrderStatus, OrderType, Quantity
from trading.execution.gateway import (
    Canceled,
    Expired,
    Filled,
    OrderEvent,
    OrderEventRecord,
    Rejected,
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
from trading.market.ccxt_feed import ccxt_decimals
from trading.market.instruments import InstrumentSpec, specs_from_ccxt_markets

Market = Literal["spot", "futures"]
EXCHANGES: dict[Market, str] = {"spot": "binance", "futures": "binanceusdm"}
STATUSES = {
    "open": OrderStatus.ACCEPTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
    "expired": OrderStatus.EXPIRED,
}


class CcxtNotInstalledError(ImportError):
    """ccxt is an optional dependency."""

    def __init__(self) -> None:
        super().__init__(
            "the ccxt venue adapter needs ccxt, which is not installed: "
            "pip install 'raytrader[ccxt]'"
        )


def import_ccxt() -> Any:
    """``ccxt.async_support``, or a ``CcxtNotInstalledError`` naming the install command."""
    try:
        return importlib.import_module("ccxt.async_support")
    except ImportError as error:
        raise CcxtNotInstalledError() from error


def binance_options(exchange_id: str, market: Market) -> dict[str, Any]:
    """ccxt options for Binance's classes: markets of the traded type only, no wallet or
    margin endpoints at load (``/sapi``), which a Binance-compatible venue need not have."""
    if not exchange_id.startswith("binance"):
        return {}
    types = ["linear"] if market == "futures" else ["spot"]
    return {"fetchCurrencies": False, "fetchMargins": False, "fetchMarkets": {"types": types}}


def binance_urls(rest_url: str) -> dict[str, str]:
    """ccxt's Binance API groups, every one on ``rest_url`` (spot ``/api``, USDⓈ-M ``/fapi``)."""
    urls = {"public": f"{rest_url}/api/v3", "private": f"{rest_url}/api/v3"}
    for version in ("v1", "v2", "v3"):
        suffix = "" if version == "v1" else version.upper()
        for side in ("Public", "Private"):
            urls[f"fapi{side}{suffix}"] = f"{rest_url}/fapi/{version}"
    return urls


def check_exchange_id(exchange: str) -> None:
    """``ValueError`` unless ``exchange`` is one of ``ccxt.exchanges``, listing them."""
    ccxt = importlib.import_module("ccxt") if importlib.util.find_spec("ccxt") else None
    if ccxt is None:
        raise CcxtNotInstalledError()
    if exchange not in ccxt.exchanges:
        raise ValueError(
            f"exchange {exchange!r} is not a ccxt exchange; valid: {', '.join(ccxt.exchanges)}"
        )


class CcxtOrder(BaseModel):
    """The arguments of ``exchange.create_order(symbol, type, side, amount, price, params)``.

    Amounts and prices are plain decimal strings: ccxt formats them with its own precision
    code, so no float touches them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    type: str
    side: Literal["buy", "sell"]
    amount: str
    price: str | None
    params: dict[str, str | bool]


def ccxt_order(intent: OrderIntent, market: Market) -> CcxtOrder:
    """Map an intent to ccxt's unified ``create_order`` call for Binance spot or USDT-M futures."""
    symbol = intent.symbol
    if market == "futures" and ":" not in symbol:
        symbol = f"{symbol}:{symbol.split('/')[1]}"
    params: dict[str, str | bool] = {"newClientOrderId": intent.client_order_id}
    limit = intent.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    if limit:
        params["timeInForce"] = intent.time_in_force.value
    if intent.stop_price is not None:
        params["triggerPrice"] = format(intent.stop_price, "f")
    if market == "futures" and intent.reduce_only:
        params["reduceOnly"] = True
    return CcxtOrder(
        symbol=symbol,
        type="limit" if limit else "market",
        side="buy" if intent.side.value == "BUY" else "sell",
        amount=format(intent.quantity, "f"),
        price=format(intent.limit_price, "f") if intent.limit_price is not None else None,
        params=params,
    )


def report_events(client_order_id: str, report: VenueReport) -> list[OrderEventRecord]:
    """A queried order as the events a push stream would have sent: each trade (the gateway
    ignores a trade id it has seen) and how the order ended, if it did."""
    events: list[OrderEvent] = [
        Filled(
            trade_id=f.trade_id,
            quantity=f.quantity,
            price=f.price,
            fee=f.fee,
            fee_asset=f.fee_asset,
            liquidity=f.liquidity,
        )
        for f in report.fills
    ]
    if report.status is OrderStatus.CANCELED:
        events.append(Canceled())
    elif report.status is OrderStatus.EXPIRED:
        events.append(Expired())
    elif report.status is OrderStatus.REJECTED:
        events.append(Rejected(reason=report.reason or "rejected by venue"))
    return [
        OrderEventRecord(client_order_id=client_order_id, ts=report.ts, event=e) for e in events
    ]


class PollingStream:
    """Order events by polling: every ``interval_s`` each order this adapter placed and not
    yet seen ended is queried (the exchange's REST API, within ccxt's rate limiter)."""

    def __init__(self, venue: CcxtVenue, interval_s: float) -> None:
        self._venue, self._interval_s = venue, interval_s
        self._closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[Sequence[OrderEventRecord]]:
        while not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), self._interval_s)
            batch = await self._venue.poll_orders()
            if batch:
                yield batch

    async def close(self) -> None:
        self._closed.set()


class CcxtVenue:
    """A ccxt exchange as a ``VenueAdapter``."""

    def __init__(
        self,
        market: Market = "spot",
        *,
        api_key: str | None = None,
        secret: str | None = None,
        sandbox: bool = False,
        recv_window_ms: int = 5_000,
        exchange_id: str | None = None,
        rest_url: str | None = None,
    ) -> None:
        """``exchange_id``: any of ``ccxt.exchanges`` (default: Binance's class of ``market``);
        ``rest_url``: a Binance-compatible REST base replacing the class's hosts (the paper
        exchange). ccxt's own rate limiter stays on."""
        self._ccxt = import_ccxt()
        self.name = exchange_id or EXCHANGES[market]
        self.poll_interval_s = 0.2
        self._watched: dict[str, str] = {}  # client order id -> symbol, until the order ends
        self.market = market
        self.recv_window_ms = recv_window_ms
        exchange_class = getattr(self._ccxt, self.name)
        self.exchange = exchange_class(
            {
                "apiKey": api_key,
                "secret": secret,
                "enableRateLimit": True,
                "options": {"recvWindow": recv_window_ms, **binance_options(self.name, market)},
            }
        )
        if rest_url:
            self.exchange.urls["api"] = binance_urls(rest_url.rstrip("/"))
        elif sandbox:
            self.exchange.set_sandbox_mode(True)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        errors = self._ccxt
        try:
            with ccxt_decimals():  # ccxt rewrites the current decimal context
                return await getattr(self.exchange, method)(*args, **kwargs)
        except errors.RequestTimeout as error:
            raise VenueError(Timeout(), outcome_unknown=True) from error
        except errors.RateLimitExceeded as error:
            raise VenueError(RateLimited(), outcome_unknown=False) from error
        except errors.ExchangeNotAvailable as error:
            raise VenueError(ServerError(status=503), outcome_unknown=True) from error
        except errors.NetworkError as error:
            raise VenueError(Network(), outcome_unknown=True) from error
        except errors.DuplicateOrderId as error:
            failure = VenueRejected(status=400, reason=str(error)[:500])
            raise VenueError(failure, outcome_unknown=True) from error
        except errors.OrderNotFound as error:
            failure = VenueRejected(status=400, reason=str(error)[:500])
            raise VenueError(failure, outcome_unknown=False, code=-2013) from error
        except errors.ExchangeError as error:
            failure = VenueRejected(status=400, reason=str(error)[:500])
            raise VenueError(failure, outcome_unknown=False) from error

    def _symbol(self, symbol: str) -> str:
        if self.market == "futures" and ":" not in symbol:
            return f"{symbol}:{symbol.split('/')[1]}"
        return symbol

    async def place(self, intent: OrderIntent, timestamp_ms: int) -> PlaceAck:
        order = ccxt_order(intent, self.market)
        answer = await self._call(
            "create_order",
            order.symbol,
            order.type,
            order.side,
            order.amount,
            order.price,
            order.params,
        )
        self._watched[intent.client_order_id] = intent.symbol
        return PlaceAck(
            venue_order_id=str(answer["id"]),
            status=STATUSES.get(answer.get("status") or "open", OrderStatus.ACCEPTED),
        )

    async def query(self, symbol: str, client_order_id: str) -> VenueReport:
        now = datetime.now(UTC)
        market_symbol = self._symbol(symbol)
        try:
            order = await self._call(
                "fetch_order", "", market_symbol, {"origClientOrderId": client_order_id}
            )
        except VenueError as error:
            if error.code == -2013:
                return VenueReport(found=False, ts=now)
            raise
        trades = await self._call(
            "fetch_my_trades", market_symbol, None, None, {"orderId": order["id"]}
        )
        status = STATUSES.get(order.get("status") or "open", OrderStatus.ACCEPTED)
        if status is OrderStatus.ACCEPTED and Decimal(str(order.get("filled") or 0)) > 0:
            status = OrderStatus.PARTIALLY_FILLED
        return VenueReport(
            found=True,
            status=status,
            venue_order_id=str(order["id"]),
            fills=tuple(
                VenueFill(
                    trade_id=str(t["id"]),
                    quantity=Decimal(str(t["amount"])),
                    price=Decimal(str(t["price"])),
                    fee=Decimal(str((t.get("fee") or {}).get("cost") or 0)),
                    fee_asset=(t.get("fee") or {}).get("currency")
                    or symbol.split("/")[1].split(":")[0],
                    liquidity=Liquidity.MAKER
                    if t.get("takerOrMaker") == "maker"
                    else Liquidity.TAKER,
                    ts=datetime.fromtimestamp(t["timestamp"] / 1000, UTC),
                )
                for t in trades
            ),
            reason="rejected by venue" if status is OrderStatus.REJECTED else None,
            ts=now,
        )

    async def cancel(self, symbol: str, client_order_id: str) -> None:
        await self._call(
            "cancel_order", "", self._symbol(symbol), {"origClientOrderId": client_order_id}
        )

    async def amend(self, symbol: str, client_order_id: str, quantity: Quantity) -> None:
        reason = "in-place amend is not available through ccxt; use cancel_replace"
        raise VenueError(VenueRejected(status=400, reason=reason), outcome_unknown=False)

    async def balances(self) -> dict[str, Decimal]:
        answer = await self._call("fetch_balance")
        return {asset: Decimal(str(total)) for asset, total in answer["total"].items()}

    async def ping(self) -> None:
        await self._call("fetch_time")

    async def open_orders(self, symbols: Sequence[str]) -> list[VenueOrder]:
        """The orders the exchange holds open for ``symbols`` (ccxt ``fetch_open_orders``)."""
        found: list[VenueOrder] = []
        for symbol in symbols:
            answer = await self._call("fetch_open_orders", self._symbol(symbol))
            found += [VenueOrder(str(o.get("clientOrderId") or o["id"]), symbol) for o in answer]
        return found

    async def instruments(self) -> dict[str, InstrumentSpec]:
        """Every active market's filters from ``load_markets`` (ccxt caches them; reloaded).
        Futures: each perpetual settled in its quote under the session's name (``BTC/USDT``),
        as intents name it (``_symbol`` maps it back)."""
        markets = await self._call("load_markets", True)
        specs = specs_from_ccxt_markets(markets, self.exchange.precisionMode)
        if self.market != "futures":
            return specs
        return {
            name: replace(spec, symbol=name)
            for unified, spec in specs.items()
            if self._symbol(name := unified.partition(":")[0]) == unified
        }

    async def open_user_stream(self) -> PollingStream:
        return PollingStream(self, self.poll_interval_s)

    async def poll_orders(self) -> list[OrderEventRecord]:
        """Events of every watched order; an ended one is watched no more."""
        batch: list[OrderEventRecord] = []
        for client_order_id, symbol in list(self._watched.items()):
            try:
                report = await self.query(symbol, client_order_id)
            except VenueError:
                continue  # the next poll tries again; the engine's resync is the safety net
            batch += report_events(client_order_id, report)
            if report.found and report.status is not None and report.status.is_terminal:
                self._watched.pop(client_order_id, None)
        return batch

    async def close(self) -> None:
        await self.exchange.close()
