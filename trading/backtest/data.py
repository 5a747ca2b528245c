"""Market data of a backtest: locked windows of base bars per symbol, and perpetual funding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from trading.contracts import Timeframe
from trading.market.frames import BarColumns, read_bars
from trading.market.replay import data_file
from trading.patterns.series import FloatArray, IntArray


@dataclass(frozen=True)
class Window:
    """A half-open UTC window ``[start, end)``; locked so a run sees the same bars every time."""

    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)

    def label(self) -> str:
        return f"{self.start:%Y-%m-%d}_{self.end:%Y-%m-%d}"


def parse_day(text: str) -> datetime:
    """``2025-03-01`` or a full ISO time, as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FundingRates:
    """8-hourly funding: settlement times (epoch ms) and rates (longs pay when positive)."""

    time_ms: IntArray
    rate: FloatArray


@dataclass(frozen=True)
class MarketData:
    """Base bars of every symbol, cut to one window; what a Ray driver puts in the store once."""

    base: Timeframe
    window: Window
    bars: Mapping[str, BarColumns]
    funding: Mapping[str, FundingRates]

    def closes(self) -> dict[str, tuple[IntArray, FloatArray]]:
        """Each symbol's base-bar closes by close time (epoch ms): the report's price lines."""
        step_ms = self.base.seconds * 1000
        return {s: (bars.open_time_ms + step_ms, bars.close) for s, bars in self.bars.items()}

    def cut(self, window: Window) -> MarketData:
        """The same symbols restricted to ``window`` (a walk-forward slice)."""
        return MarketData(
            self.base,
            window,
            {s: _slice(c, window) for s, c in self.bars.items()},
            self.funding,
        )

    @property
    def bar_count(self) -> int:
        return sum(len(c) for c in self.bars.values())


def _slice(columns: BarColumns, window: Window) -> BarColumns:
    lo, hi = np.searchsorted(columns.open_time_ms, [window.start_ms, window.end_ms], side="left")
    return columns.take(slice(int(lo), int(hi)))


def funding_file(directory: Path, symbol: str) -> Path:
    """``BTC_USDT_USDT-1h-funding_rate.csv`` beside the shared futures data."""
    stem = symbol.partition(":")[0].replace("/", "_")
    return directory / f"{stem}_USDT-1h-funding_rate.csv"


def read_funding(path: Path) -> FundingRates:
    """Funding rates of a shared-data file: ``date`` and the rate in the ``open`` column."""
    frame = pl.read_csv(path, try_parse_dates=True).filter(pl.col("open") != 0)
    times = frame["date"].dt.epoch("ms").to_numpy().astype(np.int64)
    return FundingRates(times, frame["open"].to_numpy().astype(np.float64))


def load_market(
    directory: Path,
    symbols: Sequence[str],
    base: Timeframe,
    window: Window,
    funding_dir: Path | None = None,
) -> MarketData:
    """Read each symbol's base file (the ``../shared/data`` layout), cut to ``window``."""
    bars = {s: _slice(read_bars(data_file(directory, s, base)).columns(), window) for s in symbols}
    funding: dict[str, FundingRates] = {}
    if funding_dir is not None:
        for symbol in symbols:
            path = funding_file(funding_dir, symbol)
            if path.is_file():
                funding[symbol] = read_funding(path)
    return MarketData(base, window, bars, funding)
