"""Replay bar files as a ``BarFeed``: as fast as possible, or paced at N times real time."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np

from trading.contracts import MarketBar, Timeframe, epoch_us, utc_from_ms
from trading.market.feed import BarUpdate
from trading.market.frames import BarColumns, BarFileError, read_bars
from trading.market.quality import QualityReport, check_bars

Sleep = Callable[[float], Awaitable[None]]

BUNDLED_DATA = Path(__file__).resolve().parent / "bundled"
"""Three months of real Binance 5m bars shipped with the package (see its README)."""


class UnknownSeriesError(LookupError):
    """A symbol/timeframe the feed has no source for."""


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """One file holding one symbol's bars of one timeframe."""

    symbol: str
    timeframe: Timeframe
    path: Path


def data_file(directory: Path | str, symbol: str, timeframe: Timeframe) -> Path:
    """The shared-data file of ``symbol`` (``BTC/USDT`` or ``BTC/USDT:USDT``) at ``timeframe``."""
    directory = Path(directory)
    pair, _, settle = symbol.partition(":")
    stem = pair.replace("/", "_")
    names = (
        [f"{stem}_{settle}-{timeframe}-futures.csv"]
        if settle
        else [f"{stem}-{timeframe}.parquet", f"{stem}-{timeframe}.csv"]
    )
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise BarFileError(directory / names[0], f"no {symbol} {timeframe} file in {directory}")


def column_bars(columns: BarColumns, symbol: str, timeframe: Timeframe) -> Iterator[MarketBar]:
    """Validated closed bars; prices are ``Decimal(repr(float))``, i.e. exactly the file's text."""
    for open_time_ms, open_, high, low, close, volume in columns.rows():
        yield MarketBar(
            symbol=symbol,
            timeframe=timeframe,
            open_time=utc_from_ms(open_time_ms),
            open=Decimal(repr(open_)),
            high=Decimal(repr(high)),
            low=Decimal(repr(low)),
            close=Decimal(repr(close)),
            volume=Decimal(repr(volume)),
        )


class _Series:
    """A source's good rows in time order, duplicates dropped, plus its quality report."""

    def __init__(self, source: ReplaySource) -> None:
        bar_file = read_bars(source.path, source.timeframe)
        columns = bar_file.columns()
        self.report = check_bars(
            columns.open_time_ms,
            source.timeframe,
            rows=bar_file.rows,
            bad_rows=bar_file.bad_rows,
        )
        _, first_seen = np.unique(columns.open_time_ms, return_index=True)
        self.source = source
        self.columns = columns.take(first_seen)

    def bars(self, start_ms: int | None, end_ms: int | None) -> Iterator[MarketBar]:
        """Bars with ``start_ms <= open time < end_ms``."""
        times = self.columns.open_time_ms
        lo = 0 if start_ms is None else int(np.searchsorted(times, start_ms, "left"))
        hi = len(times) if end_ms is None else int(np.searchsorted(times, end_ms, "left"))
        window = self.columns.take(slice(lo, hi))
        return column_bars(window, self.source.symbol, self.source.timeframe)


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else epoch_us(moment) // 1000


class ReplayFeed:
    """Closed bars from files, merged across sources in close-time order.

    ``speed`` 0 replays as fast as possible; N spaces bars (bar close - previous close) / N apart,
    at most ``max_sleep_s``, so a hole in the data never stalls the replay; the consumer's time
    between bars counts toward the wait.
    Bad rows are skipped and duplicate open times replayed once; ``reports`` has the details.
    """

    def __init__(
        self,
        sources: Sequence[ReplaySource],
        *,
        speed: float = 0.0,
        start: datetime | None = None,
        end: datetime | None = None,
        max_sleep_s: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        if max_sleep_s <= 0:
            raise ValueError(f"max_sleep_s must be > 0, got {max_sleep_s}")
        self.sources = tuple(sources)
        self.speed = speed
        self.start, self.end = start, end
        self.max_sleep_s = max_sleep_s
        self._sleep = sleep
        self._series: dict[tuple[str, Timeframe], _Series] = {}

    @property
    def reports(self) -> dict[tuple[str, Timeframe], QualityReport]:
        """Quality report of every source loaded so far."""
        return {key: series.report for key, series in self._series.items()}

    async def stream(self) -> AsyncIterator[BarUpdate]:
        """Every source's bars from ``start`` to ``end``, ordered by close time then source."""
        start_ms, end_ms = _ms(self.start), _ms(self.end)
        runs = [
            (
                (bar.open_time + bar.timeframe.duration, rank, bar)
                for bar in self._load(source).bars(start_ms, end_ms)
            )
            for rank, source in enumerate(self.sources)
        ]
        loop = asyncio.get_running_loop()
        published_at = loop.time()
        previous_close: datetime | None = None
        for close_time, _, bar in heapq.merge(*runs, key=lambda item: item[:2]):
            wait_s = 0.0
            if self.speed > 0 and previous_close is not None:
                step_s = (close_time - previous_close).total_seconds() / self.speed
                wait_s = max(0.0, min(step_s, self.max_sleep_s) - (loop.time() - published_at))
            await self._sleep(wait_s)
            previous_close = close_time
            published_at = loop.time()
            yield bar

    async def backfill(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[MarketBar]:
        """Closed bars of one source with ``start <= open_time < end``."""
        for source in self.sources:
            if source.symbol == symbol and source.timeframe is timeframe:
                return list(self._load(source).bars(_ms(start), _ms(end)))
        raise UnknownSeriesError(f"no replay source for {symbol} {timeframe}")

    def _load(self, source: ReplaySource) -> _Series:
        key = (source.symbol, source.timeframe)
        if key not in self._series:
            self._series[key] = _Series(source)
        return self._series[key]
