"""Opt-in smoke test against Binance's real spot testnet: one tiny limit order far from the
market placed, seen on the WebSocket API user-data subscription, canceled and found canceled
by query. Runs only with ``RAYTRADER_TESTNET_API_KEY``/``RAYTRADER_TESTNET_API_SECRET`` set and
the testnet answering; otherwise it skips and says why."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

import pytest

from trading.config import VenueKind, VenueSettings
from trading.contracts import OrderIntent, OrderStatus, OrderType, Side
from trading.execution.binance import BinanceVenue
from trading.execution.gateway import Accepted, Canceled
from trading.execution.retry import VenueError
from trading.execution.venue_kinds import build_venue, venue_endpoints

KEY_ENV = "RAYTRADER_TESTNET_API_KEY"
SECRET_ENV = "RAYTRADER_TESTNET_API_SECRET"  # noqa: S105  # pragma: allowlist secret

pytestmark = pytest.mark.skipif(
    not (os.environ.get(KEY_ENV) and os.environ.get(SECRET_ENV)),
    reason=f"set {KEY_ENV} and {SECRET_ENV} to run against Binance's spot testnet",
)

SETTINGS = VenueSettings(
    kind=VenueKind.BINANCE_SPOT, testnet=True, api_key_env=KEY_ENV, api_secret_env=SECRET_ENV
)


def last_price(symbol: str) -> Decimal:
    url = f"{venue_endpoints(SETTINGS).rest_url}/api/v3/ticker/price?symbol={symbol}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - https only
            return Decimal(json.loads(response.read())["price"])
    except OSError as error:
        pytest.skip(f"the spot testnet did not answer: {error}")


def test_a_tiny_order_is_placed_seen_on_the_user_stream_and_canceled() -> None:
    price = last_price("BTCUSDT")

    async def body() -> None:
        venue = build_venue(SETTINGS)
        assert isinstance(venue, BinanceVenue)
        try:
            spec = (await venue.instruments())["BTC/USDT"]
            limit = spec.round_price_down(price / 2)
            quantity = (spec.min_notional * Decimal("1.2") / limit / spec.lot_size).to_integral(
                ROUND_CEILING
            ) * spec.lot_size
            now = datetime.now(UTC)
            intent = OrderIntent.for_signal(
                strategy="testnet-smoke",
                symbol="BTC/USDT",
                signal_time=now,
                seq=0,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                quantity=quantity,
                limit_price=limit,
                created_at=now,
            )
            stream = await venue.open_user_stream()
            await venue.place(intent, int(now.timestamp() * 1000))
            await venue.cancel("BTC/USDT", intent.client_order_id)
            seen: list[object] = []

            async def collect() -> None:
                async for batch in stream:
                    mine = [r.event for r in batch if r.client_order_id == intent.client_order_id]
                    seen.extend(mine)
                    if any(isinstance(e, Canceled) for e in seen):
                        return

            await asyncio.wait_for(collect(), 30)
            await stream.close()
            assert isinstance(seen[0], Accepted)
            report = await venue.query("BTC/USDT", intent.client_order_id)
            assert report.status is OrderStatus.CANCELED
        except VenueError as error:
            pytest.skip(f"the spot testnet refused or did not answer: {error}")
        finally:
            await venue.close()

    asyncio.run(body())
