"""``data download`` through ccxt's ``binance`` class against the paper exchange's klines
endpoint on 127.0.0.1: the file it writes holds exactly the source file's bars (read with
polars here, not our loader), in the layout ``--data`` reads; a second run resumes after the
last bar; a bar sent twice stops the download and keeps what landed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from actors.cli import main
from trading.contracts import Timeframe
from trading.execution.ccxt_venue import binance_options, binance_urls
from trading.execution.paper import PaperExchange, load_bars
from trading.execution.paper.server import PaperServer
from trading.market import download as download_module
from trading.market.ccxt_feed import CcxtFeed
from trading.market.download import Downloaded, DownloadError, download, target_file
from trading.market.replay import data_file

BUNDLED = Path(__file__).resolve().parents[2] / "trading" / "market" / "bundled"
SOURCE = BUNDLED / "BTC_USDT-5m.parquet"
ROWS = 600  # 50 hours of 5m bars from 2025-10-01T00:00Z
START = datetime(2025, 10, 1, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def reference() -> pl.DataFrame:
    """The source's first ``ROWS`` bars, as polars reads them, dates in milliseconds."""
    frame = pl.read_parquet(SOURCE).head(ROWS)
    return frame.with_columns(pl.col("date").dt.cast_time_unit("ms"))


@asynccontextmanager
async def binance_on_paper() -> AsyncIterator[CcxtFeed]:
    server = PaperServer(PaperExchange({"BTC/USDT": load_bars(SOURCE, 0, ROWS)}), bar_interval_ms=0)
    await server.start()
    server.advance_to(int((START + ROWS * FIVE).timestamp() * 1000))  # every bar has closed
    feed = CcxtFeed(
        "binance", [], config={"options": binance_options("binance", "spot")}, page_limit=100
    )
    feed.exchange.urls["api"] = binance_urls(server.url)
    try:
        yield feed
    finally:
        await feed.aclose()
        await server.stop()


def fetch(directory: Path, start: datetime, end: datetime) -> Downloaded:
    async def body() -> Downloaded:
        async with binance_on_paper() as feed:
            return await download(feed, "BTC/USDT", Timeframe.M5, start, end, directory)

    return asyncio.run(asyncio.wait_for(body(), timeout=60))


def test_download_writes_the_source_bars_where_data_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download_module, "CHUNK_BARS", 250)  # three chunks, each written
    result = fetch(tmp_path, START, START + ROWS * FIVE)
    assert (result.kept, result.fetched, result.gaps, result.rejected) == (0, ROWS, [], 0)
    assert result.path == data_file(tmp_path, "BTC/USDT", Timeframe.M5)
    written = pl.read_parquet(result.path)
    assert written.equals(reference())


def test_a_second_run_fetches_only_the_bars_after_the_file(tmp_path: Path) -> None:
    first = fetch(tmp_path, START, START + 200 * FIVE)
    assert (first.kept, first.fetched) == (0, 200)
    second = fetch(tmp_path, START, START + ROWS * FIVE)
    assert (second.kept, second.fetched) == (200, ROWS - 200)
    assert pl.read_parquet(second.path).equals(reference())
    again = fetch(tmp_path, START, START + ROWS * FIVE)
    assert (again.kept, again.fetched) == (ROWS, 0)


def test_a_bar_sent_twice_stops_the_download_and_keeps_what_landed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download_module, "CHUNK_BARS", 100)
    original = CcxtFeed.backfill
    calls = []

    async def repeating(self: CcxtFeed, *args: object) -> object:
        bars = await original(self, *args)  # type: ignore[arg-type]
        calls.append(len(bars))
        return bars if len(calls) == 1 else [bars[0], *bars]  # the second chunk repeats a bar

    monkeypatch.setattr(CcxtFeed, "backfill", repeating)
    with pytest.raises(DownloadError, match=r"out of order or twice \(open time 2025-10-01T08:20"):
        fetch(tmp_path, START, START + ROWS * FIVE)
    kept = pl.read_parquet(target_file(tmp_path, "BTC/USDT", Timeframe.M5))
    assert kept.equals(reference().head(100))


def test_futures_symbols_go_to_the_futures_csv_name() -> None:
    path = target_file(Path("d"), "BTC/USDT:USDT", Timeframe.H1)
    assert path == Path("d") / "BTC_USDT_USDT-1h-futures.csv"


@pytest.fixture
def paper_url() -> Iterator[str]:
    """The paper exchange served from its own thread's loop (the CLI runs its own loop)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = PaperServer(PaperExchange({"BTC/USDT": load_bars(SOURCE, 0, ROWS)}), bar_interval_ms=0)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
    server.advance_to(int((START + ROWS * FIVE).timestamp() * 1000))
    yield server.url
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


def test_the_cli_downloads_and_says_what_it_wrote(
    paper_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "download", "--symbols", "BTC/USDT", "--timeframes", "5m", "--url", paper_url]
    args += ["--start", "2025-10-01", "--end", "2025-10-01T10:00", "--out", str(tmp_path)]
    assert main(args) == 0
    path = tmp_path / "BTC_USDT-5m.parquet"
    assert capsys.readouterr().out == f"{path}: 120 bars (120 new, 0 kept)\n"
    assert pl.read_parquet(path).equals(reference().head(120))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--timeframes", "2h"], "argument --timeframes: '2h': timeframes are 1m, 5m"),
        (["--start", "2025-13-01"], "argument --start: not an ISO date or time: '2025-13-01'"),
        (["--exchange", "nope"], "data error: ccxt has no exchange 'nope'"),
    ],
)
def test_bad_download_input_is_one_line_and_exit_2(
    change: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"--symbols": "BTC/USDT", "--timeframes": "1h", "--start": "2025-01-01"}
    args |= {"--end": "2025-01-02", "--out": str(tmp_path), change[0]: change[1]}
    try:
        code: int | str | None = main(["data", "download", *(x for kv in args.items() for x in kv)])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
