"""When to ask the (costly) LLM analyst again: back off while nothing happens, tighten when
the market gets interesting. Intervals double from ``shortest`` up to ``longest`` after each
uneventful check and snap back to ``shortest`` on high volatility or a confident signal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class CheckSchedule:
    shortest: timedelta = timedelta(minutes=15)
    longest: timedelta = timedelta(hours=4)
    interval: timedelta = timedelta(minutes=15)
    next_check: datetime | None = None

    def due(self, now: datetime, urgent: bool) -> bool:
        """A check is due at its time, or at once when the market is ``urgent``."""
        return urgent or self.next_check is None or now >= self.next_check

    def checked(self, now: datetime, eventful: bool) -> None:
        """Record a check: eventful ones keep the interval short, quiet ones double it."""
        self.interval = self.shortest if eventful else min(self.interval * 2, self.longest)
        self.next_check = now + self.interval
