"""A local Binance-style venue on 127.0.0.1 for the live-feed tests.

One aiohttp app serves ``GET /api/v3/time``, ``GET /api/v3/klines`` and the combined kline
stream ``/stream?streams=...`` in Binance's wire format. It replays real bars as a market
would: each bar as ``updates_per_bar`` in-progress updates then the closed one, one message
step every ``tick_s`` real seconds. The venue's clock is the data's clock, moved by the venue
(so a 60-bar outage takes 60 * steps * tick_s real seconds); tests give the feed
``venue.clock`` as its local clock. ``Faults`` injects drops, stalls, garbage, clock skew,
duplicate replays and outages. The market starts when the first client subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol, Self

import numpy as np
from aiohttp import web

from trading.contracts import MarketBar, Timeframe, epoch_us
from trading.market.binance import RejectReason, stream_name
from trading.market.frames import BarColumns
from trading.market.instruments import venue_symbol


def tape(columns: BarColumns, symbol: str, timeframe: Timeframe, rows: slice) -> list[MarketBar]:
    """Real bars from shared-data columns, valued as the replay feed values them."""
    part = columns.take(rows)
    times = part.open_time_ms.tolist()
    values = [
        np.asarray(column).tolist()
        for column in (part.open, part.high, part.low, part.close, part.volume)
    ]
    return [
        MarketBar(
            symbol=symbol,
            timeframe=timeframe,
            open_time=datetime.fromtimestamp(times[i] / 1000, UTC),
            open=Decimal(repr(values[0][i])),
            high=Decimal(repr(values[1][i])),
            low=Decimal(repr(values[2][i])),
            close=Decimal(repr(values[3][i])),
            volume=Decimal(repr(values[4][i])),
        )
        for i in range(len(times))
    ]


@dataclass
class Faults:
    """Fault injection knobs; counts are per connection unless said otherwise."""

    drop_after: int | None = None
    """Close a connection after it has sent this many messages ..."""
    drops: int = 1
    """... for this many connections (the first ones)."""
    stall_after: int | None = None
    """Stop sending on a connection after this many messages, keeping the socket open ..."""
    stalls: int = 1
    """... for this many connections."""
    garbage_every: int | None = None
    """Send a malformed message before every Nth good one (cycling through ``GARBAGE``)."""
    skew_ms: int = 0
    """Venue clock minus true clock, in ``serverTime`` and event times ``E``."""
    skew_at_bar: dict[int, int] = field(default_factory=dict)
    """Bar index -> new ``skew_ms`` from that bar on."""
    replay_every: int | None = None
    """After every N closed bars, re-send the last ``replay_count`` closed messages."""
    replay_count: int = 3
    outage: tuple[int, int] | None = None
    """(first bar index, bars): WebSocket connections closed and refused; REST still serves."""


def _wire(value: Decimal) -> str:
    """Binance prints 8 decimal places."""
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) else 0
    return f"{value:.8f}" if places <= 8 else format(value, "f")


def kline_message(
    bar: MarketBar, event_ms: int, values: Sequence[Decimal] | None = None
) -> dict[str, Any]:
    """A combined-stream kline message of ``bar`` (``values`` overrides o/h/l/c/v)."""
    name = venue_symbol(bar.symbol)
    open_ms = epoch_us(bar.open_time) // 1000
    o, h, l, c, v = values or (bar.open, bar.high, bar.low, bar.close, bar.volume)  # noqa: E741
    return {
        "stream": stream_name(bar.symbol, bar.timeframe),
        "data": {
            "e": "kline",
            "E": event_ms,
            "s": name,
            "k": {
                "t": open_ms,
                "T": open_ms + bar.timeframe.seconds * 1000 - 1,
                "s": name,
                "i": bar.timeframe.value,
                "f": 100,
                "L": 200,
                "o": _wire(o),
                "c": _wire(c),
                "h": _wire(h),
                "l": _wire(l),
                "v": _wire(v),
                "n": 101,
                "x": bar.closed,
                "q": "0",
                "V": "0",
                "Q": "0",
                "B": "0",
            },
        },
    }


def partial_values(bar: MarketBar, step: int, steps: int) -> tuple[Decimal, ...]:
    """The in-progress bar after ``step`` of ``steps`` updates: close walks open -> close."""
    fraction = Decimal(step) / Decimal(steps)
    close = (bar.open + (bar.close - bar.open) * fraction).quantize(Decimal("0.00000001"))
    volume = (bar.volume * fraction).quantize(Decimal("0.00000001"))
    return bar.open, max(bar.open, close), min(bar.open, close), close, volume


def _garbage_json(message: dict[str, Any]) -> str | bytes:
    return json.dumps(message)[:-7]


def _garbage_missing(message: dict[str, Any]) -> str | bytes:
    del message["data"]["k"]["c"]
    return json.dumps(message)


def _garbage_range(message: dict[str, Any]) -> str | bytes:
    kline = message["data"]["k"]
    kline["h"], kline["l"] = kline["l"], str(Decimal(kline["h"]) + 1)
    return json.dumps(message)


def _garbage_nan(message: dict[str, Any]) -> str | bytes:
    message["data"]["k"]["c"] = "NaN"
    return json.dumps(message)


def _garbage_interval(message: dict[str, Any]) -> str | bytes:
    message["data"]["k"]["i"] = "7m"
    message["stream"] = message["stream"].rsplit("_", 1)[0] + "_7m"
    return json.dumps(message)


def _garbage_bytes(message: dict[str, Any]) -> str | bytes:
    return b"\xff\xfe" + json.dumps(message).encode()


GARBAGE: tuple[tuple[Callable[[dict[str, Any]], str | bytes], RejectReason], ...] = (
    (_garbage_json, RejectReason.BAD_JSON),
    (_garbage_missing, RejectReason.MISSING_FIELD),
    (_garbage_range, RejectReason.BAD_RANGE),
    (_garbage_nan, RejectReason.BAD_NUMBER),
    (_garbage_interval, RejectReason.UNKNOWN_INTERVAL),
    (_garbage_bytes, RejectReason.BAD_JSON),
)
"""Malformed variants of a real message and the reason the feed must count them under."""


@dataclass(eq=False)
class _Connection:
    number: int
    streams: frozenset[str]
    socket: web.WebSocketResponse
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    sent: int = 0


class LocalVenue:
    """The venue; ``async with LocalVenue(...) as venue`` serves on an ephemeral port."""

    def __init__(
        self,
        series: Sequence[Sequence[MarketBar]],
        *,
        live_from: int = 0,
        updates_per_bar: int = 2,
        tick_s: float = 0.002,
        faults: Faults | None = None,
    ) -> None:
        self.series = [list(bars) for bars in series]
        first = self.series[0]
        self.timeframe = first[0].timeframe
        self.step_ms = self.timeframe.seconds * 1000
        self.opens_ms = [epoch_us(bar.open_time) // 1000 for bar in first]
        for bars in self.series:
            if [epoch_us(bar.open_time) // 1000 for bar in bars] != self.opens_ms:
                raise ValueError("every series needs the same open times")
        self.by_name = {venue_symbol(bars[0].symbol): bars for bars in self.series}
        self.streams = {stream_name(bars[0].symbol, self.timeframe) for bars in self.series}
        self.live_from = live_from
        self.updates_per_bar = updates_per_bar
        self.tick_s = tick_s
        self.faults = faults or Faults()
        self.now_ms = self.opens_ms[live_from]
        self.bar_index = live_from
        self.step = 0
        self.down = False
        self.connections_opened = 0
        self.refused_connections = 0
        self.garbage_sent = 0
        self.finished = asyncio.Event()
        self._first_client = asyncio.Event()
        self._connections: set[_Connection] = set()
        self._recent_closed: deque[dict[str, Any]] = deque(maxlen=64)
        self._runner: web.AppRunner | None = None
        self._market: asyncio.Task[None] | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/api/v3/time", self._time)
        app.router.add_get("/api/v3/klines", self._klines)
        app.router.add_get("/stream", self._stream)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._market = asyncio.create_task(self._run_market())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._market is not None:
            self._market.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._market
        await self._close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def clock(self) -> int:
        """The true (unskewed) market clock in epoch ms: the feed's local clock in tests."""
        return self.now_ms

    @property
    def venue_ms(self) -> int:
        return self.now_ms + self.faults.skew_ms

    # ------------------------------------------------------------------ market

    async def _run_market(self) -> None:
        await self._first_client.wait()
        steps = self.updates_per_bar + 1
        for index in range(self.live_from, len(self.opens_ms)):
            self.bar_index = index
            await self._apply_schedule(index)
            open_ms = self.opens_ms[index]
            for step in range(1, steps + 1):
                self.step = step
                self.now_ms = open_ms + self.step_ms * step // steps
                for bars in self.series:
                    bar = bars[index]
                    if step < steps:
                        update = bar.model_copy(update={"closed": False})
                        message = kline_message(
                            update, self.venue_ms, partial_values(bar, step, steps)
                        )
                    else:
                        message = kline_message(bar, self.venue_ms)
                        self._recent_closed.append(message)
                    self._broadcast(message)
                await asyncio.sleep(self.tick_s)
            every = self.faults.replay_every
            if every and (index - self.live_from + 1) % every == 0:
                for message in list(self._recent_closed)[-self.faults.replay_count :]:
                    self._broadcast(message)
        self.finished.set()

    async def _apply_schedule(self, index: int) -> None:
        if index in self.faults.skew_at_bar:
            self.faults.skew_ms = self.faults.skew_at_bar[index]
        if self.faults.outage is not None:
            first, length = self.faults.outage
            if index == first:
                self.down = True
                await self._close_all()
            elif index == first + length:
                self.down = False

    def _broadcast(self, message: dict[str, Any]) -> None:
        for connection in self._connections:
            if message["stream"] in connection.streams:
                connection.queue.put_nowait(message)

    async def _close_all(self) -> None:
        connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.socket.close(code=1001), 0.5)

    # ------------------------------------------------------------------ REST

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.venue_ms})

    def _error(self, status: int, code: int, msg: str) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)

    async def _klines(self, request: web.Request) -> web.Response:
        query = request.query
        bars = self.by_name.get(query.get("symbol", ""))
        if bars is None:
            return self._error(400, -1121, "Invalid symbol.")
        if query.get("interval") != self.timeframe.value:
            return self._error(400, -1120, "Invalid interval.")
        try:
            limit = int(query.get("limit", "500"))
            start_ms = int(query.get("startTime", "0"))
            end_ms = int(query.get("endTime", str(self.venue_ms)))
        except ValueError:
            return self._error(400, -1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= 1000:
            return self._error(400, -1130, "Invalid data sent for a parameter.")
        rows: list[list[Any]] = []
        for index, open_ms in enumerate(self.opens_ms):
            if len(rows) == limit or open_ms > min(end_ms, self.now_ms):
                break
            if open_ms < start_ms:
                continue
            bar = bars[index]
            values: Sequence[Decimal] = (bar.open, bar.high, bar.low, bar.close, bar.volume)
            if open_ms + self.step_ms > self.now_ms:  # the in-progress bar, as far as it got
                values = partial_values(bar, max(self.step, 1), self.updates_per_bar + 1)
            rows.append(
                [
                    open_ms,
                    *(_wire(value) for value in values),
                    open_ms + self.step_ms - 1,
                    "0",
                    101,
                    "0",
                    "0",
                    "0",
                ]
            )
        return web.json_response(rows)

    # ------------------------------------------------------------------ WebSocket

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        names = frozenset(request.query.get("streams", "").split("/"))
        if not names or not names <= self.streams:
            return self._error(400, -1100, f"Unknown stream(s): {sorted(names - self.streams)}")
        if self.down:
            self.refused_connections += 1
            return self._error(503, -1001, "Service unavailable.")
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        connection = _Connection(self.connections_opened, names, socket)
        self.connections_opened += 1
        self._connections.add(connection)
        self._first_client.set()
        sender = asyncio.create_task(self._send(connection))
        try:
            async for _ in socket:
                pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self._connections.discard(connection)
        return socket

    async def _send(self, connection: _Connection) -> None:
        faults = self.faults
        socket = connection.socket
        while True:
            message = await connection.queue.get()
            if (
                faults.drop_after is not None
                and connection.number < faults.drops
                and connection.sent >= faults.drop_after
            ):
                self._connections.discard(connection)
                await socket.close(code=1011)
                return
            if (
                faults.stall_after is not None
                and connection.number < faults.stalls
                and connection.sent >= faults.stall_after
            ):
                self._connections.discard(connection)  # silent from now on; socket stays open
                return
            if faults.garbage_every and connection.sent % faults.garbage_every == 0:
                make, _ = GARBAGE[self.garbage_sent % len(GARBAGE)]
                garbage = make(json.loads(json.dumps(message)))
                self.garbage_sent += 1
                if isinstance(garbage, bytes):
                    await socket.send_bytes(garbage)
                else:
                    await socket.send_str(garbage)
            await socket.send_str(json.dumps(message))
            connection.sent += 1


class _Streaming(Protocol):
    def stream(self) -> AsyncGenerator[MarketBar, None]: ...


async def collect(
    feed: _Streaming, last_open: datetime, *, symbols: int = 1, timeout_s: float = 4.0
) -> list[MarketBar]:
    """Every update the feed yields until ``symbols`` series have closed their ``last_open`` bar."""
    updates: list[MarketBar] = []
    finished: set[str] = set()
    async with contextlib.aclosing(feed.stream()) as stream, asyncio.timeout(timeout_s):
        async for bar in stream:
            updates.append(bar)
            if bar.closed and bar.open_time >= last_open:
                finished.add(bar.symbol)
                if len(finished) == symbols:
                    break
    return updates


async def collect_for(feed: _Streaming, seconds: float) -> list[MarketBar]:
    """Every update the feed yields within ``seconds``."""
    updates: list[MarketBar] = []
    with contextlib.suppress(TimeoutError):
        async with contextlib.aclosing(feed.stream()) as stream, asyncio.timeout(seconds):
            async for bar in stream:
                updates.append(bar)
    return updates
