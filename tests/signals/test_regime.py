"""Regime detection: Schmitt-trigger hysteresis does not flap; stream equals batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.patterns.bars import real_bars
from trading.config import SignalSettings
from trading.contracts import Regime
from trading.indicators import adx, atr, ema
from trading.signals.regime import (
    RegimeTracker,
    atr_percentile,
    hysteresis,
    regimes,
    trend_strength,
)


def test_oscillating_around_the_enter_threshold_switches_once_not_every_bar() -> None:
    """x swings +-0.05 around enter=0.35 for 200 bars: one switch into Bull and none back,
    because the exit (0.15) is never reached; a naive threshold would flip 200 times."""
    x = 0.35 + 0.05 * np.where(np.arange(200) % 2 == 0, 1.0, -1.0)
    on = hysteresis(x, enter=0.35, exit=0.15)
    assert on.all()
    naive = x >= 0.35
    assert int(np.count_nonzero(np.diff(naive.astype(int)))) == 199
    assert int(np.count_nonzero(np.diff(on.astype(int)))) == 0


def test_regime_enters_on_enter_and_leaves_only_below_exit() -> None:
    x = np.array([0.0, 0.2, 0.4, 0.3, 0.16, 0.14, 0.3, 0.36, -0.2, -0.36, -0.16, -0.1])
    regime, _ = regimes(x, np.full(len(x), 0.5), 0.35, 0.15, 0.8, 0.6)
    assert regime.tolist() == [0, 0, 1, 1, 1, 0, 0, 1, 0, -1, -1, 0]


def test_high_volatility_flag_has_its_own_hysteresis() -> None:
    pct = np.array([0.5, 0.85, 0.7, 0.61, 0.59, 0.75, 0.81, np.nan, 0.9])
    _, high = regimes(np.zeros(len(pct)), pct, 0.35, 0.15, 0.8, 0.6)
    assert high.tolist() == [False, True, True, True, False, False, True, False, True]


def test_regime_tracker_equals_the_vectorized_regime_on_real_data(shared_data: Path) -> None:
    bars = real_bars(shared_data, "ETH", "4h")
    settings = SignalSettings()
    e, a, d = (
        ema(bars.close, 50),
        atr(bars.high, bars.low, bars.close, 14),
        adx(bars.high, bars.low, bars.close, 14),
    )
    strength = trend_strength(e, a, d)
    pct = atr_percentile(a, bars.close, settings.atr_percentile_bars)
    regime, high = regimes(strength, pct, 0.35, 0.15, 0.8, 0.6)
    tracker = RegimeTracker(0.35, 0.15, 0.8, 0.6, settings.atr_percentile_bars)
    code = {Regime.BULL: 1.0, Regime.BEAR: -1.0, Regime.SIDEWAYS: 0.0}
    streamed = [code[tracker.update(bars.close[t], e[t], a[t], d[t])] for t in range(len(bars))]
    flags = []
    tracker = RegimeTracker(0.35, 0.15, 0.8, 0.6, settings.atr_percentile_bars)
    for t in range(len(bars)):
        tracker.update(bars.close[t], e[t], a[t], d[t])
        flags.append(tracker.high_volatility)
    assert streamed == regime.tolist()
    assert flags == high.tolist()
    switches = int(np.count_nonzero(np.diff(regime)))
    assert set(regime.tolist()) == {-1.0, 0.0, 1.0}
    assert switches < len(bars) / 20  # regimes last: on average over 20 bars
