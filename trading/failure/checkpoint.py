"""The orchestrator's checkpoint: the desk, the last step done and the run's counters, written
in one atomic file after each step is journaled, so a restarted orchestrator resumes at the next
step and never counts a step twice."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from trading.config import SignalSettings
from trading.execution.desk import DeskState
from trading.execution.progress import SessionProgress


class StepCheckpoint(BaseModel):
    """What a restarted orchestrator needs: the desk, the step cursor, the counters, the
    signal-settings pushes (a restarted symbol actor replays them) and the paused symbols."""

    model_config = ConfigDict(extra="forbid")

    desk: DeskState = Field(default_factory=DeskState)
    cursor: datetime | None = None  # the close of the last step done
    progress: SessionProgress = Field(default_factory=SessionProgress)
    signal_reloads: list[tuple[datetime | None, SignalSettings]] = Field(default_factory=list)
    paused: list[str] = Field(default_factory=list)  # symbols paused by a DATA incident

    def is_done(self, clock: datetime) -> bool:
        """Whether the step at ``clock`` was done already (steps run in clock order)."""
        return self.cursor is not None and clock <= self.cursor


def load_checkpoint(path: Path) -> StepCheckpoint:
    """The checkpoint at ``path``, or a fresh one when there is none yet."""
    if not path.exists():
        return StepCheckpoint()
    return StepCheckpoint.model_validate_json(path.read_text())


def save_checkpoint(checkpoint: StepCheckpoint, path: Path) -> None:
    """Write to a temporary file, then rename over ``path``: a kill leaves the old or the new."""
    partial = path.with_suffix(path.suffix + ".tmp")
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(checkpoint.model_dump_json())
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
