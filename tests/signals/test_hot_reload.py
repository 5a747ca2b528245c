"""Hot reload of signal settings into a running ``SymbolAnalysis``: the next signal is scored
with the new weights (checked against the published formulas), indicator, pattern and regime
state survive, and the calibration is reset exactly when the score it learnt from changes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest

from tests.patterns.bars import real_bars
from trading.config import SignalSettings
from trading.contracts import MarketBar, PatternKind, Regime, Signal, Timeframe
from trading.market.replay import column_bars
from trading.signals.analysis import SymbolAnalysis
from trading.signals.scoring import TimeframeScore

M5, M15, H1 = Timeframe.M5, Timeframe.M15, Timeframe.H1
TIMEFRAMES = (M15, H1)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _bars(shared_data: Path) -> Iterator[MarketBar]:
    return column_bars(real_bars(shared_data, "BTC", "5m"), "BTC/USDT", M5)


def _fed(bars: Iterator[MarketBar], settings: SignalSettings, count: int) -> SymbolAnalysis:
    analysis = SymbolAnalysis("BTC/USDT", M5, TIMEFRAMES, signals=settings)
    for bar in islice(bars, count):
        analysis.on_bar(bar)
    return analysis


def _signal(analysis: SymbolAnalysis) -> Signal:
    signal = analysis.signal(created_at=NOW)
    assert signal is not None
    return signal


def _scores(analysis: SymbolAnalysis) -> dict[Timeframe, TimeframeScore | None]:
    return {tf: analysis.timeframe_score(tf) for tf in TIMEFRAMES}


def _expected_confidence(
    scores: dict[Timeframe, TimeframeScore],
    settings: SignalSettings,
    per_tf: dict[Timeframe, float],
) -> float:
    """``trading.signals.scoring.combine`` by hand: weights ``base * (1 - adapt * (p - 0.5))``
    normalized, final = clip(sum w * score), naive confidence ``0.5 + 0.5 |final|``."""
    raw = {
        tf: max(
            settings.timeframe_weights[tf]
            * (
                1
                - settings.volatility_adapt
                * ((s.atr_percentile if math.isfinite(s.atr_percentile) else 0.5) - 0.5)
            ),
            0.0,
        )
        for tf, s in scores.items()
    }
    final = sum(raw[tf] / sum(raw.values()) * per_tf[tf] for tf in scores)
    return 0.5 + 0.5 * abs(min(max(final, -1.0), 1.0))


def _regime_factor(score: float, regime: Regime, bias: float) -> float:
    """``regime_adjusted``: with the regime x(1 + bias), against it or sideways x(1 - bias)."""
    if regime is Regime.SIDEWAYS:
        return 1 - bias
    aligned = (score >= 0) == (regime is Regime.BULL) or score == 0
    return 1 + bias if aligned else 1 - bias


NAIVE = SignalSettings(calibration_min_samples=10_000)  # the confidence stays 0.5 + 0.5 |score|


def test_new_timeframe_weights_change_the_next_confidence_by_the_published_formula(
    shared_data: Path,
) -> None:
    analysis = _fed(_bars(shared_data), NAIVE, 1200)
    before = _signal(analysis)
    scores = {tf: s for tf, s in _scores(analysis).items() if s is not None}
    assert set(scores) == set(TIMEFRAMES)
    new = NAIVE.model_copy(update={"timeframe_weights": {M15: 0.9, H1: 0.1}})

    assert analysis.apply_signal_settings(new) is True
    after = _signal(analysis)

    expected = _expected_confidence(scores, new, {tf: s.score for tf, s in scores.items()})
    assert after.confidence == pytest.approx(expected, abs=1e-12)
    assert before.confidence == pytest.approx(
        _expected_confidence(scores, NAIVE, {tf: s.score for tf, s in scores.items()}), abs=1e-12
    )
    assert abs(after.confidence - before.confidence) > 1e-4, "the weights did not matter here"
    assert after.components["m15_weight"] > before.components["m15_weight"]


def test_new_indicator_and_pattern_weights_rescore_the_latest_bars_at_once(
    shared_data: Path,
) -> None:
    analysis = _fed(_bars(shared_data), NAIVE, 1200)
    before = _signal(analysis)
    scores = {tf: s for tf, s in _scores(analysis).items() if s is not None}
    new = NAIVE.model_copy(update={"indicator_weight": 1.0, "pattern_weight": 0.0})

    analysis.apply_signal_settings(new)

    # pattern weight 0: the per-timeframe score is the indicator score, regime-adjusted
    per_tf = {}
    for tf, s in scores.items():
        indicators = 0.0 if math.isnan(s.indicators) else s.indicators
        adjusted = indicators * _regime_factor(indicators, s.regime, new.regime_bias)
        per_tf[tf] = min(max(adjusted, -1.0), 1.0)
    after = _signal(analysis)
    assert after.confidence == pytest.approx(_expected_confidence(scores, new, per_tf), abs=1e-12)
    assert after.confidence != pytest.approx(before.confidence, abs=1e-6)
    for tf, s in scores.items():
        rescored = analysis.timeframe_score(tf)
        assert rescored is not None
        assert rescored.score == pytest.approx(per_tf[tf], abs=1e-12)
        assert (rescored.indicators, rescored.patterns, rescored.regime) == (
            s.indicators,
            s.patterns,
            s.regime,
        ), "the readings themselves are kept"


WEIGHTS = NAIVE.model_copy(
    update={
        "indicator_weight": 0.7,
        "pattern_weight": 0.6,
        "indicator_weights": {"trend": 0.6, "macd": 0.1, "rsi": 0.1, "stoch": 0.1, "di": 0.1},
        "pattern_weights": NAIVE.pattern_weights
        | {PatternKind.SUPPORT: 0.1, PatternKind.PIN_BAR: 1.0, PatternKind.ENGULFING: 0.0},
        "timeframe_weights": {M15: 0.6, H1: 0.4},
        "regime_bias": 0.3,
    }
)


def test_reload_mid_stream_scores_as_if_the_new_weights_had_always_applied(
    shared_data: Path,
) -> None:
    """Weights only: indicator values, pattern memory and regime state are kept, and the kept
    pattern hits are re-weighted, so the reloaded analysis equals one built with the new
    weights from the start, now and on every later bar."""
    reloaded = _fed(_bars(shared_data), NAIVE, 900)
    reloaded.apply_signal_settings(WEIGHTS)
    fresh = _fed(_bars(shared_data), WEIGHTS, 900)
    assert repr(_scores(reloaded)) == repr(_scores(fresh))  # repr: NaN equals NaN
    hits = [s.hits for s in _scores(fresh).values() if s is not None]
    assert any(value != 0 for tf_hits in hits for value, _ in tf_hits), "no pattern in memory"

    rest = list(islice(_bars(shared_data), 900, 1200))
    for bar in rest:
        assert [s.values for s in reloaded.on_bar(bar)] == [s.values for s in fresh.on_bar(bar)]
        assert repr(_scores(reloaded)) == repr(_scores(fresh))
    assert _signal(reloaded) == _signal(fresh)


CALIBRATING = SignalSettings(
    calibration_min_samples=20, calibration_window=50, calibration_refit_bars=5
)


def test_calibration_is_reset_when_the_score_changes_and_kept_when_it_does_not(
    shared_data: Path,
) -> None:
    analysis = _fed(_bars(shared_data), CALIBRATING, 900)
    calibrated = _signal(analysis)
    naive = 0.5 + 0.5 * abs(calibrated.score)
    assert calibrated.confidence != pytest.approx(naive), "the fit should be in force here"

    # the direction threshold does not change the score the calibrator learnt from
    assert (
        analysis.apply_signal_settings(CALIBRATING.model_copy(update={"direction_threshold": 0.3}))
        is False
    )
    assert _signal(analysis).confidence == calibrated.confidence

    # a weight does: the map learnt on the old scores no longer applies
    reweighted = CALIBRATING.model_copy(update={"direction_threshold": 0.3, "pattern_weight": 0.5})
    assert analysis.apply_signal_settings(reweighted) is True
    reset = _signal(analysis)
    assert reset.confidence == pytest.approx(0.5 + 0.5 * abs(reset.score), abs=1e-12)
    # ... until enough outcomes of the new scoring are known (20 outcomes, 4-bar horizon)
    for bar in islice(_bars(shared_data), 900, 900 + 3 * 40):
        analysis.on_bar(bar)
    relearnt = _signal(analysis)
    assert relearnt.confidence != pytest.approx(0.5 + 0.5 * abs(relearnt.score))
