"""Live bars: the buffer keeps closed bars once, in order, and the stepper polls it as it fills."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from trading.contracts import MarketBar, Timeframe
from trading.execution.desk import SymbolStepper
from trading.market.binance import WS_URL, FeedHealth
from trading.market.feed import BarFeed
from trading.market.frames import BarColumns
from trading.market.live import FeedReport, FeedUrlError, LiveBars, VenueFeed, next_close
from trading.market.replay import column_bars
from trading.signals.analysis import SymbolAnalysis

M5, M15 = Timeframe.M5, Timeframe.M15


@pytest.fixture(scope="module")
def btc(btc_5m: BarColumns) -> list[MarketBar]:
    return list(column_bars(btc_5m.take(slice(0, 120)), "BTC/USDT", M5))


def in_progress(bar: MarketBar) -> MarketBar:
    return bar.model_copy(update={"closed": False, "close": bar.open, "high": bar.high})


def test_only_new_closed_bars_of_the_series_are_kept(btc: list[MarketBar]) -> None:
    bars = LiveBars("BTC/USDT", M5)
    assert not bars.put(in_progress(btc[0]))
    assert bars.put(btc[0])
    assert bars.put(btc[1])
    assert not bars.put(btc[1])  # duplicate
    assert not bars.put(btc[0])  # older
    assert not bars.put(btc[2].model_copy(update={"symbol": "ETH/USDT"}))
    assert list(bars) == btc[:2]
    assert (bars.received, bars.in_progress, bars.dropped) == (2, 1, 3)
    assert bars.last_close == btc[1].close_time


def test_stepper_over_bars_arriving_late_equals_stepper_over_the_file(
    btc: list[MarketBar], btc_5m: BarColumns
) -> None:
    """Bars trickle in, every 4th step's last bar only after its step: the stepper polls its
    source again on each advance and consumes exactly the file's bars, with the same signals."""
    start = btc[0].open_time
    file = SymbolStepper(
        SymbolAnalysis("BTC/USDT", M5), column_bars(btc_5m.take(slice(0, 120)), "BTC/USDT", M5), M15
    )
    live_bars = LiveBars("BTC/USDT", M5)
    live = SymbolStepper(SymbolAnalysis("BTC/USDT", M5), live_bars, M15)
    assert live.exhausted
    assert live.next_close is None
    arrived = 0

    def arrive(until: datetime) -> None:
        nonlocal arrived
        while arrived < len(btc) and btc[arrived].close_time <= until:
            live_bars.put(btc[arrived])
            arrived += 1

    for k in range(1, 41):
        until = start + k * M15.duration
        expected = file.advance(until)
        if k % 4:
            arrive(until)
            assert live.advance(until) == expected
            continue
        arrive(until - M5.duration)
        early = live.advance(until)
        arrive(until)
        late = live.advance(until)
        assert early.bars + late.bars == expected.bars
        assert early.step_bar is None
        assert early.signal is None
        assert (late.step_bar, late.signal, late.atr) == (
            expected.step_bar,
            expected.signal,
            expected.atr,
        )
    assert live.exhausted
    assert file.exhausted


class _FakeFeed:
    """A ``BarFeed`` that streams scripted updates and backfills from a list."""

    def __init__(self, updates: list[MarketBar], history: list[MarketBar]) -> None:
        self.updates, self.history = updates, history
        self.backfills: list[tuple[datetime, datetime]] = []

    async def stream(self) -> AsyncIterator[MarketBar]:
        for update in self.updates:
            yield update

    async def backfill(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[MarketBar]:
        self.backfills.append((start, end))
        return [bar for bar in self.history if start <= bar.open_time < end]


def test_run_warms_up_before_the_first_streamed_bar_and_ignores_in_progress(
    btc: list[MarketBar],
) -> None:
    stream = [u for bar in btc[50:60] for u in (in_progress(bar), bar)]
    feed = _FakeFeed(stream, btc)
    assert isinstance(feed, BarFeed)
    bars = LiveBars("BTC/USDT", M5, warmup_bars=20)
    asyncio.run(bars.run(feed))
    assert list(bars) == btc[30:60]
    assert feed.backfills == [(btc[30].open_time, btc[50].open_time)]
    assert (bars.warmed_up, bars.in_progress, bars.error) == (20, 10, None)


def test_a_failing_feed_is_reported_not_raised(btc: list[MarketBar]) -> None:
    class Broken(_FakeFeed):
        async def stream(self) -> AsyncIterator[MarketBar]:
            yield btc[0]
            raise RuntimeError("socket on fire")

    bars = LiveBars("BTC/USDT", M5)
    asyncio.run(bars.run(Broken([], [])))
    assert list(bars) == [btc[0]]
    assert bars.error == "RuntimeError: socket on fire"
    report = FeedReport.of(bars, FeedHealth())
    assert report.stopped == bars.error
    assert report.received_bars == 1


def test_venue_feed_derives_the_stream_url_and_rejects_bad_urls() -> None:
    assert VenueFeed().stream_url == WS_URL
    assert VenueFeed("http://127.0.0.1:8123").stream_url == "ws://127.0.0.1:8123"
    assert VenueFeed("https://testnet.binance.vision").stream_url == "wss://testnet.binance.vision"
    assert VenueFeed("http://h:1", "ws://other:2").stream_url == "ws://other:2"
    with pytest.raises(FeedUrlError, match=re.escape("rest_url='127.0.0.1:80'")):
        VenueFeed("127.0.0.1:80")
    with pytest.raises(FeedUrlError, match="ws_url='http://h:2'"):
        VenueFeed("http://h:1", "http://h:2")
    feed = VenueFeed("http://127.0.0.1:8123", max_skew_ms=math.inf).open("BTC/USDT", M5)
    assert feed.stream_url == "ws://127.0.0.1:8123/stream?streams=btcusdt@kline_5m"
    assert not feed.health.skew_exceeded


def test_next_close_is_strictly_after_now() -> None:
    at = datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
    assert next_close(at, M15) == at + M15.duration
    assert next_close(at + timedelta(seconds=1), M15) == at + M15.duration
