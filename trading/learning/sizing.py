"""Performance-based sizing: a bounded multiplier on risk per trade from recent expectancy.

The multiplier scales the *confidence* a request carries into risk sizing, so the risk engine
still applies every cap (risk per trade, symbol, gross, correlation, margin) after it: learning
can shrink or grow a bet only inside what risk allows.
"""

from __future__ import annotations

from dataclasses import replace

from trading.learning.outcomes import OutcomeStats
from trading.risk.gate import RiskRequest


def performance_multiplier(
    stats: OutcomeStats,
    floor: float = 0.5,
    cap: float = 1.25,
    min_trades: int = 10,
    r_scale: float = 1.0,
) -> float:
    """1 until ``min_trades``; then ``1 + expectancy_R / r_scale`` clamped to ``[floor, cap]``."""
    if stats.trades < min_trades or stats.expectancy_r is None:
        return 1.0
    return min(max(1.0 + stats.expectancy_r / r_scale, floor), cap)


def scaled_request(request: RiskRequest, multiplier: float) -> RiskRequest:
    """The request with its confidence scaled (clamped to [0, 1]); exits are left alone."""
    if request.stop_price is None or request.intent.reduce_only:
        return request
    return replace(request, confidence=min(max(request.confidence * multiplier, 0.0), 1.0))
