"""Trade outcomes per (pattern, regime, timeframe) over rolling time windows.

Robust by construction: R multiples are clipped to ``[-r_clip, r_clip]`` before averaging (one
freak trade cannot dominate), and a key with no trades in the window reports ``None`` stats
rather than zeros that look like information.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Outcome:
    """One closed trade as learning sees it."""

    exit_ms: int
    pattern: str
    regime: str
    timeframe: str
    r_multiple: float
    pnl: float
    holding_ms: int


@dataclass(frozen=True)
class OutcomeStats:
    """Window statistics of one key; ``None`` fields when the window holds no trades."""

    trades: int
    win_rate: float | None
    expectancy_r: float | None  # mean clipped R
    avg_r: float | None  # median R (outlier-proof central value)
    expectancy: float | None  # mean PnL, winsorized at the 5th/95th percentiles
    holding_hours: float | None


Key = tuple[str, str, str]


class OutcomeTracker:
    """Keeps outcomes for ``window_days`` (30-90) and answers stats per key or marginal."""

    def __init__(self, window_days: int = 60, r_clip: float = 5.0) -> None:
        if not 1 <= window_days <= 365:
            raise ValueError(f"window_days must be within 1..365, got {window_days}")
        self.window_ms = window_days * DAY_MS
        self.r_clip = r_clip
        self._rows: deque[Outcome] = deque()

    def record(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            if np.isfinite(outcome.r_multiple) and np.isfinite(outcome.pnl):
                self._rows.append(outcome)

    def _current(self, now_ms: int) -> list[Outcome]:
        while self._rows and self._rows[0].exit_ms < now_ms - self.window_ms:
            self._rows.popleft()
        return [o for o in self._rows if o.exit_ms <= now_ms]

    def stats(
        self,
        now_ms: int,
        pattern: str | None = None,
        regime: str | None = None,
        timeframe: str | None = None,
    ) -> OutcomeStats:
        """Stats of the trades matching every given field (None: any) within the window."""
        rows = [
            o
            for o in self._current(now_ms)
            if (pattern is None or o.pattern == pattern)
            and (regime is None or o.regime == regime)
            and (timeframe is None or o.timeframe == timeframe)
        ]
        return self.summarize(rows)

    def by_key(self, now_ms: int) -> dict[Key, OutcomeStats]:
        groups: dict[Key, list[Outcome]] = defaultdict(list)
        for o in self._current(now_ms):
            groups[(o.pattern, o.regime, o.timeframe)].append(o)
        return {k: self.summarize(v) for k, v in sorted(groups.items())}

    def summarize(self, rows: list[Outcome]) -> OutcomeStats:
        if not rows:
            return OutcomeStats(0, None, None, None, None, None)
        r = np.clip([o.r_multiple for o in rows], -self.r_clip, self.r_clip)
        pnl = np.array([o.pnl for o in rows])
        lo, hi = np.percentile(pnl, [5, 95])
        return OutcomeStats(
            trades=len(rows),
            win_rate=float(np.mean(pnl > 0)),
            expectancy_r=float(r.mean()),
            avg_r=float(np.median(r)),
            expectancy=float(np.clip(pnl, lo, hi).mean()),
            holding_hours=float(np.mean([o.holding_ms for o in rows]) / 3_600_000),
        )
