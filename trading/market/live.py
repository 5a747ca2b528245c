"""Live bars for the stepper: a venue's kline feed buffered into closed base bars.

``VenueFeed`` describes where a Binance-style venue serves klines; ``LiveBars`` consumes a
``BarFeed`` in the background and hands the ``SymbolStepper`` each closed bar of its series
once, in order. In-progress updates are counted and dropped: analysis sees closed bars only.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp

from trading.contracts import MarketBar, Timeframe
from trading.market.binance import REST_URL, WS_URL, BinanceFeed, FeedHealth, VenueError
from trading.market.feed import BarFeed

logger = logging.getLogger(__name__)

_REST_SCHEMES = {"http": "ws", "https": "wss"}
_WS_SCHEMES = frozenset({"ws", "wss"})
_WARMUP_ERRORS = (OSError, TimeoutError, aiohttp.ClientError, VenueError)


class FeedUrlError(ValueError):
    """A feed URL that is not an absolute http(s) (REST) or ws(s) (WebSocket) URL."""

    def __init__(self, field: str, value: str, expected: str) -> None:
        super().__init__(f"{field}={value!r}: expected {expected}")
        self.field, self.value = field, value


@dataclass(frozen=True, slots=True)
class VenueFeed:
    """Where a Binance-style venue serves klines (``/api/v3/klines`` and ``/stream``).

    ``ws_url`` defaults to Binance's stream host for api.binance.com, else the REST host with
    the ws(s) scheme. ``max_skew_ms`` is the clock guard (``math.inf`` only for a simulated
    venue whose clock is data time); ``warmup_bars`` closed bars are backfilled before the
    first streamed one so indicators start warm.
    """

    rest_url: str = REST_URL
    ws_url: str | None = None
    max_skew_ms: float = 250.0
    stale_after_s: float = 15.0
    warmup_bars: int = 0

    def __post_init__(self) -> None:
        rest = urlsplit(self.rest_url)
        if rest.scheme not in _REST_SCHEMES or not rest.netloc:
            raise FeedUrlError("rest_url", self.rest_url, "http(s)://host[:port]")
        if self.ws_url is not None:
            ws = urlsplit(self.ws_url)
            if ws.scheme not in _WS_SCHEMES or not ws.netloc:
                raise FeedUrlError("ws_url", self.ws_url, "ws(s)://host[:port]")
        if self.warmup_bars < 0:
            raise ValueError(f"warmup_bars must be >= 0, got {self.warmup_bars}")

    @property
    def stream_url(self) -> str:
        if self.ws_url is not None:
            return self.ws_url
        rest = urlsplit(self.rest_url)
        if rest.netloc == urlsplit(REST_URL).netloc:
            return WS_URL
        return f"{_REST_SCHEMES[rest.scheme]}://{rest.netloc}"

    def open(self, symbol: str, timeframe: Timeframe) -> BinanceFeed:
        """A live feed of one series (the caller closes it)."""
        return BinanceFeed(
            [(symbol, timeframe)],
            ws_url=self.stream_url,
            rest_url=self.rest_url,
            max_skew_ms=self.max_skew_ms,
            stale_after_s=self.stale_after_s,
        )


class LiveBars:
    """Closed bars of one series as they arrive; an iterator that may run dry and refill.

    ``put`` keeps a closed bar only if it opens after the last one kept, so warm-up and
    stream may overlap; ``next()`` raises ``StopIteration`` while nothing is pending.
    """

    def __init__(self, symbol: str, timeframe: Timeframe, warmup_bars: int = 0) -> None:
        self.symbol, self.timeframe, self.warmup_bars = symbol, timeframe, warmup_bars
        self._pending: deque[MarketBar] = deque()
        self.last_open: datetime | None = None
        self.received = 0
        self.in_progress = 0
        self.dropped = 0
        self.warmed_up = 0
        self.error: str | None = None

    def __iter__(self) -> LiveBars:
        return self

    def __next__(self) -> MarketBar:
        if not self._pending:
            raise StopIteration
        return self._pending.popleft()

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def last_close(self) -> datetime | None:
        """Close time of the newest closed bar received (pending or taken)."""
        return None if self.last_open is None else self.last_open + self.timeframe.duration

    def put(self, bar: MarketBar) -> bool:
        """Buffer ``bar`` if it is a new closed bar of the series; False if it was dropped."""
        if not bar.closed:
            self.in_progress += 1
            return False
        wrong_series = bar.symbol != self.symbol or bar.timeframe is not self.timeframe
        if wrong_series or (self.last_open is not None and bar.open_time <= self.last_open):
            self.dropped += 1
            return False
        self._pending.append(bar)
        self.last_open = bar.open_time
        self.received += 1
        return True

    async def run(self, feed: BarFeed) -> None:
        """Consume ``feed`` until cancelled; a failure ends the run and is kept in ``error``."""
        try:
            async for update in feed.stream():
                if update.closed and self.last_open is None and self.warmup_bars:
                    await self._warm_up(feed, update.open_time)
                self.put(update)
        except Exception as exc:  # surfaced in the actor's progress
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("%s %s feed stopped", self.symbol, self.timeframe)

    async def _warm_up(self, feed: BarFeed, first_open: datetime) -> None:
        start = first_open - self.warmup_bars * self.timeframe.duration
        try:
            history = await feed.backfill(self.symbol, self.timeframe, start, first_open)
        except _WARMUP_ERRORS as exc:
            logger.warning("%s warm-up failed, starting cold: %s", self.symbol, exc)
            return
        self.warmed_up = sum(self.put(bar) for bar in history)


@dataclass(frozen=True, slots=True)
class FeedReport:
    """A live series' health for progress reports: the buffer's counts and the feed's."""

    received_bars: int
    pending_bars: int
    warmup_bars: int
    in_progress_updates: int
    dropped_bars: int
    last_close: str | None
    connects: int
    disconnects: int
    stale_disconnects: int
    duplicates: int
    rejected: int
    refused_for_skew: int
    backfilled_bars: int
    unfilled_bars: int
    skew_ms: float | None
    last_error: str | None
    stopped: str | None

    @classmethod
    def of(cls, bars: LiveBars, health: FeedHealth) -> FeedReport:
        last_close = bars.last_close
        return cls(
            received_bars=bars.received,
            pending_bars=bars.pending,
            warmup_bars=bars.warmed_up,
            in_progress_updates=bars.in_progress,
            dropped_bars=bars.dropped,
            last_close=last_close.isoformat() if last_close else None,
            connects=health.connects,
            disconnects=health.disconnects,
            stale_disconnects=health.stale_disconnects,
            duplicates=health.duplicates,
            rejected=sum(health.rejected.values()),
            refused_for_skew=health.refused_for_skew,
            backfilled_bars=health.backfilled_bars,
            unfilled_bars=health.unfilled_bars,
            skew_ms=health.skew.skew_ms,
            last_error=health.last_error,
            stopped=bars.error,
        )


def next_close(now: datetime, timeframe: Timeframe) -> datetime:
    """The first close of a ``timeframe`` bar strictly after ``now`` (the live clock's tick)."""
    return timeframe.floor(now) + timeframe.duration
