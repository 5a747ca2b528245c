"""Bandits over pattern kinds: epsilon-greedy, UCB1 (Auer et al. 2002) and Thompson sampling
(Beta-Bernoulli), each seeded; ``WeightUpdater`` turns their preferences into bounded,
smoothed pattern weights so one lucky window cannot swing the confluence score."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ArmStats:
    pulls: int = 0
    reward: float = 0.0  # sum of rewards in [0, 1]

    @property
    def mean(self) -> float:
        return self.reward / self.pulls if self.pulls else 0.0


@dataclass
class Bandit(ABC):
    """Shared state: arms, their statistics and a seeded generator."""

    arms: tuple[str, ...]
    seed: int = 0
    stats: dict[str, ArmStats] = field(init=False)
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.stats = {arm: ArmStats() for arm in self.arms}
        self.rng = np.random.default_rng(self.seed)

    def update(self, arm: str, reward: float) -> None:
        """Book a reward (clipped to [0, 1]) for ``arm``."""
        s = self.stats[arm]
        s.pulls += 1
        s.reward += min(max(reward, 0.0), 1.0)

    @abstractmethod
    def select(self) -> str:
        """The arm to play next."""

    def preference(self) -> dict[str, float]:
        """Each arm's estimated value in [0, 1] (posterior/empirical mean, 0.5 untried)."""
        return {a: (s.mean if s.pulls else 0.5) for a, s in self.stats.items()}


@dataclass
class EpsilonGreedy(Bandit):
    epsilon: float = 0.1

    def select(self) -> str:
        if self.rng.random() < self.epsilon:
            return self.arms[int(self.rng.integers(len(self.arms)))]
        return max(self.arms, key=lambda a: (self.stats[a].mean, -self.arms.index(a)))


@dataclass
class UCB1(Bandit):
    def select(self) -> str:
        for arm in self.arms:
            if self.stats[arm].pulls == 0:
                return arm
        total = sum(s.pulls for s in self.stats.values())
        return max(
            self.arms,
            key=lambda a: self.stats[a].mean + math.sqrt(2 * math.log(total) / self.stats[a].pulls),
        )


@dataclass
class Thompson(Bandit):
    """Beta(1 + wins, 1 + losses) posterior per arm; rewards are read as Bernoulli."""

    def select(self) -> str:
        draws = [
            self.rng.beta(1.0 + s.reward, 1.0 + s.pulls - s.reward) for s in self.stats.values()
        ]
        return self.arms[int(np.argmax(draws))]

    def preference(self) -> dict[str, float]:
        return {a: (1.0 + s.reward) / (2.0 + s.pulls) for a, s in self.stats.items()}


@dataclass(frozen=True)
class WeightBounds:
    """Weights move at most ``max_step`` (relative) per update, EMA-smoothed by ``smoothing``,
    and stay within ``[floor, cap]`` times their static value."""

    floor: float = 0.5
    cap: float = 1.5
    smoothing: float = 0.3
    max_step: float = 0.2


def update_weights(
    current: Mapping[str, float],
    static: Mapping[str, float],
    preference: Mapping[str, float],
    bounds: WeightBounds | None = None,
) -> dict[str, float]:
    """New weights: the static weight scaled by preference / mean preference, smoothed and
    bounded (arms without a preference keep their current weight)."""
    bounds = bounds or WeightBounds()
    known = [preference[k] for k in static if k in preference]
    centre = float(np.mean(known)) if known else 0.5
    out = {}
    for kind, base in static.items():
        now = current.get(kind, base)
        if kind not in preference or centre <= 0 or base <= 0:
            out[kind] = now
            continue
        target = base * preference[kind] / centre
        smoothed = now + bounds.smoothing * (target - now)
        step = min(max(smoothed, now * (1 - bounds.max_step)), now * (1 + bounds.max_step))
        out[kind] = min(max(step, base * bounds.floor), base * bounds.cap)
    return out


def run_arms(bandit: Bandit, means: Sequence[float], rounds: int, seed: int) -> list[str]:
    """Play ``rounds`` pulls against Bernoulli arms with ``means`` (for convergence tests)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for _ in range(rounds):
        arm = bandit.select()
        p = means[bandit.arms.index(arm)]
        bandit.update(arm, float(rng.random() < p))
        chosen.append(arm)
    return chosen
