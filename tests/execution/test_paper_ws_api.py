"""Spot user data on the WebSocket API (``userDataStream.subscribe.signature``), the mechanism
Binance keeps after retiring the listenKey for spot: ``BinanceVenue`` subscribes on the paper
exchange's ``/ws-api/v3`` with a signed request and receives its orders' execution reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading.contracts import OrderIntent, OrderType, Side
from trading.execution.binance import BinanceVenue, ws_api_subscription
from trading.execution.gateway import Accepted, Filled
from trading.execution.paper import PaperBar, PaperExchange
from trading.execution.paper.server import PaperServer
from trading.execution.retry import VenueError, VenueRejected

API_KEY = "wsKEY123" * 8  # pragma: allowlist secret
API_SECRET = "wsSECRET" * 8  # pragma: allowlist secret
BAR = PaperBar(1_700_000_000_000, *(Decimal(v) for v in ("100", "101", "99", "100.5", "50")))
NOW = datetime(2025, 10, 1, tzinfo=UTC)


def test_the_subscription_is_signed_over_its_parameters_sorted_by_name() -> None:
    request = ws_api_subscription("k" * 64, "secret", 1_700_000_000_000)
    assert request["method"] == "userDataStream.subscribe.signature"
    assert list(request["params"]) == ["apiKey", "timestamp", "signature"]
    # HMAC-SHA256("apiKey=kkk...&timestamp=1700000000000", "secret"), computed with openssl:
    # printf 'apiKey=%s&timestamp=1700000000000' "$(printf 'k%.0s' $(seq 64))" |
    #   openssl dgst -sha256 -hmac secret
    expected = (
        "28901149dfce053de235368d35c4ddf6"  # pragma: allowlist secret
        "018b65633cf34db2319d99fcc4ab2c79"  # pragma: allowlist secret
    )
    assert request["params"]["signature"] == expected


async def _session(secret: str) -> list[object]:
    exchange = PaperExchange({"BTC/USDT": [BAR]})
    server = PaperServer(exchange, bar_interval_ms=0, api_key=API_KEY, api_secret=API_SECRET)
    await server.start()
    ws_url = server.url.replace("http", "ws", 1) + "/ws-api/v3"
    venue = BinanceVenue(server.url, api_key=API_KEY, api_secret=secret, ws_api_url=ws_url)
    try:
        stream = await venue.open_user_stream()
        intent = OrderIntent.for_signal(
            strategy="ws",
            symbol="BTC/USDT",
            signal_time=NOW,
            seq=0,
            side=Side.BUY,
            order_type=OrderType.MARKET,
            quantity=Decimal("0.1"),
            created_at=NOW,
        )
        await venue.place(intent, int(datetime.now(UTC).timestamp() * 1000))
        events: list[object] = []

        async def collect() -> None:
            async for batch in stream:
                events.extend(record.event for record in batch)
                if any(isinstance(e, Filled) for e in events):
                    return

        await asyncio.wait_for(collect(), 10)
        await stream.close()
        return events
    finally:
        await venue.close()
        await server.stop()


def test_orders_execution_reports_arrive_on_the_websocket_api_subscription() -> None:
    events = asyncio.run(_session(API_SECRET))
    accepted, filled = events
    assert isinstance(accepted, Accepted)
    assert isinstance(filled, Filled)
    assert (filled.quantity, filled.price) == (Decimal("0.1"), Decimal("100.5"))
    assert filled.fee == Decimal("0.01005")  # 0.1 % of 10.05 USDT


def test_a_bad_signature_is_refused_naming_binances_code() -> None:
    with pytest.raises(VenueError) as refused:
        asyncio.run(_session("wrong" + API_SECRET[5:]))
    failure = refused.value.failure
    assert isinstance(failure, VenueRejected)
    assert failure.reason.startswith("-1022: Signature for this request is not valid.")
