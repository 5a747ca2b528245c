"""Regular and hidden divergences between price pivots and an oscillator (RSI, MACD, OBV).

For two consecutive confirmed pivot lows ``i1 < i2`` (``divergence_min_gap`` to
``divergence_max_gap`` bars apart) the oscillator pivot is its lowest value within
``divergence_window`` bars of each price pivot (highs: the highest). Following Murphy,
*Technical Analysis of the Financial Markets* (1999), and the "hidden" variant of Brown (2012):
- regular bullish: price lower low, oscillator higher low (LONG);
- hidden bullish: price higher low, oscillator lower low (LONG);
- regular bearish: price higher high, oscillator lower high (SHORT);
- hidden bearish: price lower high, oscillator higher high (SHORT).
Known when the second price pivot is confirmed (``pivot_right >= divergence_window``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trading.contracts import PatternKind
from trading.patterns.config import PatternConfig
from trading.patterns.hits import HitBlock
from trading.patterns.pivots import Pivots
from trading.patterns.series import FloatArray, clip01, window_max, window_min

OSCILLATORS = ("rsi", "macd", "obv")


def divergences(
    pivots: Pivots,
    oscillators: Mapping[str, FloatArray],
    scales: Mapping[str, FloatArray],
    avg_range: FloatArray,
    config: PatternConfig,
    since: int = 0,
) -> list[HitBlock]:
    """Both divergence kinds for each oscillator; ``scales[name]`` is the move worth 1.0."""
    span = 2 * config.divergence_window + 1
    out: list[HitBlock] = []
    for high in (False, True):
        side = pivots.side(high)
        if len(side) < 2:
            continue
        n = len(avg_range)
        i1, i2 = side.index[:-1], side.index[1:]
        p1, p2 = side.price[:-1], side.price[1:]
        gap = i2 - i1
        known = side.known_at[1:]
        ok = (gap >= config.divergence_min_gap) & (gap <= config.divergence_max_gap)
        ok &= known >= since
        if not ok.any():
            continue
        price_move = np.abs(p2 - p1) / avg_range[known]
        price_score = 0.5 * clip01(price_move / 2.0)
        sign = -1 if high else 1
        at1 = np.minimum(i1 + config.divergence_window, n - 1)
        at2 = np.minimum(i2 + config.divergence_window, n - 1)
        higher, lower = ok & (p2 > p1), ok & (p2 < p1)
        for name, oscillator in oscillators.items():
            extreme = window_max(oscillator, span) if high else window_min(oscillator, span)
            o1, o2 = extreme[at1], extreme[at2]
            osc_move = np.abs(o2 - o1) / scales[name][known]
            confidence = price_score + 0.5 * clip01(osc_move)
            regular = (higher & (o2 < o1)) if high else (lower & (o2 > o1))
            hidden = (lower & (o2 > o1)) if high else (higher & (o2 < o1))
            for kind, rows in (
                (PatternKind.REGULAR_DIVERGENCE, regular),
                (PatternKind.HIDDEN_DIVERGENCE, hidden),
            ):
                count = int(np.count_nonzero(rows))
                if not count:
                    continue
                out.append(
                    HitBlock(
                        kind,
                        np.full(count, sign, dtype=np.int8),
                        known[rows],
                        i2[rows],
                        confidence[rows],
                        {"first_pivot": p1[rows], "second_pivot": p2[rows]},
                        {
                            "price_move_atr": price_move[rows],
                            "oscillator_move": osc_move[rows],
                            "gap_bars": gap[rows].astype(np.float64),
                            f"on_{name}": np.ones(count),
                        },
                    )
                )
    return out
