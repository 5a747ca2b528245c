"""Instruments from the venue: Binance ``exchangeInfo`` and ccxt ``load_markets`` read into
tick, step, minimum quantity and notional; cached, refreshed when old, and an unlisted symbol
refused by name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from trading.config import VenueKind, VenueSettings
from trading.execution.binance import BinanceVenue
from trading.execution.ccxt_venue import CcxtVenue
from trading.execution.paper import PaperBar, PaperExchange
from trading.execution.paper.futures import PaperFuturesExchange
from trading.execution.paper.server import PaperServer
from trading.execution.rules import gateway_rules
from trading.execution.venue_kinds import (
    LiveTradingRefusedError,
    VenueEndpoints,
    check_live,
    venue_endpoints,
)
from trading.market.instruments import (
    BINANCE_SPOT,
    BINANCE_USDM,
    InstrumentCache,
    InstrumentSpec,
    UnlistedSymbolError,
    specs_from_exchange_info,
)

# An excerpt of Binance's documented GET /api/v3/exchangeInfo answer (spot API docs,
# "Exchange information"), one symbol trading and one halted.
BINANCE_EXCERPT: dict[str, Any] = {
    "timezone": "UTC",
    "symbols": [
        {
            "symbol": "ETHBTC",
            "status": "TRADING",
            "baseAsset": "ETH",
            "quoteAsset": "BTC",
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.00001000",
                    "maxPrice": "922327.00000000",
                    "tickSize": "0.00001000",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": "0.00010000",
                    "maxQty": "100000.00000000",
                    "stepSize": "0.00010000",
                },
                {"filterType": "NOTIONAL", "minNotional": "0.00010000", "applyMinToMarket": True},
            ],
        },
        {"symbol": "LUNABTC", "status": "BREAK", "baseAsset": "LUNA", "quoteAsset": "BTC"},
    ],
}


def test_exchange_info_filters_become_specs_and_halted_symbols_are_left_out() -> None:
    specs = specs_from_exchange_info(BINANCE_EXCERPT)
    assert specs == {
        "ETH/BTC": InstrumentSpec(
            "ETH/BTC", Decimal("0.00001"), Decimal("0.0001"), Decimal("0.0001"), Decimal("0.0001")
        )
    }


BAR = PaperBar(1_700_000_000_000, *(Decimal(v) for v in ("100", "101", "99", "100", "50")))


@asynccontextmanager
async def paper_server() -> AsyncIterator[PaperServer]:
    spot = PaperExchange({"BTC/USDT": [BAR], "XRP/USDT": [BAR]})
    futures = PaperFuturesExchange({"BTC/USDT:USDT": [BAR]})
    server = PaperServer(spot, bar_interval_ms=0, futures=futures)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def test_binance_venue_reads_the_paper_exchange_filters_as_the_snapshot_has_them() -> None:
    async def body() -> dict[str, InstrumentSpec]:
        async with paper_server() as server:
            venue = BinanceVenue(server.url)
            try:
                return await venue.instruments()
            finally:
                await venue.close()

    specs = asyncio.run(body())
    assert specs == {s: BINANCE_SPOT[s] for s in ("BTC/USDT", "XRP/USDT")}


def test_ccxt_load_markets_gives_the_same_specs_for_spot_and_usdm() -> None:
    async def body() -> tuple[Mapping[str, InstrumentSpec], Mapping[str, InstrumentSpec]]:
        async with paper_server() as server:
            spot = CcxtVenue("spot", rest_url=server.url)
            usdm = CcxtVenue("futures", rest_url=server.url)
            try:
                return await spot.instruments(), await usdm.instruments()
            finally:
                await spot.close()
                await usdm.close()

    spot, usdm = asyncio.run(body())
    assert spot == {s: BINANCE_SPOT[s] for s in ("BTC/USDT", "XRP/USDT")}
    perpetual = BINANCE_USDM["BTC/USDT:USDT"]  # under the name the session's intents use
    assert usdm == {"BTC/USDT": replace(perpetual, symbol="BTC/USDT")}
    assert gateway_rules(usdm["BTC/USDT"]).tick_size == Decimal("0.1")


def test_instruments_are_cached_then_refreshed_once_old_and_unlisted_symbols_named() -> None:
    now = [0.0]
    tables = [{"BTC/USDT": BINANCE_SPOT["BTC/USDT"]}, dict(BINANCE_SPOT)]

    async def load() -> Mapping[str, InstrumentSpec]:
        return tables[min(cache.loads, 1)]

    cache = InstrumentCache(load, "binance_spot", max_age_s=60, clock=lambda: now[0])

    async def body() -> None:
        assert list(await cache.require(["BTC/USDT"])) == ["BTC/USDT"]
        with pytest.raises(UnlistedSymbolError, match=r"binance_spot does not list ETH/USDT, D/X"):
            await cache.require(["BTC/USDT", "ETH/USDT", "D/X"])
        now[0] = 59.0
        await cache.specs()
        assert cache.loads == 1
        now[0] = 60.0
        assert "ETH/USDT" in await cache.require(["ETH/USDT"])
        assert cache.loads == 2

    asyncio.run(body())


def test_testnet_endpoints_by_default_configured_ones_win_and_production_needs_live() -> None:
    spot = VenueSettings(kind=VenueKind.BINANCE_SPOT)
    assert venue_endpoints(spot).rest_url == "https://testnet.binance.vision"
    assert venue_endpoints(spot).stream_url == "wss://stream.testnet.binance.vision"
    usdm = VenueSettings(kind=VenueKind.BINANCE_USDM, testnet=False)
    assert venue_endpoints(usdm).rest_url == "https://fapi.binance.com"
    local = VenueSettings(kind=VenueKind.BINANCE_SPOT, rest_url="http://127.0.0.1:9")
    assert venue_endpoints(local) == VenueEndpoints(
        "http://127.0.0.1:9", "ws://127.0.0.1:9/ws-api/v3", "ws://127.0.0.1:9"
    )
    check_live(spot, live=False)
    check_live(usdm, live=True)
    with pytest.raises(LiveTradingRefusedError, match="binance_usdm with testnet: false"):
        check_live(usdm, live=False)


def test_an_unknown_ccxt_exchange_is_named_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"'binanse' is not a ccxt exchange; valid: .*binance,"):
        VenueSettings(kind=VenueKind.CCXT, exchange="binanse")
    assert VenueSettings(kind=VenueKind.CCXT, exchange="kraken").exchange == "kraken"
