"""Per-step analysis outputs of one symbol: what ``SymbolAnalysis`` hands the desk at every
closed step bar, computed either by streaming it bar by bar (the live object) or vectorized
from ``trading.signals.history`` and checked equal to it (``tests/backtest/test_signals.py``).

The signal's confidence is the calibration map fitted on the step timeframe's closes (not the
base bars) from the combined score at each step close, as ``SymbolAnalysis`` fits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

import numpy as np

from trading.config import SignalSettings
from trading.contracts import Direction, MarketBar, Signal, Timeframe, utc_from_ms
from trading.execution.desk import SymbolStepper
from trading.execution.step import run_now
from trading.market.frames import BarColumns
from trading.market.replay import column_bars
from trading.patterns import Detections
from trading.patterns.series import FloatArray, IntArray
from trading.signals.analysis import SymbolAnalysis
from trading.signals.calibration import _fit_at, naive_probability
from trading.signals.history import calibration_params, closed_index, combine, score_timeframes
from trading.signals.scoring import REGIME_CODE
from trading.signals.second_opinion import OpinionPort, SecondOpinion

REGIMES = {code: regime for regime, code in REGIME_CODE.items()}


@dataclass(frozen=True)
class StepSeries:
    """Analysis outputs at every step time ``T`` (a closed step bar) of one symbol."""

    symbol: str
    step: Timeframe
    time_ms: IntArray  # T: the step bar's close time
    base_end: IntArray  # base bars with open_time < T (what the analysis has consumed)
    bars: BarColumns  # the step bars that closed at T
    score: FloatArray
    confidence: FloatArray
    direction: IntArray  # +1 long, -1 short, 0 neutral
    regime: FloatArray  # REGIME_CODE of the regime timeframe
    atr: FloatArray  # the step timeframe's ATR after the bar (NaN while warming up)
    patterns: Sequence[tuple[str, ...]]  # pattern kinds known on the step bar or recently
    live_signals: tuple[Signal, ...] | None = None  # the stream's own Signals, when streamed

    def __len__(self) -> int:
        return len(self.time_ms)

    def signal(self, i: int, timeframes: Sequence[Timeframe]) -> Signal:
        """Step ``i``'s ``Signal``: the live one when streamed, else its decision fields
        (built unvalidated: hot path)."""
        if self.live_signals is not None:
            return self.live_signals[i]
        bar_time = utc_from_ms(int(self.bars.open_time_ms[i]))
        return Signal.model_construct(
            symbol=self.symbol,
            bar_time=bar_time,
            created_at=utc_from_ms(int(self.time_ms[i])),
            direction=_DIRECTIONS[int(self.direction[i])],
            score=float(self.score[i]),
            confidence=float(self.confidence[i]),
            timeframes=tuple(timeframes),
            regime=REGIMES[float(self.regime[i])],
            high_volatility=False,
            reasons=self.patterns[i] or ("no pattern",),
            components={},
            analyst="confluence",
            entry_price=None,
            stop_price=None,
        )

    def step_bar(self, i: int) -> MarketBar:
        """The step bar that closed at step ``i`` (prices exactly as the file's text)."""
        b = self.bars
        return MarketBar.model_construct(
            symbol=self.symbol,
            timeframe=self.step,
            open_time=utc_from_ms(int(b.open_time_ms[i])),
            open=Decimal(repr(float(b.open[i]))),
            high=Decimal(repr(float(b.high[i]))),
            low=Decimal(repr(float(b.low[i]))),
            close=Decimal(repr(float(b.close[i]))),
            volume=Decimal(repr(float(b.volume[i]))),
            closed=True,
        )


_DIRECTIONS = {1: Direction.LONG, -1: Direction.SHORT, 0: Direction.NEUTRAL}


def _direction(score: FloatArray, threshold: float) -> IntArray:
    """``direction_of`` over an array."""
    long = (score >= threshold) & (score > 0)
    short = (score <= -threshold) & (score < 0)
    out: IntArray = long.astype(np.int64) - short.astype(np.int64)
    return out


def _confidence(score: FloatArray, close: FloatArray, settings: SignalSettings) -> FloatArray:
    """The live ``Calibrator``: refit every ``refit_bars`` step bars on the step scores and
    closes; naive ``0.5 + 0.5 |score|`` before the first fit."""
    params = calibration_params(settings)
    out = naive_probability(score)
    for tau in range(0, len(score), params.refit_bars):
        fit = _fit_at(tau, score, close, params)
        if fit is not None:
            rows = slice(tau, min(tau + params.refit_bars, len(score)))
            out[rows] = fit(score[rows])
    clipped: FloatArray = np.clip(out, 0.0, 1.0)
    return clipped


def history_steps(
    symbol: str,
    base_bars: BarColumns,
    base: Timeframe,
    timeframes: Sequence[Timeframe],
    settings: SignalSettings,
) -> StepSeries:
    """Vectorized step outputs (every timeframe scored over the whole window, combined at the
    last base bar of each step), equal to the stream."""
    step = min(timeframes, key=lambda tf: tf.seconds)
    scored = score_timeframes(base_bars, base, timeframes, settings)
    series = scored[step]
    closes_ms = series.bars.open_time_ms + step.seconds * 1000
    last_close_ms = base_bars.open_time_ms[-1] + base.seconds * 1000 if len(base_bars) else 0
    done = closes_ms <= last_close_ms
    bars = series.bars.take(done)
    time_ms = closes_ms[done]
    base_end = np.searchsorted(base_bars.open_time_ms, time_ms, side="left")
    at = base_end - 1
    score = combine(scored, base_bars, base, settings, rows=at).score
    confidence = _confidence(score, base_bars.close[at], settings)
    regime_series = scored.get(settings.regime_timeframe, series)
    r_at = closed_index(
        regime_series.bars.open_time_ms, regime_series.timeframe, base_bars.open_time_ms[at], base
    )
    regime = np.where(r_at >= 0, regime_series.regime[np.maximum(r_at, 0)], 0.0)
    atr = np.asarray(series.atr[done], dtype=np.float64)  # causal: the prefix's own ATR
    return StepSeries(
        symbol,
        step,
        time_ms,
        base_end,
        bars,
        score,
        confidence,
        _direction(score, settings.direction_threshold),
        regime,
        atr,
        PatternMemory(series.detections, len(bars), settings.pattern_memory_bars),
    )


class PatternMemory(Sequence[tuple[str, ...]]):
    """Per step bar, the pattern kinds (with direction) known within the pattern memory:
    ``kind:+`` is in step ``i``'s tags when such a hit became known at a bar in
    ``(i - memory, i]``. Looked up on demand (only entries need it), not built per step."""

    def __init__(self, detections: Detections, n: int, memory: int) -> None:
        known: dict[str, list[IntArray]] = {}
        for block in detections.blocks:
            for positive, tag in ((True, f"{block.kind}:+"), (False, f"{block.kind}:-")):
                rows = block.known_at[(block.direction > 0) == positive]
                known.setdefault(tag, []).append(rows[(rows >= 0) & (rows < n)].astype(np.int64))
        self._tags = sorted(tag for tag, parts in known.items() if sum(map(len, parts)))
        self._bits = np.zeros(n, dtype=np.uint64)  # bit j: self._tags[j] known at the step
        for j, tag in enumerate(self._tags):
            hits = np.bincount(np.concatenate(known[tag]), minlength=n).cumsum()
            recent = hits - np.concatenate([np.zeros(min(memory, n), np.int64), hits[:-memory]])
            self._bits |= (recent > 0).astype(np.uint64) << np.uint64(j)
        self._n = n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> tuple[str, ...]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[str, ...]]: ...

    def __getitem__(self, i: int | slice) -> tuple[str, ...] | Sequence[tuple[str, ...]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(f"step {i} of {self._n}")
        bits = int(self._bits[i])
        return tuple(tag for j, tag in enumerate(self._tags) if bits >> j & 1)


def stream_steps(
    symbol: str,
    base_bars: BarColumns,
    base: Timeframe,
    timeframes: Sequence[Timeframe],
    settings: SignalSettings,
    opinions: OpinionPort | None = None,
) -> StepSeries:
    """The live path: ``SymbolStepper`` over ``SymbolAnalysis`` stepped to each step time; the
    series carries the live ``Signal`` objects themselves. With ``opinions`` (a port that
    answers without suspending) each signal gets the live actor's LLM second opinion rule."""
    step = min(timeframes, key=lambda tf: tf.seconds)
    analysis = SymbolAnalysis(symbol, base, timeframes, signals=settings)
    stepper = SymbolStepper(analysis, column_bars(base_bars, symbol, base), step)
    second = SecondOpinion(analysis, step, opinions) if opinions is not None else None
    times = step_times(base_bars, base, step)
    rows: list[tuple[float, float, int, float, float]] = []
    signals: list[Signal] = []
    opens: list[int] = []
    direction = {Direction.LONG: 1, Direction.SHORT: -1, Direction.NEUTRAL: 0}
    for t_ms in times.tolist():
        now = utc_from_ms(t_ms)
        out = stepper.advance(now)
        if out.signal is None or out.step_bar is None:
            raise ValueError(f"{symbol}: no step bar closed at {t_ms}")
        sig = out.signal if second is None else run_now(second.review(out.signal, now))
        atr = float(out.atr) if out.atr is not None else float("nan")
        rows.append(
            (sig.score, sig.confidence, direction[sig.direction], REGIME_CODE[sig.regime], atr)
        )
        signals.append(sig)
        opens.append(int(out.step_bar.open_time.timestamp() * 1000))
    table = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return StepSeries(
        symbol,
        step,
        times,
        np.searchsorted(base_bars.open_time_ms, times, side="left"),
        _step_columns(base_bars, base, step, np.array(opens, dtype=np.int64)),
        table[:, 0],
        table[:, 1],
        table[:, 2].astype(np.int64),
        table[:, 3],
        table[:, 4],
        tuple(tuple(s.reasons) for s in signals),
        tuple(signals),
    )


def step_times(base_bars: BarColumns, base: Timeframe, step: Timeframe) -> IntArray:
    """Close times of the step bars complete within the base bars."""
    from trading.market.resample import resample_columns

    opens = resample_columns(base_bars, base, step).bars.open_time_ms
    closes = opens + step.seconds * 1000
    last = base_bars.open_time_ms[-1] + base.seconds * 1000 if len(base_bars) else 0
    done: IntArray = closes[closes <= last]
    return done


def _step_columns(
    base_bars: BarColumns, base: Timeframe, step: Timeframe, open_ms: IntArray
) -> BarColumns:
    from trading.market.resample import resample_columns

    resampled = resample_columns(base_bars, base, step).bars
    rows = np.searchsorted(resampled.open_time_ms, open_ms)
    return resampled.take(rows)
