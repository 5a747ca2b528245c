"""A live SymbolActor killed mid-stream restarts (``max_restarts=-1``), backfills its warm-up
from the venue's REST API again, and resumes at the orchestrator's clock: the bars served
across the restart equal the venue's source exactly, none repeated, and a repeated ``advance``
for the last close served returns that same step."""

from __future__ import annotations

import math
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import ray

from actors.symbol import SymbolActor
from tests.test_live_feed import H1, M5, M15, VenueThread, real_bars, wait_for_close
from trading.config import SignalSettings
from trading.contracts import MarketBar
from trading.market.live import VenueFeed
from trading.market.replay import BUNDLED_DATA, data_file

pytestmark = pytest.mark.ray

LIVE_FROM = 24  # bars before this come from the warm-up backfill
WARMUP_BARS = 60  # enough to cover the bars streamed while the actor restarts
KILL_AFTER_STEPS = 12
DEADLINE_S = 90.0


@ray.remote
class PushedReloads:
    """The orchestrator's record of signal-settings pushes (``signal_reloads``), on its own."""

    def __init__(self) -> None:
        self._pushed: list[tuple[datetime | None, SignalSettings]] = []

    def push(self, after: datetime | None, settings: SignalSettings) -> None:
        self._pushed.append((after, settings))

    def signal_reloads(self) -> list[tuple[datetime | None, SignalSettings]]:
        return list(self._pushed)


def _pid(actor: Any) -> int:
    pid: int = ray.get(actor.__ray_call__.remote(lambda _: os.getpid()), timeout=60)
    return pid


def test_restarted_live_symbol_actor_serves_every_venue_bar_once(
    shared_data: Path, ray_session: Any, tmp_path: Path
) -> None:
    btc = real_bars(shared_data, 3000, 96)
    step_times = [btc[0].open_time + k * M15.duration for k in range(1, len(btc) // 3 + 1)]
    served: list[MarketBar] = []
    # 0.15 s per bar: a restart of a few seconds misses a few dozen streamed bars at most
    with VenueThread(btc, live_from=LIVE_FROM, tick_s=0.05) as venue:
        feed = VenueFeed(venue.rest_url, max_skew_ms=math.inf, warmup_bars=WARMUP_BARS)
        actor = SymbolActor.remote(  # type: ignore[attr-defined]
            "BTC/USDT", M5, (M15, H1), feed, SignalSettings()
        )
        try:
            deadline = time.monotonic() + DEADLINE_S
            last_before_kill = None
            for number, until in enumerate(step_times, start=1):
                wait_for_close(actor, until, deadline)
                step = ray.get(actor.advance.remote(until), timeout=30)
                assert [bar.close_time for bar in step.bars] == [
                    until - timedelta(minutes=m) for m in (10, 5, 0)
                ], f"step {number} at {until}"
                served.extend(step.bars)
                if number == KILL_AFTER_STEPS:
                    last_before_kill = step
                    pid = _pid(actor)
                    ray.kill(actor, no_restart=False)
                    while _pid(actor) == pid:  # the kill lands asynchronously
                        assert time.monotonic() < deadline, "the actor was not restarted"
                        time.sleep(0.05)
                    # the repeated call for the last close served: that same step, no new bars
                    again = ray.get(actor.advance.remote(until), timeout=30)
                    assert (again.time, again.bars, again.step_bar) == (
                        until,
                        step.bars,
                        step.step_bar,
                    )
                    earlier = ray.get(actor.advance.remote(step_times[0]), timeout=30)
                    assert earlier.bars == ()
            progress = ray.get(actor.progress.remote(), timeout=30)
        finally:
            ray.kill(actor)
    assert last_before_kill is not None
    assert served == btc
    assert len({bar.open_time for bar in served}) == len(btc)
    feed_report = progress.feed
    assert feed_report is not None
    assert feed_report.stopped is None
    assert feed_report.warmup_bars > 0, "the restarted actor backfilled its warm-up again"


def test_restarted_replay_symbol_actor_repeats_its_hot_reload_at_the_same_close(
    ray_session: Any, tmp_path: Path
) -> None:
    """Replay: a restarted actor re-reads its file, re-applies a hot reload after the close it
    followed, and fast-forwards to the clock, so every later step equals an uninterrupted
    actor's (same bars, same signals, same confidence)."""
    source = str(data_file(BUNDLED_DATA, "BTC/USDT", M5))
    args = ("BTC/USDT", M5, (M15, H1), source, SignalSettings())
    pushed = PushedReloads.options(name=f"reloads-{tmp_path.name}").remote()  # type: ignore[attr-defined]
    steady = SymbolActor.remote(*args)  # type: ignore[attr-defined]
    restarted = SymbolActor.remote(*args, resume_from=f"reloads-{tmp_path.name}")  # type: ignore[attr-defined]
    reweighted = SignalSettings(timeframe_weights={M15: 0.7, H1: 0.3})
    try:
        first = ray.get(steady.first_close.remote(), timeout=60)
        clock = M15.floor(first - timedelta(microseconds=1)) + M15.duration
        deadline = time.monotonic() + DEADLINE_S
        for number in range(1, 61):
            steps = ray.get([a.advance.remote(clock) for a in (steady, restarted)], timeout=60)
            assert steps[0] == steps[1], f"step {number} at {clock}"
            if number > 12:
                assert steps[0].signal is not None
                assert steps[0].signal.components["m15_weight"] > 0.5, "the reload is in force"
            if number == 12:
                assert ray.get([a.apply_signals.remote(reweighted) for a in (steady, restarted)])
                ray.get(pushed.push.remote(clock, reweighted))  # as the orchestrator records it
            if number == 40:
                pid = _pid(restarted)
                ray.kill(restarted, no_restart=False)
                while _pid(restarted) == pid:
                    assert time.monotonic() < deadline, "the actor was not restarted"
                    time.sleep(0.05)
            clock += M15.duration
        assert ray.get(restarted.signal_settings.remote(), timeout=10) == reweighted
    finally:
        for actor in (steady, restarted, pushed):
            ray.kill(actor)
