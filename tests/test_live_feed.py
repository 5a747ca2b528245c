"""A SymbolActor in live mode against the local Binance-style venue: every closed bar reaches
the analysis once, in order, at the step it closed by, across a dropped connection."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import ray

from actors.symbol import SymbolActor, SymbolProgress
from tests.market.venue import Faults, LocalVenue, tape
from trading.config import SignalSettings
from trading.contracts import MarketBar, Timeframe
from trading.market.frames import read_bars
from trading.market.live import VenueFeed

pytestmark = pytest.mark.ray

M5, M15, H1 = Timeframe.M5, Timeframe.M15, Timeframe.H1
WARMUP_BARS = 24
DEADLINE_S = 20.0


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> list[MarketBar]:
    """Eight hours of real 5m bars starting on a 15m close."""
    columns = read_bars(shared_data / "binance_spot_2024_2026" / "BTC_USDT-5m.parquet", M5)
    bars = tape(columns.columns(), "BTC/USDT", M5, slice(3000, 3200))
    first = next(i for i, bar in enumerate(bars) if M15.is_aligned(bar.open_time))
    return bars[first : first + 96]


class VenueThread:
    """``LocalVenue`` on its own event loop in a thread, so the test can block on Ray."""

    def __init__(self, bars: list[MarketBar], **options: Any) -> None:
        self._bars, self._options = bars, options
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self.venue: LocalVenue

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with LocalVenue([self._bars], **self._options) as venue:
            self.venue = venue
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> LocalVenue:
        self._thread.start()
        assert self._ready.wait(10), "local venue did not start"
        return self.venue

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def live_actor(ray_session: Any) -> Iterator[list[Any]]:
    """Actors the test started; killed afterwards so their feeds stop."""
    actors: list[Any] = []
    yield actors
    for actor in actors:
        ray.kill(actor)


def wait_for_close(actor: Any, until: datetime, deadline: float) -> SymbolProgress:
    """Block until the actor's feed has received the bar closing at ``until``."""
    while True:
        progress: SymbolProgress = ray.get(actor.progress.remote(), timeout=10)
        assert progress.feed is not None
        last_close = progress.feed.last_close
        if last_close is not None and datetime.fromisoformat(last_close) >= until:
            return progress
        assert progress.feed.stopped is None, progress.feed.stopped
        assert time.monotonic() < deadline, f"no bar closing at {until}: {progress.feed}"
        time.sleep(0.02)


def test_live_symbol_actor_consumes_every_venue_bar_once_across_a_dropped_connection(
    btc: list[MarketBar], live_actor: list[Any]
) -> None:
    deadline = time.monotonic() + DEADLINE_S
    # the stream starts at bar 24 (earlier bars come from the warm-up backfill) and the first
    # connection is dropped after 60 messages (20 bars: 3 updates each), mid-stream
    faults = Faults(drop_after=60, drops=1)
    with VenueThread(btc, live_from=WARMUP_BARS, tick_s=0.01, faults=faults) as venue:
        feed = VenueFeed(venue.rest_url, max_skew_ms=math.inf, warmup_bars=WARMUP_BARS)
        actor = SymbolActor.remote(  # type: ignore[attr-defined]
            "BTC/USDT", M5, (M15, H1), feed, SignalSettings()
        )
        live_actor.append(actor)
        consumed: list[MarketBar] = []
        previous = btc[0].open_time
        step_times = [previous + k * M15.duration for k in range(1, len(btc) // 3 + 1)]
        for until in step_times:
            wait_for_close(actor, until, deadline)
            step = ray.get(actor.advance.remote(until), timeout=10)
            assert [bar.close_time for bar in step.bars] == [
                until - timedelta(minutes=m) for m in (10, 5, 0)
            ]
            assert step.step_bar is not None
            assert step.step_bar.open_time == until - M15.duration
            assert step.last_close == step.bars[-1].close
            consumed.extend(step.bars)
            previous = until
        progress: SymbolProgress = ray.get(actor.progress.remote(), timeout=10)
        connections = venue.connections_opened
    assert consumed == btc
    assert len({bar.open_time for bar in consumed}) == len(btc)
    for got, source in zip(consumed, btc, strict=True):
        values = (got.open, got.high, got.low, got.close, got.volume)
        assert values == (source.open, source.high, source.low, source.close, source.volume)
        assert all(isinstance(value, Decimal) for value in values)
        assert got.closed
    report = progress.feed
    assert report is not None
    assert report.warmup_bars == WARMUP_BARS
    assert report.received_bars == len(btc)
    assert report.pending_bars == 0
    assert report.in_progress_updates > 0
    assert report.disconnects >= 1
    assert report.connects >= 2
    assert connections >= 2
    assert report.backfilled_bars > 0
    assert report.unfilled_bars == 0
    assert report.rejected == 0
    assert report.stopped is None
    assert progress.base_bars == len(btc)
    assert progress.closed_bars == {"15m": len(btc) // 3, "1h": len(btc) // 12}
    assert ray.get(actor.advance.remote(step_times[-1] + H1.duration), timeout=10).bars == ()
