"""Candlestick detectors: exact hits on constructed bars, and agreement with TA-Lib's CDL
functions on real Binance data where the definitions coincide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import talib

from tests.patterns.bars import CONTEXT, columns, real_bars
from trading.contracts import PatternKind
from trading.market.frames import BarColumns
from trading.patterns import detect_bars
from trading.patterns.candles import candle_patterns

Row = tuple[float, float, float, float]


def _hits(bars: BarColumns, kind: PatternKind) -> set[tuple[int, int]]:
    detections = detect_bars(bars).of(kind)
    return {(row.pattern_at, row.direction) for row in detections.rows()}


def _with(*tail: Row) -> BarColumns:
    return columns([CONTEXT] * 12 + list(tail))


@pytest.mark.parametrize(
    ("kind", "tail", "expected"),
    [
        # Bearish bar then a bullish body from below its close to above its open. (The bearish
        # bar itself only matches the context bar's body, which is no engulfing.)
        (PatternKind.ENGULFING, [(100.5, 101, 99.8, 100), (99.9, 101, 99.5, 100.8)], {(13, 1)}),
        # Same, but the close stops short of the first open: no engulfing.
        (PatternKind.ENGULFING, [(100.5, 101, 99.8, 100), (99.9, 101, 99.5, 100.4)], set()),
        # Bullish bar then a bearish body engulfing it.
        (PatternKind.ENGULFING, [(99.5, 101.5, 99, 101), (101.2, 101.5, 99, 99.3)], {(13, -1)}),
        # Body 0.1 of a range 2 (= the average): doji; body 0.3: not.
        (PatternKind.DOJI, [(100, 101, 99, 100.1)], {(12, 0)}),
        (PatternKind.DOJI, [(100, 101, 99, 100.3)], set()),
        # Range 0.4 (0.2 of the average range): too small to count even with no body.
        (PatternKind.DOJI, [(100, 100.2, 99.8, 100)], set()),
        # Lower wick 3.6 of range 4, body 0.3, low 97 under the prior lows (99): hammer.
        (PatternKind.PIN_BAR, [(100.6, 101, 97, 100.9)], {(12, 1)}),
        # The same shape whose low does not stick out below the previous three bars.
        (PatternKind.PIN_BAR, [(97, 99, 96, 98.8), (100.6, 101, 97, 100.9)], set()),
        # Upper wick mirror: shooting star.
        (PatternKind.PIN_BAR, [(99.4, 103, 99.1, 99.1)], {(12, -1)}),
        # Whole range strictly inside the mother bar: inside bar; touching its high: not.
        (PatternKind.INSIDE_BAR, [(99, 102, 98, 101), (100, 101, 99, 100.5)], {(13, 0)}),
        (PatternKind.INSIDE_BAR, [(99, 102, 98, 101), (100, 102, 99, 100.5)], set()),
        # Long black (body 3), small star below its close, white closing above its midpoint.
        (
            PatternKind.MORNING_STAR,
            [(102, 102.2, 98.8, 99), (99, 99.1, 98.5, 98.8), (98.8, 101, 98.7, 100.8)],
            {(14, 1)},
        ),
        # The third bar closes below the first body's midpoint (100.5): no morning star.
        (
            PatternKind.MORNING_STAR,
            [(102, 102.2, 98.8, 99), (99, 99.1, 98.5, 98.8), (98.8, 100.3, 98.7, 100.2)],
            set(),
        ),
        (
            PatternKind.EVENING_STAR,
            [(99, 102.2, 98.8, 102), (102, 102.5, 101.9, 102.2), (102.2, 102.3, 99.9, 100.2)],
            {(14, -1)},
        ),
    ],
)
def test_candle_detector_fires_exactly_where_the_definition_holds(
    kind: PatternKind, tail: list[Row], expected: set[tuple[int, int]]
) -> None:
    assert _hits(_with(*tail), kind) == expected


def test_context_bars_alone_contain_no_candlestick_pattern() -> None:
    bars = columns([CONTEXT] * 30)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert sum(len(block) for block in candle_patterns(bars.open, bars.high, bars.low,
                                                           bars.close)) == 0  # fmt: skip


def test_candle_hits_are_known_at_their_last_bar_with_confidence_in_unit_interval() -> None:
    bars = _with((102, 102.2, 98.8, 99), (99, 99.1, 98.5, 98.8), (98.8, 101, 98.7, 100.8))
    for row in detect_bars(bars).rows():
        assert 0.0 <= row.confidence <= 1.0
        if row.kind in (PatternKind.MORNING_STAR, PatternKind.ENGULFING, PatternKind.DOJI):
            assert row.known_at == row.pattern_at


def _flags(bars: BarColumns, kind: PatternKind, sign: int | None = None) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        blocks = [b for b in candle_patterns(bars.open, bars.high, bars.low, bars.close)]
    flags = np.zeros(len(bars), dtype=bool)
    for block in blocks:
        if block.kind is kind:
            at = block.known_at if sign is None else block.known_at[block.direction == sign]
            flags[at] = True
    return flags


def _rates(mine: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    both = int((mine & reference).sum())
    recall = both / max(int(reference.sum()), 1)
    precision = both / max(int(mine.sum()), 1)
    jaccard = both / max(int((mine | reference).sum()), 1)
    return recall, precision, jaccard


@pytest.mark.parametrize("symbol", ["BTC", "ETH", "SOL"])
def test_candles_agree_with_talib_where_the_definitions_coincide(
    shared_data: Path, symbol: str
) -> None:
    """Agreement with TA-Lib 0.6 on ~12.5k real 1h bars (recall = share of TA-Lib's hits we
    also flag; precision = share of ours TA-Lib also flags). Measured (BTC/ETH/SOL):

    - Engulfing: Jaccard 0.98-1.00. Same rule; TA-Lib counts a flat bar (C == O) as white, we
      call it neither, which accounts for the few misses.
    - Doji: precision ~0.92, recall ~0.5. TA-Lib compares the body with 10% of the *average*
      range of the previous 10 bars; we compare with 10% of the bar's *own* range and drop bars
      under half the average range. Where the bar's range is within 10% of the average the two
      rules nearly coincide and agreement is >= 0.85 (asserted).
    - Hammer / shooting star: recall ~0.2. TA-Lib needs a body near the prior low (hammer) or a
      real-body gap up (shooting star) and a very short opposite shadow vs the average range;
      our pin bar needs a 2/3 wick and a nose beyond the last 3 bars. Related, not equal.
    - Inside bar vs CDLHARAMI: harami is a body inside a *long* body; inside bar is the whole
      range inside the previous range. Recall ~0.4.
    - Morning / evening star: TA-Lib demands a real-body gap before the star (crypto bars open
      at or within ticks of the previous close) and 30% penetration; we demand the star's body
      midpoint at the first close and a close past the first body's midpoint. Recall 0.25-0.55.
    Where definitions differ we only assert that agreement is far above chance.
    """
    bars = real_bars(shared_data, symbol, "1h")
    o, h, lo, c = bars.open, bars.high, bars.low, bars.close
    report = {}

    for sign, name in ((1, "bullish engulfing"), (-1, "bearish engulfing")):
        ref = talib.CDLENGULFING(o, h, lo, c) * sign > 0
        report[name] = _rates(_flags(bars, PatternKind.ENGULFING, sign), ref)
        assert report[name][2] >= 0.97, (name, report[name])

    doji_ref = talib.CDLDOJI(o, h, lo, c) != 0
    doji = _flags(bars, PatternKind.DOJI)
    report["doji"] = _rates(doji, doji_ref)
    rng = h - lo
    avg = np.full(len(rng), np.nan)
    avg[10:] = np.convolve(rng, np.ones(10) / 10, "valid")[:-1]
    coincide = np.abs(rng / avg - 1.0) <= 0.1
    same = (doji == doji_ref)[coincide]
    report["doji where ranges coincide (accuracy)"] = (float(same.mean()), np.nan, np.nan)
    report["doji where ranges coincide (jaccard)"] = _rates(doji[coincide], doji_ref[coincide])
    assert report["doji"][1] >= 0.85
    assert report["doji where ranges coincide (jaccard)"][2] >= 0.9

    others = [
        ("hammer", _flags(bars, PatternKind.PIN_BAR, 1), talib.CDLHAMMER(o, h, lo, c) != 0),
        (
            "shooting star",
            _flags(bars, PatternKind.PIN_BAR, -1),
            talib.CDLSHOOTINGSTAR(o, h, lo, c) != 0,
        ),
        (
            "inside bar/harami",
            _flags(bars, PatternKind.INSIDE_BAR),
            talib.CDLHARAMI(o, h, lo, c) != 0,
        ),
        (
            "morning star",
            _flags(bars, PatternKind.MORNING_STAR),
            talib.CDLMORNINGSTAR(o, h, lo, c) != 0,
        ),
        (
            "evening star",
            _flags(bars, PatternKind.EVENING_STAR),
            talib.CDLEVENINGSTAR(o, h, lo, c) != 0,
        ),
    ]
    for name, mine, ref in others:
        report[name] = _rates(mine, ref)
        chance = mine.mean()
        assert report[name][0] >= 2 * chance, (name, report[name], chance)

    print(f"\n{symbol} 1h ({len(bars)} bars) vs TA-Lib: recall / precision / jaccard")
    for name, (recall, precision, jaccard) in report.items():
        print(f"  {name:40s} {recall:6.3f} {precision:6.3f} {jaccard:6.3f}")
