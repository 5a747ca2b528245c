"""Candlestick patterns with exact geometric definitions (after Nison, *Japanese Candlestick
Charting Techniques*, 1991; thresholds stated per pattern).

Terms for bar ``t``: ``body = |C - O|``, ``range = H - L``, ``upper = H - max(O, C)``,
``lower = min(O, C) - L``, ``avg_range`` = mean ``H - L`` of the 10 bars before ``t`` (TA-Lib's
"HighLow" average). Bullish means ``C > O``, bearish ``C < O`` (a flat bar is neither). A candle
pattern is known at the close of its last bar, so ``known_at == pattern_at``.

- Doji: ``range > 0``, ``body <= 0.1 * range`` and ``range >= 0.5 * avg_range``. NEUTRAL.
- Pin bar (hammer, LONG): ``lower >= 2/3 range``, ``body <= 1/3 range``, ``range >= 0.5 avg_range``
  and ``L`` below the lows of the 3 previous bars (the nose sticks out). Shooting star (SHORT)
  mirrors it on the upper wick and highs.
- Engulfing (LONG): previous bar bearish, this bar bullish, ``O <= C[-1]`` and ``C >= O[-1]`` with
  at least one strict (TA-Lib's rule). SHORT mirrors it.
- Inside bar: ``H < H[-1]`` and ``L > L[-1]`` (the whole range inside the mother bar). NEUTRAL.
- Morning star (LONG) over bars a, b, c: a bearish with ``body_a >= 0.6 avg_range[a]``; b small,
  ``body_b <= 0.3 body_a``, its body midpoint at or below ``C_a`` (no gap demanded: crypto opens at
  the previous close); c bullish closing at or above the midpoint of a's body. Evening star mirrors.
"""

from __future__ import annotations

import numpy as np

from trading.contracts import PatternKind
from trading.patterns.hits import HitBlock, hit_block
from trading.patterns.series import FloatArray, clip01, lagged, window_max, window_min, window_sum

AVERAGE_BARS = 10
DOJI_BODY = 0.1
MIN_RANGE = 0.5
PIN_WICK = 2.0 / 3.0
PIN_BODY = 1.0 / 3.0
PIN_NOSE_BARS = 3
STAR_LONG_BODY = 0.6
STAR_SMALL_BODY = 0.3


def candle_patterns(
    open: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray, since: int = 0
) -> list[HitBlock]:
    """Every candlestick detector over a whole series (hits from bar ``since`` on)."""
    body = np.abs(close - open)
    rng = high - low
    top = np.maximum(open, close)
    bottom = np.minimum(open, close)
    upper = high - top
    lower = bottom - low
    avg_range = lagged(window_sum(rng, AVERAGE_BARS) / AVERAGE_BARS, 1)
    body_ratio = np.where(rng > 0, body / rng, 1.0)
    range_ratio = rng / avg_range
    sized = range_ratio >= MIN_RANGE
    size_score = clip01(range_ratio / 2.0)
    bull = close > open
    bear = close < open
    blocks: list[HitBlock] = []

    doji = (rng > 0) & (body_ratio <= DOJI_BODY) & sized
    doji_conf = 0.5 * (1.0 - body_ratio / DOJI_BODY) + 0.5 * size_score
    blocks.append(
        hit_block(
            PatternKind.DOJI,
            doji,
            0,
            doji_conf,
            components={"body_ratio": body_ratio, "range_ratio": range_ratio},
            since=since,
        )
    )

    lower_ratio = np.where(rng > 0, lower / rng, 0.0)
    upper_ratio = np.where(rng > 0, upper / rng, 0.0)
    prior_low = lagged(window_min(low, PIN_NOSE_BARS), 1)
    prior_high = lagged(window_max(high, PIN_NOSE_BARS), 1)
    small = body_ratio <= PIN_BODY
    hammer = small & sized & (lower_ratio >= PIN_WICK) & (low < prior_low)
    star = small & sized & (upper_ratio >= PIN_WICK) & (high > prior_high)
    wick = np.where(hammer, lower_ratio, upper_ratio)
    pin_conf = 0.5 * clip01((wick - PIN_WICK) / (1.0 - PIN_WICK)) + 0.5 * size_score
    pin_dir = np.where(hammer, 1, -1).astype(np.int8)
    blocks.append(
        hit_block(
            PatternKind.PIN_BAR,
            hammer | star,
            pin_dir,
            pin_conf,
            components={"wick_ratio": wick, "body_ratio": body_ratio, "range_ratio": range_ratio},
            since=since,
        )
    )

    o1, c1, h1, l1 = lagged(open, 1), lagged(close, 1), lagged(high, 1), lagged(low, 1)
    body1 = np.abs(c1 - o1)
    bull_engulf = bull & (c1 < o1) & (open <= c1) & (close >= o1) & ((open < c1) | (close > o1))
    bear_engulf = bear & (c1 > o1) & (open >= c1) & (close <= o1) & ((open > c1) | (close < o1))
    engulf_ratio = np.where(body1 > 0, body / body1, 4.0)
    engulf_conf = 0.5 * clip01((engulf_ratio - 1.0) / 2.0) + 0.5 * size_score
    blocks.append(
        hit_block(
            PatternKind.ENGULFING,
            bull_engulf | bear_engulf,
            np.where(bull_engulf, 1, -1).astype(np.int8),
            engulf_conf,
            components={"engulf_ratio": engulf_ratio, "range_ratio": range_ratio},
            since=since,
        )
    )

    inside = (high < h1) & (low > l1)
    inside_ratio = rng / (h1 - l1)
    blocks.append(
        hit_block(
            PatternKind.INSIDE_BAR,
            inside,
            0,
            clip01(1.0 - inside_ratio),
            components={"inside_ratio": inside_ratio},
            levels={"mother_high": h1, "mother_low": l1},
            since=since,
        )
    )

    oa, ca, avg_a = lagged(open, 2), lagged(close, 2), lagged(avg_range, 2)
    body_a = np.abs(ca - oa)
    mid_b = (o1 + c1) / 2.0
    mid_a = (oa + ca) / 2.0
    small_b = body1 <= STAR_SMALL_BODY * body_a
    long_a = body_a >= STAR_LONG_BODY * avg_a
    morning = (ca < oa) & long_a & small_b & (mid_b <= ca) & bull & (close >= mid_a)
    evening = (ca > oa) & long_a & small_b & (mid_b >= ca) & bear & (close <= mid_a)
    recovery = np.where(body_a > 0, np.abs(close - ca) / body_a, 0.0)
    star_ratio = np.where(body_a > 0, body1 / body_a, 1.0)
    star_conf = 0.5 * clip01(recovery) + 0.5 * clip01(1.0 - star_ratio / STAR_SMALL_BODY)
    for kind, mask in ((PatternKind.MORNING_STAR, morning), (PatternKind.EVENING_STAR, evening)):
        blocks.append(
            hit_block(
                kind,
                mask,
                1 if kind is PatternKind.MORNING_STAR else -1,
                star_conf,
                components={"recovery": recovery, "star_ratio": star_ratio},
                since=since,
            )
        )
    return blocks
