"""Breakouts of ranges, trend lines and S/R levels; retests and false breaks after them.

Definitions (close-based, as Bulkowski's *Encyclopedia of Chart Patterns* confirms breakouts):
- Range breakout: bar ``t - 1`` was inside a box and ``C[t]`` closes beyond its edge.
- Trend-line break: ``C[t-1]`` on the line's side and ``C[t]`` beyond the same line.
- Level break: ``C[t]`` crosses the latest swing pivot (at most ``level_lookback`` bars old) with
  volume confirmation ``V[t] >= volume_confirm * mean(V[t-20:t])``.
- False break: within ``false_break_bars`` after a range/level break the close is back across
  the level (direction: against the break). Retest: within ``retest_bars`` and before any close
  back across, a bar trades to within ``zone_tolerance_atr`` of the level and closes beyond it.
"""

from __future__ import annotations

import numpy as np

from trading.contracts import PatternKind
from trading.patterns.config import PatternConfig
from trading.patterns.hits import HitBlock, hit_block
from trading.patterns.levels import Boxes, Lines
from trading.patterns.pivots import Pivots
from trading.patterns.series import (
    FloatArray,
    IntArray,
    clip01,
    lagged,
    previous,
    window_sum,
)


def volume_ratio(volume: FloatArray, bars: int) -> FloatArray:
    """``V[t]`` over the mean volume of the ``bars`` bars before it."""
    mean = lagged(window_sum(volume, bars) / bars, 1)
    return np.where(mean > 0, volume / mean, np.nan)


def _break_confidence(
    distance_atr: FloatArray, vol_ratio: FloatArray, config: PatternConfig
) -> FloatArray:
    return 0.5 * clip01(distance_atr) + 0.5 * clip01(vol_ratio / (2.0 * config.volume_confirm))


def range_breakouts(
    close: FloatArray,
    boxes: Boxes,
    avg_range: FloatArray,
    vol_ratio: FloatArray,
    config: PatternConfig,
    since: int = 0,
) -> HitBlock:
    """RANGE_BREAKOUT hits: LONG above the box top, SHORT below its bottom."""
    was_box = lagged(boxes.active.astype(np.float64), 1, 0.0) > 0
    top, bottom = lagged(boxes.top, 1), lagged(boxes.bottom, 1)
    up = was_box & (close > top)
    down = was_box & (close < bottom)
    level = np.where(up, top, bottom)
    distance = np.abs(close - level) / avg_range
    return hit_block(
        PatternKind.RANGE_BREAKOUT,
        up | down,
        np.where(up, 1, -1).astype(np.int8),
        _break_confidence(distance, vol_ratio, config),
        levels={"level": level, "range_high": top, "range_low": bottom},
        components={"distance_atr": distance, "volume_ratio": vol_ratio},
        since=since,
    )


def trend_line_breaks(
    close: FloatArray,
    support: Lines,
    resistance: Lines,
    avg_range: FloatArray,
    vol_ratio: FloatArray,
    config: PatternConfig,
    since: int = 0,
) -> HitBlock:
    """TREND_LINE_BREAK hits: SHORT through rising support, LONG through falling resistance."""
    c1 = lagged(close, 1)
    blocks = []
    for lines, sign in ((support, -1), (resistance, 1)):
        same = (lines.line_id >= 0) & (lines.line_id == previous(lines.line_id, -1))
        v1 = lagged(lines.value, 1)
        crossed = (
            (close < lines.value) & (c1 >= v1) if sign < 0 else (close > lines.value) & (c1 <= v1)
        )
        blocks.append((same & crossed, sign, lines.value))
    mask = blocks[0][0] | blocks[1][0]
    direction = np.where(blocks[0][0], -1, 1).astype(np.int8)
    level = np.where(blocks[0][0], blocks[0][2], blocks[1][2])
    distance = np.abs(close - level) / avg_range
    return hit_block(
        PatternKind.TREND_LINE_BREAK,
        mask,
        direction,
        _break_confidence(distance, vol_ratio, config),
        levels={"line": level},
        components={"distance_atr": distance, "volume_ratio": vol_ratio},
        since=since,
    )


def _latest_pivot(side: Pivots, n: int, lookback: int) -> IntArray:
    t = np.arange(n)
    j = np.searchsorted(side.known_at, t, side="right") - 1
    if len(side) == 0:
        return np.full(n, -1, np.int64)
    fresh = (j >= 0) & (t - side.index[np.maximum(j, 0)] <= lookback)
    return np.where(fresh, j, -1).astype(np.int64)


def level_breaks(
    close: FloatArray,
    pivots: Pivots,
    touches: FloatArray,
    avg_range: FloatArray,
    vol_ratio: FloatArray,
    config: PatternConfig,
    since: int = 0,
) -> HitBlock:
    """LEVEL_BREAK hits: close through the latest swing high (LONG) or low (SHORT) on volume."""
    n = len(close)
    c1 = lagged(close, 1)
    confirmed = vol_ratio >= config.volume_confirm
    masks, levels, counts = [], [], []
    for high, sign in ((True, 1), (False, -1)):
        rows = pivots.is_high == high
        side = Pivots(
            pivots.index[rows], pivots.known_at[rows], pivots.price[rows], pivots.is_high[rows]
        )
        side_touches = touches[rows]
        j = _latest_pivot(side, n, config.level_lookback)
        same = (j >= 0) & (j == previous(j, -1))
        jj = np.maximum(j, 0)
        level = side.price[jj] if len(side) else np.full(n, np.nan)
        crossed = (close > level) & (c1 <= level) if sign > 0 else (close < level) & (c1 >= level)
        masks.append(same & crossed & confirmed)
        levels.append(level)
        counts.append(side_touches[jj] if len(side) else np.zeros(n))
    up, down = masks
    level = np.where(up, levels[0], levels[1])
    touch = np.where(up, counts[0], counts[1])
    distance = np.abs(close - level) / avg_range
    confidence = 0.7 * _break_confidence(distance, vol_ratio, config) + 0.3 * clip01(
        (touch - 1.0) / 3.0
    )
    return hit_block(
        PatternKind.LEVEL_BREAK,
        up | down,
        np.where(up, 1, -1).astype(np.int8),
        confidence,
        levels={"level": level},
        components={"distance_atr": distance, "volume_ratio": vol_ratio, "touches": touch},
        since=since,
    )


def retests_and_false_breaks(
    breaks: list[HitBlock],
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    avg_range: FloatArray,
    config: PatternConfig,
    since: int = 0,
) -> list[HitBlock]:
    """RETEST (same direction as the break) and FALSE_BREAK (against it) hits known from bar
    ``since`` on (``breaks`` must hold every break from ``since - retest_bars`` on)."""
    n = len(close)
    t0 = np.concatenate([b.known_at for b in breaks]).astype(np.int64)
    sign = np.concatenate([b.direction for b in breaks]).astype(np.int8)
    level = np.concatenate([b.levels.get("level", np.zeros(0)) for b in breaks])
    horizon = config.retest_bars
    at = t0[:, None] + np.arange(1, horizon + 1)[None, :]
    seen = at < n
    at_c = np.minimum(at, n - 1)
    s = sign[:, None].astype(np.float64)
    lvl = level[:, None]
    tol = config.zone_tolerance_atr * avg_range[t0][:, None]
    back = seen & (s * (close[at_c] - lvl) < 0)
    near = np.where(s > 0, low[at_c] <= lvl + tol, high[at_c] >= lvl - tol)
    holds = seen & near & (s * (close[at_c] - lvl) > 0)
    offsets = np.arange(1, horizon + 1)[None, :]
    first_back = np.where(back, offsets, horizon + 1).min(axis=1)
    first_hold = np.where(holds, offsets, horizon + 1).min(axis=1)
    false_rows = (first_back <= config.false_break_bars) & (t0 + first_back >= since)
    retest_rows = (first_hold < first_back) & (t0 + first_hold >= since)
    out = []
    for kind, rows, offset, direction in (
        (PatternKind.FALSE_BREAK, false_rows, first_back, -sign),
        (PatternKind.RETEST, retest_rows, first_hold, sign),
    ):
        known = (t0 + offset)[rows]
        depth = np.abs(close[np.minimum(known, n - 1)] - level[rows]) / avg_range[known]
        order = np.lexsort((t0[rows], known))
        out.append(
            HitBlock(
                kind,
                direction[rows].astype(np.int8)[order],
                known[order],
                t0[rows][order],
                (0.5 + 0.5 * clip01(depth))[order],
                {"level": level[rows][order]},
                {"bars_after_break": (offset[rows] * 1.0)[order], "distance_atr": depth[order]},
            )
        )
    return out
