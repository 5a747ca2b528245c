"""Bandits: seeded and reproducible, converge on a synthetic arm problem; weight updates are
bounded and smoothed."""

from __future__ import annotations

import pytest

from trading.learning.bandits import (
    UCB1,
    EpsilonGreedy,
    Thompson,
    WeightBounds,
    run_arms,
    update_weights,
)

ARMS = ("a", "b", "c", "d")
MEANS = (0.45, 0.5, 0.55, 0.7)


@pytest.mark.parametrize("kind", [EpsilonGreedy, UCB1, Thompson])
def test_bandit_converges_to_the_best_arm(kind: type) -> None:
    bandit = kind(ARMS, seed=3)
    chosen = run_arms(bandit, MEANS, 3000, seed=11)
    late = chosen[-1000:]
    assert late.count("d") / len(late) > 0.7


@pytest.mark.parametrize("kind", [EpsilonGreedy, UCB1, Thompson])
def test_same_seed_same_choices(kind: type) -> None:
    assert run_arms(kind(ARMS, seed=5), MEANS, 300, 9) == run_arms(
        kind(ARMS, seed=5), MEANS, 300, 9
    )


def test_weight_updates_are_bounded_and_smoothed() -> None:
    static = {"a": 1.0, "b": 1.0}
    bounds = WeightBounds(floor=0.5, cap=1.5, smoothing=0.3, max_step=0.2)
    weights = dict(static)
    for _ in range(100):
        weights = update_weights(weights, static, {"a": 1.0, "b": 0.0}, bounds)
        assert 0.5 <= weights["b"] <= weights["a"] <= 1.5
    assert weights == {"a": 1.5, "b": 0.5}
    one = update_weights(static, static, {"a": 1.0, "b": 0.0}, bounds)
    assert one["a"] == pytest.approx(1.2), "one update moves at most max_step"
