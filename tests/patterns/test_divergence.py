"""Regular and hidden divergences between price pivots and an oscillator, asserted exactly."""

from __future__ import annotations

import numpy as np
import pytest

from tests.patterns.bars import path_bars, zigzag
from trading.contracts import PatternKind
from trading.patterns import detect_bars


def _case(second_low: float, osc_first: float, osc_second: float) -> list[tuple[str, int, int]]:
    """Pivot lows at bars 20 (99.5) and 40 (``second_low`` - 0.5); the oscillator dips to
    ``osc_first`` at bar 20 and ``osc_second`` at bar 40 and sits at 50 elsewhere."""
    bars = path_bars(zigzag([(0, 108), (20, 100), (30, 108), (40, second_low), (50, 108)]))
    osc = np.full(len(bars), 50.0)
    osc[20], osc[40] = osc_first, osc_second
    rows = detect_bars(bars, {"rsi": osc}).of(
        PatternKind.REGULAR_DIVERGENCE, PatternKind.HIDDEN_DIVERGENCE
    )
    return [(r.kind.value, r.known_at, r.direction) for r in rows.rows()]


@pytest.mark.parametrize(
    ("second_low", "osc", "expected"),
    [
        (98.0, (30, 35), [("REGULAR_DIVERGENCE", 43, 1)]),  # lower low, higher RSI low
        (101.0, (30, 25), [("HIDDEN_DIVERGENCE", 43, 1)]),  # higher low, lower RSI low
        (98.0, (30, 25), []),  # both lower: confirmation, no divergence
        (101.0, (30, 35), []),  # both higher
    ],
)
def test_bullish_divergences(
    second_low: float, osc: tuple[float, float], expected: list[tuple[str, int, int]]
) -> None:
    assert _case(second_low, *osc) == expected


def test_bearish_divergences_mirror_on_pivot_highs() -> None:
    bars = path_bars(zigzag([(0, 92), (20, 100), (30, 92), (40, 102), (50, 92)]))
    osc = np.full(len(bars), 50.0)
    osc[20], osc[40] = 70, 65  # higher high in price, lower high in the oscillator
    rows = detect_bars(bars, {"macd": osc}).of(PatternKind.REGULAR_DIVERGENCE).rows()
    assert [(r.known_at, r.pattern_at, r.direction) for r in rows] == [(43, 40, -1)]
    assert rows[0].components["on_macd"] == 1.0
    assert rows[0].levels == {"first_pivot": 100.5, "second_pivot": 102.5}


def test_oscillator_still_warming_up_gives_no_divergence() -> None:
    bars = path_bars(zigzag([(0, 108), (20, 100), (30, 108), (40, 98), (50, 108)]))
    osc = np.full(len(bars), np.nan)
    assert len(detect_bars(bars, {"obv": osc}).of(PatternKind.REGULAR_DIVERGENCE)) == 0
