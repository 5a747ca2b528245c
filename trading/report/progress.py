"""Progress of a running session, as the actors report it: per symbol, and the run's counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, dataclass, field
from typing import Any, ClassVar, Protocol

from trading.market.live import FeedReport


@dataclass
class SymbolProgress:
    """What one symbol's analysis has consumed (bar counts keyed by timeframe text)."""

    symbol: str
    base_bars: int = 0
    closed_bars: dict[str, int] = field(default_factory=dict)
    incomplete_bars: dict[str, int] = field(default_factory=dict)
    last_bar_time: str | None = None
    last_close: str | None = None
    done: bool = False
    error: str | None = None
    feed: FeedReport | None = None  # live mode: the buffer's and the venue feed's health


class RunProgress(Protocol):
    """The run's counters the summary reads (the orchestrator's ``SessionProgress``)."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def steps(self) -> int: ...

    @property
    def base_bars(self) -> int: ...

    @property
    def signals(self) -> int: ...

    @property
    def decisions(self) -> Mapping[str, int]: ...

    @property
    def orders(self) -> int: ...

    @property
    def fills(self) -> int: ...

    @property
    def error(self) -> str | None: ...
