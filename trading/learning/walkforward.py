"""Walk-forward study: pattern weights adapted by a bandit on each training window vs the
static configured weights, judged by the hit rate of the pattern score on the next window.

Per symbol and timeframe: the pattern detections of ``score_timeframe``; a hit's outcome is
whether price moved its way ``horizon`` bars after it became known. Each training window feeds
those outcomes (known by the window's end) to a seeded Thompson bandit over pattern kinds; the
bounded, smoothed weights it implies score the test window. Hit rate: among test bars where the
pattern score's magnitude reaches ``threshold``, the share whose direction was right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trading.config import SignalSettings
from trading.contracts import PatternKind, Timeframe
from trading.learning.bandits import Thompson, WeightBounds, update_weights
from trading.market.frames import BarColumns
from trading.patterns import Detections
from trading.patterns.series import FloatArray
from trading.signals.confluence import pattern_score
from trading.signals.history import score_timeframe

DEFAULT_BOUNDS = WeightBounds()


@dataclass(frozen=True)
class FoldResult:
    symbol: str
    test_start_ms: int
    static_hits: int
    static_calls: int
    adaptive_hits: int
    adaptive_calls: int
    weights: Mapping[str, float]


@dataclass(frozen=True)
class WalkForwardReport:
    folds: tuple[FoldResult, ...]

    def _rate(self, hits: str, calls: str) -> float:
        h = sum(getattr(f, hits) for f in self.folds)
        c = sum(getattr(f, calls) for f in self.folds)
        return h / c if c else float("nan")

    @property
    def static_hit_rate(self) -> float:
        return self._rate("static_hits", "static_calls")

    @property
    def adaptive_hit_rate(self) -> float:
        return self._rate("adaptive_hits", "adaptive_calls")

    @property
    def difference(self) -> float:
        """Adaptive minus static hit rate, in percentage points."""
        return 100 * (self.adaptive_hit_rate - self.static_hit_rate)


def _right(direction: FloatArray, close: FloatArray, at: np.ndarray, horizon: int) -> FloatArray:
    """1 right, 0 wrong, NaN unknown (future beyond the data)."""
    future = at + horizon
    ok = future < len(close)
    out = np.full(len(at), np.nan)
    move = close[future[ok]] - close[at[ok]]
    out[ok] = (np.sign(move) * direction[ok] > 0).astype(np.float64)
    return out


def _hits(
    detections: Detections, weights: Mapping[PatternKind, float], n: int, settings: SignalSettings
) -> FloatArray:
    return pattern_score(
        detections.impulse(n, weights), settings.pattern_memory_bars, settings.pattern_decay
    )


def walk_forward_weights(
    bars: Mapping[str, BarColumns],
    timeframe: Timeframe,
    settings: SignalSettings,
    train_bars: int,
    test_bars: int,
    threshold: float = 0.3,
    seed: int = 7,
    bounds: WeightBounds = DEFAULT_BOUNDS,
) -> WalkForwardReport:
    """Rolling folds over each symbol's bars; see the module docstring."""
    horizon = settings.outcome_horizon_bars
    static = {str(k): float(v) for k, v in settings.pattern_weights.items()}
    folds: list[FoldResult] = []
    for symbol, columns in bars.items():
        series = score_timeframe(columns, timeframe, settings)
        n, close = len(columns), columns.close
        rows = [
            (str(b.kind), b.known_at, b.direction.astype(np.float64))
            for b in series.detections.blocks
        ]
        weights = dict(static)
        start = train_bars
        while start + test_bars <= n:
            bandit = Thompson(tuple(static), seed=seed)
            for kind, known, direction in rows:
                if kind not in static:
                    continue
                pick = (known >= start - train_bars) & (known + horizon < start)
                for r in _right(direction[pick], close, known[pick], horizon).tolist():
                    bandit.update(kind, r)
            weights = update_weights(weights, static, bandit.preference(), bounds)
            test = slice(start, start + test_bars)
            right = _right(np.ones(n), close, np.arange(n), horizon)[test]
            counts = []
            for w in (static, weights):
                score = _hits(
                    series.detections, {PatternKind(k): v for k, v in w.items()}, n, settings
                )[test]
                called = (np.abs(score) >= threshold) & np.isfinite(right)
                won = called & ((right == 1) == (score > 0))
                counts.append((int(won.sum()), int(called.sum())))
            folds.append(
                FoldResult(
                    symbol,
                    int(columns.open_time_ms[start]),
                    counts[0][0],
                    counts[0][1],
                    counts[1][0],
                    counts[1][1],
                    dict(weights),
                )
            )
            start += test_bars
    return WalkForwardReport(tuple(folds))


def symbols_report(report: WalkForwardReport, symbols: Sequence[str]) -> dict[str, float]:
    """Per-symbol difference (adaptive - static, percentage points)."""
    out = {}
    for symbol in symbols:
        sub = WalkForwardReport(tuple(f for f in report.folds if f.symbol == symbol))
        out[symbol] = sub.difference
    return out
