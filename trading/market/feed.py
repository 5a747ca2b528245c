"""The one interface every market-data source implements: file replay now, venues later."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol, TypeAlias, runtime_checkable

from trading.contracts import MarketBar, Timeframe

BarUpdate: TypeAlias = MarketBar
"""A closed bar, or (``closed=False``) the in-progress bar a later update of its key replaces."""


@runtime_checkable
class BarFeed(Protocol):
    """A source of bars: a live stream of updates plus a historical backfill."""

    def stream(self) -> AsyncIterator[BarUpdate]:
        """Bar updates for every subscribed symbol, in the order the source publishes them."""
        ...

    async def backfill(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[MarketBar]:
        """Closed bars of ``symbol`` with ``start <= open_time < end``, oldest first."""
        ...
