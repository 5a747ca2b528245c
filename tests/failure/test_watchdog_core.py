"""Each watchdog detector on a hand-driven clock: what trips it, what does not, its repair,
and the cool-down that repairs one fault once."""

from __future__ import annotations

from trading.failure.taxonomy import ErrorClass
from trading.failure.watchdog import (
    Finding,
    Observation,
    Problem,
    Repair,
    WatchdogCore,
    WatchdogLimits,
)

LIMITS = WatchdogLimits(
    feed_stale_s=180,
    step_overdue_s=60,
    breaker_open_s=60,
    wal_stall_s=30,
    repair_cooldown_s=120,
)


def _problems(findings: list[Finding]) -> list[tuple[Problem, str]]:
    return [(f.problem, f.subject) for f in findings]


def test_a_feed_silent_past_its_limit_is_reset() -> None:
    core = WatchdogCore(LIMITS)
    ages = {"symbol:BTC/USDT": 181.0, "symbol:ETH/USDT": 179.0, "symbol:SOL/USDT": None}
    found = core.check(Observation(now_s=0, feed_age_s=ages))
    assert _problems(found) == [(Problem.STALE_FEED, "symbol:BTC/USDT")]
    assert (found[0].repair, found[0].error_class) == (Repair.RESET_FEED, ErrorClass.DATA)
    assert found[0].detail == "no bar for 181 s (limit 180 s)"


def test_a_step_overdue_by_the_period_plus_the_margin_restarts_the_orchestrator() -> None:
    core = WatchdogCore(LIMITS)
    assert core.check(Observation(now_s=0, steps_done=5, step_period_s=300)) == []
    assert core.check(Observation(now_s=360, steps_done=5, step_period_s=300)) == []
    found = core.check(Observation(now_s=361, steps_done=5, step_period_s=300))
    assert _problems(found) == [(Problem.OVERDUE_STEP, "orchestrator")]
    assert found[0].repair is Repair.RESTART_ACTOR


def test_steps_that_advance_or_a_finished_or_unpaced_session_are_never_overdue() -> None:
    core = WatchdogCore(LIMITS)
    for n, now in enumerate(range(0, 3000, 300)):
        assert core.check(Observation(now_s=now, steps_done=n, step_period_s=300)) == []
    assert (
        core.check(Observation(now_s=9000, steps_done=9, step_period_s=300, session_done=True))
        == []
    )
    assert core.check(Observation(now_s=20000, steps_done=9)) == []


def test_an_actor_whose_ping_went_unanswered_is_restarted() -> None:
    found = WatchdogCore(LIMITS).check(Observation(now_s=0, unanswered=("risk", "journal")))
    assert _problems(found) == [(Problem.STUCK_ACTOR, "risk"), (Problem.STUCK_ACTOR, "journal")]
    assert {f.repair for f in found} == {Repair.RESTART_ACTOR}


def test_a_breaker_open_too_long_enters_safe_mode_and_a_close_resets_the_timer() -> None:
    core = WatchdogCore(LIMITS)
    assert core.check(Observation(now_s=0, breaker_open=True)) == []
    assert core.check(Observation(now_s=50, breaker_open=False)) == []
    assert core.check(Observation(now_s=60, breaker_open=True)) == []
    assert core.check(Observation(now_s=120, breaker_open=True)) == []
    found = core.check(Observation(now_s=121, breaker_open=True))
    assert _problems(found) == [(Problem.BREAKER_OPEN, "risk")]
    assert (found[0].repair, found[0].error_class) == (Repair.SAFE_MODE, ErrorClass.EXEC)


def test_orders_sent_while_the_wal_stands_still_restart_execution() -> None:
    core = WatchdogCore(LIMITS)
    assert core.check(Observation(now_s=0, wal_bytes=100, orders_sent=2)) == []
    assert core.check(Observation(now_s=10, wal_bytes=180, orders_sent=3)) == [], "it grew"
    assert core.check(Observation(now_s=500, wal_bytes=180, orders_sent=3)) == [], "idle"
    assert core.check(Observation(now_s=510, wal_bytes=180, orders_sent=4)) == []
    assert core.check(Observation(now_s=540, wal_bytes=180, orders_sent=4)) == []
    found = core.check(Observation(now_s=541, wal_bytes=180, orders_sent=5))
    assert _problems(found) == [(Problem.WAL_STALLED, "execution")]
    assert found[0].detail == "2 orders sent, WAL unchanged 31 s"


def test_an_exhausted_llm_budget_switches_the_model() -> None:
    found = WatchdogCore(LIMITS).check(Observation(now_s=0, llm_exhausted=True))
    assert _problems(found) == [(Problem.LLM_BUDGET_EXHAUSTED, "router")]
    assert (found[0].repair, found[0].error_class) == (Repair.SWITCH_MODEL, ErrorClass.LLM)


def test_one_fault_is_repaired_once_per_cool_down() -> None:
    core = WatchdogCore(LIMITS)
    stuck = ("execution",)
    assert len(core.check(Observation(now_s=0, unanswered=stuck))) == 1
    assert core.check(Observation(now_s=119, unanswered=stuck)) == []
    assert len(core.check(Observation(now_s=120, unanswered=stuck))) == 1
    other = core.check(Observation(now_s=121, unanswered=("risk",)))
    assert _problems(other) == [(Problem.STUCK_ACTOR, "risk")], "another subject is due"


def test_feed_age_is_measured_from_the_last_closed_bar() -> None:
    from datetime import UTC, datetime

    from trading.failure.watchdog import feed_age_s

    now = datetime(2025, 10, 1, 12, 3, tzinfo=UTC)
    assert feed_age_s("2025-10-01T12:00:00+00:00", now) == 180.0
    assert feed_age_s(None, now) is None


def test_the_budget_is_exhausted_when_any_cap_is_reached() -> None:
    from decimal import Decimal

    from trading.config import Budget
    from trading.failure.watchdog import budget_exhausted
    from trading.llm.budget import Spending

    caps = Budget(daily_usd=5.0, run_usd=1.0, daily_tokens=1000, run_tokens=500)

    def spent(run_usd: str = "0", run_tokens: int = 0) -> Spending:
        return Spending(Decimal("0.5"), 10, Decimal(run_usd), run_tokens, Decimal(0), 0, 0, 0)

    assert not budget_exhausted(spent("0.99", 499), caps)
    assert budget_exhausted(spent("1.00"), caps)
    assert budget_exhausted(spent(run_tokens=500), caps)
