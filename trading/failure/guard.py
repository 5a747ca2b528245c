"""Guarded work: a failure is classified, its recovery action taken and journaled as an
incident; the work is tried again until it succeeds, or the action is HALT (then it raises).
The session's step runs under it (``Orchestrator``): a bounded number of attempts per step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from trading.failure.taxonomy import Incident, Recovery, RecoveryAction

_T = TypeVar("_T")

MAX_ATTEMPTS = 5  # per guarded call; the last failure halts whatever its class

Act = Callable[[Incident, BaseException], Awaitable[str]]
"""Take the incident's action; returns the outcome to journal."""
Report = Callable[[Incident], Awaitable[object]]
"""Journal the incident."""


async def guarded(
    work: Callable[[], Awaitable[_T]],
    recovery: Recovery,
    act: Act,
    report: Report,
    now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
) -> _T:
    """``work()``'s result; each failure acted on and reported, HALT re-raises the failure."""
    for attempt in range(1, max_attempts + 1):
        try:
            result = await work()
        except Exception as exc:  # every failure is classified, acted on and journaled
            incident = recovery.incident(now, exc)
            if attempt == max_attempts:
                incident = incident.model_copy(update={"action": RecoveryAction.HALT})
            outcome = await act(incident, exc)
            await report(incident.model_copy(update={"outcome": outcome}))
            if incident.action == RecoveryAction.HALT:
                raise
            continue
        recovery.on_success()
        return result
    raise AssertionError("unreachable: the last attempt halts")  # pragma: no cover
