"""Confluence scoring on known values, volatility-adapted timeframe weights, explained signals,
the live analysis, and a no-look-ahead check of the whole multi-timeframe pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tests.patterns.bars import real_bars
from trading.config import SignalSettings
from trading.contracts import Direction, PatternKind, Regime, Timeframe
from trading.market.replay import column_bars
from trading.patterns.hits import HitRow
from trading.signals.analysis import SymbolAnalysis
from trading.signals.confluence import (
    Opinion,
    blend,
    indicator_components,
    indicator_score,
    pattern_score,
    regime_adjusted,
    timeframe_weights,
)
from trading.signals.history import calibrate, score_history
from trading.signals.scoring import TimeframeScore, compose_signal

SETTINGS = SignalSettings()
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_indicator_components_and_weighted_score_on_known_values() -> None:
    values = {
        "ema_50": np.array([100.0]),
        "atr_14": np.array([2.0]),
        "macd_hist": np.array([0.0]),
        "rsi_14": np.array([75.0]),
        "stoch_k": np.array([25.0]),
        "plus_di_14": np.array([30.0]),
        "minus_di_14": np.array([10.0]),
        "adx_14": np.array([50.0]),
    }
    parts = indicator_components(np.array([104.0]), values)
    assert {k: float(v[0]) for k, v in parts.items()} == pytest.approx(
        {"trend": np.tanh(1.0), "macd": 0.0, "rsi": 1.0, "stoch": -0.5, "di": 0.5}
    )
    expected = (0.35 * np.tanh(1.0) + 0.2 * 1.0 + 0.1 * -0.5 + 0.1 * 0.5) / 1.0
    assert indicator_score(parts, SETTINGS.indicator_weights)[0] == pytest.approx(expected)
    del values["rsi_14"]  # warming up: dropped, the remaining weights renormalized
    parts = indicator_components(np.array([104.0]), values)
    assert indicator_score(parts, SETTINGS.indicator_weights)[0] == pytest.approx(
        (0.35 * np.tanh(1.0) - 0.05 + 0.05) / 0.8
    )


def test_pattern_score_decays_hits_over_the_memory_window() -> None:
    impulse = np.zeros(8)
    impulse[1] = 0.5
    score = pattern_score(impulse, memory_bars=5, decay=0.7)
    assert score.tolist() == pytest.approx(
        np.tanh([0, 0.5, 0.35, 0.245, 0.1715, 0.12005, 0, 0]).tolist()
    )


def test_blend_with_and_without_an_llm_opinion() -> None:
    assert blend(np.array([0.4]), np.array([0.2]), None, SETTINGS)[0] == pytest.approx(
        (0.5 * 0.4 + 0.35 * 0.2) / 0.85
    )
    assert blend(np.array([0.4]), np.array([0.2]), -1.0, SETTINGS)[0] == pytest.approx(
        0.5 * 0.4 + 0.35 * 0.2 - 0.15
    )


def test_regime_strengthens_aligned_and_damps_opposed_scores() -> None:
    score = np.array([0.5, -0.5, 0.5, 0.5])
    regime = np.array([1.0, 1.0, -1.0, 0.0])
    assert regime_adjusted(score, regime, 0.2).tolist() == pytest.approx([0.6, -0.4, 0.4, 0.4])


def test_unusually_volatile_timeframes_lose_weight() -> None:
    calm = timeframe_weights({tf: 0.5 for tf in Timeframe.analysis()}, SETTINGS)
    assert calm == pytest.approx({Timeframe.M15: 0.15, Timeframe.H1: 0.25, Timeframe.H4: 0.3,
                                  Timeframe.D1: 0.3})  # fmt: skip
    stormy_15m = timeframe_weights(
        {Timeframe.M15: 1.0, Timeframe.H1: 0.5, Timeframe.H4: 0.5, Timeframe.D1: 0.5}, SETTINGS
    )
    assert stormy_15m[Timeframe.M15] == pytest.approx(0.15 * 0.6 / (1 - 0.15 * 0.4))
    assert sum(stormy_15m.values()) == pytest.approx(1.0)


def _row(kind: PatternKind, direction: int, **extra: dict[str, float]) -> HitRow:
    return HitRow(kind, direction, 10, 10, 0.8, extra.get("levels", {}),
                  extra.get("components", {}))  # fmt: skip


def _score(tf: Timeframe, score: float, hits: list[HitRow], regime: Regime) -> TimeframeScore:
    return TimeframeScore(
        tf, 10, 61_500.0, score, score, 0.0, regime, False, 0.5, 0.5,
        tuple((0.4 * h.direction, h) for h in hits),
    )  # fmt: skip


def test_signal_explains_itself_in_trader_words() -> None:
    engulfing = _row(
        PatternKind.ENGULFING, 1, levels={"zone": 61_200.0}, components={"zone_touches": 3.0}
    )
    divergence = _row(PatternKind.REGULAR_DIVERGENCE, 1, components={"on_rsi": 1.0})
    scores = {
        Timeframe.H4: _score(Timeframe.H4, 0.6, [engulfing], Regime.BULL),
        Timeframe.H1: _score(Timeframe.H1, 0.4, [divergence], Regime.BULL),
    }
    signal = compose_signal(
        "BTC/USDT", scores, SETTINGS, bar_time=T0, created_at=T0, probability=0.71,
        calibrated=True,
    )  # fmt: skip
    assert signal.direction is Direction.LONG
    assert signal.score == pytest.approx((0.3 * 0.6 + 0.25 * 0.4) / 0.55)
    assert signal.reasons == (
        "4h: bullish engulfing at 61,200 support (3 touches)",
        "1h: RSI regular bullish divergence",
        "regime Bull",
        f"score {signal.score:+.2f}; confidence 0.71 (calibrated)",
    )
    assert signal.timeframes == (Timeframe.H4, Timeframe.H1)
    assert signal.components["h4_weight"] == pytest.approx(0.3 / 0.55)
    assert signal.components["probability"] == 0.71

    with_llm = compose_signal(
        "BTC/USDT", scores, SETTINGS, bar_time=T0, created_at=T0,
        opinion=Opinion(Direction.SHORT, 0.9, "claude-sonnet"),
    )  # fmt: skip
    assert with_llm.score < signal.score
    assert "analyst claude-sonnet: short 0.90" in with_llm.reasons
    assert with_llm.analyst == "confluence+claude-sonnet"


def test_scoring_is_deterministic(shared_data: Path) -> None:
    bars = real_bars(shared_data, "SOL", "4h").take(slice(0, 1500))
    tfs = (Timeframe.H4, Timeframe.D1)
    a = score_history(bars, Timeframe.H4, tfs, SETTINGS)
    b = score_history(bars, Timeframe.H4, tfs, SETTINGS)
    assert a.score.tolist() == b.score.tolist()
    assert (
        calibrate(a, SETTINGS).probability.tolist() == calibrate(b, SETTINGS).probability.tolist()
    )


@pytest.mark.parametrize("cut", [2_000, 5_555, 9_001])
def test_truncating_future_data_changes_no_past_score_or_probability(
    shared_data: Path, cut: int
) -> None:
    """Freqtrade-style look-ahead analysis over the whole pipeline (1h base, 4h/1d resampled
    from it, patterns, indicators, regimes, weights, calibration): every value before ``cut``
    is identical with and without the data after it."""
    bars = real_bars(shared_data, "BTC", "1h")
    tfs = (Timeframe.H1, Timeframe.H4, Timeframe.D1)
    full = score_history(bars, Timeframe.H1, tfs, SETTINGS)
    part = score_history(bars.take(slice(0, cut)), Timeframe.H1, tfs, SETTINGS)
    assert part.score.tolist() == full.score[:cut].tolist()
    part_probability = calibrate(part, SETTINGS).probability
    assert part_probability.tolist() == calibrate(full, SETTINGS).probability[:cut].tolist()
    for tf in tfs:
        np.testing.assert_array_equal(part.timeframe_scores[tf], full.timeframe_scores[tf][:cut])


def test_live_analysis_produces_an_explained_signal_matching_the_batch_scores(
    shared_data: Path,
) -> None:
    """3,000 real 1h bars through ``SymbolAnalysis`` (1h/4h/1d): the live per-timeframe scores
    equal the batch pipeline's on the last bar, and the signal carries reasons."""
    bars = real_bars(shared_data, "ETH", "1h").take(slice(0, 3000))
    tfs = (Timeframe.H4, Timeframe.D1)
    analysis = SymbolAnalysis("ETH/USDT", Timeframe.H1, tfs)
    for bar in column_bars(bars, "ETH/USDT", Timeframe.H1):
        analysis.on_bar(bar)
    signal = analysis.signal(created_at=T0)
    assert signal is not None
    history = score_history(bars, Timeframe.H1, tfs, SETTINGS)
    for tf in tfs:
        live = analysis.timeframe_score(tf)
        assert live is not None
        batch = history.series[tf]
        assert live.score == pytest.approx(batch.score[live.bar_index], abs=1e-9)
        assert (
            live.regime
            is {1.0: Regime.BULL, -1.0: Regime.BEAR, 0.0: Regime.SIDEWAYS}[
                float(batch.regime[live.bar_index])
            ]
        )
    assert signal.timeframes == (Timeframe.H4, Timeframe.D1) or set(signal.timeframes) == set(tfs)
    assert signal.reasons[-1].startswith("score ")
    assert any(r.startswith("regime ") for r in signal.reasons)
    assert 0.0 <= signal.confidence <= 1.0
