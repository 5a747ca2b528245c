"""Build 15m/1h/4h/1d bars from a 1m or 5m base feed, streaming and batch, on UTC boundaries.

A higher bar covers ``[floor(t), floor(t) + length)`` with epoch-aligned (exchange) boundaries:
open of its first base bar, max high, min low, close of its last base bar, summed volume.

Gaps: a higher bar is built from the base bars present and carries ``missing_bars``, the base
bars absent from its window; it is never passed off as complete. It closes the moment its last
base bar closes, or, when that bar is missing, as soon as a base bar of a later window arrives
(or on ``flush()`` at the end of a finite stream). A window with no base bar yields no bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from trading.contracts import MarketBar, Timeframe, utc_from_ms
from trading.market.frames import BarColumns, IntArray


class ResampleError(ValueError):
    """A base bar or timeframe the resampler cannot use."""


class OutOfOrderBarError(ResampleError):
    """A base bar at or before the last closed base bar (duplicates must be dropped upstream)."""


class ForeignBarError(ResampleError):
    """A base bar of another symbol or timeframe than the resampler was built for."""


@dataclass(frozen=True, slots=True)
class ResampledBar:
    """A higher-timeframe bar (closed or in progress) and the base bars it is built from."""

    bar: MarketBar
    base_bars: int
    missing_bars: int

    @property
    def complete(self) -> bool:
        """Closed with every base bar of its window present."""
        return self.bar.closed and self.missing_bars == 0


@dataclass(frozen=True, slots=True)
class ResampledColumns:
    """Batch output: one row per higher bar, with its base-bar count and missing base bars."""

    bars: BarColumns
    base_bars: IntArray
    missing_bars: IntArray


def check_timeframes(base: Timeframe, targets: Sequence[Timeframe]) -> None:
    """Every target must be longer than ``base`` and a whole multiple of it."""
    for target in targets:
        if target.seconds <= base.seconds or target.seconds % base.seconds:
            raise ResampleError(f"cannot build {target} bars from {base} bars")


class _Window:
    """The closed base bars aggregated so far into one higher-timeframe window."""

    __slots__ = (
        "base_bars",
        "close",
        "expected",
        "high",
        "low",
        "open",
        "open_time",
        "seconds",
        "start_s",
        "timeframe",
        "volume",
    )

    def __init__(self, timeframe: Timeframe, base: Timeframe) -> None:
        self.timeframe = timeframe
        self.seconds = timeframe.seconds
        self.expected = timeframe.seconds // base.seconds
        self.base_bars = 0
        self.start_s = -1
        self.open_time = datetime.fromtimestamp(0, UTC)
        self.open = self.high = self.low = self.close = self.volume = Decimal(0)

    def add(self, start_s: int, bar: MarketBar) -> None:
        if self.base_bars == 0:
            self.start_s = start_s
            self.open_time = datetime.fromtimestamp(start_s, UTC)
            self.open, self.high, self.low = bar.open, bar.high, bar.low
            self.volume = bar.volume
        else:
            self.high = max(self.high, bar.high)
            self.low = min(self.low, bar.low)
            self.volume += bar.volume
        self.close = bar.close
        self.base_bars += 1

    def emit(self, symbol: str, *, closed: bool, missing_bars: int) -> ResampledBar:
        bar = MarketBar.model_construct(
            symbol=symbol,
            timeframe=self.timeframe,
            open_time=self.open_time,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            closed=closed,
        )
        return ResampledBar(bar, self.base_bars, missing_bars)

    def emit_with(
        self, symbol: str, start_s: int, partial: MarketBar, missing: int
    ) -> ResampledBar:
        """The in-progress window: closed base bars so far plus the in-progress base bar."""
        if self.base_bars == 0:
            open_time = datetime.fromtimestamp(start_s, UTC)
            open_, high, low, volume = partial.open, partial.high, partial.low, partial.volume
        else:
            open_time, open_ = self.open_time, self.open
            high, low = max(self.high, partial.high), min(self.low, partial.low)
            volume = self.volume + partial.volume
        bar = MarketBar.model_construct(
            symbol=symbol,
            timeframe=self.timeframe,
            open_time=open_time,
            open=open_,
            high=high,
            low=low,
            close=partial.close,
            volume=volume,
            closed=False,
        )
        return ResampledBar(bar, self.base_bars + 1, missing)


class Resampler:
    """Streaming multi-timeframe builder for one symbol: O(1) work per base update.

    Feed it base updates in time order (in-progress updates of a key may repeat before its
    closed update). Each update returns, per target timeframe in ``targets`` order, any window
    closed incomplete by a hole, then the window's new state: closed when this closed base bar
    was its last, otherwise in progress. Output bars are built with ``model_construct``: they
    aggregate validated bars, so they satisfy the ``MarketBar`` rules by construction.
    """

    def __init__(
        self,
        symbol: str,
        base: Timeframe,
        targets: Sequence[Timeframe] = Timeframe.analysis(),
    ) -> None:
        check_timeframes(base, targets)
        self.symbol = symbol
        self.base = base
        self._base_s = base.seconds
        self._windows = [_Window(target, base) for target in targets]
        self._last_closed_s = -1
        self._incomplete = dict.fromkeys(targets, 0)

    @property
    def incomplete_bars(self) -> dict[Timeframe, int]:
        """How many closed bars per timeframe were emitted with missing base bars."""
        return dict(self._incomplete)

    def update(self, bar: MarketBar) -> list[ResampledBar]:
        """Take one base update; return the higher-timeframe bars it changed or closed."""
        if bar.symbol != self.symbol or bar.timeframe is not self.base:
            raise ForeignBarError(
                f"resampler for {self.symbol} {self.base} got a {bar.symbol} {bar.timeframe} bar"
            )
        t = int(bar.open_time.timestamp())
        if t <= self._last_closed_s:
            raise OutOfOrderBarError(
                f"{self.symbol} {self.base} bar at {bar.open_time.isoformat()} is not after the "
                f"last closed bar at {datetime.fromtimestamp(self._last_closed_s, UTC).isoformat()}"
            )
        base_s = self._base_s
        updates: list[ResampledBar] = []
        for window in self._windows:
            start_s = t - t % window.seconds
            if window.base_bars and window.start_s != start_s:
                updates.append(self._close(window))
            seen = (t - start_s) // base_s + 1
            if not bar.closed:
                missing = seen - window.base_bars - 1
                updates.append(window.emit_with(self.symbol, start_s, bar, missing))
                continue
            window.add(start_s, bar)
            if t + base_s == start_s + window.seconds:
                updates.append(self._close(window))
            else:
                missing = seen - window.base_bars
                updates.append(window.emit(self.symbol, closed=False, missing_bars=missing))
        if bar.closed:
            self._last_closed_s = t
        return updates

    def flush(self) -> list[ResampledBar]:
        """End of a finite stream: close every open window, marked with its missing base bars."""
        return [self._close(window) for window in self._windows if window.base_bars]

    def _close(self, window: _Window) -> ResampledBar:
        missing = window.expected - window.base_bars
        if missing:
            self._incomplete[window.timeframe] += 1
        closed = window.emit(self.symbol, closed=True, missing_bars=missing)
        window.base_bars = 0
        return closed


def resample_columns(columns: BarColumns, base: Timeframe, target: Timeframe) -> ResampledColumns:
    """Batch form of ``Resampler`` (closed bars plus ``flush``) over time-ordered base columns."""
    check_timeframes(base, (target,))
    times = columns.open_time_ms
    backwards = np.flatnonzero(np.diff(times) <= 0)
    if len(backwards):
        at = utc_from_ms(int(times[backwards[0] + 1]))
        raise OutOfOrderBarError(f"base bar at {at.isoformat()} is not after the bar before it")
    step_ms = target.seconds * 1000
    window = times - times % step_ms
    if len(times) == 0:
        starts = np.zeros(0, dtype=np.int64)
    else:
        starts = np.flatnonzero(np.r_[True, window[1:] != window[:-1]])
    ends = np.r_[starts[1:], len(times)].astype(np.int64) - 1
    base_bars = (ends - starts + 1).astype(np.int64)
    bars = BarColumns(
        window[starts],
        columns.open[starts],
        np.maximum.reduceat(columns.high, starts) if len(starts) else columns.high[:0],
        np.minimum.reduceat(columns.low, starts) if len(starts) else columns.low[:0],
        columns.close[ends],
        np.add.reduceat(columns.volume, starts) if len(starts) else columns.volume[:0],
    )
    expected = target.seconds // base.seconds
    return ResampledColumns(bars, base_bars, expected - base_bars)
