"""The session's clock: which closes to step, at what pace, and when to stop.

Replay steps through data time, as fast as the pipeline goes or ``speed`` times real time, and
ends when the data does; live steps each close ``grace_s`` after it passes on the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from trading.execution.desk import SymbolStep
from trading.execution.progress import SessionProgress

StepFn = Callable[[datetime], Awaitable[Sequence[SymbolStep]]]


@dataclass(frozen=True)
class StepSchedule:
    """Closes from ``start`` every ``step`` until ``end`` (None: until the data or a stop)."""

    start: datetime
    step: timedelta
    end: datetime | None = None
    speed: float = 0.0
    live: bool = False
    grace_s: float = 2.0

    @property
    def pace_s(self) -> float:
        """Seconds per replayed step at ``speed`` X real time (0: no pacing; live never)."""
        return self.step.total_seconds() / self.speed if self.speed > 0 and not self.live else 0.0

    def due(self, clock: datetime) -> bool:
        return self.end is None or clock <= self.end


async def run_schedule(
    schedule: StepSchedule, step: StepFn, stopping: asyncio.Event, progress: SessionProgress
) -> SessionProgress:
    """Run ``step`` at each close of ``schedule`` until it ends or ``stopping`` is set; an
    error is kept in ``progress`` and raised, and ``progress.done`` is set either way."""
    clock = schedule.start
    try:
        while not stopping.is_set() and schedule.due(clock):
            if schedule.live and not await wall_clock_passed(clock, schedule.grace_s, stopping):
                break
            steps = await _paced(step, clock, schedule.pace_s, progress)
            if not schedule.live and all(not s.bars for s in steps) and clock > schedule.start:
                break
            clock += schedule.step
    except Exception as exc:  # surfaced in progress and to the caller
        progress.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        progress.done = True
    return progress


async def _paced(
    step: StepFn, clock: datetime, pace_s: float, progress: SessionProgress
) -> Sequence[SymbolStep]:
    """One step, its latency recorded, then a sleep for what is left of ``pace_s``."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    steps = await step(clock)
    progress.time_step((loop.time() - began) * 1000)
    if pace_s:
        await asyncio.sleep(max(0.0, pace_s - (loop.time() - began)))
    return steps


async def wall_clock_passed(close: datetime, grace_s: float, stopping: asyncio.Event) -> bool:
    """Sleep until ``grace_s`` after ``close`` on the wall clock; False if stopped first."""
    delay_s = (close - datetime.now(UTC)).total_seconds() + grace_s
    if delay_s > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay_s)
    return not stopping.is_set()
