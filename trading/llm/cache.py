"""The opinion cache: exact by canonical prompt hash, then by quantized market-state bucket.

Time is the request's decision time (the bar close), not the wall clock, so a backtest re-run
finds exactly the entries the first run wrote: zero provider calls, identical answers. A lookup
only sees entries written at or before its own time (no look-ahead) and at most the timeframe's
TTL old. A bucket hit is written back under the exact hash; bucket rows are written only by
real model answers, so a reused answer is never older than one TTL.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from trading.contracts import Timeframe
from trading.llm.opinion import Answer, CacheOutcome
from trading.llm.prompt import Prompt

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS exact_answers (
        prompt_hash TEXT NOT NULL, stored_at INTEGER NOT NULL, close REAL NOT NULL,
        source TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY (prompt_hash, stored_at))""",
    """CREATE TABLE IF NOT EXISTS bucket_answers (
        bucket TEXT NOT NULL, stored_at INTEGER NOT NULL, close REAL NOT NULL,
        source TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY (bucket, stored_at))""",
)
_LATEST = (
    "SELECT stored_at, close, source, answer FROM {table} WHERE {key} = ? AND stored_at <= ?"
    " ORDER BY stored_at DESC LIMIT 1"
)
_EXACT = _LATEST.format(table="exact_answers", key="prompt_hash")
_BUCKET = _LATEST.format(table="bucket_answers", key="bucket")


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    answer: Answer
    source: str
    outcome: CacheOutcome


def rebased(answer: Answer, stored_close: float, close: float) -> Answer:
    """The answer with its invalidation level moved by the same ratio the close moved."""
    if answer.invalidation_level is None or stored_close <= 0 or stored_close == close:
        return answer
    level = answer.invalidation_level * close / stored_close
    return answer.model_copy(update={"invalidation_level": level})


class OpinionCache:
    """SQLite tables of answers keyed by prompt hash and by state bucket."""

    def __init__(
        self,
        ttl_seconds: dict[Timeframe, int],
        path: str | None = None,
        *,
        use_bucket: bool = True,
    ) -> None:
        self._ttl = ttl_seconds
        self._use_bucket = use_bucket
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._db.commit()

    def lookup(self, prompt: Prompt) -> CachedAnswer | None:
        """The freshest usable answer for ``prompt``: exact hash first, then its bucket."""
        request = prompt.request
        now = int(request.decided_at.timestamp())
        ttl = self._ttl.get(request.timeframe, 0)
        close = float(request.primary.close)
        row = self._db.execute(_EXACT, (prompt.hash, now)).fetchone()
        if row is not None and now - row[0] <= ttl:
            answer = rebased(Answer.model_validate_json(row[3]), row[1], close)
            return CachedAnswer(answer, row[2], CacheOutcome.EXACT)
        if not self._use_bucket:
            return None
        row = self._db.execute(_BUCKET, (prompt.bucket, now)).fetchone()
        if row is None or now - row[0] > ttl:
            return None
        answer = rebased(Answer.model_validate_json(row[3]), row[1], close)
        self._put("exact_answers", prompt.hash, now, close, row[2], answer)
        return CachedAnswer(answer, row[2], CacheOutcome.BUCKET)

    def store(self, prompt: Prompt, answer: Answer, source: str) -> None:
        """Remember a model's answer under the prompt hash and the state bucket."""
        request = prompt.request
        now = int(request.decided_at.timestamp())
        close = float(request.primary.close)
        self._put("exact_answers", prompt.hash, now, close, source, answer)
        if self._use_bucket:
            self._put("bucket_answers", prompt.bucket, now, close, source, answer)

    def _put(
        self, table: str, key: str, stored_at: int, close: float, source: str, answer: Answer
    ) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            (key, stored_at, close, source, answer.model_dump_json()),
        )
        self._db.commit()

    def entries(self) -> tuple[int, int]:
        """(exact rows, bucket rows)."""
        exact = self._db.execute("SELECT count(*) FROM exact_answers").fetchone()[0]
        bucket = self._db.execute("SELECT count(*) FROM bucket_answers").fetchone()[0]
        return int(exact), int(bucket)

    def close(self) -> None:
        self._db.close()
