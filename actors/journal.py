"""``JournalActor``: the single writer of the audit journal and the SQL store."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import ray

from trading.journal.chain import Journal, VerifyReport, verify
from trading.journal.recorder import Recordable, Recorder
from trading.journal.store import Store

JOURNAL_KEY_ENV = "RAYTRADER_JOURNAL_KEY"
JOURNAL_ACTOR = "journal"


@ray.remote(num_cpus=0.05)
class JournalActor:
    """Callers send one batch per bar; the journal line is written before the table row."""

    def __init__(self, data_dir: str, store_url: str | None = None) -> None:
        directory = Path(data_dir)
        key = os.environ.get(JOURNAL_KEY_ENV)
        self._key = key.encode() if key else None
        self.journal_path = directory / "journal.jsonl"
        self._recorder = Recorder(
            Journal(self.journal_path, self._key),
            Store.open(store_url or directory / "raytrader.db"),
        )

    def record(self, events: Sequence[Recordable], ts: datetime | None = None) -> int:
        return self._recorder.record(events, ts)

    def anchor(self) -> None:
        self._recorder.anchor()

    def head(self) -> tuple[int, str]:
        return self._recorder.journal.records, self._recorder.journal.last_hash

    def verify(self) -> VerifyReport:
        return verify(self.journal_path, self._key)

    def backup(self, destination: str) -> str:
        return str(self._recorder.store.backup(Path(destination)))

    def close(self) -> None:
        self._recorder.close()
