"""Bars from any ccxt exchange over REST, for the long tail of venues without a native adapter.

ccxt is optional: building a ``CcxtFeed`` without it raises ``CcxtMissingError`` saying
``pip install ccxt``. The live side polls ``fetch_ohlcv`` and emits closed bars only.
"""

from __future__ import annotations

import asyncio
import decimal
import importlib
import logging
import math
from collections import Counter
from collections.abc import AsyncGenerator, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from trading.contracts import MarketBar, Timeframe
from trading.market.binance import (
    BarSequencer,
    Clock,
    epoch_ms,
    from_epoch_ms,
    wall_clock_ms,
)

logger = logging.getLogger(__name__)

OHLCV_FIELDS = ("timestamp", "open", "high", "low", "close", "volume")


class CcxtMissingError(ImportError):
    """ccxt is not installed."""


class OhlcvRowError(ValueError):
    """A ccxt OHLCV row that is not ``[ms, open, high, low, close, volume]`` of numbers."""

    def __init__(self, field: str, value: Any, problem: str) -> None:
        super().__init__(f"ohlcv {field}={value!r:.80}: {problem}")
        self.field = field
        self.value = value


def ccxt_decimals() -> AbstractContextManager[decimal.Context]:
    """A private decimal context for a ccxt call: ccxt's ``decimal_to_precision`` sets the
    *current* context's rounding to ROUND_HALF_UP and traps Underflow, which would change every
    later Decimal result of the process (risk, fees, the gateway) from the default half-even."""
    return decimal.localcontext()


def load_ccxt() -> ModuleType:
    """``ccxt.async_support``, or a ``CcxtMissingError`` that says how to install it."""
    try:
        return importlib.import_module("ccxt.async_support")
    except ImportError as exc:
        raise CcxtMissingError(
            "ccxt is not installed; run `pip install ccxt` to use ccxt-backed venues"
        ) from exc


def _number(value: Any, field: str) -> Decimal:
    """ccxt numbers are floats (or ints/strings); a float becomes its shortest repr, exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise OhlcvRowError(field, value, "is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise OhlcvRowError(field, value, "is not finite")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except ArithmeticError as exc:
        raise OhlcvRowError(field, value, "is not a number") from exc
    if not number.is_finite():
        raise OhlcvRowError(field, value, "is not finite")
    return number


def ohlcv_bar(
    row: Sequence[Any], symbol: str, timeframe: Timeframe, *, closed: bool = True
) -> MarketBar:
    """One ccxt ``[timestamp ms, open, high, low, close, volume]`` row -> ``MarketBar``.

    Raises ``OhlcvRowError`` for a malformed row, ``ValidationError`` for an impossible bar.
    """
    if len(row) < len(OHLCV_FIELDS):
        raise OhlcvRowError("row", row, f"has {len(row)} of {len(OHLCV_FIELDS)} fields")
    timestamp = row[0]
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise OhlcvRowError("timestamp", timestamp, "is not epoch milliseconds")
    open_, high, low, close, volume = (
        _number(value, field) for value, field in zip(row[1:6], OHLCV_FIELDS[1:], strict=True)
    )
    return MarketBar(
        symbol=symbol,
        timeframe=timeframe,
        open_time=from_epoch_ms(timestamp),
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        closed=closed,
    )


class CcxtFeed:
    """A ``BarFeed`` over one ccxt exchange: paginated backfill, and polling for closed bars."""

    def __init__(
        self,
        exchange_id: str,
        subscriptions: Iterable[tuple[str, Timeframe]],
        *,
        config: dict[str, Any] | None = None,
        poll_s: float = 10.0,
        page_limit: int = 500,
        clock: Clock = wall_clock_ms,
    ) -> None:
        exchange_class = getattr(load_ccxt(), exchange_id, None)
        if exchange_class is None:
            raise ValueError(f"ccxt has no exchange {exchange_id!r}")
        self.exchange: Any = exchange_class(config or {})
        self.subscriptions = tuple(dict.fromkeys(subscriptions))
        self.poll_s = poll_s
        self.page_limit = page_limit
        self.clock = clock
        self.rejected: Counter[str] = Counter()
        self._sequencer = BarSequencer()

    async def aclose(self) -> None:
        await self.exchange.close()

    async def backfill(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[MarketBar]:
        """Closed bars with ``start <= open_time < end``, oldest first."""
        step_ms = timeframe.seconds * 1000
        end_ms = min(epoch_ms(end), self.clock() - step_ms + 1)
        since = epoch_ms(start)
        bars: list[MarketBar] = []
        while since < end_ms:
            with ccxt_decimals():
                rows = await self.exchange.fetch_ohlcv(
                    symbol, timeframe.value, since=since, limit=self.page_limit
                )
            page = [
                bar
                for bar in self._bars(rows, symbol, timeframe)
                if since <= epoch_ms(bar.open_time) < end_ms
            ]
            bars.extend(page)
            if len(rows) < self.page_limit or not page:
                break
            since = epoch_ms(page[-1].open_time) + step_ms
        return bars

    def _bars(self, rows: Any, symbol: str, timeframe: Timeframe) -> list[MarketBar]:
        bars: list[MarketBar] = []
        for row in rows if isinstance(rows, list) else []:
            try:
                bars.append(ohlcv_bar(row, symbol, timeframe))
            except (OhlcvRowError, ValidationError, TypeError) as exc:
                self.rejected[type(exc).__name__] += 1
                logger.warning("rejected ccxt row %.200r: %s", row, exc)
        return bars

    async def stream(self) -> AsyncGenerator[MarketBar, None]:
        """Closed bars as they close, polled every ``poll_s``; each key strictly increasing."""
        while True:
            now_ms = self.clock()
            for symbol, timeframe in self.subscriptions:
                start = self._sequencer.next_open((symbol, timeframe)) or timeframe.floor(
                    from_epoch_ms(now_ms - timeframe.seconds * 1000)
                )
                for bar in await self.backfill(symbol, timeframe, start, from_epoch_ms(now_ms)):
                    if self._sequencer.admit(bar):
                        yield bar
            await asyncio.sleep(self.poll_s)
