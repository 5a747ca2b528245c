"""A restarted symbol's way back to the clock: its analysis is fed silently up to the last close
it served, with each hot reload applied after the close it followed, so its next steps equal an
uninterrupted analysis's; a live source waits for the venue's warm-up to reach that close, and
bars at or before it are never served twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from trading.config import SignalSettings
from trading.contracts import MarketBar
from trading.signals.analysis import SymbolAnalysis

LIVE_RESUME_WAIT_S = 10.0
POLL_S = 0.05

Reload = tuple[datetime | None, SignalSettings]
"""A hot reload of the signal settings and the close it was pushed after (None: before any)."""


class LiveSource(Protocol):
    """Live closed bars as they arrive (``trading.market.live.LiveBars``)."""

    @property
    def last_close(self) -> datetime | None: ...

    @property
    def error(self) -> str | None: ...


class Stepper(Protocol):
    """Steps an analysis through its base bars (``trading.execution.desk.SymbolStepper``)."""

    @property
    def analysis(self) -> SymbolAnalysis: ...

    def advance(self, until: datetime) -> object: ...


def replay_reloads(stepper: Stepper, reloads: Sequence[Reload], served: datetime) -> None:
    """Step up to ``served``, applying each reload after the close it followed."""
    for after, signals in reloads:
        if after is not None and after <= served:
            stepper.advance(after)
        stepper.analysis.apply_signal_settings(signals)
    stepper.advance(served)


async def live_reaches(
    live: LiveSource, close: datetime, wait_s: float = LIVE_RESUME_WAIT_S
) -> None:
    """Wait until the live bars reach ``close``, the source fails or ``wait_s`` passes."""
    waited_s = 0.0
    while live.last_close is None or live.last_close < close:
        if live.error is not None or waited_s >= wait_s:
            return
        await asyncio.sleep(POLL_S)
        waited_s += POLL_S


class Resume:
    """Whether a symbol still has to resume, and the close it resumed to."""

    def __init__(self, pending: bool) -> None:
        self.pending = pending
        self.resumed_to: datetime | None = None

    async def run(
        self,
        stepper: Stepper,
        served: datetime,
        reloads: Callable[[], Awaitable[Sequence[Reload]]],
        live: LiveSource | None = None,
    ) -> None:
        """Feed the analysis silently up to ``served`` (the close before the one asked for);
        live: once the venue's warm-up reaches it, or after ``LIVE_RESUME_WAIT_S``."""
        self.pending, self.resumed_to = False, served
        if live is not None:
            await live_reaches(live, served)
        replay_reloads(stepper, await reloads(), served)

    def unserved(self, bars: tuple[MarketBar, ...]) -> tuple[MarketBar, ...]:
        """``bars`` without those closed by the resume's close (live, restarted before the
        warm-up reached the clock: never serve a bar twice)."""
        resumed_to = self.resumed_to
        if resumed_to is None or not bars or bars[0].close_time > resumed_to:
            return bars
        return tuple(b for b in bars if b.close_time > resumed_to)
