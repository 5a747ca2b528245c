"""Market-data benchmarks: streaming resampler cost per base bar, batch throughput, replay rate."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trading.contracts import MarketBar, Timeframe
from trading.market.frames import read_bars
from trading.market.replay import ReplayFeed, ReplaySource, column_bars
from trading.market.resample import Resampler, resample_columns

pytestmark = pytest.mark.bench

BUDGET_US = 100.0


def _per_bar_us(bars: list[MarketBar], base: Timeframe) -> float:
    best = float("inf")
    for _ in range(3):
        resampler = Resampler(bars[0].symbol, base, Timeframe.analysis())
        update = resampler.update
        began = time.perf_counter()
        for bar in bars:
            update(bar)
        best = min(best, (time.perf_counter() - began) / len(bars) * 1e6)
    return best


@pytest.mark.parametrize(
    ("folder", "name", "base"),
    [
        ("binance_spot_1m_2026-03", "BTC_USDT-1m.parquet", Timeframe.M1),
        ("binance_spot_2024_2026", "BTC_USDT-5m.parquet", Timeframe.M5),
    ],
)
def test_streaming_resample_cost_per_base_bar(
    shared_data: Path, folder: str, name: str, base: Timeframe
) -> None:
    columns = read_bars(shared_data / folder / name, base).columns()
    bars = list(column_bars(columns.take(slice(0, 40_000)), "BTC/USDT", base))
    closed_us = _per_bar_us(bars, base)
    partials = [
        MarketBar.model_validate(bar.model_dump() | {"closed": False}) for bar in bars[:10_000]
    ]
    interleaved = [bar for pair in zip(partials, bars[:10_000], strict=True) for bar in pair]
    mixed_us = _per_bar_us(interleaved, base)
    began = time.perf_counter()
    for target in Timeframe.analysis():
        resample_columns(columns, base, target)
    batch_ns = (time.perf_counter() - began) / len(columns) * 1e9
    print(
        f"\n{base} -> 15m/1h/4h/1d streaming: {closed_us:.1f} us per closed base bar, "
        f"{mixed_us:.1f} us per update with in-progress updates interleaved "
        f"(budget {BUDGET_US:.0f} us); batch: {batch_ns:.0f} ns per base bar "
        f"over {len(columns):,} bars"
    )
    assert closed_us <= BUDGET_US
    assert mixed_us <= BUDGET_US


def test_replay_rate_as_fast_as_possible(shared_data: Path) -> None:
    path = shared_data / "binance_spot_2024_2026" / "BTC_USDT-5m.parquet"
    start = datetime(2025, 1, 1, tzinfo=UTC)
    feed = ReplayFeed(
        [ReplaySource("BTC/USDT", Timeframe.M5, path)], start=start, end=start + timedelta(days=30)
    )

    async def drain() -> int:
        return sum([1 async for _ in feed.stream()])

    began = time.perf_counter()
    count = asyncio.run(drain())
    elapsed = time.perf_counter() - began
    print(
        f"\nreplay: {count:,} validated 5m bars in {elapsed:.2f} s "
        f"({elapsed / count * 1e6:.1f} us/bar)"
    )
