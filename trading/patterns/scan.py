"""All detectors over a whole series (backtests) and their streaming twin (live updates).

``detect_patterns`` is vectorized over the series. ``PatternStream`` keeps the last
``window_bars`` bars and runs the very same function over them on every closed bar, returning
the hits that became known at that bar; because every detector has finite memory
(``PatternConfig.memory_bars`` < ``window_bars``) the two agree exactly.

A directional candlestick's confidence is ``0.75 * geometry + 0.25 * zone strength`` where the
zone is the S/R zone (pivots within ``zone_tolerance_atr``) its low (LONG) or high (SHORT) sits
on; ``zone_touches`` and ``levels["zone"]`` name it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from trading.contracts import PatternKind
from trading.market.frames import BarColumns
from trading.patterns.breakouts import (
    level_breaks,
    range_breakouts,
    retests_and_false_breaks,
    trend_line_breaks,
    volume_ratio,
)
from trading.patterns.candles import candle_patterns
from trading.patterns.config import PatternConfig
from trading.patterns.divergence import OSCILLATORS, divergences
from trading.patterns.hits import Detections, HitBlock
from trading.patterns.levels import (
    pivot_touches,
    ranges,
    support_resistance,
    trend_lines,
    zone_strength,
)
from trading.patterns.pivots import Pivots, swing_pivots, touches_near
from trading.patterns.series import FloatArray, average_range, window_sum

ZONE_CANDLES = (
    PatternKind.PIN_BAR,
    PatternKind.ENGULFING,
    PatternKind.MORNING_STAR,
    PatternKind.EVENING_STAR,
)


def _with_zones(
    blocks: list[HitBlock],
    pivots: Pivots,
    high: FloatArray,
    low: FloatArray,
    avg_range: FloatArray,
    config: PatternConfig,
) -> list[HitBlock]:
    at = np.concatenate([b.known_at for b in blocks])
    up = np.concatenate([b.direction for b in blocks]) > 0
    price = np.where(up, low[at], high[at])
    tolerance = config.zone_tolerance_atr * avg_range[at]
    touches, level = touches_near(
        pivots, at, price, tolerance, config.level_lookback, config.pivot_depth
    )
    zone = np.where(touches >= 2, level, np.nan)
    strength = zone_strength(touches)
    out = []
    start = 0
    for block in blocks:
        rows = slice(start, start + len(block))
        start += len(block)
        out.append(
            HitBlock(
                block.kind,
                block.direction,
                block.known_at,
                block.pattern_at,
                0.75 * block.confidence + 0.25 * strength[rows],
                {**block.levels, "zone": zone[rows]},
                {**block.components, "zone_touches": touches[rows]},
            )
        )
    return out


def _oscillator_scale(
    name: str, avg_range: FloatArray, volume: FloatArray, config: PatternConfig
) -> FloatArray:
    if name == "rsi":
        return np.full(len(volume), 10.0)
    if name == "obv":
        return 10.0 * window_sum(volume, config.volume_bars) / config.volume_bars
    return avg_range


def detect_patterns(
    open: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
    oscillators: Mapping[str, FloatArray] | None = None,
    config: PatternConfig | None = None,
    since: int = 0,
) -> Detections:
    """Every pattern hit known from bar ``since`` on; oscillators keyed ``rsi``/``macd``/``obv``.
    (``since`` only skips building hits nobody asked for; it changes no hit.)"""
    with np.errstate(invalid="ignore", divide="ignore"):
        return _detect(
            open, high, low, close, volume, oscillators or {}, config or PatternConfig(), since
        )


def _detect(
    open: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
    oscillators: Mapping[str, FloatArray],
    config: PatternConfig,
    since: int,
) -> Detections:
    n = len(close)
    avg_range = average_range(high, low, close, config.range_bars)
    pivots = swing_pivots(high, low, config.pivot_left, config.pivot_right)
    touches, level = pivot_touches(pivots, avg_range, config)
    vol_ratio = volume_ratio(volume, config.volume_bars)
    candles = candle_patterns(open, high, low, close, since)
    blocks = [b for b in candles if b.kind not in ZONE_CANDLES]
    zoned = [b for b in candles if b.kind in ZONE_CANDLES and len(b)]
    if zoned:
        blocks.extend(_with_zones(zoned, pivots, high, low, avg_range, config))
    blocks.extend(support_resistance(pivots, touches, level, since))
    line_blocks, support, resistance = trend_lines(pivots, n, avg_range, config, since)
    blocks.extend(line_blocks)
    box_block, boxes = ranges(high, low, close, config, since)
    blocks.append(box_block)
    break_since = max(0, since - config.retest_bars)
    breaks = [
        range_breakouts(close, boxes, avg_range, vol_ratio, config, break_since),
        level_breaks(close, pivots, touches, avg_range, vol_ratio, config, break_since),
    ]
    blocks.extend(b if break_since == since else b.take(b.known_at >= since) for b in breaks)
    blocks.append(
        trend_line_breaks(close, support, resistance, avg_range, vol_ratio, config, since)
    )
    blocks.extend(retests_and_false_breaks(breaks, high, low, close, avg_range, config, since))
    scales = {name: _oscillator_scale(name, avg_range, volume, config) for name in oscillators}
    blocks.extend(divergences(pivots, oscillators, scales, avg_range, config, since))
    return Detections(tuple(blocks))


def detect_bars(
    bars: BarColumns,
    oscillators: Mapping[str, FloatArray] | None = None,
    config: PatternConfig | None = None,
) -> Detections:
    """``detect_patterns`` over ``BarColumns``."""
    return detect_patterns(
        bars.open, bars.high, bars.low, bars.close, bars.volume, oscillators, config
    )


class PatternStream:
    """Live twin of ``detect_patterns``: one closed bar in, the hits known at that bar out."""

    def __init__(
        self, config: PatternConfig | None = None, oscillators: Sequence[str] = OSCILLATORS
    ) -> None:
        self.config = config or PatternConfig()
        self.oscillators = tuple(oscillators)
        self._capacity = 2 * self.config.window_bars
        self._rows = np.zeros((5 + len(self.oscillators), self._capacity))
        self._size = 0
        self.bars_seen = 0

    def update(
        self,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        oscillators: Mapping[str, float] | None = None,
    ) -> Detections:
        """Fold one closed bar in; hits carry series-wide bar indices (0 = first bar seen)."""
        window = self.config.window_bars
        if self._size == self._capacity:
            self._rows[:, : window - 1] = self._rows[:, self._size - window + 1 : self._size]
            self._size = window - 1
        values = oscillators or {}
        column = [open, high, low, close, volume]
        column.extend(values.get(name, np.nan) for name in self.oscillators)
        self._rows[:, self._size] = column
        self._size += 1
        self.bars_seen += 1
        start = max(0, self._size - window)
        rows = self._rows[:, start : self._size]
        detections = detect_patterns(
            rows[0],
            rows[1],
            rows[2],
            rows[3],
            rows[4],
            {name: rows[5 + k] for k, name in enumerate(self.oscillators)},
            self.config,
            since=self._size - start - 1,
        )
        last = self._size - start - 1
        return detections.known_at(last).shifted(self.bars_seen - 1 - last)
