"""A SymbolActor in live mode against the local Binance-style venue: every closed bar reaches
the analysis once, in order, at the step it closed by, across a dropped connection."""

from __future__ import annotations

import asyncio
import json
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

from actors.session import SessionOptions, start_actors, stop_actors
from actors.symbol import SymbolActor
from tests.market.venue import Faults, LocalVenue, tape
from trading.config import SignalSettings, load_settings
from trading.contracts import MarketBar, Timeframe
from trading.market.frames import read_bars
from trading.market.live import VenueFeed
from trading.report.progress import SymbolProgress

pytestmark = pytest.mark.ray

M5, M15, H1 = Timeframe.M5, Timeframe.M15, Timeframe.H1
WARMUP_BARS = 24
DEADLINE_S = 20.0


def real_bars(shared_data: Path, row: int, count: int) -> list[MarketBar]:
    """``count`` real BTC 5m bars from about ``row`` on, starting on a 15m close."""
    columns = read_bars(shared_data / "binance_spot_2024_2026" / "BTC_USDT-5m.parquet", M5)
    bars = tape(columns.columns(), "BTC/USDT", M5, slice(row, row + count + 3))
    first = next(i for i, bar in enumerate(bars) if M15.is_aligned(bar.open_time))
    return bars[first : first + count]


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> list[MarketBar]:
    """Eight hours of real 5m bars."""
    return real_bars(shared_data, 3000, 96)


@pytest.fixture(scope="module")
def btc_day(shared_data: Path) -> list[MarketBar]:
    """A day of real 5m bars whose last eight hours bring an entry signal."""
    return real_bars(shared_data, 6000, 288)


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


def test_live_session_sends_approved_orders_to_the_paper_venue_filled_at_the_live_close(
    btc_day: list[MarketBar], ray_session: Any, tmp_path: Path
) -> None:
    """A session on a live feed starts the paper venue with no data files and the execution
    actor; each step hands the venue the bars it consumed, so an approved entry is sent once
    and fills at the close of the step's last bar, the bar the paper exchange saw."""
    deadline = time.monotonic() + 3 * DEADLINE_S  # starts every actor of a session first
    settings = load_settings().model_copy(update={"symbols": ("BTC/USDT",)})
    warmup_bars = len(btc_day) - 96  # from REST; the last 8 hours stream
    with VenueThread(btc_day, live_from=warmup_bars, tick_s=0.002) as venue:
        feed = VenueFeed(venue.rest_url, max_skew_ms=math.inf, warmup_bars=warmup_bars)
        options = SessionOptions(settings=settings, data_dir=tmp_path, feed=feed)
        handles, orchestrator = start_actors(options)
        try:
            assert handles.paper is not None
            [actor] = handles.symbols.values()
            ray.get(actor.ping.remote(), timeout=3 * DEADLINE_S)  # its worker may start slowly
            last = btc_day[-1].close_time
            step_times = [last - k * M15.duration for k in range(31, -1, -1)]
            wait_for_close(actor, last, deadline)
            for until in step_times:  # the first step takes the warm-up too
                ray.get(orchestrator.step.remote(until), timeout=30)
            progress = ray.get(orchestrator.progress.remote(), timeout=10)
            paper = ray.get(handles.paper.stats.remote(), timeout=10)
            positions = ray.get(handles.execution.positions.remote(), timeout=10)
            ray.get(handles.journal.anchor.remote(), timeout=10)
            journal = ray.get(handles.journal.verify.remote(), timeout=10)
        finally:
            stop_actors(handles, orchestrator)
    assert progress.steps == 32
    assert progress.base_bars == len(btc_day)
    assert progress.signals == 32
    approved = progress.decisions["APPROVED"] + progress.decisions["RESIZED"]
    assert approved >= 1, progress.decisions
    assert progress.orders >= approved
    assert progress.fills >= 1
    assert journal.ok
    assert paper["bars_held"] == {"BTCUSDT": len(btc_day)}
    assert paper["bar_index"] == {"BTCUSDT": len(btc_day) - 1}
    assert paper["duplicate_attempts"] == 0
    assert paper["accepted"] == progress.orders
    records = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    fills = [
        (datetime.fromisoformat(r["ts"]), r["payload"]) for r in records if r["kind"] == "fill"
    ]
    assert len(fills) == progress.fills
    close_at = {bar.close_time: bar.close for bar in btc_day}
    net = Decimal(0)
    for step_time, fill in fills:  # a step's fills are journaled at the step's time
        assert step_time in step_times
        assert Decimal(fill["price"]) == close_at[step_time], "the step's last bar close"
        assert fill["client_order_id"] in paper["orders"]
        net += Decimal(fill["quantity"]) * (1 if fill["side"] == "BUY" else -1)
    assert positions.get("BTC/USDT", Decimal(0)) == net != 0
    statuses = {r["payload"]["status"] for r in records if r["kind"] == "order"}
    assert "REJECTED" not in statuses
    assert "FILLED" in statuses
