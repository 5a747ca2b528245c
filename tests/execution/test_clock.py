"""``run_schedule``: the session clock the orchestrator runs, over a step that answers at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.execution.test_desk import _step
from trading.execution.clock import StepSchedule, run_schedule
from trading.execution.desk import SymbolStep
from trading.execution.progress import LATENCIES_KEPT, SessionProgress

START = datetime(2025, 10, 1, 0, 15, tzinfo=UTC)
STEP = timedelta(minutes=15)


class Steps:
    """A step with bars for the first ``with_bars`` closes, then none (the data ran out)."""

    def __init__(self, with_bars: int, fail_at: int | None = None) -> None:
        self.with_bars = with_bars
        self.fail_at = fail_at
        self.clocks: list[datetime] = []

    async def __call__(self, clock: datetime) -> list[SymbolStep]:
        self.clocks.append(clock)
        if len(self.clocks) == self.fail_at:
            raise RuntimeError("venue down")
        if len(self.clocks) > self.with_bars:
            return [SymbolStep("ETH/USDT", clock)]
        bar = _step("2500", signal=False, t=clock).step_bar
        assert bar is not None
        return [SymbolStep("ETH/USDT", clock, bars=(bar,))]


def _run(
    schedule: StepSchedule, steps: Steps, stopping: asyncio.Event | None = None
) -> SessionProgress:
    progress = SessionProgress()
    return asyncio.run(run_schedule(schedule, steps, stopping or asyncio.Event(), progress))


def test_replay_ends_at_the_first_step_without_bars_after_the_start() -> None:
    steps = Steps(with_bars=3)
    progress = _run(StepSchedule(START, STEP), steps)
    assert steps.clocks == [START + i * STEP for i in range(4)]
    assert progress.done
    assert len(progress.step_ms) == 4


def test_replay_stops_at_the_end_close_inclusive() -> None:
    steps = Steps(with_bars=100)
    _run(StepSchedule(START, STEP, end=START + 2 * STEP), steps)
    assert steps.clocks == [START, START + STEP, START + 2 * STEP]


def test_an_error_is_kept_in_progress_and_raised() -> None:
    with pytest.raises(RuntimeError, match="venue down"):
        asyncio.run(
            run_schedule(
                StepSchedule(START, STEP),
                Steps(10, fail_at=2),
                asyncio.Event(),
                p := SessionProgress(),
            )
        )
    assert p.error == "RuntimeError: venue down"
    assert p.done


def test_a_stopped_session_steps_no_more() -> None:
    stopping = asyncio.Event()
    stopping.set()
    steps = Steps(with_bars=10)
    assert _run(StepSchedule(START, STEP), steps, stopping).done
    assert steps.clocks == []


def test_pace_is_the_step_over_the_speed_and_never_live() -> None:
    assert StepSchedule(START, STEP, speed=900.0).pace_s == 1.0
    assert StepSchedule(START, STEP, speed=900.0, live=True).pace_s == 0.0
    assert StepSchedule(START, STEP).pace_s == 0.0


def test_only_the_latest_latencies_are_kept() -> None:
    progress = SessionProgress()
    for i in range(LATENCIES_KEPT + 5):
        progress.time_step(float(i))
    assert progress.step_ms == [float(i) for i in range(5, LATENCIES_KEPT + 5)]
