"""A new session starts on an empty data dir: the previous session's journal, store, WAL and
checkpoints move under ``archive/<UTC time>``, kept for audit rather than overwritten."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

SESSION_FILES = (
    "journal.jsonl",
    "journal-batches.jsonl",
    "raytrader.db",
    "raytrader.db-wal",
    "raytrader.db-shm",
    "wal",
    "risk.json",
    "risk-settings.json",
    "desk.json",
    "run-summary.json",
)


def archive_previous(data_dir: Path) -> Path | None:
    """Move the last session's files under ``archive/<time>``; the archive dir, or None."""
    present = [data_dir / name for name in SESSION_FILES if (data_dir / name).exists()]
    if not present:
        return None
    target = data_dir / "archive" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target.mkdir(parents=True)
    for path in present:
        shutil.move(str(path), target / path.name)
    return target
