"""The evaluation store: every LLM call with tokens, cost, latency and its later outcome (SQLite).

Outcomes are scored against forward returns once they are known; rolling accuracy per model,
regime and timeframe (shrunk towards the model's overall accuracy, and that towards a prior)
is what the AccuracyFirst and CostAware policies rank by. The rolling windows live in memory
(rebuilt from the table on open), so ranking costs no query.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from trading.config import EvaluationSettings, ModelConfig
from trading.journal.store import LLMCall

COMMIT_EVERY = 32

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS llm_calls (
        id INTEGER PRIMARY KEY, ts TEXT NOT NULL, model TEXT NOT NULL,
        request_hash TEXT NOT NULL, request_class TEXT NOT NULL, symbol TEXT NOT NULL,
        timeframe TEXT NOT NULL, regime TEXT NOT NULL, bar_time TEXT NOT NULL,
        tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, cost_usd TEXT NOT NULL,
        latency_ms REAL NOT NULL, cache TEXT NOT NULL, error TEXT, direction TEXT,
        confidence REAL, outcome TEXT, forward_return_pct REAL)""",
    "CREATE INDEX IF NOT EXISTS calls_by_bar ON llm_calls (symbol, timeframe, bar_time)",
    "CREATE INDEX IF NOT EXISTS calls_by_model ON llm_calls (model, regime, timeframe, id)",
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def call_cost_usd(model: ModelConfig, tokens_in: int, tokens_out: int) -> Decimal:
    """Cost from the config price table (USD per million tokens in and out)."""
    usd = (
        Decimal(repr(model.usd_per_mtok_in)) * tokens_in
        + Decimal(repr(model.usd_per_mtok_out)) * tokens_out
    )
    return usd / 1_000_000


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One routed answer or failed provider call as the store keeps it."""

    ts: datetime
    model: str
    request_hash: str
    request_class: str
    symbol: str
    timeframe: str
    regime: str
    bar_time: datetime
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal
    latency_ms: float
    cache: str
    error: str | None = None
    direction: str | None = None
    confidence: float | None = None

    def as_llm_call(self) -> LLMCall:
        """The journal's audit record of this call."""
        return LLMCall(
            ts=self.ts,
            model=self.model,
            request_hash=self.request_hash,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            cost_usd=self.cost_usd,
            latency_ms=self.latency_ms,
            cache_hit=self.cache != "miss",
            outcome=self.error,
        )


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Shrunk rolling accuracy and the number of scored live calls behind it."""

    score: float
    samples: int


class EvaluationStore:
    """SQLite-backed call log; one connection, one writer (the router's event loop)."""

    def __init__(self, settings: EvaluationSettings, path: str | None = None) -> None:
        self.settings = settings
        where = path or settings.path or ":memory:"
        self._db = sqlite3.connect(where, check_same_thread=False)
        # a file is shared by every router replica: an open batch would hold SQLite's write
        # lock and fail their writes ("database is locked"), so files commit every write
        self._commit_every = COMMIT_EVERY if where == ":memory:" else 1
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._db.commit()
        self._pending = 0
        self._outcomes: dict[tuple[str, str, str], deque[bool]] = {}
        self._load_outcomes()

    def record(self, call: CallRecord) -> None:
        """Append one call; in memory committed in batches of ``COMMIT_EVERY`` and on
        ``flush``, in a file at once."""
        self._db.execute(
            "INSERT INTO llm_calls (ts, model, request_hash, request_class, symbol, timeframe,"
            " regime, bar_time, tokens_in, tokens_out, cost_usd, latency_ms, cache, error,"
            " direction, confidence) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                _iso(call.ts),
                call.model,
                call.request_hash,
                call.request_class,
                call.symbol,
                call.timeframe,
                call.regime,
                _iso(call.bar_time),
                call.tokens_in,
                call.tokens_out,
                format(call.cost_usd, "f"),
                call.latency_ms,
                call.cache,
                call.error,
                call.direction,
                call.confidence,
            ),
        )
        self._pending += 1
        if self._pending >= self._commit_every:
            self.flush()

    def flush(self) -> None:
        self._db.commit()
        self._pending = 0

    def close(self) -> None:
        self.flush()
        self._db.close()

    def record_outcome(
        self, symbol: str, timeframe: str, bar_time: datetime, forward_return_pct: float
    ) -> int:
        """Score every opinion given on that bar against the realised forward return."""
        band = self.settings.neutral_band_pct
        rows = self._db.execute(
            "SELECT id, model, regime, direction, cache FROM llm_calls WHERE symbol = ? AND"
            " timeframe = ? AND bar_time = ? AND direction IS NOT NULL AND outcome IS NULL",
            (symbol, timeframe, _iso(bar_time)),
        ).fetchall()
        for row_id, model, regime, direction, cache in rows:
            hit = (
                (direction == "LONG" and forward_return_pct > band)
                or (direction == "SHORT" and forward_return_pct < -band)
                or (direction == "NEUTRAL" and abs(forward_return_pct) <= band)
            )
            self._db.execute(
                "UPDATE llm_calls SET outcome = ?, forward_return_pct = ? WHERE id = ?",
                ("hit" if hit else "miss", forward_return_pct, row_id),
            )
            if cache == "miss":
                self._remember(model, regime, timeframe, hit)
        self._pending += len(rows)
        if self._pending >= self._commit_every:
            self.flush()
        return len(rows)

    def _remember(self, model: str, regime: str, timeframe: str, hit: bool) -> None:
        for key in ((model, regime, timeframe), (model, "*", "*")):
            window = self._outcomes.get(key)
            if window is None:
                window = self._outcomes[key] = deque(maxlen=self.settings.window_calls)
            window.append(hit)

    def _load_outcomes(self) -> None:
        """Rebuild the rolling windows from the stored, scored live calls."""
        rows = self._db.execute(
            "SELECT model, regime, timeframe, outcome FROM llm_calls WHERE cache = 'miss'"
            " AND outcome IS NOT NULL ORDER BY id"
        )
        for model, regime, timeframe, outcome in rows:
            self._remember(model, regime, timeframe, outcome == "hit")

    def accuracy(self, model: str, regime: str, timeframe: str) -> Accuracy:
        """Rolling hit rate of ``model`` in this regime and timeframe, shrunk to its overall.

        score = (hits + overall * k) / (n + k), overall = (all_hits + prior * k) / (all_n + k),
        k = ``min_samples``: a few lucky calls cannot outrank a long record.
        """
        k = self.settings.min_samples
        overall_window = self._outcomes.get((model, "*", "*"), ())
        overall = (sum(overall_window) + self.settings.prior_accuracy * k) / (
            len(overall_window) + k
        )
        window = self._outcomes.get((model, regime, timeframe), ())
        return Accuracy(score=(sum(window) + overall * k) / (len(window) + k), samples=len(window))

    def spent_since(self, since: datetime) -> tuple[Decimal, int]:
        """USD and tokens of calls at or after ``since`` (for the daily budget after a restart)."""
        total = Decimal(0)
        tokens = 0
        for cost, used in self._db.execute(
            "SELECT cost_usd, tokens_in + tokens_out FROM llm_calls WHERE ts >= ?",
            (_iso(since),),
        ):
            total += Decimal(cost)
            tokens += int(used)
        return total, tokens

    def calls(self, model: str | None = None) -> list[CallRecord]:
        """Stored calls in order (optionally one model's); for audit and tests."""
        query = (
            "SELECT ts, model, request_hash, request_class, symbol, timeframe, regime, bar_time,"
            " tokens_in, tokens_out, cost_usd, latency_ms, cache, error, direction, confidence"
            " FROM llm_calls"
        )
        params: tuple[str, ...] = ()
        if model is not None:
            query += " WHERE model = ?"
            params = (model,)
        rows = self._db.execute(query + " ORDER BY id", params).fetchall()
        return [
            CallRecord(
                ts=datetime.fromisoformat(r[0]),
                model=r[1],
                request_hash=r[2],
                request_class=r[3],
                symbol=r[4],
                timeframe=r[5],
                regime=r[6],
                bar_time=datetime.fromisoformat(r[7]),
                tokens_in=r[8],
                tokens_out=r[9],
                cost_usd=Decimal(r[10]),
                latency_ms=r[11],
                cache=r[12],
                error=r[13],
                direction=r[14],
                confidence=r[15],
            )
            for r in rows
        ]
