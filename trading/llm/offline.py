"""The offline analyst: deterministic rules over the same request, answering like a model would.

Used when no provider key is configured (the embedded default), when the budget is spent and as
the last link of every fallback chain. Its opinions say ``source="offline"`` and ``offline=True``
and its confidence is capped, so a signal can never mistake it for a hosted model.
"""

from __future__ import annotations

from collections.abc import Mapping

from trading.config import OFFLINE_ANALYST
from trading.contracts import Direction, Regime
from trading.llm.opinion import Answer
from trading.llm.prompt import AnalysisRequest

OFFLINE_SOURCE = OFFLINE_ANALYST
MAX_OFFLINE_CONFIDENCE = 0.6
DIRECTION_THRESHOLD = 0.15
ATR_INVALIDATION_MULTIPLE = 2.0


def _trend_votes(values: Mapping[str, float], close: float) -> list[tuple[float, str]]:
    votes: list[tuple[float, str]] = []
    fast, slow = values.get("ema_12"), values.get("ema_26")
    if fast is not None and slow is not None:
        votes.append((0.25 if fast > slow else -0.25, f"ema12 {'>' if fast > slow else '<'} ema26"))
    for key, weight in (("sma_50", 0.15), ("sma_200", 0.1)):
        level = values.get(key)
        if level is not None:
            above = close > level
            votes.append((weight if above else -weight, f"close {'>' if above else '<'} {key}"))
    return votes


def _momentum_votes(values: Mapping[str, float]) -> list[tuple[float, str]]:
    votes: list[tuple[float, str]] = []
    hist = values.get("macd_hist")
    if hist is not None and hist != 0:
        votes.append((0.15 if hist > 0 else -0.15, f"macd hist {'+' if hist > 0 else '-'}"))
    rsi = values.get("rsi_14")
    if rsi is not None:
        if rsi >= 70:
            votes.append((-0.1, f"rsi {rsi:.0f} overbought"))
        elif rsi <= 30:
            votes.append((0.1, f"rsi {rsi:.0f} oversold"))
        else:
            votes.append((0.1 if rsi > 50 else -0.1, f"rsi {rsi:.0f}"))
    return votes


def analyse(request: AnalysisRequest) -> Answer:
    """Score trend, momentum, patterns, regime and higher-timeframe trend into an answer."""
    primary = request.primary
    close = float(primary.close)
    values = primary.values
    votes = _trend_votes(values, close) + _momentum_votes(values)
    adx = values.get("adx_14")
    if adx is not None and adx >= 25:
        votes = [(weight * 1.2, f"{why} (adx {adx:.0f})") for weight, why in votes]
    for hit in request.patterns:
        if hit.timeframe is request.timeframe and hit.direction is not Direction.NEUTRAL:
            sign = 1.0 if hit.direction is Direction.LONG else -1.0
            votes.append((0.3 * sign * hit.confidence, f"{hit.kind} {hit.direction}"))
    regime_vote = {Regime.BULL: 0.1, Regime.BEAR: -0.1, Regime.SIDEWAYS: 0.0}[request.regime]
    if regime_vote:
        votes.append((regime_vote, f"regime {request.regime}"))
    for snapshot in request.snapshots:
        if snapshot.timeframe.seconds > request.timeframe.seconds:
            fast, slow = snapshot.values.get("ema_12"), snapshot.values.get("ema_26")
            if fast is not None and slow is not None and fast != slow:
                up = fast > slow
                votes.append(
                    (0.1 if up else -0.1, f"{snapshot.timeframe} trend {'up' if up else 'down'}")
                )
    score = sum(weight for weight, _ in votes)
    if score > DIRECTION_THRESHOLD:
        direction = Direction.LONG
    elif score < -DIRECTION_THRESHOLD:
        direction = Direction.SHORT
    else:
        direction = Direction.NEUTRAL
    confidence = round(min(abs(score), 1.0) * MAX_OFFLINE_CONFIDENCE, 4)
    ranked = sorted(votes, key=lambda vote: (-abs(vote[0]), vote[1]))
    reasons = tuple(why for _, why in ranked[:4]) or ("no indicator is warmed up yet",)
    atr = values.get("atr_14")
    invalidation: float | None = None
    if atr is not None and atr > 0 and direction is not Direction.NEUTRAL:
        offset = ATR_INVALIDATION_MULTIPLE * atr
        level = close - offset if direction is Direction.LONG else close + offset
        invalidation = round(level, 8) if level > 0 else None
    return Answer(
        direction=direction,
        confidence=confidence,
        reasons=reasons,
        invalidation_level=invalidation,
    )
