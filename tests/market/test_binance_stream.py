"""The live Binance feed against the local venue: real bars, faults, gaps, skew, backoff."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.market.venue import GARBAGE, Faults, LocalVenue, collect, collect_for, tape
from trading.contracts import MarketBar, Timeframe
from trading.execution.retry import Backoff, Network
from trading.market.binance import NEVER, BinanceFeed, FeedUnavailableError
from trading.market.feed import BarFeed
from trading.market.frames import BarColumns, read_bars

M1 = Timeframe.M1


@pytest.fixture(scope="module")
def btc(btc_1m: BarColumns) -> list[MarketBar]:
    return tape(btc_1m, "BTC/USDT", M1, slice(1000, 1150))


@pytest.fixture(scope="module")
def eth(shared_data: Path) -> list[MarketBar]:
    path = shared_data / "binance_spot_1m_2026-03" / "ETH_USDT-1m.parquet"
    return tape(read_bars(path, M1).columns(), "ETH/USDT", M1, slice(1000, 1150))


def live_feed(
    venue: LocalVenue, symbols: tuple[str, ...] = ("BTC/USDT",), **options: Any
) -> BinanceFeed:
    settings: dict[str, Any] = {
        "backoff": Backoff(base_delay_ms=5, max_delay_ms=50, max_attempts=NEVER, seed=7),
        "stale_after_s": 0.5,
        "skew_check_s": 0.02,
        "clock": venue.clock,
    }
    settings.update(options)
    return BinanceFeed(
        [(symbol, M1) for symbol in symbols],
        ws_url=venue.ws_url,
        rest_url=venue.rest_url,
        **settings,
    )


def closed(updates: list[MarketBar], symbol: str = "BTC/USDT") -> list[MarketBar]:
    return [bar for bar in updates if bar.closed and bar.symbol == symbol]


def open_times(bars: list[MarketBar]) -> list[Any]:
    return [bar.open_time for bar in bars]


async def run(
    bars: list[MarketBar], faults: Faults | None = None, tick_s: float = 0.002, **options: Any
) -> tuple[list[MarketBar], BinanceFeed, LocalVenue]:
    venue = LocalVenue([bars], faults=faults, tick_s=tick_s)
    async with venue, live_feed(venue, **options) as feed:
        updates = await collect(feed, bars[-1].open_time)
    return updates, feed, venue


def test_feed_is_a_bar_feed() -> None:
    assert isinstance(BinanceFeed([("BTC/USDT", M1)]), BarFeed)


def test_stream_yields_the_real_bars_exactly(btc: list[MarketBar]) -> None:
    updates, feed, _ = asyncio.run(run(btc))
    bars = closed(updates)
    assert bars == btc
    for got, source in zip(bars, btc, strict=True):
        assert (got.open, got.high, got.low, got.close, got.volume) == (
            source.open,
            source.high,
            source.low,
            source.close,
            source.volume,
        )
        assert isinstance(got.close, Decimal)
    in_progress = [bar for bar in updates if not bar.closed]
    assert len(in_progress) == 2 * len(btc)
    assert feed.health.disconnects == 0
    assert feed.health.duplicates == 0
    assert not feed.health.rejected


def test_in_progress_updates_precede_their_closed_bar(btc: list[MarketBar]) -> None:
    updates, _, _ = asyncio.run(run(btc[:20]))
    keys = [(bar.open_time, bar.closed) for bar in updates]
    assert keys == [(bar.open_time, done) for bar in btc[:20] for done in (False, False, True)]


def test_two_symbols_each_stream_exactly(btc: list[MarketBar], eth: list[MarketBar]) -> None:
    async def scenario() -> list[MarketBar]:
        venue = LocalVenue([btc[:60], eth[:60]])
        async with venue, live_feed(venue, ("BTC/USDT", "ETH/USDT")) as feed:
            return await collect(feed, btc[59].open_time, symbols=2)

    updates = asyncio.run(scenario())
    assert closed(updates, "BTC/USDT") == btc[:60]
    assert closed(updates, "ETH/USDT") == eth[:60]


def test_garbage_is_counted_per_reason_and_skipped(btc: list[MarketBar]) -> None:
    updates, feed, venue = asyncio.run(run(btc[:60], Faults(garbage_every=7)))
    assert closed(updates) == btc[:60]
    assert venue.garbage_sent >= len(GARBAGE)
    sent = Counter(GARBAGE[i % len(GARBAGE)][1] for i in range(venue.garbage_sent))
    assert feed.health.rejected == sent
    assert len([bar for bar in updates if not bar.closed]) == 2 * 60


def test_dropped_connection_reconnects_without_missing_or_duplicate_bars(
    btc: list[MarketBar],
) -> None:
    updates, feed, venue = asyncio.run(run(btc, Faults(drop_after=50, drops=3)))
    assert open_times(closed(updates)) == open_times(btc)
    assert closed(updates) == btc
    assert venue.connections_opened == 4
    assert feed.health.disconnects == 3
    assert feed.health.backfilled_bars > 0


def test_replayed_messages_are_dropped_as_duplicates(btc: list[MarketBar]) -> None:
    updates, feed, _ = asyncio.run(run(btc[:80], Faults(replay_every=4, replay_count=3)))
    assert closed(updates) == btc[:80]
    assert feed.health.duplicates >= 3 * (80 // 4 - 1)


def test_outage_of_sixty_bars_is_backfilled_in_order(btc: list[MarketBar]) -> None:
    """A one-hour outage of a 1m feed: 60 bars missed on the socket, replayed from REST."""
    updates, feed, venue = asyncio.run(run(btc, Faults(outage=(40, 60))))
    assert open_times(closed(updates)) == open_times(btc)
    assert closed(updates) == btc
    assert venue.refused_connections >= 1
    assert feed.health.backfilled_bars >= 60
    assert feed.health.unfilled_bars == 0


def test_stalled_stream_is_detected_and_replaced(btc: list[MarketBar]) -> None:
    updates, feed, venue = asyncio.run(run(btc, Faults(stall_after=30), stale_after_s=0.15))
    assert closed(updates) == btc
    assert feed.health.stale_disconnects == 1
    assert venue.connections_opened == 2
    assert feed.health.backfilled_bars > 0


# The venue's clock jumps one update (20 s of data time) per tick: slower ticks and more samples
# keep a skew sample from straddling a jump, so the measured skew is exact.
PRECISE_SKEW: dict[str, Any] = {"skew_samples": 5, "skew_check_s": 0.1}


@pytest.mark.parametrize("skew_ms", [300, -300, 251])
def test_bars_are_refused_while_venue_clock_is_skewed_beyond_limit(
    btc: list[MarketBar], skew_ms: int
) -> None:
    async def scenario() -> tuple[list[MarketBar], BinanceFeed]:
        venue = LocalVenue([btc[:60]], faults=Faults(skew_ms=skew_ms), tick_s=0.01)
        async with venue, live_feed(venue, **PRECISE_SKEW) as feed:
            return await collect_for(feed, 0.5), feed

    updates, feed = asyncio.run(scenario())
    assert updates == []
    assert feed.health.skew_exceeded
    assert feed.health.skew.skew_ms == skew_ms
    assert feed.health.refused_for_skew > 0


@pytest.mark.parametrize("skew_ms", [200, -200, 250])
def test_bars_are_accepted_while_skew_is_within_limit(btc: list[MarketBar], skew_ms: int) -> None:
    updates, feed, _ = asyncio.run(
        run(btc[:20], Faults(skew_ms=skew_ms), tick_s=0.01, **PRECISE_SKEW)
    )
    assert closed(updates) == btc[:20]
    assert not feed.health.skew_exceeded
    assert feed.health.skew.skew_ms == skew_ms
    assert feed.health.refused_for_skew == 0


def test_bars_refused_under_skew_are_backfilled_once_the_clock_recovers(
    btc: list[MarketBar],
) -> None:
    faults = Faults(skew_at_bar={30: 400, 60: 0})
    updates, feed, _ = asyncio.run(run(btc[:100], faults))
    assert closed(updates) == btc[:100]
    assert feed.health.refused_for_skew > 0
    assert feed.health.backfilled_bars >= 29


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_venue_backs_off_with_seeded_full_jitter() -> None:
    port = _free_port()
    feed = BinanceFeed(
        [("BTC/USDT", M1)],
        ws_url=f"ws://127.0.0.1:{port}",
        rest_url=f"http://127.0.0.1:{port}",
        backoff=Backoff(base_delay_ms=2, max_delay_ms=10, max_attempts=NEVER, seed=42),
        max_attempts=5,
    )

    async def scenario() -> None:
        async with feed:
            await collect(feed, datetime(2030, 1, 1, tzinfo=UTC))

    with pytest.raises(FeedUnavailableError, match="after 5 reconnect attempts"):
        asyncio.run(scenario())
    reference = Backoff(base_delay_ms=2, max_delay_ms=10, max_attempts=NEVER, seed=42)
    expected_ms = [reference.next_delay_ms(Network(), n) for n in range(1, 6)]
    assert list(feed.health.backoff_delays_s) == [ms / 1000 for ms in expected_ms if ms is not None]
    for attempt, delay_s in enumerate(feed.health.backoff_delays_s):
        assert 0 <= delay_s <= min(0.01, 0.002 * 2**attempt)
    assert feed.health.disconnects == 6
