"""Venue failures, and typed handles on the Rust backoff and circuit breaker (``retry.rs``)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field

import rust_exec
from trading.contracts import Contract


class Timeout(Contract):
    """No answer in time: the request may or may not have reached the venue."""

    kind: Literal["timeout"] = "timeout"


class Network(Contract):
    """Connection refused or dropped before the request could be answered."""

    kind: Literal["network"] = "network"


class ServerError(Contract):
    kind: Literal["server_error"] = "server_error"
    status: int


class RateLimited(Contract):
    kind: Literal["rate_limited"] = "rate_limited"
    retry_after_ms: int | None = None


class VenueRejected(Contract):
    """The venue refused the request for good (4xx): never retried."""

    kind: Literal["rejected"] = "rejected"
    status: int
    reason: str


Failure = Annotated[
    Timeout | Network | ServerError | RateLimited | VenueRejected, Field(discriminator="kind")
]


class VenueError(Exception):
    """A venue call failed; ``outcome_unknown`` means the venue may have acted on it."""

    def __init__(self, failure: Failure, *, outcome_unknown: bool, code: int | None = None) -> None:
        super().__init__(failure.model_dump_json())
        self.failure = failure
        self.outcome_unknown = outcome_unknown
        self.code = code

    @property
    def retryable(self) -> bool:
        return not isinstance(self.failure, VenueRejected)


class Backoff:
    """Exponential backoff with full jitter; ``None`` means give up (see ``RetryPolicy``)."""

    def __init__(
        self,
        base_delay_ms: int = 100,
        max_delay_ms: int = 10_000,
        max_attempts: int = 8,
        seed: int = 0,
    ) -> None:
        self.max_attempts = max_attempts
        self._inner = rust_exec.Backoff(base_delay_ms, max_delay_ms, max_attempts, seed)

    def next_delay_ms(self, failure: Failure, attempt: int) -> int | None:
        return self._inner.next_delay_ms(failure.model_dump_json(), attempt)


class BreakerState(Contract):
    state: Literal["closed", "open", "half_open"]
    consecutive_failures: int | None = None
    until_ms: int | None = None
    probe_in_flight: bool | None = None


class CircuitBreaker:
    """Per-venue breaker (closed -> open -> half-open); the caller passes time in ms."""

    def __init__(self, failure_threshold: int = 5, open_ms: int = 10_000) -> None:
        self.open_ms = open_ms
        self._inner = rust_exec.CircuitBreaker(failure_threshold, open_ms)

    def allow(self, now_ms: int) -> bool:
        return self._inner.allow(now_ms)

    def on_success(self) -> None:
        self._inner.on_success()

    def on_failure(self, failure: Failure, now_ms: int) -> None:
        self._inner.on_failure(failure.model_dump_json(), now_ms)

    @property
    def state(self) -> BreakerState:
        return BreakerState.model_validate(json.loads(self._inner.state_json))
