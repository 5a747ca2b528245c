"""``JournalActor``: the single writer of the audit journal and the SQL store.

``max_restarts=-1``: a restarted journal settles the batch the crash cut short (truncated back
to where it began, so the hash chain holds) and reopens the chain at its tail; Ray retries the
call, and a batch id already written whole is not written again
(``trading.failure.journal_batches``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import ray

from trading.config import SecuritySettings
from trading.failure.journal_batches import BatchMarker, mark, settle
from trading.failure.taxonomy import Incident, read_incidents
from trading.journal.chain import Journal, VerifyReport, verify
from trading.journal.recorder import Recordable, Recorder
from trading.journal.store import Store
from trading.security.secrets import JOURNAL_KEY, EnvSecrets, open_secrets, optional
from trading.security.signing import CheckpointLog

JOURNAL_KEY_ENV = "RAYTRADER_JOURNAL_KEY"
JOURNAL_ACTOR = "journal"
BATCHES_FILE = "journal-batches.jsonl"


def _journal_key(security: SecuritySettings | None) -> bytes | None:
    """The journal's HMAC key from the configured secrets provider (by default the environment:
    ``$RAYTRADER_JOURNAL_KEY``); None when it holds none."""
    provider = open_secrets(security) if security is not None else EnvSecrets()
    key = optional(provider, JOURNAL_KEY)
    return key.encode() if key else None


def _checkpoint_log(
    journal: Journal, security: SecuritySettings | None
) -> Callable[[Mapping[str, Any]], None] | None:
    """The signer of the journal's checkpoints, resumed at its tail (None: not configured)."""
    if security is None or security.journal_signing_key is None:
        return None
    log = CheckpointLog.open(
        journal.path,
        Path(security.journal_signing_key),
        security.journal_signing_key_id,
        security.journal_checkpoint_every,
        (journal.records, journal.last_hash),
    )
    return log.observe


@ray.remote(num_cpus=0.05, max_restarts=-1, max_task_retries=-1)
class JournalActor:
    """Callers send one batch per bar; the journal line is written before the table row."""

    def __init__(
        self, data_dir: str, store_url: str | None = None, security: SecuritySettings | None = None
    ) -> None:
        """``security.journal_signing_key`` set: checkpoints signed as records are written."""
        directory = Path(data_dir)
        self._key = _journal_key(security)
        self.journal_path = directory / "journal.jsonl"
        self._batches = directory / BATCHES_FILE
        self._last_batch = settle(self.journal_path, self._batches)
        journal = Journal(self.journal_path, self._key)
        self._recorder = Recorder(
            journal,
            Store.open(store_url or directory / "raytrader.db"),
            _checkpoint_log(journal, security),
        )

    def record(
        self, events: Sequence[Recordable], ts: datetime | None = None, batch: str | None = None
    ) -> int:
        """Append ``events``; the journal's record count after. A ``batch`` id already written
        whole (a retried call) is not written again."""
        journal = self._recorder.journal
        if batch is not None and batch == self._last_batch:
            return journal.records
        mark(self._batches, BatchMarker(batch, journal.records, journal.last_hash, len(events)))
        records = self._recorder.record(events, ts)
        self._last_batch = batch
        return records

    def anchor(self) -> None:
        self._recorder.anchor()

    def head(self) -> tuple[int, str]:
        return self._recorder.journal.records, self._recorder.journal.last_hash

    def ping(self) -> bool:
        return True

    def incidents(self, limit: int = 100) -> list[Incident]:
        """The last ``limit`` incidents journaled, oldest first."""
        return read_incidents(self.journal_path, limit)

    def verify(self) -> VerifyReport:
        return verify(self.journal_path, self._key)

    def backup(self, destination: str) -> str:
        return str(self._recorder.store.backup(Path(destination)))

    def close(self) -> None:
        self._recorder.close()
