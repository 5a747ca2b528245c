"""Binance spot market data as a ``BarFeed``: the kline WebSocket stream plus REST klines.

Wire formats exactly as Binance publishes them: combined streams ``/stream?streams=
<symbol>@kline_<interval>/...``, ``GET /api/v3/klines`` and ``GET /api/v3/time``. Every message
passes through ``MarketBar``; a malformed one becomes a counted, logged ``Rejection`` and never
reaches the caller. The live feed reconnects with full-jitter backoff, treats a silent socket as
dead, repairs every gap from REST (closed bars strictly increasing per key, no duplicates), and
refuses bars while the venue clock is more than ``max_skew_ms`` away from ours.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import Counter, deque
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

import aiohttp
from pydantic import ValidationError
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from trading.contracts import MarketBar, Timeframe, epoch_us
from trading.execution.retry import Backoff, Network
from trading.market.instruments import venue_symbol

logger = logging.getLogger(__name__)

WS_URL = "wss://stream.binance.com:9443"
REST_URL = "https://api.binance.com"
MAX_PAGE_LIMIT = 1000
"""Binance's largest ``limit`` for ``/api/v3/klines``."""
NEVER = 2**32 - 1
"""Attempts of the default reconnect backoff: it never gives up itself (``max_attempts`` may)."""

INTERVALS: dict[str, Timeframe] = {timeframe.value: timeframe for timeframe in Timeframe}
"""Binance interval names of the timeframes we trade (Binance spells them as we do)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_PLAIN_DECIMAL = re.compile(r"\d{1,40}(\.\d{1,40})?")
_RAW_LOG_CHARS = 500

Clock = Callable[[], int]
"""Local wall clock in epoch milliseconds."""


def wall_clock_ms() -> int:
    """This machine's UTC clock in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def epoch_ms(moment: datetime) -> int:
    return epoch_us(moment) // 1000


def from_epoch_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def stream_name(symbol: str, timeframe: Timeframe) -> str:
    """The kline stream of one series: ``btcusdt@kline_1m``."""
    return f"{venue_symbol(symbol).lower()}@kline_{timeframe.value}"


# --------------------------------------------------------------------------- parsing


class RejectReason(StrEnum):
    """Why a venue message or REST row was not turned into a bar."""

    BAD_JSON = "bad_json"
    BAD_SHAPE = "bad_shape"
    MISSING_FIELD = "missing_field"
    BAD_NUMBER = "bad_number"
    BAD_RANGE = "bad_range"
    MISALIGNED = "misaligned"
    UNKNOWN_INTERVAL = "unknown_interval"
    UNKNOWN_SYMBOL = "unknown_symbol"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message that did not parse: the reason and the offending field and value."""

    reason: RejectReason
    detail: str


@dataclass(frozen=True, slots=True)
class KlineEvent:
    """A parsed kline update and the venue's event time ``E`` (epoch ms)."""

    bar: MarketBar
    event_time_ms: int


class _RejectedError(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.rejection = Rejection(reason, detail)


def _field(container: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in container:
        raise _RejectedError(RejectReason.MISSING_FIELD, f"{where}.{key} is missing")
    return container[key]


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _RejectedError(
            RejectReason.BAD_SHAPE, f"{where} is {type(value).__name__}, not an object"
        )
    return value


def _millis(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _RejectedError(RejectReason.BAD_NUMBER, f"{where}={value!r:.80} is not integer ms")
    if not 0 <= value <= _MAX_MS:
        raise _RejectedError(RejectReason.BAD_NUMBER, f"{where}={value} is out of range")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    if not isinstance(value, str) or not _PLAIN_DECIMAL.fullmatch(value):
        raise _RejectedError(
            RejectReason.BAD_NUMBER, f"{where}={value!r:.80} is not a decimal string"
        )
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid text
        raise _RejectedError(RejectReason.BAD_NUMBER, f"{where}={value!r:.80}") from exc


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _RejectedError(RejectReason.BAD_SHAPE, f"{where}={value!r:.80} is not a string")
    return value


def _timeframe(interval: Any, where: str) -> Timeframe:
    timeframe = INTERVALS.get(interval) if isinstance(interval, str) else None
    if timeframe is None:
        raise _RejectedError(RejectReason.UNKNOWN_INTERVAL, f"{where}={interval!r:.80}")
    return timeframe


_RANGE_ERRORS = frozenset({"bar_range", "greater_than", "greater_than_equal"})


def _bar(
    symbol: str,
    timeframe: Timeframe,
    open_ms: int,
    close_ms: int,
    prices: tuple[Decimal, Decimal, Decimal, Decimal, Decimal],
    *,
    closed: bool,
) -> MarketBar:
    """A validated bar; Binance's close time is ``open + interval - 1 ms``."""
    if close_ms != open_ms + timeframe.seconds * 1000 - 1:
        raise _RejectedError(
            RejectReason.MISALIGNED, f"close time {close_ms} does not end a {timeframe} bar"
        )
    open_, high, low, close, volume = prices
    try:
        return MarketBar(
            symbol=symbol,
            timeframe=timeframe,
            open_time=from_epoch_ms(open_ms),
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
            closed=closed,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        kind = error["type"]
        reason = (
            RejectReason.MISALIGNED
            if kind == "bar_alignment"
            else RejectReason.BAD_RANGE
            if kind in _RANGE_ERRORS
            else RejectReason.BAD_NUMBER
        )
        where = ".".join(str(part) for part in error["loc"])
        raise _RejectedError(reason, f"{where}: {error['msg']}") from exc


def parse_kline(raw: str | bytes, symbols: Mapping[str, str]) -> KlineEvent | Rejection:
    """One combined-stream kline message -> bar, or a ``Rejection``; never raises.

    ``symbols`` maps venue symbols (``BTCUSDT``) to unified ones (``BTC/USDT``).
    """
    try:
        try:
            message = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise _RejectedError(
                RejectReason.BAD_JSON, f"{type(exc).__name__}: {exc}"[:200]
            ) from exc
        envelope = _object(message, "message")
        stream = _text(_field(envelope, "stream", "message"), "stream")
        data = _object(_field(envelope, "data", "message"), "data")
        event = _field(data, "e", "data")
        if event != "kline":
            raise _RejectedError(RejectReason.BAD_SHAPE, f"data.e={event!r:.80} is not 'kline'")
        event_ms = _millis(_field(data, "E", "data"), "data.E")
        kline = _object(_field(data, "k", "data"), "data.k")
        name = _text(_field(kline, "s", "k"), "k.s")
        timeframe = _timeframe(_field(kline, "i", "k"), "k.i")
        if stream != f"{name.lower()}@kline_{timeframe.value}":
            raise _RejectedError(
                RejectReason.BAD_SHAPE, f"stream {stream!r:.80} does not carry {name}"
            )
        symbol = symbols.get(name)
        if symbol is None:
            raise _RejectedError(RejectReason.UNKNOWN_SYMBOL, f"k.s={name!r:.80} is not subscribed")
        open_ms = _millis(_field(kline, "t", "k"), "k.t")
        close_ms = _millis(_field(kline, "T", "k"), "k.T")
        prices = (
            _decimal(_field(kline, "o", "k"), "k.o"),
            _decimal(_field(kline, "h", "k"), "k.h"),
            _decimal(_field(kline, "l", "k"), "k.l"),
            _decimal(_field(kline, "c", "k"), "k.c"),
            _decimal(_field(kline, "v", "k"), "k.v"),
        )
        closed = _field(kline, "x", "k")
        if not isinstance(closed, bool):
            raise _RejectedError(RejectReason.BAD_SHAPE, f"k.x={closed!r:.80} is not a boolean")
        bar = _bar(symbol, timeframe, open_ms, close_ms, prices, closed=closed)
        return KlineEvent(bar, event_ms)
    except _RejectedError as rejected:
        return rejected.rejection


def parse_rest_kline(row: Any, symbol: str, timeframe: Timeframe) -> MarketBar | Rejection:
    """One ``/api/v3/klines`` row ``[open ms, o, h, l, c, v, close ms, ...]`` -> closed bar."""
    try:
        if not isinstance(row, list):
            raise _RejectedError(
                RejectReason.BAD_SHAPE, f"row is {type(row).__name__}, not an array"
            )
        if len(row) < 7:
            raise _RejectedError(RejectReason.MISSING_FIELD, f"row has {len(row)} of 7+ fields")
        open_ms = _millis(row[0], "row[0]")
        prices = (
            _decimal(row[1], "row[1]"),
            _decimal(row[2], "row[2]"),
            _decimal(row[3], "row[3]"),
            _decimal(row[4], "row[4]"),
            _decimal(row[5], "row[5]"),
        )
        close_ms = _millis(row[6], "row[6]")
        return _bar(symbol, timeframe, open_ms, close_ms, prices, closed=True)
    except _RejectedError as rejected:
        return rejected.rejection


# --------------------------------------------------------------------------- REST


class VenueError(Exception):
    """The venue answered a request with an error (HTTP status, Binance code and message)."""

    def __init__(self, path: str, status: int, body: str) -> None:
        super().__init__(f"GET {path}: HTTP {status}: {body[:300]}")
        self.path = path
        self.status = status
        self.body = body


RejectSink = Callable[[Rejection, Any], None]


def log_rejection(rejection: Rejection, raw: Any) -> None:
    logger.warning(
        "rejected %s: %s; raw=%.*r", rejection.reason, rejection.detail, _RAW_LOG_CHARS, raw
    )


class BinanceRest:
    """``/api/v3/time`` and paginated ``/api/v3/klines`` over an aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = REST_URL,
        *,
        page_limit: int = MAX_PAGE_LIMIT,
        timeout_s: float = 10.0,
        on_reject: RejectSink = log_rejection,
    ) -> None:
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be in [1, {MAX_PAGE_LIMIT}], got {page_limit}")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._page_limit = page_limit
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._on_reject = on_reject

    async def _get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        url = self._base_url + path
        async with self._session.get(url, params=params, timeout=self._timeout) as response:
            body = await response.text()
            if response.status != 200:
                raise VenueError(path, response.status, body)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise VenueError(path, response.status, f"invalid JSON: {body}") from exc

    async def server_time_ms(self) -> int:
        """The venue's clock (``serverTime``, epoch ms)."""
        answer = await self._get("/api/v3/time")
        server_ms = answer.get("serverTime") if isinstance(answer, dict) else None
        if isinstance(server_ms, bool) or not isinstance(server_ms, int):
            raise VenueError("/api/v3/time", 200, f"no integer serverTime in {answer!r:.200}")
        return server_ms

    async def klines(
        self, symbol: str, timeframe: Timeframe, start_ms: int, end_ms: int
    ) -> list[MarketBar]:
        """Bars with ``start_ms <= open < end_ms``, oldest first, ``page_limit`` per request.

        Rows include the venue's in-progress bar; callers that need closed bars cut ``end_ms``.
        Malformed rows go to ``on_reject`` and are left out.
        """
        bars: list[MarketBar] = []
        step_ms = timeframe.seconds * 1000
        cursor = start_ms
        while cursor < end_ms:
            params: dict[str, str | int] = {
                "symbol": venue_symbol(symbol),
                "interval": timeframe.value,
                "startTime": cursor,
                "endTime": end_ms - 1,
                "limit": self._page_limit,
            }
            rows = await self._get("/api/v3/klines", params)
            if not isinstance(rows, list):
                raise VenueError("/api/v3/klines", 200, f"not an array: {rows!r:.200}")
            last_open: int | None = None
            for row in rows:
                parsed = parse_rest_kline(row, symbol, timeframe)
                if isinstance(parsed, Rejection):
                    self._on_reject(parsed, row)
                    continue
                open_ms = epoch_ms(parsed.open_time)
                if cursor <= open_ms < end_ms and (last_open is None or open_ms > last_open):
                    bars.append(parsed)
                    last_open = open_ms
            if len(rows) < self._page_limit or last_open is None:
                break
            cursor = last_open + step_ms
        return bars


# --------------------------------------------------------------------------- resilience


@dataclass(slots=True)
class SkewGuard:
    """Venue clock minus local clock, and whether it is beyond ``max_skew_ms``.

    REST ``/api/v3/time`` gives the estimate (server time minus the midpoint of the fastest of a
    few round trips, NTP-style, error at most rtt/2). A sample with rtt/2 > ``max_skew_ms``
    cannot tell a good clock from a bad one, so it is counted as inconclusive and ignored. An
    event time ``E`` ahead of our receive time proves the venue at least that far ahead, so it
    can only raise the estimate.
    """

    max_skew_ms: float = 250.0
    skew_ms: float | None = None
    rtt_ms: float | None = None
    inconclusive: int = 0

    def observe_server_time(self, server_ms: int, sent_ms: int, received_ms: int) -> bool:
        """Take one round trip into the estimate; False if it was too slow to decide anything."""
        rtt_ms = float(received_ms - sent_ms)
        if rtt_ms / 2 > self.max_skew_ms:
            self.inconclusive += 1
            return False
        self.skew_ms = server_ms - (sent_ms + received_ms) / 2
        self.rtt_ms = rtt_ms
        return True

    def observe_event(self, event_ms: int, received_ms: int) -> None:
        lower_bound = float(event_ms - received_ms)
        if lower_bound > (0.0 if self.skew_ms is None else self.skew_ms):
            self.skew_ms = lower_bound

    @property
    def exceeded(self) -> bool:
        return self.skew_ms is not None and abs(self.skew_ms) > self.max_skew_ms


SeriesKey = tuple[str, Timeframe]


class BarSequencer:
    """Per (symbol, timeframe): closed bars strictly increasing by open time, each once.

    An update (closed or not) at or before the last closed bar of its key is a duplicate.
    """

    def __init__(self) -> None:
        self._last_closed: dict[SeriesKey, datetime] = {}

    def next_open(self, key: SeriesKey) -> datetime | None:
        """Open time of the next bar the key expects, or None before its first closed bar."""
        last = self._last_closed.get(key)
        return None if last is None else last + key[1].duration

    def series(self) -> list[SeriesKey]:
        return list(self._last_closed)

    def admit(self, bar: MarketBar) -> bool:
        key = (bar.symbol, bar.timeframe)
        last = self._last_closed.get(key)
        if last is not None and bar.open_time <= last:
            return False
        if bar.closed:
            self._last_closed[key] = bar.open_time
        return True


@dataclass
class FeedHealth:
    """What the live feed has seen; callers read it (metrics, safe mode), never write it."""

    rejected: Counter[RejectReason] = field(default_factory=Counter)
    duplicates: int = 0
    refused_for_skew: int = 0
    connects: int = 0
    disconnects: int = 0
    stale_disconnects: int = 0
    backfilled_bars: int = 0
    unfilled_bars: int = 0
    backoff_delays_s: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    skew: SkewGuard = field(default_factory=SkewGuard)
    last_error: str | None = None

    @property
    def skew_exceeded(self) -> bool:
        return self.skew.exceeded


class StaleStreamError(Exception):
    """No message arrived within ``stale_after_s``: the socket is open but the stream is dead."""


class FeedUnavailableError(Exception):
    """The venue stayed unreachable for ``max_attempts`` consecutive connection attempts."""


_CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    WebSocketException,
    aiohttp.ClientError,
    VenueError,
    StaleStreamError,
)


# --------------------------------------------------------------------------- live feed


class BinanceFeed:
    """Live klines of the subscribed (symbol, timeframe) series, as a ``BarFeed``.

    Clock skew: while |venue - local| > ``max_skew_ms`` every bar is refused (counted in
    ``health.refused_for_skew``), not flagged: ``MarketBar`` has no room for a flag, and a bar
    stamped by a clock we cannot trust must not reach signals. Refused closed bars are not lost:
    once the skew is back in bounds the next bar's gap is filled from REST. The skew is measured
    on every connect and every ``skew_check_s`` while streaming.

    Reconnects wait the execution core's full-jitter backoff (``retry.Backoff``, 0.5 s doubling
    to 30 s) for the n-th consecutive failure (reset by the first bar a connection delivers);
    ``max_attempts`` reconnects in a row without one raise ``FeedUnavailableError`` (None:
    retry forever). A socket silent for ``stale_after_s`` is
    closed and replaced. REST is part of a healthy connection: without it the skew cannot be
    checked nor gaps filled, so a REST failure counts as a connection failure.
    ``clock`` is the local clock the skew is measured against (tests pass the venue's).

    Order is per (symbol, timeframe); one consumer per feed (``stream()`` keeps dedupe state).
    """

    def __init__(
        self,
        subscriptions: Iterable[tuple[str, Timeframe]],
        *,
        ws_url: str = WS_URL,
        rest_url: str = REST_URL,
        backoff: Backoff | None = None,
        stale_after_s: float = 15.0,
        max_skew_ms: float = 250.0,
        skew_check_s: float = 60.0,
        skew_samples: int = 3,
        max_attempts: int | None = None,
        page_limit: int = MAX_PAGE_LIMIT,
        open_timeout_s: float = 10.0,
        request_timeout_s: float = 10.0,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.subscriptions = tuple(dict.fromkeys(subscriptions))
        if not self.subscriptions:
            raise ValueError("subscriptions must name at least one (symbol, timeframe)")
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be in [1, {MAX_PAGE_LIMIT}], got {page_limit}")
        if stale_after_s <= 0 or skew_check_s <= 0 or skew_samples < 1:
            raise ValueError("stale_after_s and skew_check_s must be > 0, skew_samples >= 1")
        self.symbols = {venue_symbol(symbol): symbol for symbol, _ in self.subscriptions}
        streams = "/".join(stream_name(symbol, tf) for symbol, tf in self.subscriptions)
        self.stream_url = f"{ws_url.rstrip('/')}/stream?streams={streams}"
        self.rest_url = rest_url
        self.backoff = backoff or Backoff(
            base_delay_ms=500, max_delay_ms=30_000, max_attempts=NEVER
        )
        self.stale_after_s = stale_after_s
        self.skew_check_s = skew_check_s
        self.skew_samples = skew_samples
        self.max_attempts = max_attempts
        self.page_limit = page_limit
        self.open_timeout_s = open_timeout_s
        self.request_timeout_s = request_timeout_s
        self.clock = clock
        self.health = FeedHealth(skew=SkewGuard(max_skew_ms))
        self._sequencer = BarSequencer()
        self._session: aiohttp.ClientSession | None = None
        self._next_skew_check = 0.0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the REST session (a running ``stream()`` closes its socket when closed)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _rest(self) -> BinanceRest:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return BinanceRest(
            self._session,
            self.rest_url,
            page_limit=self.page_limit,
            timeout_s=self.request_timeout_s,
            on_reject=self._reject,
        )

    def _reject(self, rejection: Rejection, raw: Any) -> None:
        self.health.rejected[rejection.reason] += 1
        log_rejection(rejection, raw)

    async def backfill(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[MarketBar]:
        """Closed bars with ``start <= open_time < end`` from REST (the open bar left out)."""
        rest = self._rest()
        server_ms = await rest.server_time_ms()
        closed_end_ms = server_ms - timeframe.seconds * 1000 + 1
        return await rest.klines(
            symbol, timeframe, epoch_ms(start), min(epoch_ms(end), closed_end_ms)
        )

    async def stream(self) -> AsyncGenerator[MarketBar, None]:
        """Bar updates forever: reconnects, repairs gaps, drops duplicates (see the class)."""
        attempt = 0
        while True:
            try:
                async with connect(
                    self.stream_url,
                    open_timeout=self.open_timeout_s,
                    close_timeout=1.0,
                    proxy=None,
                ) as socket:
                    self.health.connects += 1
                    rest = self._rest()
                    server_ms = await self._measure_skew(rest)
                    for bar in await self._catch_up(rest, server_ms):
                        yield bar
                    while True:
                        try:
                            async with asyncio.timeout(self.stale_after_s):
                                raw = await socket.recv()
                        except TimeoutError as exc:
                            self.health.stale_disconnects += 1
                            raise StaleStreamError(
                                f"no message for {self.stale_after_s} s"
                            ) from exc
                        for bar in await self._receive(rest, raw):
                            attempt = 0
                            yield bar
            except _CONNECTION_ERRORS as exc:
                self.health.disconnects += 1
                self.health.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("kline stream down (%s); reconnecting", self.health.last_error)
            if self.max_attempts is not None and attempt >= self.max_attempts:
                raise FeedUnavailableError(
                    f"{self.stream_url}: gave up after {attempt} reconnect attempts; "
                    f"last error: {self.health.last_error}"
                )
            delay_ms = self.backoff.next_delay_ms(Network(), attempt + 1)
            if delay_ms is None:
                raise FeedUnavailableError(
                    f"{self.stream_url}: the backoff gave up after {attempt} reconnect attempts"
                )
            delay_s = delay_ms / 1000
            self.health.backoff_delays_s.append(delay_s)
            attempt += 1
            await asyncio.sleep(delay_s)

    async def _measure_skew(self, rest: BinanceRest) -> int:
        """Sample ``/api/v3/time`` and keep the fastest round trip; returns the server time."""
        best: tuple[int, int, int] | None = None
        for _ in range(self.skew_samples):
            sent_ms = self.clock()
            server_ms = await rest.server_time_ms()
            received_ms = self.clock()
            if best is None or received_ms - sent_ms < best[2] - best[0]:
                best = (sent_ms, server_ms, received_ms)
        assert best is not None  # noqa: S101 - skew_samples >= 1
        if not self.health.skew.observe_server_time(best[1], best[0], best[2]):
            logger.warning(
                "clock skew unknown: fastest /api/v3/time round trip took %d ms", best[2] - best[0]
            )
        self._next_skew_check = asyncio.get_running_loop().time() + self.skew_check_s
        if self.health.skew.exceeded:
            logger.warning(
                "venue clock off by %.0f ms (limit %.0f ms): refusing bars",
                self.health.skew.skew_ms,
                self.health.skew.max_skew_ms,
            )
        return best[1]

    async def _catch_up(self, rest: BinanceRest, server_ms: int) -> list[MarketBar]:
        """After a (re)connect: every closed bar missed since the last one of each key."""
        if self.health.skew.exceeded:
            return []
        bars: list[MarketBar] = []
        for key in self._sequencer.series():
            open_bar = key[1].floor(from_epoch_ms(server_ms))
            bars.extend(await self._fill(rest, key, open_bar))
        return bars

    async def _receive(self, rest: BinanceRest, raw: str | bytes) -> list[MarketBar]:
        """One socket message -> the bars it releases: gap fill first, then the update."""
        parsed = parse_kline(raw, self.symbols)
        if isinstance(parsed, Rejection):
            self._reject(parsed, raw)
            return []
        skew = self.health.skew
        skew.observe_event(parsed.event_time_ms, self.clock())
        if asyncio.get_running_loop().time() >= self._next_skew_check:
            await self._measure_skew(rest)
        if skew.exceeded:
            self.health.refused_for_skew += 1
            return []
        bar = parsed.bar
        bars = await self._fill(rest, (bar.symbol, bar.timeframe), bar.open_time)
        if self._sequencer.admit(bar):
            bars.append(bar)
        else:
            self.health.duplicates += 1
        return bars

    async def _fill(self, rest: BinanceRest, key: SeriesKey, until: datetime) -> list[MarketBar]:
        """Closed bars of ``key`` from its next expected open time up to ``until`` (excluded)."""
        start = self._sequencer.next_open(key)
        if start is None or start >= until:
            return []
        symbol, timeframe = key
        fetched = await rest.klines(symbol, timeframe, epoch_ms(start), epoch_ms(until))
        bars = [bar for bar in fetched if self._sequencer.admit(bar)]
        self.health.backfilled_bars += len(bars)
        missing = (until - start) // timeframe.duration - len(bars)
        if missing > 0:
            self.health.unfilled_bars += missing
            logger.warning("%s %s: venue has no %d bar(s) before %s", *key, missing, until)
        return bars
