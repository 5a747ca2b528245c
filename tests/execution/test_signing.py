"""Binance request signing: the adapter signs SIGNED endpoints as Binance specifies, and the
paper exchange, started with a key and secret, checks signature, key and recvWindow over real
HTTP on 127.0.0.1, answering with Binance's error codes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from trading.config import VenueSettings
from trading.contracts import OrderIntent, OrderStatus, OrderType, Side
from trading.execution.binance import BinanceVenue, signature, signed_query
from trading.execution.paper import PaperBar, PaperExchange
from trading.execution.paper.server import PaperServer
from trading.execution.retry import Network, VenueError, VenueRejected

# Binance's published example ("SIGNED (TRADE, USER_DATA) Endpoint security", HMAC SHA256)
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"  # noqa: S105  # pragma: allowlist secret
DOC_KEY = (
    "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"  # pragma: allowlist secret
)
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = (
    "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"  # pragma: allowlist secret
)
OTHER_KEY = "A" * 64
T0 = datetime(2025, 3, 1, tzinfo=UTC)
BAR = PaperBar(
    1_740_787_200_000, *(Decimal(v) for v in ("100.00", "101.00", "99.00", "100.50", "50"))
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def intent(seq: int, quantity: str = "1.000") -> OrderIntent:
    return OrderIntent.for_signal(
        strategy="signing",
        symbol="SOL/USDT",
        signal_time=T0,
        seq=seq,
        side=Side.BUY,
        quantity=Decimal(quantity),
        created_at=T0,
        order_type=OrderType.MARKET,
    )


@asynccontextmanager
async def signed_exchange() -> AsyncIterator[PaperServer]:
    server = PaperServer(
        PaperExchange({"SOL/USDT": [BAR]}),
        bar_interval_ms=0,
        api_key=DOC_KEY,
        api_secret=DOC_SECRET,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def run(test: Callable[[PaperServer], Awaitable[None]]) -> None:
    async def main() -> None:
        async with signed_exchange() as server:
            await test(server)

    asyncio.run(main())


async def refused(call: Awaitable[Any]) -> VenueError:
    with pytest.raises(VenueError) as error:
        await call
    return error.value


def test_signature_matches_binances_published_example() -> None:
    assert signature(DOC_QUERY, DOC_SECRET) == DOC_SIGNATURE
    params = dict(pair.split("=") for pair in DOC_QUERY.split("&"))
    assert signed_query(params, DOC_SECRET) == f"{DOC_QUERY}&signature={DOC_SIGNATURE}"


def test_signed_request_carries_timestamp_recv_window_signature_and_key_header() -> None:
    """The exact wire: the query string is what was signed, the signature last, key in the
    header; an endpoint that is not SIGNED (ping) carries none of it."""
    seen: list[tuple[str, str, str | None]] = []

    async def record(request: web.Request) -> web.Response:
        raw = request.rel_url.raw_query_string
        seen.append((request.path, raw, request.headers.get("X-MBX-APIKEY")))
        return web.json_response({"balances": []} if "account" in request.path else {})

    async def main() -> None:
        app = web.Application()
        app.add_routes([web.get("/api/v3/account", record), web.get("/api/v3/ping", record)])
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        venue = BinanceVenue(
            f"http://127.0.0.1:{port}", recv_window_ms=2_500, api_key=DOC_KEY, api_secret=DOC_SECRET
        )
        try:
            before = now_ms()
            assert await venue.balances() == {}
            after = now_ms()
            await venue.ping()
        finally:
            await venue.close()
            await runner.cleanup()
        (path, raw, key), (ping_path, ping_raw, _) = seen
        assert (path, key) == ("/api/v3/account", DOC_KEY)
        signed, _, sent = raw.rpartition("&signature=")
        window, stamp = signed.split("&")
        assert window == "recvWindow=2500"
        assert stamp.startswith("timestamp=")
        assert before <= int(stamp.removeprefix("timestamp=")) <= after
        expected = hmac.new(DOC_SECRET.encode(), signed.encode(), hashlib.sha256).hexdigest()
        assert sent == expected
        assert (ping_path, ping_raw) == ("/api/v3/ping", "")

    asyncio.run(main())


def test_signed_order_is_placed_queried_and_account_read_with_the_right_secret() -> None:
    async def test(server: PaperServer) -> None:
        venue = BinanceVenue(server.url, api_key=DOC_KEY, api_secret=DOC_SECRET)
        try:
            ack = await venue.place(intent(1), now_ms())
            report = await venue.query("SOL/USDT", intent(1).client_order_id)
            balances = await venue.balances()
        finally:
            await venue.close()
        assert ack.status is OrderStatus.FILLED
        assert (report.found, report.status) == (True, OrderStatus.FILLED)
        assert [(f.quantity, f.price) for f in report.fills] == [
            (Decimal("1.000"), Decimal("100.50"))
        ]
        assert balances["SOL"] == Decimal(1)
        assert list(server.exchange.orders) == [intent(1).client_order_id]

    run(test)


def test_wrong_secret_is_refused_with_1022_and_nothing_is_accepted() -> None:
    async def test(server: PaperServer) -> None:
        venue = BinanceVenue(server.url, api_key=DOC_KEY, api_secret=DOC_SECRET[::-1])
        try:
            placing = await refused(venue.place(intent(2), now_ms()))
            reading = await refused(venue.balances())
        finally:
            await venue.close()
        for error in (placing, reading):
            assert error.code == -1022
            assert error.failure == VenueRejected(
                status=400, reason="-1022: Signature for this request is not valid."
            )
            assert not error.outcome_unknown
        assert server.exchange.orders == {}

    run(test)


def test_stale_or_future_timestamp_is_refused_with_1021_as_not_acted_on() -> None:
    async def test(server: PaperServer) -> None:
        venue = BinanceVenue(
            server.url, recv_window_ms=1_000, api_key=DOC_KEY, api_secret=DOC_SECRET
        )
        try:
            stale = await refused(venue.place(intent(3), now_ms() - 1_500))
            ahead = await refused(venue.place(intent(4), now_ms() + 5_000))
            ack = await venue.place(intent(5), now_ms() - 200)  # inside the window
        finally:
            await venue.close()
        for error in (stale, ahead):
            assert (error.code, error.failure, error.outcome_unknown) == (-1021, Network(), False)
        assert ack.status is OrderStatus.FILLED
        assert list(server.exchange.orders) == [intent(5).client_order_id]

    run(test)


def test_missing_malformed_or_unknown_api_key_is_refused_with_2014_or_2015() -> None:
    async def test(server: PaperServer) -> None:
        unsigned = BinanceVenue(server.url)
        malformed = BinanceVenue(server.url, api_key="short-key", api_secret=DOC_SECRET)
        unknown = BinanceVenue(server.url, api_key=OTHER_KEY, api_secret=DOC_SECRET)
        try:
            errors = [
                await refused(unsigned.place(intent(6), now_ms())),
                await refused(malformed.place(intent(6), now_ms())),
                await refused(unknown.place(intent(6), now_ms())),
                await refused(unsigned.open_user_stream()),  # USER_STREAM: the key alone
            ]
            async with aiohttp.ClientSession() as http:
                keyed = await http.post(
                    f"{server.url}/api/v3/userDataStream", headers={"X-MBX-APIKEY": DOC_KEY}
                )
                assert keyed.status == 200
                assert (await keyed.json())["listenKey"].startswith("paper")
        finally:
            for venue in (unsigned, malformed, unknown):
                await venue.close()
        statuses = [(e.failure, e.code) for e in errors]
        assert statuses == [
            (VenueRejected(status=401, reason="-2014: API-key format invalid."), -2014),
            (VenueRejected(status=401, reason="-2014: API-key format invalid."), -2014),
            (
                VenueRejected(
                    status=401, reason="-2015: Invalid API-key, IP, or permissions for action."
                ),
                -2015,
            ),
            (VenueRejected(status=401, reason="-2014: API-key format invalid."), -2014),
        ]
        assert server.exchange.orders == {}

    run(test)


def test_signature_covers_query_and_body_and_a_tampered_parameter_breaks_it() -> None:
    """totalParams is the query string concatenated with the body; changing one signed byte
    (the quantity) after signing gets -1022."""

    async def test(server: PaperServer) -> None:
        query = "symbol=SOLUSDT&side=BUY&type=MARKET"
        body = f"quantity=2.000&newClientOrderId=split-body&timestamp={now_ms()}"
        sign = signature(query + body, DOC_SECRET)
        headers = {
            "X-MBX-APIKEY": DOC_KEY,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        async with aiohttp.ClientSession(headers=headers) as http:
            url = f"{server.url}/api/v3/order?{query}"
            split = await http.post(url, data=f"{body}&signature={sign}")
            assert split.status == 200, await split.text()
            assert (await split.json())["executedQty"] == "2.00000000"
            tampered = body.replace("quantity=2.000", "quantity=9.000").replace(
                "split-body", "tampered"
            )
            answer = await http.post(url, data=f"{tampered}&signature={sign}")
            assert answer.status == 400
            assert await answer.json() == {
                "code": -1022,
                "msg": "Signature for this request is not valid.",
            }
            unsigned = await http.post(url, data=body.replace("split-body", "no-signature"))
            assert (unsigned.status, (await unsigned.json())["code"]) == (400, -1102)
        assert list(server.exchange.orders) == ["split-body"]

    run(test)


def test_venue_credentials_come_from_the_environment_and_never_print(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = VenueSettings()
    monkeypatch.delenv(settings.api_key_env, raising=False)
    monkeypatch.delenv(settings.api_secret_env, raising=False)
    assert settings.credentials() is None
    monkeypatch.setenv(settings.api_key_env, DOC_KEY)
    with pytest.raises(ValueError, match="RAYTRADER_VENUE_API_SECRET is not set"):
        settings.credentials()
    monkeypatch.setenv(settings.api_secret_env, DOC_SECRET)
    credentials = settings.credentials()
    assert credentials is not None
    assert credentials.api_secret.get_secret_value() == DOC_SECRET
    assert credentials.api_key.get_secret_value() == DOC_KEY
    shown = f"{credentials!r} {credentials} {credentials.model_dump_json()}"
    assert DOC_SECRET not in shown
    assert DOC_KEY not in shown
    assert DOC_SECRET not in settings.model_dump_json()
