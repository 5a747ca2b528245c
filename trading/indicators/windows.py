"""Window state of the streaming indicators, one value at a time.

``RunningWindowSum`` is TA-Lib's running total (add the newest, read, drop the oldest) and
``RollingExtreme`` a monotonic-deque window maximum/minimum. The batch indicators run the same
steps in Rust (``rust_exec/src/kernels.rs``) and are tested equal to these bit for bit.
"""

from __future__ import annotations

import math
from collections import deque


class RunningWindowSum:
    """The running total TA-Lib keeps over the last ``period`` values."""

    __slots__ = ("_count", "_next", "_period", "_ring", "_total")

    def __init__(self, period: int) -> None:
        self._period = period
        self._ring = [0.0] * period
        self._next = 0
        self._count = 0
        self._total = 0.0

    def update(self, value: float) -> float:
        """Add ``value``; the window total once ``period`` values are in, else NaN."""
        self._ring[self._next] = value
        self._total += value
        self._next = (self._next + 1) % self._period
        if self._count < self._period - 1:
            self._count += 1
            return math.nan
        total = self._total
        self._total -= self._ring[self._next]
        return total

    def reset_total(self) -> None:
        """Set the window total to exactly 0 (its values are all zero; drop the residue)."""
        self._total = -self._ring[self._next] if self._count >= self._period - 1 else 0.0


class RollingExtreme:
    """Highest (or lowest) of the last ``period`` values: a monotonic deque, amortized O(1)."""

    __slots__ = ("_count", "_highest", "_period", "_window")

    def __init__(self, period: int, *, highest: bool) -> None:
        self._period = period
        self._highest = highest
        self._window: deque[tuple[int, float]] = deque()
        self._count = 0

    def update(self, value: float) -> float:
        """Add ``value``; the window's extreme once ``period`` values are in, else NaN."""
        window = self._window
        if self._highest:
            while window and window[-1][1] <= value:
                window.pop()
        else:
            while window and window[-1][1] >= value:
                window.pop()
        window.append((self._count, value))
        if window[0][0] <= self._count - self._period:
            window.popleft()
        self._count += 1
        return window[0][1] if self._count >= self._period else math.nan
