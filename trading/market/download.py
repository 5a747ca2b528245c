"""``raytrader data download``: historical candles from an exchange through ccxt, written in the
layout ``--data`` reads (``BTC_USDT-1h.parquet``; futures ``BTC_USDT_USDT-1h-futures.csv``).

Resumable: an existing file is read first and only the bars after its last one are fetched.
Each chunk is checked as it lands (ccxt rows validated into bars by ``CcxtFeed``; order, gaps and
OHLC consistency by ``trading.market.quality``) and the file is rewritten whole (temp file, then
rename) after each chunk, so an interrupted download keeps every bar that landed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from trading.contracts import MarketBar, Timeframe
from trading.execution.ccxt_venue import binance_options, binance_urls
from trading.market.ccxt_feed import CcxtFeed
from trading.market.frames import IntArray, read_bars
from trading.market.quality import Gap, check_bars, iso_utc

CHUNK_BARS = 5_000  # bars fetched (in pages of the feed's page limit) between two writes
COLUMNS = ("date", "open", "high", "low", "close", "volume")


class DownloadError(ValueError):
    """A download that cannot go on: names the symbol, timeframe and the problem."""


@dataclass
class Downloaded:
    """What one symbol and timeframe's download did."""

    symbol: str
    timeframe: Timeframe
    path: Path
    kept: int = 0  # bars already in the file
    fetched: int = 0  # bars added now
    gaps: list[Gap] = field(default_factory=list)
    rejected: int = 0  # ccxt rows that failed validation (counted by the feed)

    @property
    def bars(self) -> int:
        return self.kept + self.fetched


def target_file(directory: Path, symbol: str, timeframe: Timeframe) -> Path:
    """Where ``trading.market.replay.data_file`` looks first for ``symbol`` at ``timeframe``."""
    pair, _, settle = symbol.partition(":")
    stem = pair.replace("/", "_")
    if settle:
        return directory / f"{stem}_{settle}-{timeframe}-futures.csv"
    return directory / f"{stem}-{timeframe}.parquet"


async def download(
    feed: CcxtFeed,
    symbol: str,
    timeframe: Timeframe,
    start: datetime,
    end: datetime,
    directory: Path,
) -> Downloaded:
    """Bars of ``symbol`` with ``start <= open < end`` into ``directory``, after what is there."""
    path = target_file(directory, symbol, timeframe)
    frame = _existing(path, timeframe)
    result = Downloaded(symbol, timeframe, path, kept=frame.height)
    since = _resume_from(frame, timeframe, start)
    rejected_before = sum(feed.rejected.values())
    while since < end:
        until = min(end, since + timeframe.duration * CHUNK_BARS)
        bars = await feed.backfill(symbol, timeframe, since, until)
        if not bars:
            break
        frame = _landed(frame, bars, result)
        _write(path, frame)
        since = bars[-1].open_time + timeframe.duration
    result.rejected = sum(feed.rejected.values()) - rejected_before
    return result


def _existing(path: Path, timeframe: Timeframe) -> pl.DataFrame:
    """The file's bars (an empty frame if there is none); a damaged file stops the download."""
    if not path.is_file():
        return pl.DataFrame(schema=_SCHEMA)
    bar_file = read_bars(path, timeframe)
    if bar_file.bad_rows:
        first = bar_file.bad_rows[0]
        raise DownloadError(f"{path}: {len(bar_file.bad_rows)} bad rows, first {first}")
    return bar_file.frame.select(pl.col(name).cast(kind) for name, kind in _SCHEMA.items())


def _resume_from(frame: pl.DataFrame, timeframe: Timeframe, start: datetime) -> datetime:
    if frame.height == 0:
        return start
    last: datetime = frame["date"][-1]
    return max(start, last + timeframe.duration)


def _landed(frame: pl.DataFrame, bars: list[MarketBar], result: Downloaded) -> pl.DataFrame:
    """``frame`` with ``bars`` appended once they pass the quality checks."""
    chunk = pl.DataFrame(
        {
            "date": [b.open_time for b in bars],
            "open": [float(b.open) for b in bars],
            "high": [float(b.high) for b in bars],
            "low": [float(b.low) for b in bars],
            "close": [float(b.close) for b in bars],
            "volume": [float(b.volume) for b in bars],
        },
        schema=_SCHEMA,
    )
    joined = pl.concat([frame, chunk])
    report = check_bars(_epoch_ms(joined), result.timeframe)
    if report.duplicates or report.out_of_order:
        where = iso_utc((report.duplicates or report.out_of_order)[0])
        raise DownloadError(
            f"{result.symbol} {result.timeframe}: the exchange sent a bar out of order or twice "
            f"(open time {where}); {result.path} keeps the bars before it"
        )
    result.fetched += chunk.height
    result.gaps = list(report.gaps)
    return joined


def _epoch_ms(frame: pl.DataFrame) -> IntArray:
    ms: IntArray = frame["date"].dt.epoch("ms").to_numpy()
    return ms


def _write(path: Path, frame: pl.DataFrame) -> None:
    """The whole file, atomically (a temp file beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    if path.suffix == ".csv":
        frame.write_csv(tmp)
    else:
        frame.write_parquet(tmp, compression="zstd")
    tmp.replace(path)


_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Datetime("ms", "UTC"),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}


async def download_all(
    exchange: str,
    jobs: Sequence[tuple[str, Timeframe]],
    start: datetime,
    end: datetime,
    directory: Path,
    rest_url: str | None = None,
) -> list[Downloaded]:
    """Every (symbol, timeframe) of ``jobs`` from ccxt's ``exchange`` (its rate limiter on);
    ``rest_url``: a Binance-compatible REST base instead of the exchange's own (a mirror, or
    the paper exchange)."""
    config = {"enableRateLimit": True, "options": binance_options(exchange, "spot")}
    feed = CcxtFeed(exchange, [], config=config)
    if rest_url is not None:
        feed.exchange.urls["api"] = binance_urls(rest_url.rstrip("/"))
    try:
        return [await download(feed, s, tf, start, end, directory) for s, tf in jobs]
    finally:
        await feed.aclose()
