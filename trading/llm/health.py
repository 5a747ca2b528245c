"""Per-model health: rolling latency, cooldown after consecutive failures, a circuit breaker.

Cooldowns follow LiteLLM's router (3 failures -> 5 s out); a model that keeps cooling down
trips its breaker, stays out for ``open_seconds``, then gets one half-open trial call. All
timing reads an injected monotonic clock, so tests step time by hand.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import StrEnum

from trading.config import BreakerSettings

Clock = Callable[[], float]
LATENCY_WINDOW = 200


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile of ``samples`` (q in [0, 1]); NaN-free input assumed."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class ModelHealth:
    """Everything the router remembers about one model's recent behaviour."""

    def __init__(
        self,
        name: str,
        clock: Clock,
        *,
        cooldown_after_failures: int,
        cooldown_seconds: float,
        breaker: BreakerSettings,
    ) -> None:
        self.name = name
        self._clock = clock
        self._allowed_fails = cooldown_after_failures
        self._cooldown_s = cooldown_seconds
        self._breaker = breaker
        self._latencies_ms: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.consecutive_failures = 0
        self.cooldown_until = 0.0
        self._cooldown_starts: deque[float] = deque()
        self.state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def latency_samples(self) -> int:
        return len(self._latencies_ms)

    def p95_ms(self) -> float | None:
        """Rolling p95 latency of successful calls, or None without samples."""
        return percentile(list(self._latencies_ms), 0.95) if self._latencies_ms else None

    def observe_latency(self, latency_ms: float) -> None:
        self._latencies_ms.append(latency_ms)

    def available(self) -> bool:
        """May the router call this model now? Moves an expired open breaker to half-open."""
        now = self._clock()
        if self.state is BreakerState.OPEN:
            if now - self._opened_at < self._breaker.open_seconds:
                return False
            self.state = BreakerState.HALF_OPEN
            self._trial_in_flight = False
        if self.state is BreakerState.HALF_OPEN:
            return not self._trial_in_flight
        return now >= self.cooldown_until

    def begin_call(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._trial_in_flight = True

    def record_success(self, latency_ms: float) -> None:
        self.observe_latency(latency_ms)
        self.consecutive_failures = 0
        self.state = BreakerState.CLOSED
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """Count a failure; cool the model down or open its breaker when due."""
        now = self._clock()
        if self.state is BreakerState.HALF_OPEN:
            self._open(now)
            return
        self.consecutive_failures += 1
        if self.consecutive_failures < self._allowed_fails:
            return
        self.consecutive_failures = 0
        self.cooldown_until = now + self._cooldown_s
        self._cooldown_starts.append(now)
        while (
            self._cooldown_starts and now - self._cooldown_starts[0] > self._breaker.window_seconds
        ):
            self._cooldown_starts.popleft()
        if len(self._cooldown_starts) >= self._breaker.trip_after_cooldowns:
            self._open(now)

    def release(self) -> None:
        """A call that ended without a verdict (cancelled hedge): free the half-open slot."""
        self._trial_in_flight = False

    def _open(self, now: float) -> None:
        self.state = BreakerState.OPEN
        self._opened_at = now
        self._trial_in_flight = False
        self._cooldown_starts.clear()
        self.consecutive_failures = 0
