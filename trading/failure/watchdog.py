"""The watchdog's pure core: detectors over what one check observed, each finding with its
repair, and a cool-down so one fault is repaired once, not on every check.

Detectors: a stale feed (no bar for ``feed_stale_s``), an overdue step (no step for a step
period plus ``step_overdue_s``), a stuck actor (its ping unanswered within the call timeout),
a breaker open longer than ``breaker_open_s``, a write-ahead log that stopped advancing while
orders are sent (``wal_stall_s``) and an exhausted LLM budget. Time is the caller's clock
(seconds), so tests drive it by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from trading.config import Budget
from trading.failure.taxonomy import ErrorClass
from trading.llm.budget import Spending


class Problem(StrEnum):
    STALE_FEED = "STALE_FEED"
    OVERDUE_STEP = "OVERDUE_STEP"
    STUCK_ACTOR = "STUCK_ACTOR"
    BREAKER_OPEN = "BREAKER_OPEN"
    WAL_STALLED = "WAL_STALLED"
    LLM_BUDGET_EXHAUSTED = "LLM_BUDGET_EXHAUSTED"


class Repair(StrEnum):
    RESET_FEED = "RESET_FEED"  # restart the symbol actor: it reopens its feed at the clock
    RESTART_ACTOR = "RESTART_ACTOR"  # kill it; Ray restarts it from its checkpoint
    SAFE_MODE = "SAFE_MODE"  # risk goes reduce-only
    SWITCH_MODEL = "SWITCH_MODEL"  # the second opinion moves to the offline analyst


REPAIRS: Mapping[Problem, tuple[Repair, ErrorClass]] = {
    Problem.STALE_FEED: (Repair.RESET_FEED, ErrorClass.DATA),
    Problem.OVERDUE_STEP: (Repair.RESTART_ACTOR, ErrorClass.INFRA),
    Problem.STUCK_ACTOR: (Repair.RESTART_ACTOR, ErrorClass.INFRA),
    Problem.BREAKER_OPEN: (Repair.SAFE_MODE, ErrorClass.EXEC),
    Problem.WAL_STALLED: (Repair.RESTART_ACTOR, ErrorClass.EXEC),
    Problem.LLM_BUDGET_EXHAUSTED: (Repair.SWITCH_MODEL, ErrorClass.LLM),
}


@dataclass(frozen=True)
class WatchdogLimits:
    feed_stale_s: float = 180.0
    step_overdue_s: float = 60.0
    call_timeout_s: float = 5.0
    breaker_open_s: float = 60.0
    wal_stall_s: float = 30.0
    repair_cooldown_s: float = 120.0


@dataclass(frozen=True)
class Observation:
    """What one check saw at ``now_s`` (the caller's clock, in seconds)."""

    now_s: float
    steps_done: int = 0
    step_period_s: float | None = None  # None: steps are not paced (replay), no overdue check
    session_done: bool = False
    feed_age_s: Mapping[str, float | None] = field(default_factory=dict)  # subject -> age
    unanswered: Sequence[str] = ()  # actors whose ping timed out
    breaker_open: bool = False
    wal_bytes: int = 0
    orders_sent: int = 0
    llm_exhausted: bool = False


@dataclass(frozen=True)
class Finding:
    problem: Problem
    subject: str  # the actor to repair (or "risk", "router")
    detail: str

    @property
    def repair(self) -> Repair:
        return REPAIRS[self.problem][0]

    @property
    def error_class(self) -> ErrorClass:
        return REPAIRS[self.problem][1]


@dataclass
class _Marks:
    """When each watched quantity last moved."""

    steps: tuple[int, float] | None = None
    breaker_since: float | None = None
    wal: tuple[int, int] | None = None  # WAL bytes and orders sent when it last grew
    unlogged_since: float | None = None  # an order sent since the WAL last grew
    repaired: dict[tuple[Problem, str], float] = field(default_factory=dict)


class WatchdogCore:
    """Feed it one ``Observation`` per check; it answers the findings to repair now."""

    def __init__(self, limits: WatchdogLimits | None = None) -> None:
        self.limits = limits or WatchdogLimits()
        self._marks = _Marks()

    def check(self, seen: Observation) -> list[Finding]:
        found = [
            *self._stale_feeds(seen),
            *self._overdue_step(seen),
            *(Finding(Problem.STUCK_ACTOR, a, "ping unanswered") for a in seen.unanswered),
            *self._breaker(seen),
            *self._wal(seen),
        ]
        if seen.llm_exhausted:
            found.append(Finding(Problem.LLM_BUDGET_EXHAUSTED, "router", "budget refuses calls"))
        return self._due(found, seen.now_s)

    def _due(self, found: list[Finding], now_s: float) -> list[Finding]:
        """Findings not repaired within the cool-down; those are marked repaired now."""
        repaired, due = self._marks.repaired, []
        for finding in found:
            key = (finding.problem, finding.subject)
            if now_s - repaired.get(key, -float("inf")) >= self.limits.repair_cooldown_s:
                repaired[key] = now_s
                due.append(finding)
        return due

    def _stale_feeds(self, seen: Observation) -> list[Finding]:
        limit = self.limits.feed_stale_s
        return [
            Finding(Problem.STALE_FEED, subject, f"no bar for {age:.0f} s (limit {limit:.0f} s)")
            for subject, age in seen.feed_age_s.items()
            if age is not None and age > limit
        ]

    def _overdue_step(self, seen: Observation) -> list[Finding]:
        marks = self._marks
        if marks.steps is None or marks.steps[0] != seen.steps_done:
            marks.steps = (seen.steps_done, seen.now_s)
            return []
        if seen.session_done or seen.step_period_s is None:
            return []
        waited = seen.now_s - marks.steps[1]
        if waited <= seen.step_period_s + self.limits.step_overdue_s:
            return []
        return [Finding(Problem.OVERDUE_STEP, "orchestrator", f"no step for {waited:.0f} s")]

    def _breaker(self, seen: Observation) -> list[Finding]:
        marks = self._marks
        if not seen.breaker_open:
            marks.breaker_since = None
            return []
        if marks.breaker_since is None:
            marks.breaker_since = seen.now_s
        open_s = seen.now_s - marks.breaker_since
        if open_s <= self.limits.breaker_open_s:
            return []
        return [Finding(Problem.BREAKER_OPEN, "risk", f"venue breaker open {open_s:.0f} s")]

    def _wal(self, seen: Observation) -> list[Finding]:
        marks = self._marks
        if marks.wal is None or seen.wal_bytes != marks.wal[0]:
            marks.wal, marks.unlogged_since = (seen.wal_bytes, seen.orders_sent), None
            return []
        if seen.orders_sent <= marks.wal[1]:
            return []
        if marks.unlogged_since is None:
            marks.unlogged_since = seen.now_s
        stalled = seen.now_s - marks.unlogged_since
        if stalled <= self.limits.wal_stall_s:
            return []
        detail = f"{seen.orders_sent - marks.wal[1]} orders sent, WAL unchanged {stalled:.0f} s"
        return [Finding(Problem.WAL_STALLED, "execution", detail)]


def feed_age_s(last_close: str | None, now: datetime) -> float | None:
    """Seconds since a live feed's last closed bar (None: no bar yet, nothing to time)."""
    if last_close is None:
        return None
    return (now - datetime.fromisoformat(last_close)).total_seconds()


def budget_exhausted(spending: Spending, budget: Budget) -> bool:
    """Whether the LLM budget refuses every further call: a USD or token cap reached."""
    return (
        spending.run_usd >= Decimal(str(budget.run_usd))
        or spending.day_usd >= Decimal(str(budget.daily_usd))
        or spending.run_tokens >= budget.run_tokens
        or spending.day_tokens >= budget.daily_tokens
    )
