"""Routing policies: which healthy, affordable model answers first.

- AccuracyFirst: the best rolling evaluation score.
- CostAware: the cheapest model whose score is within ``cost_margin`` of the best (RouteLLM's
  cost/quality trade in its simplest form).
- LatencyAware: the lowest rolling p95 among models under the latency SLO; models without
  samples come next, models over the SLO last.

Ties keep the fallback-chain order, so a ranking is a pure function of its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trading.config import RoutingPolicy


@dataclass(frozen=True, slots=True)
class ModelStats:
    """What a policy knows about one candidate, in fallback-chain order."""

    name: str
    accuracy: float
    usd_per_call: float
    p95_ms: float | None


def rank(
    policy: RoutingPolicy,
    candidates: Sequence[ModelStats],
    *,
    cost_margin: float,
    latency_slo_ms: float,
) -> list[str]:
    """Candidate names, best first, under ``policy``."""
    order = {stats.name: i for i, stats in enumerate(candidates)}
    if policy is RoutingPolicy.ACCURACY_FIRST:
        ranked = sorted(candidates, key=lambda s: (-s.accuracy, order[s.name]))
    elif policy is RoutingPolicy.COST_AWARE:
        best = max((s.accuracy for s in candidates), default=0.0)
        near = [s for s in candidates if s.accuracy >= best - cost_margin - 1e-12]
        rest = [s for s in candidates if s not in near]
        ranked = sorted(near, key=lambda s: (s.usd_per_call, -s.accuracy, order[s.name]))
        ranked += sorted(rest, key=lambda s: (-s.accuracy, order[s.name]))
    else:
        fast = [s for s in candidates if s.p95_ms is not None and s.p95_ms <= latency_slo_ms]
        unknown = [s for s in candidates if s.p95_ms is None]
        slow = [s for s in candidates if s.p95_ms is not None and s.p95_ms > latency_slo_ms]
        ranked = sorted(fast, key=lambda s: (s.p95_ms or 0.0, order[s.name]))
        ranked += unknown
        ranked += sorted(slow, key=lambda s: (s.p95_ms or 0.0, order[s.name]))
    return [s.name for s in ranked]
