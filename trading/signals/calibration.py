"""Score -> probability calibration fitted on past outcomes only, and its reliability report.

The outcome of a signal at bar ``s`` is whether price moved its way:
``sign(score[s]) * (C[s + h] - C[s]) > 0``; it is known at bar ``s + h``. Every
``refit_bars`` bars (at bar indices ``tau`` divisible by it) the map ``|score| -> P(right)`` is
refitted on the ``window`` latest outcomes known by ``tau``: quantile bins of ``|score|``, a
Beta(1, 1) prior per bin (beta-binomial posterior mean), then pool-adjacent-violators for a
non-decreasing map (isotonic regression; Barlow et al. 1972, as in Zadrozny & Elkan 2002).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from trading.patterns.series import BoolArray, FloatArray

UNCALIBRATED_NOTE = "0.5 + 0.5 * |score| until enough outcomes are known"


def naive_probability(score: FloatArray) -> FloatArray:
    """The uncalibrated reading of a score as a probability: ``0.5 + 0.5 * |score|``."""
    return 0.5 + 0.5 * np.abs(score)


def pool_adjacent_violators(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Weighted least-squares non-decreasing fit (PAV)."""
    means: list[float] = []
    sizes: list[float] = []
    counts: list[int] = []
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        means.append(v)
        sizes.append(w)
        counts.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            w2, w1 = sizes.pop(), sizes[-1]
            m2, m1 = means.pop(), means[-1]
            c2 = counts.pop()
            sizes[-1] = w1 + w2
            means[-1] = (m1 * w1 + m2 * w2) / (w1 + w2)
            counts[-1] += c2
    return np.repeat(np.array(means), counts)


@dataclass(frozen=True)
class Calibration:
    """A fitted step map: ``probability[k]`` for ``|score|`` in bin ``k`` (``edges`` inner)."""

    edges: FloatArray
    probability: FloatArray
    samples: int

    def __call__(self, score: FloatArray) -> FloatArray:
        bins = np.searchsorted(self.edges, np.abs(score), side="right")
        result: FloatArray = self.probability[bins]
        return result


def linear_quantiles(values: FloatArray, q: FloatArray) -> FloatArray:
    """``np.quantile(values, q)`` (method "linear", Hyndman & Fan type 7), bit for bit, with
    one sort instead of numpy's per-call setup: a refit runs it on every window."""
    ordered = np.sort(values)
    n = len(ordered)
    virtual = (n - 1) * q
    below = np.clip(np.floor(virtual), 0, n - 1).astype(np.intp)
    above = np.clip(below + 1, 0, n - 1)
    below[virtual >= n - 1] = n - 1
    a, b = ordered[below], ordered[above]
    gamma = virtual - below
    diff = b - a
    result: FloatArray = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
    return result


def fit_calibration(strength: FloatArray, outcome: FloatArray, bins: int) -> Calibration:
    """Quantile bins + Beta(1, 1) posterior mean per bin + PAV (see the module docstring)."""
    inner = np.unique(linear_quantiles(strength, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    which = np.searchsorted(inner, strength, side="right")
    size = np.bincount(which, minlength=len(inner) + 1).astype(np.float64)
    wins = np.bincount(which, weights=outcome, minlength=len(inner) + 1)
    rate = (wins + 1.0) / (size + 2.0)
    return Calibration(inner, pool_adjacent_violators(rate, size + 2.0), len(strength))


def outcomes(score: FloatArray, close: FloatArray, horizon: int) -> FloatArray:
    """1.0 where the score's direction was right ``horizon`` bars later, 0.0 wrong, NaN unknown
    (no direction, or the future bar is not there)."""
    n = len(close)
    future = np.full(n, np.nan)
    future[: n - horizon] = close[horizon:]
    move = np.sign(score) * (future - close)
    with np.errstate(invalid="ignore"):
        right = np.where(move > 0, 1.0, 0.0)
    return np.where(np.isfinite(move) & (score != 0), right, np.nan)


@dataclass(frozen=True)
class CalibrationParams:
    horizon: int
    window: int
    refit_bars: int
    bins: int
    min_samples: int


def _fit_at(
    tau: int, score: FloatArray, close: FloatArray, params: CalibrationParams
) -> Calibration | None:
    """The map fitted at bar ``tau`` from outcomes known by then (``s + horizon <= tau``)."""
    last = tau - params.horizon
    first = max(0, last - params.window + 1)
    if last < 0:
        return None
    s = score[first : last + 1]
    move = np.sign(s) * (
        close[first + params.horizon : last + params.horizon + 1] - close[first : last + 1]
    )
    known = np.isfinite(move) & (s != 0)
    if np.count_nonzero(known) < params.min_samples:
        return None
    return fit_calibration(np.abs(s[known]), (move[known] > 0).astype(np.float64), params.bins)


def calibrate_series(
    score: FloatArray, close: FloatArray, params: CalibrationParams
) -> tuple[FloatArray, BoolArray]:
    """Probability per bar (naive until a fit exists) and whether a fitted map produced it."""
    n = len(score)
    probability = naive_probability(score)
    fitted = np.zeros(n, dtype=bool)
    for tau in range(0, n, params.refit_bars):
        calibration = _fit_at(tau, score, close, params)
        if calibration is None:
            continue
        rows = slice(tau, min(tau + params.refit_bars, n))
        probability[rows] = calibration(score[rows])
        fitted[rows] = True
    return probability, fitted


class Calibrator:
    """Streaming twin of ``calibrate_series``: one (score, close) per bar in, probability out."""

    def __init__(self, params: CalibrationParams) -> None:
        self.params = params
        keep = params.window + params.horizon + 1
        self._score: deque[float] = deque(maxlen=keep)
        self._close: deque[float] = deque(maxlen=keep)
        self._calibration: Calibration | None = None
        self.bars_seen = 0

    def update(self, score: float, close: float) -> tuple[float, bool]:
        """Probability for this bar's score, and whether a fitted map produced it."""
        self._score.append(score)
        self._close.append(close)
        tau = self.bars_seen
        self.bars_seen += 1
        if tau % self.params.refit_bars == 0:
            scores, closes = np.array(self._score), np.array(self._close)
            self._calibration = _fit_at(len(scores) - 1, scores, closes, self.params)
        return self.probability(score)

    def probability(self, score: float) -> tuple[float, bool]:
        """``score`` through the current map (naive before the first fit); whether fitted."""
        if self._calibration is None:
            return float(naive_probability(np.array([score]))[0]), False
        return float(self._calibration(np.array([score]))[0]), True


@dataclass(frozen=True)
class Reliability:
    """Brier score and expected calibration error (10 equal-width bins) of probabilities."""

    samples: int
    brier: float
    ece: float
    base_rate: float


def reliability(probability: FloatArray, outcome: FloatArray, bins: int = 10) -> Reliability:
    """Brier = mean (p - y)^2; ECE = sum_b n_b / N * |mean p_b - mean y_b| (Naeini et al. 2015)."""
    keep = np.isfinite(probability) & np.isfinite(outcome)
    p, y = probability[keep], outcome[keep]
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    gap = np.abs(
        np.bincount(which, weights=p, minlength=bins)
        - np.bincount(which, weights=y, minlength=bins)
    )
    return Reliability(
        len(p), float(np.mean((p - y) ** 2)), float(gap.sum() / max(len(p), 1)), float(y.mean())
    )
