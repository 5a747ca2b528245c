"""Pivots, S/R zones, trend lines, ranges, breakouts, retests and false breaks on constructed
series, asserted exactly; pivots never look ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.patterns.bars import columns, path_bars, real_bars, zigzag
from trading.contracts import PatternKind
from trading.market.frames import BarColumns
from trading.patterns import PatternConfig, detect_bars, swing_pivots


def _rows(bars: BarColumns, kind: PatternKind) -> list[tuple[int, int, int]]:
    return [(r.known_at, r.pattern_at, r.direction) for r in detect_bars(bars).of(kind).rows()]


def test_pivot_is_known_only_right_bars_after_it() -> None:
    bars = path_bars(zigzag([(0, 105), (10, 100), (20, 110), (30, 100.2)]))
    pivots = swing_pivots(bars.high, bars.low, left=5, right=3)
    assert list(zip(pivots.index.tolist(), pivots.is_high.tolist(), strict=True)) == [
        (10, False),
        (20, True),
    ]
    assert pivots.known_at.tolist() == [13, 23]
    # The low at 30 needs bars 31..33 to be confirmed: with only up to bar 30 it is unknown.
    assert 30 not in pivots.index.tolist()


@pytest.mark.parametrize("cut", [200, 777, 1500, 2999])
def test_pivots_on_truncated_data_are_exactly_the_ones_known_by_then(
    shared_data: Path, cut: int
) -> None:
    bars = real_bars(shared_data, "BTC", "1h").take(slice(0, 3000))
    full = swing_pivots(bars.high, bars.low, 5, 3)
    part = swing_pivots(bars.high[:cut], bars.low[:cut], 5, 3)
    known = full.known_at < cut
    assert part.index.tolist() == full.index[known].tolist()
    assert part.price.tolist() == full.price[known].tolist()


def _double_bottom() -> BarColumns:
    """Lows at bars 10, 30, 50 near 100 (99.5, 99.7, 99.4); highs at 20, 40 near 110."""
    return path_bars(
        zigzag([(0, 106), (10, 100), (20, 110), (30, 100.2), (40, 110), (50, 99.9), (60, 104)])
    )


def test_support_touches_are_counted_when_each_pivot_low_is_confirmed() -> None:
    hits = detect_bars(_double_bottom()).of(PatternKind.SUPPORT).rows()
    assert [(h.known_at, h.pattern_at, h.direction) for h in hits] == [(33, 30, 1), (53, 50, 1)]
    assert [h.components["touches"] for h in hits] == [2.0, 3.0]
    assert hits[1].levels["level"] == pytest.approx((99.5 + 99.7 + 99.4) / 3)
    assert hits[1].confidence == pytest.approx(1 - np.exp(-1.0))


def test_resistance_needs_a_second_touch_within_tolerance() -> None:
    hits = _rows(_double_bottom(), PatternKind.RESISTANCE)
    assert hits == [(43, 40, -1)]
    # Raise the second top by 3 (two mean true ranges): no longer the same zone.
    far = path_bars(zigzag([(0, 106), (10, 100), (20, 110), (30, 100.2), (40, 113), (50, 104)]))
    assert _rows(far, PatternKind.RESISTANCE) == []


def test_trend_line_forms_on_a_higher_low_and_breaks_on_the_first_close_below() -> None:
    closes = zigzag([(0, 106), (10, 100), (20, 108), (30, 102), (40, 110), (55, 98)])
    bars = path_bars(closes)
    lines = _rows(bars, PatternKind.TREND_LINE)
    assert (33, 33, 1) in lines  # rising support through the lows at 10 (99.5) and 30 (101.5)
    slope = (101.5 - 99.5) / 20
    below = [t for t in range(41, len(closes)) if closes[t] < 101.5 + slope * (t - 30)]
    breaks = _rows(bars, PatternKind.TREND_LINE_BREAK)
    assert breaks == [(below[0], below[0], -1)]


def _box_then(*tail: tuple[float, float, float, float], volume: float = 3.0) -> BarColumns:
    box = [(99.5, 101, 99, 100.5) if i % 2 == 0 else (100.5, 101, 99, 99.5) for i in range(30)]
    return columns(box + list(tail), [1.0] * 30 + [volume] + [1.0] * (len(tail) - 1))


def test_range_breakout_then_retest_of_the_box_top() -> None:
    bars = _box_then((99.5, 103.2, 99.4, 103), (103, 103.3, 101.5, 102.8))
    assert _rows(bars, PatternKind.RANGE_BREAKOUT) == [(30, 30, 1)]
    breakout = detect_bars(bars).of(PatternKind.RANGE_BREAKOUT).rows()[0]
    assert breakout.levels["level"] == 101.0
    assert breakout.components["volume_ratio"] == 3.0
    assert _rows(bars, PatternKind.RETEST) == [(31, 30, 1)]
    assert _rows(bars, PatternKind.FALSE_BREAK) == []


def test_close_back_inside_the_box_is_a_false_break_not_a_retest() -> None:
    bars = _box_then((99.5, 103.2, 99.4, 103), (103, 103.1, 100.2, 100.4))
    assert _rows(bars, PatternKind.FALSE_BREAK) == [(31, 30, -1)]
    assert _rows(bars, PatternKind.RETEST) == []


def test_box_is_detected_once_when_it_forms_and_not_in_a_trend() -> None:
    box = _box_then((99.5, 101, 99, 100.5))
    # First bar with 20 bars of box and the close 20 bars back (efficiency ratio): bar 20.
    assert [r[0] for r in _rows(box, PatternKind.RANGE)] == [20]
    trend = path_bars(np.linspace(100, 130, 60).tolist())
    assert _rows(trend, PatternKind.RANGE) == []


def test_level_break_needs_volume_confirmation() -> None:
    closes = zigzag([(0, 100), (10, 110), (20, 104), (26, 112)])
    quiet = path_bars(closes)
    assert _rows(quiet, PatternKind.LEVEL_BREAK) == []
    first_above = next(t for t in range(21, 27) if closes[t] > 110.5)
    loud = columns(
        list(zip(quiet.open, quiet.high, quiet.low, quiet.close, strict=True)),
        [1.0] * first_above + [2.0] * (len(closes) - first_above),
    )
    hits = detect_bars(loud).of(PatternKind.LEVEL_BREAK).rows()
    assert [(h.known_at, h.direction, h.levels["level"]) for h in hits] == [(first_above, 1, 110.5)]


def test_pattern_config_refuses_a_window_shorter_than_the_detectors_memory() -> None:
    with pytest.raises(ValueError, match="window_bars 200 must exceed memory_bars"):
        PatternConfig(window_bars=200)
