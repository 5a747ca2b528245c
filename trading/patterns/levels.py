"""Support/resistance zones, trend lines and ranges (boxes) built from confirmed pivots.

- S/R zone (after Edwards & Magee, *Technical Analysis of Stock Trends*): pivots, highs and lows
  alike (a broken resistance becomes support), within ``zone_tolerance_atr`` mean true ranges of
  each other and at most ``level_lookback`` bars old. A new pivot that lands in a zone with at
  least one earlier pivot is a touch: SUPPORT (LONG) for a pivot low, RESISTANCE (SHORT) for a
  pivot high, known when the pivot is confirmed. Strength = ``1 - exp(-(touches - 1) / 2)``.
- Trend line: the line through the two latest pivot lows when the second is higher (rising
  support, LONG) or the two latest pivot highs when the second is lower (falling resistance,
  SHORT), both at most ``trend_span`` bars apart; valid ``trend_span`` bars after its second pivot.
  Confidence grows with the span between the pivots: ``0.4 + 0.6 * min(span / 50, 1)``.
- Range (box): the last ``box_bars`` bars span at most ``box_width_atr`` mean true ranges and
  Kaufman's efficiency ratio ``|C[t] - C[t-n]| / sum |dC|`` is at most ``box_efficiency``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trading.contracts import PatternKind
from trading.patterns.config import PatternConfig
from trading.patterns.hits import HitBlock, hit_block
from trading.patterns.pivots import Pivots, touches_near
from trading.patterns.series import (
    BoolArray,
    FloatArray,
    IntArray,
    average_range,
    clip01,
    lagged,
    previous,
    window_max,
    window_min,
    window_sum,
)


def zone_strength(touches: FloatArray) -> FloatArray:
    """0 for a lone pivot, 0.39 at 2 touches, 0.63 at 3, 0.78 at 4."""
    return 1.0 - np.exp(-(np.maximum(touches, 1.0) - 1.0) / 2.0)


def pivot_touches(
    pivots: Pivots, avg_range: FloatArray, config: PatternConfig
) -> tuple[FloatArray, FloatArray]:
    """Touch count and zone level of every pivot, as known when it was confirmed."""
    tolerance = config.zone_tolerance_atr * avg_range[pivots.known_at]
    return touches_near(
        pivots, pivots.known_at, pivots.price, tolerance, config.level_lookback, config.pivot_depth
    )


def support_resistance(
    pivots: Pivots, touches: FloatArray, level: FloatArray, since: int = 0
) -> list[HitBlock]:
    """SUPPORT / RESISTANCE hits: pivots that touched an existing zone (touches >= 2)."""
    blocks = []
    for kind, high in ((PatternKind.SUPPORT, False), (PatternKind.RESISTANCE, True)):
        rows = (pivots.is_high == high) & (touches >= 2) & (pivots.known_at >= since)
        at = pivots.known_at[rows]
        blocks.append(
            HitBlock(
                kind,
                np.full(len(at), -1 if high else 1, dtype=np.int8),
                at,
                pivots.index[rows],
                zone_strength(touches[rows]),
                {"level": level[rows], "pivot": pivots.price[rows]},
                {"touches": touches[rows]},
            )
        )
    return blocks


@dataclass(frozen=True)
class Lines:
    """The active trend line at every bar: its value there (NaN when none) and its identity."""

    value: FloatArray
    line_id: IntArray
    slope: FloatArray
    span: FloatArray


def _active_lines(side: Pivots, n: int, rising: bool, span: int) -> Lines:
    t = np.arange(n)
    j = np.searchsorted(side.known_at, t, side="right") - 1
    has_pair = j >= 1
    j2 = np.where(has_pair, j, 1)
    j1 = j2 - 1
    if len(side) < 2:
        none = np.full(n, np.nan)
        return Lines(none, np.full(n, -1, np.int64), none, none)
    i1, i2 = side.index[j1], side.index[j2]
    p1, p2 = side.price[j1], side.price[j2]
    slope = (p2 - p1) / np.maximum(i2 - i1, 1)
    direction_ok = p2 > p1 if rising else p2 < p1
    valid = has_pair & direction_ok & (i2 - i1 <= span) & (t - i2 <= span)
    value = np.where(valid, p2 + slope * (t - i2), np.nan)
    return Lines(
        value,
        np.where(valid, j2, -1).astype(np.int64),
        np.where(valid, slope, np.nan),
        np.where(valid, (i2 - i1).astype(np.float64), np.nan),
    )


def trend_lines(
    pivots: Pivots, n: int, avg_range: FloatArray, config: PatternConfig, since: int = 0
) -> tuple[list[HitBlock], Lines, Lines]:
    """TREND_LINE hits (when a line forms) and the active support/resistance lines per bar."""
    support = _active_lines(pivots.side(False), n, True, config.trend_span)
    resistance = _active_lines(pivots.side(True), n, False, config.trend_span)
    blocks = []
    for lines, sign in ((support, 1), (resistance, -1)):
        earlier = previous(lines.line_id, -1)
        formed = (lines.line_id >= 0) & (lines.line_id != earlier)
        slope_atr = np.abs(lines.slope) / avg_range
        confidence = 0.4 + 0.6 * clip01(lines.span / 50.0)
        blocks.append(
            hit_block(
                PatternKind.TREND_LINE,
                formed,
                sign,
                confidence,
                levels={"line": lines.value},
                components={"slope_atr": slope_atr, "span_bars": lines.span},
                since=since,
            )
        )
    return blocks, support, resistance


@dataclass(frozen=True)
class Boxes:
    """The range state at every bar: inside a box or not, and the box's edges."""

    active: BoolArray
    top: FloatArray
    bottom: FloatArray


def ranges(
    high: FloatArray, low: FloatArray, close: FloatArray, config: PatternConfig, since: int = 0
) -> tuple[HitBlock, Boxes]:
    """RANGE hits (the bar a box is first detected) and the box state per bar."""
    bars = config.box_bars
    top = window_max(high, bars)
    bottom = window_min(low, bars)
    width = top - bottom
    prev_close = lagged(close, 1)
    prev_close[:1] = close[:1]
    mean_tr = average_range(high, low, close, bars)
    path = window_sum(np.abs(close - prev_close), bars)
    width_atr = width / mean_tr
    efficiency = np.abs(close - lagged(close, bars)) / path
    active = (width_atr <= config.box_width_atr) & (efficiency <= config.box_efficiency)
    started = active & ~previous(active, False)
    confidence = 0.5 * clip01(1.0 - width_atr / config.box_width_atr) + 0.5 * clip01(
        1.0 - efficiency / config.box_efficiency
    )
    block = hit_block(
        PatternKind.RANGE,
        started,
        0,
        confidence,
        levels={"range_high": top, "range_low": bottom},
        components={"width_atr": width_atr, "efficiency": efficiency},
        since=since,
    )
    return block, Boxes(active, top, bottom)
