"""File replay: exact Decimal bars, merge order, pacing, backfill, and replay into the resampler."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trading.contracts import MarketBar, Timeframe
from trading.market.feed import BarFeed
from trading.market.frames import BarFileError
from trading.market.replay import ReplayFeed, ReplaySource, UnknownSeriesError, data_file
from trading.market.resample import Resampler

M5, H1 = Timeframe.M5, Timeframe.H1
START = datetime(2025, 1, 1, tzinfo=UTC)


def collect(feed: ReplayFeed) -> list[MarketBar]:
    async def run() -> list[MarketBar]:
        return [bar async for bar in feed.stream()]

    return asyncio.run(run())


def source(spot: Path, symbol: str, timeframe: Timeframe) -> ReplaySource:
    return ReplaySource(symbol, timeframe, data_file(spot, symbol, timeframe))


class SleepLog:
    """Records requested waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_replay_feed_is_a_bar_feed(spot: Path) -> None:
    assert isinstance(ReplayFeed([source(spot, "BTC/USDT", H1)]), BarFeed)


def test_replayed_bars_carry_the_file_prices_as_exact_decimals(spot: Path) -> None:
    feed = ReplayFeed(
        [source(spot, "BTC/USDT", H1)],
        start=datetime(2024, 9, 14, tzinfo=UTC),
        end=datetime(2024, 9, 14, 2, tzinfo=UTC),
    )
    first, second = collect(feed)
    assert first == MarketBar(
        symbol="BTC/USDT",
        timeframe=H1,
        open_time=datetime(2024, 9, 14, tzinfo=UTC),
        open=Decimal("60497.99"),
        high=Decimal("60610.45"),
        low=Decimal("60372.77"),
        close=Decimal("60414.39"),
        volume=Decimal("753.37252"),
    )
    assert second.high == Decimal("60595.7")


def test_sources_merge_in_close_time_order(spot: Path) -> None:
    feed = ReplayFeed(
        [source(spot, "BTC/USDT", M5), source(spot, "ETH/USDT", M5), source(spot, "BTC/USDT", H1)],
        start=START,
        end=START + timedelta(hours=2),
    )
    bars = collect(feed)
    assert len(bars) == 2 * 24 + 2
    keys = [(bar.close_time, bar.symbol, bar.timeframe) for bar in bars]
    assert keys == sorted(keys, key=lambda key: key[0])
    hour_end = START + timedelta(hours=1)
    assert [(b.symbol, b.timeframe) for b in bars if b.close_time == hour_end] == [
        ("BTC/USDT", M5),
        ("ETH/USDT", M5),
        ("BTC/USDT", H1),
    ]


def test_speed_zero_never_waits(spot: Path) -> None:
    log = SleepLog()
    feed = ReplayFeed(
        [source(spot, "BTC/USDT", M5)], start=START, end=START + timedelta(hours=1), sleep=log
    )
    assert len(collect(feed)) == 12
    assert set(log.waits) == {0}


def test_speed_scales_waits_and_caps_each_one(spot: Path) -> None:
    log = SleepLog()
    feed = ReplayFeed(
        [source(spot, "BTC/USDT", M5), source(spot, "BTC/USDT", H1)],
        speed=3_000,  # a 5m step is 0.1 s
        max_sleep_s=0.05,
        start=START,
        end=START + timedelta(hours=2),
        sleep=log,
    )
    collect(feed)
    assert log.waits[0] == 0  # the first bar goes out at once
    assert all(wait <= 0.05 for wait in log.waits)
    assert sum(log.waits) == pytest.approx(23 * 0.05, abs=0.05)  # 1h bars share 5m close times


def test_real_time_pacing_actually_waits(spot: Path) -> None:
    feed = ReplayFeed(
        [source(spot, "BTC/USDT", M5)], speed=6_000, start=START, end=START + timedelta(minutes=20)
    )
    began = time.monotonic()
    assert len(collect(feed)) == 4
    assert time.monotonic() - began >= 3 * 0.05 * 0.9


def test_backfill_returns_the_window_of_one_series(spot: Path) -> None:
    feed = ReplayFeed([source(spot, "ETH/USDT", H1)])
    bars = asyncio.run(feed.backfill("ETH/USDT", H1, START, START + timedelta(days=1)))
    assert len(bars) == 24
    assert bars[0].open_time == START
    assert bars[-1].open_time == START + timedelta(hours=23)
    with pytest.raises(UnknownSeriesError, match="no replay source for ETH/USDT 4h"):
        asyncio.run(feed.backfill("ETH/USDT", Timeframe.H4, START, START + timedelta(days=1)))


def test_bad_and_duplicate_rows_are_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "XRP_USDT-1h.csv"
    path.write_text(
        "date,open,high,low,close,volume\n"
        "2025-01-01 00:00:00+00:00,2.1,2.2,2.0,2.15,100\n"
        "2025-01-01 02:00:00+00:00,2.1,2.2,2.0,2.15,100\n"
        "2025-01-01 01:00:00+00:00,2.1,x,2.0,2.15,100\n"
        "2025-01-01 02:00:00+00:00,9.1,9.2,9.0,9.15,100\n"
        "2025-01-01 03:00:00+00:00,2.1,2.2,2.0,2.15,100\n"
    )
    feed = ReplayFeed([ReplaySource("XRP/USDT", H1, path)])
    bars = collect(feed)
    assert [bar.open_time.hour for bar in bars] == [0, 2, 3]
    assert bars[1].open == Decimal("2.1")  # the first of the duplicates is replayed
    report = feed.reports["XRP/USDT", H1].to_json()
    assert report["bad_rows"] == [{"row": 2, "reasons": ["high x is not a number"]}]
    assert report["duplicates"] == ["2025-01-01T02:00:00Z"]


def test_missing_data_file_is_a_bar_file_error(spot: Path) -> None:
    with pytest.raises(BarFileError, match="no DOGE/USDT 1h file"):
        data_file(spot, "DOGE/USDT", H1)
    assert data_file(spot.parent / "binance_futures_2025", "BTC/USDT:USDT", H1).name == (
        "BTC_USDT_USDT-1h-futures.csv"
    )


def test_replayed_5m_bars_resample_to_the_replayed_1h_bars(spot: Path) -> None:
    feed = ReplayFeed(
        [source(spot, "SOL/USDT", M5), source(spot, "SOL/USDT", H1)],
        start=START,
        end=START + timedelta(days=2),
    )
    resampler = Resampler("SOL/USDT", M5, (H1,))
    built: list[MarketBar] = []
    published: list[MarketBar] = []
    for bar in collect(feed):
        if bar.timeframe is H1:
            published.append(bar)
        else:
            built += [u.bar for u in resampler.update(bar) if u.complete]
    assert len(built) == 48
    assert built == published
