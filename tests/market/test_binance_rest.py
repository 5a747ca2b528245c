"""REST klines and server time against the local venue."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest

from tests.market.venue import Faults, LocalVenue, tape
from trading.contracts import MarketBar, Timeframe
from trading.market.binance import BinanceFeed, BinanceRest, VenueError
from trading.market.frames import BarColumns

M1 = Timeframe.M1


@pytest.fixture(scope="module")
def history(btc_1m: BarColumns) -> list[MarketBar]:
    return tape(btc_1m, "BTC/USDT", M1, slice(0, 2600))


def test_backfill_pages_through_history_exactly(history: list[MarketBar]) -> None:
    async def scenario() -> list[MarketBar]:
        venue = LocalVenue([history], live_from=2500)
        async with venue, BinanceFeed([("BTC/USDT", M1)], rest_url=venue.rest_url) as feed:
            return await feed.backfill(
                "BTC/USDT", M1, history[0].open_time, history[2500].open_time
            )

    assert asyncio.run(scenario()) == history[:2500]


def test_backfill_pagination_with_small_pages(history: list[MarketBar]) -> None:
    async def scenario() -> list[MarketBar]:
        venue = LocalVenue([history], live_from=100)
        async with venue:
            feed = BinanceFeed([("BTC/USDT", M1)], rest_url=venue.rest_url, page_limit=7)
            async with feed:
                return await feed.backfill(
                    "BTC/USDT", M1, history[3].open_time, history[53].open_time
                )

    assert asyncio.run(scenario()) == history[3:53]


def test_backfill_leaves_out_the_bar_still_in_progress(history: list[MarketBar]) -> None:
    async def scenario() -> list[MarketBar]:
        venue = LocalVenue([history], live_from=100)
        venue.now_ms += 30_000  # half way through bar 100
        async with venue, BinanceFeed([("BTC/USDT", M1)], rest_url=venue.rest_url) as feed:
            end = history[100].open_time + timedelta(hours=1)
            return await feed.backfill("BTC/USDT", M1, history[90].open_time, end)

    assert asyncio.run(scenario()) == history[90:100]


def test_server_time_is_the_venue_clock_with_its_skew(history: list[MarketBar]) -> None:
    async def scenario() -> tuple[int, int]:
        venue = LocalVenue([history[:10]], faults=Faults(skew_ms=-1234))
        async with venue, aiohttp.ClientSession() as session:
            return await BinanceRest(session, venue.rest_url).server_time_ms(), venue.clock()

    server_ms, true_ms = asyncio.run(scenario())
    assert server_ms == true_ms - 1234


def test_venue_error_carries_binance_code_and_message(history: list[MarketBar]) -> None:
    async def scenario() -> None:
        venue = LocalVenue([history[:10]])
        async with venue, aiohttp.ClientSession() as session:
            await BinanceRest(session, venue.rest_url).klines("DOGE/USDT", M1, 0, 10**12)

    with pytest.raises(VenueError, match=r"HTTP 400.*-1121.*Invalid symbol") as caught:
        asyncio.run(scenario())
    assert caught.value.status == 400


def test_page_limit_beyond_binance_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="page_limit"):
        BinanceFeed([("BTC/USDT", M1)], page_limit=1001)
