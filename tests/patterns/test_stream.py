"""The streaming detector equals the vectorized one, and no hit depends on later bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.patterns.bars import real_bars
from trading.contracts import Timeframe
from trading.indicators import macd, obv, rsi
from trading.market.frames import BarColumns
from trading.patterns import PatternStream, detect_bars, detect_patterns

BARS = 1600


def _oscillators(bars: BarColumns) -> dict[str, np.ndarray]:
    return {
        "rsi": rsi(bars.close, 14),
        "macd": macd(bars.close)[0],
        "obv": obv(bars.close, bars.volume),
    }


@pytest.fixture(scope="module")
def btc_4h(shared_data: Path) -> BarColumns:
    return real_bars(shared_data, "BTC", "4h").take(slice(0, BARS))


def test_stream_emits_exactly_the_batch_hits_bar_by_bar(btc_4h: BarColumns) -> None:
    """1,600 real 4h bars through a 500-bar window: every hit (kind, direction, bars, float
    confidence, levels, components) is identical, bit for bit."""
    oscillators = _oscillators(btc_4h)
    batch = [row.key for row in detect_bars(btc_4h, oscillators).rows()]
    stream = PatternStream()
    streamed: list[tuple[object, ...]] = []
    for t in range(len(btc_4h)):
        hits = stream.update(
            btc_4h.open[t],
            btc_4h.high[t],
            btc_4h.low[t],
            btc_4h.close[t],
            btc_4h.volume[t],
            {name: float(values[t]) for name, values in oscillators.items()},
        )
        rows = hits.rows()
        assert all(row.known_at == t for row in rows)
        streamed.extend(row.key for row in rows)
    assert len(batch) > 1000
    assert streamed == batch


@pytest.mark.parametrize("cut", [300, 901, 1333])
def test_truncating_future_bars_changes_no_past_hit(btc_4h: BarColumns, cut: int) -> None:
    """Freqtrade-style look-ahead check: hits known before ``cut`` are the same with or without
    the bars after it, and the truncated run has no others."""
    oscillators = _oscillators(btc_4h)
    full = [r.key for r in detect_bars(btc_4h, oscillators).rows() if r.known_at < cut]
    part_bars = btc_4h.take(slice(0, cut))
    part = [r.key for r in detect_bars(part_bars, _oscillators(part_bars)).rows()]
    assert part == full


def test_every_hit_is_known_no_earlier_than_its_pattern_bar(btc_4h: BarColumns) -> None:
    rows = detect_bars(btc_4h, _oscillators(btc_4h)).rows()
    assert all(r.known_at >= r.pattern_at for r in rows)
    assert all(0.0 <= r.confidence <= 1.0 for r in rows)


def test_hits_convert_to_pattern_hit_contracts_at_the_bar_they_became_known(
    btc_4h: BarColumns,
) -> None:
    detections = detect_bars(btc_4h, _oscillators(btc_4h)).known_since(BARS - 60)
    hits = detections.to_hits("BTC/USDT", Timeframe.H4, btc_4h.open_time_ms)
    assert hits
    for hit in hits:
        assert hit.bar_time.timestamp() * 1000 == btc_4h.open_time_ms[hit.bar_index]
        assert hit.components["lag_bars"] >= 0


@pytest.mark.parametrize("since", [0, 250, 1111, BARS - 1])
def test_since_only_skips_hits_known_earlier(btc_4h: BarColumns, since: int) -> None:
    oscillators = _oscillators(btc_4h)
    full = [r.key for r in detect_bars(btc_4h, oscillators).rows() if r.known_at >= since]
    b = btc_4h
    late = detect_patterns(b.open, b.high, b.low, b.close, b.volume, oscillators, since=since)
    assert [r.key for r in late.rows()] == full
