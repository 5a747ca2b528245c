"""A client we did not write speaks to the paper exchange: ccxt's ``binance`` (spot) and
``binanceusdm`` (USDⓈ-M futures) classes, their URLs pointed at the paper server on 127.0.0.1,
load markets, read balances, tickers and candles, place, fetch and cancel market, limit and stop
orders, and read their trades. Expected values come from the bundled bar file read with polars
and the fee rates, computed by hand here: not from the exchange's own code.

ccxt options (set here, not faked on the server): ``fetchCurrencies: False`` (else ccxt with
keys calls ``/sapi/v1/capital/config/getall``, a wallet endpoint the paper exchange does not
have), ``fetchMargins: False`` (else it loads ``/sapi/v1/margin/allPairs`` for margin trading,
which the paper exchange does not offer), ``fetchMarkets.types`` narrowed to the one market
type each class trades (the defaults also load ``/fapi``, ``/dapi`` exchangeInfo).
"""

from __future__ import annotations

import asyncio
import decimal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import polars as pl
import pytest

from trading.config import VenueKind, VenueSettings
from trading.contracts import OrderIntent, OrderStatus, OrderType, Side
from trading.execution.ccxt_venue import CcxtVenue
from trading.execution.engine import ExecutionEngine
from trading.execution.gateway import OrderGateway
from trading.execution.paper import PaperBar, PaperExchange, load_bars
from trading.execution.paper.futures import PaperFuturesExchange
from trading.execution.paper.server import PaperServer
from trading.execution.venue_kinds import engine_config, venue_rules

BUNDLED = Path(__file__).resolve().parents[2] / "trading" / "market" / "bundled"
BTC_FILE = BUNDLED / "BTC_USDT-5m.parquet"
ROWS = 60
API_KEY = "paperKEY" * 8  # 64 letters and digits, as Binance keys are  # pragma: allowlist secret
API_SECRET = "paperSECRET0" * 5 + "abcd"  # pragma: allowlist secret
SPOT_FEE = Decimal("0.001")
FUTURES_TAKER_FEE = Decimal("0.0005")
EIGHT_PLACES = Decimal("0.00000001")


def reference_bars() -> list[dict[str, Any]]:
    """The first ``ROWS`` bars of the bundled file, read with polars (not our loader)."""
    frame = pl.read_parquet(BTC_FILE).head(ROWS)
    return [
        {k: (Decimal(repr(v)) if isinstance(v, float) else v) for k, v in row.items()}
        for row in frame.to_dicts()
    ]


def open_ms(row: dict[str, Any]) -> int:
    return int(row["date"].timestamp() * 1000)


def fee(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    return (price * qty * rate).quantize(EIGHT_PLACES, ROUND_HALF_UP)


def d(value: object) -> Decimal:
    """ccxt's floats (or the wire's strings) as decimals at the venue's 8 places."""
    text = value if isinstance(value, str) else repr(value)
    return Decimal(text).quantize(EIGHT_PLACES)


@asynccontextmanager
async def paper(futures: bool) -> AsyncIterator[PaperServer]:
    bars: dict[str, list[PaperBar]] = {"BTC/USDT": load_bars(BTC_FILE, 0, ROWS)}
    account = PaperFuturesExchange({"BTC/USDT:USDT": bars["BTC/USDT"]}) if futures else None
    server = PaperServer(
        PaperExchange(bars),
        bar_interval_ms=0,
        api_key=API_KEY,
        api_secret=API_SECRET,
        futures=account,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def spot_client(url: str) -> Any:
    client = ccxt_async.binance(
        {
            "apiKey": API_KEY,
            "secret": API_SECRET,
            "enableRateLimit": True,
            "options": {
                "fetchCurrencies": False,
                "fetchMargins": False,
                "fetchMarkets": {"types": ["spot"]},
            },
        }
    )
    client.urls["api"] = {name: f"{url}/api/v3" for name in ("public", "private")} | {
        "v1": f"{url}/api/v1",
        "sapi": f"{url}/sapi/v1",
    }
    return client


def futures_client(url: str) -> Any:
    client = ccxt_async.binanceusdm(
        {
            "apiKey": API_KEY,
            "secret": API_SECRET,
            "enableRateLimit": True,
            "options": {"fetchCurrencies": False, "fetchMarkets": {"types": ["linear"]}},
        }
    )
    api = {}
    for version in ("v1", "v2", "v3"):
        suffix = "" if version == "v1" else version.upper()
        for side in ("Public", "Private"):
            api[f"fapi{side}{suffix}"] = f"{url}/fapi/{version}"
    client.urls["api"] = api
    return client


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), timeout=60))


def test_ccxt_binance_trades_spot_on_the_paper_exchange() -> None:
    rows = reference_bars()
    qty = Decimal("0.01")

    async def body() -> None:
        async with paper(futures=False) as server:
            client = spot_client(server.url)
            try:
                await spot_session(client, server, rows, qty)
            finally:
                await client.close()

    run(body)


async def spot_session(
    client: Any, server: PaperServer, rows: list[dict[str, Any]], qty: Decimal
) -> None:
    markets = await client.load_markets()
    market = markets["BTC/USDT"]
    assert (market["id"], market["spot"], market["active"]) == ("BTCUSDT", True, True)
    assert market["precision"] == {"amount": 1e-05, "price": 0.01, "base": 1e-08, "quote": 1e-08}
    assert (market["limits"]["amount"]["min"], market["limits"]["cost"]["min"]) == (1e-05, 5.0)

    now = 10
    server.advance_to(open_ms(rows[now]) + 1)
    close = rows[now]["close"]
    ticker = await client.fetch_ticker("BTC/USDT")
    assert d(ticker["last"]) == close
    assert d(ticker["high"]) == max(r["high"] for r in rows[: now + 1])

    candles = await client.fetch_ohlcv("BTC/USDT", "5m", limit=3)
    expected = [
        [open_ms(r), *(r[k] for k in ("open", "high", "low", "close", "volume"))]
        for r in rows[now - 2 : now + 1]
    ]
    assert [[c[0], *(d(v) for v in c[1:])] for c in candles] == expected
    hourly = await client.fetch_ohlcv("BTC/USDT", "15m", limit=1)
    bucket = [r for r in rows[: now + 1] if open_ms(r) // 900_000 == hourly[0][0] // 900_000]
    assert d(hourly[0][2]) == max(r["high"] for r in bucket)

    balance = await client.fetch_balance()
    assert (balance["USDT"]["free"], balance["BTC"]["total"]) == (1e9, 0)

    bought = await client.create_order("BTC/USDT", "market", "buy", float(qty))
    assert (bought["status"], d(bought["average"]), d(bought["filled"])) == ("closed", close, qty)
    buy_fee = fee(close, qty, SPOT_FEE)
    assert d(bought["fee"]["cost"]) == buy_fee

    limit_price = (close * Decimal("0.9")).quantize(Decimal("0.01"))
    resting = await client.create_order("BTC/USDT", "limit", "buy", 0.002, float(limit_price))
    assert resting["status"] == "open"
    held = await client.fetch_balance()
    assert d(held["USDT"]["used"]) == limit_price * Decimal("0.002")
    assert [o["id"] for o in await client.fetch_open_orders("BTC/USDT")] == [resting["id"]]
    await client.cancel_order(resting["id"], "BTC/USDT")
    assert (await client.fetch_order(resting["id"], "BTC/USDT"))["status"] == "canceled"

    later = next(j for j in range(now + 1, len(rows)) if rows[j]["low"] < close)
    stop = rows[later]["low"]
    stop_fill = min(rows[later]["open"], stop)
    sell_qty = Decimal("0.005")
    stop_order = await client.create_order(
        "BTC/USDT", "market", "sell", float(sell_qty), None, {"stopPrice": float(stop)}
    )
    assert stop_order["info"]["type"] == "STOP_LOSS"
    assert stop_order["status"] == "open"
    server.advance_to(open_ms(rows[later]) + 1)
    stopped = await client.fetch_order(stop_order["id"], "BTC/USDT")
    assert (stopped["status"], d(stopped["average"])) == ("closed", stop_fill)

    trades = await client.fetch_my_trades("BTC/USDT")
    assert [(t["side"], d(t["price"]), d(t["amount"]), d(t["fee"]["cost"])) for t in trades] == [
        ("buy", close, qty, buy_fee),
        ("sell", stop_fill, sell_qty, fee(stop_fill, sell_qty, SPOT_FEE)),
    ]
    final = await client.fetch_balance()
    usdt = Decimal(1_000_000_000) - close * qty - buy_fee
    usdt += stop_fill * sell_qty - fee(stop_fill, sell_qty, SPOT_FEE)
    assert final["BTC"]["total"] == float(qty - sell_qty)
    wire = final["info"]["balances"]
    exact = {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in wire}
    assert exact["USDT"] == usdt  # ccxt's float total holds 16 digits; the wire string all


def test_ccxt_binance_errors_arrive_as_binance_codes() -> None:
    async def body() -> None:
        async with paper(futures=False) as server:
            client = spot_client(server.url)
            try:
                await client.load_markets()
                with pytest.raises(ccxt.InvalidOrder, match=r"minimum amount precision of 0\.0+1"):
                    await client.create_order("BTC/USDT", "market", "buy", 0.000001)  # LOT_SIZE
                with pytest.raises(ccxt.BadRequest, match=r"-1013.*NOTIONAL"):
                    await client.create_order("BTC/USDT", "market", "buy", 0.00002)  # ~2.3 USDT
                with pytest.raises(ccxt.OrderNotFound, match="-2013"):
                    await client.fetch_order("999", "BTC/USDT")
                client.secret = "wrong" + API_SECRET[5:]  # pragma: allowlist secret
                with pytest.raises(ccxt.AuthenticationError, match="-1022"):
                    await client.fetch_balance()
            finally:
                await client.close()

    run(body)


def test_ccxt_binanceusdm_trades_futures_on_the_paper_exchange() -> None:
    rows = reference_bars()

    async def body() -> None:
        async with paper(futures=True) as server:
            client = futures_client(server.url)
            try:
                await futures_session(client, server, rows)
            finally:
                await client.close()

    run(body)


async def futures_session(client: Any, server: PaperServer, rows: list[dict[str, Any]]) -> None:
    symbol = "BTC/USDT:USDT"
    markets = await client.load_markets()
    market = markets[symbol]
    assert (market["id"], market["swap"], market["linear"], market["settle"]) == (
        "BTCUSDT",
        True,
        True,
        "USDT",
    )
    await client.set_leverage(5, symbol)
    await client.set_margin_mode("isolated", symbol)

    now = 10
    server.advance_to(open_ms(rows[now]) + 1)
    entry = rows[now]["close"]
    assert d((await client.fetch_ticker(symbol))["last"]) == entry
    assert len(await client.fetch_ohlcv(symbol, "5m", limit=4)) == 4
    balance = await client.fetch_balance()
    assert balance["USDT"]["total"] == 100_000

    qty = Decimal("0.01")
    bought = await client.create_order(symbol, "market", "buy", float(qty))
    assert (bought["status"], d(bought["average"])) == ("closed", entry)
    [position] = await client.fetch_positions([symbol])
    assert (d(position["contracts"]), position["side"], d(position["entryPrice"])) == (
        qty,
        "long",
        entry,
    )
    assert (position["leverage"], position["marginMode"]) == (5, "isolated")
    liquidation = entry * (1 - Decimal("0.2") + Decimal("0.004"))
    assert d(position["liquidationPrice"]) == liquidation.quantize(EIGHT_PLACES)

    # ccxt picks its futures error classes by host name (fapi.binance.com), so on loopback a
    # -2022 arrives as the generic ExchangeError, code and message intact
    with pytest.raises(ccxt.ExchangeError, match=r"-2022.*ReduceOnly"):
        await client.create_order(symbol, "market", "sell", 0.02, None, {"reduceOnly": True})

    limit_price = (entry * Decimal("0.8")).quantize(Decimal("0.1"), ROUND_CEILING)
    resting = await client.create_order(symbol, "limit", "buy", 0.002, float(limit_price))
    assert [o["id"] for o in await client.fetch_open_orders(symbol)] == [resting["id"]]
    await client.cancel_order(resting["id"], symbol)
    assert (await client.fetch_order(resting["id"], symbol))["status"] == "canceled"

    stop = (entry * Decimal("0.7")).quantize(Decimal("0.1"))
    stop_order = await client.create_order(
        symbol, "market", "sell", float(qty), None, {"stopPrice": float(stop), "reduceOnly": True}
    )
    assert stop_order["info"]["algoType"] == "CONDITIONAL"
    fetched = await client.fetch_order(stop_order["id"], symbol, {"trigger": True})
    assert (fetched["status"], d(fetched["triggerPrice"])) == ("open", stop)
    await client.cancel_order(stop_order["id"], symbol, {"trigger": True})

    later = now + 5
    server.advance_to(open_ms(rows[later]) + 1)
    exit_price = rows[later]["close"]
    await client.create_order(symbol, "market", "sell", float(qty), None, {"reduceOnly": True})
    assert await client.fetch_positions([symbol]) == []  # ccxt lists open positions only

    trades = await client.fetch_my_trades(symbol)
    pnl = (exit_price - entry) * qty
    assert [(t["side"], d(t["price"]), d(t["info"]["realizedPnl"])) for t in trades] == [
        ("buy", entry, Decimal(0)),
        ("sell", exit_price, pnl.quantize(EIGHT_PLACES)),
    ]
    wallet = Decimal(100_000) + pnl
    wallet -= fee(entry, qty, FUTURES_TAKER_FEE) + fee(exit_price, qty, FUTURES_TAKER_FEE)
    final = await client.fetch_balance()
    assert d(final["USDT"]["total"]) == wallet.quantize(EIGHT_PLACES)


def test_the_ccxt_venue_learns_fills_by_polling_within_a_settled_submit(tmp_path: Path) -> None:
    """``CcxtVenue`` has no push stream: its ``PollingStream`` queries the orders it placed, so
    the engine books a market order's fill inside ``submit_settled`` as with Binance's stream,
    and a canceled limit order ends canceled."""
    rows = reference_bars()
    now = datetime(2025, 10, 1, tzinfo=UTC)

    def intent(seq: int, **fields: Any) -> OrderIntent:
        return OrderIntent.for_signal(
            strategy="poll", symbol="BTC/USDT", signal_time=now, seq=seq, created_at=now, **fields
        )

    market = intent(0, side=Side.BUY, order_type=OrderType.MARKET, quantity=Decimal("0.002"))
    limit_price = (rows[0]["close"] * Decimal("0.9")).quantize(Decimal("0.01"))
    resting = intent(
        1,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("0.002"),
        limit_price=limit_price,
    )
    settings = VenueSettings(kind=VenueKind.CCXT, exchange="binance")

    async def body() -> None:
        async with paper(futures=False) as server:
            venue = CcxtVenue("spot", rest_url=server.url, api_key=API_KEY, secret=API_SECRET)
            gateway = OrderGateway(str(tmp_path / "wal"))
            for rules in await venue_rules(venue, ["BTC/USDT"]):
                gateway.set_rules(rules)
            engine = ExecutionEngine(gateway, venue, engine_config(settings))
            await engine.start()
            try:
                await engine.submit_settled([market, resting], settle_timeout_s=5.0)
                state = gateway.state(market.client_order_id)
                assert state is not None
                assert (state.status, state.filled_quantity) == (
                    OrderStatus.FILLED,
                    market.quantity,
                )
                [fill] = gateway.fills(market.client_order_id)
                assert (fill.price, fill.fee) == (
                    rows[0]["close"],
                    fee(rows[0]["close"], Decimal("0.002"), SPOT_FEE),
                )
                canceled = await engine.cancel(resting.client_order_id)
                assert canceled.status is OrderStatus.CANCELED
                # ccxt's create_order rounds through decimal_to_precision, which rewrites the
                # current decimal context; the venue calls it in a private one
                context = decimal.getcontext()
                assert context.rounding == decimal.ROUND_HALF_EVEN
                assert not context.traps[decimal.Underflow]
            finally:
                await engine.stop()
                await venue.close()

    run(body)
