"""The SQL store beside the audit journal: SQLite embedded by default, PostgreSQL by URL.

One schema, versioned migrations (``schema_migrations``), the same SQL on both engines (money
as exact decimal text in SQLite and ``NUMERIC`` in PostgreSQL). ``backup`` makes a consistent
online copy while writers continue: SQLite's backup API, or one REPEATABLE READ transaction
on PostgreSQL copied into a SQLite file of the same schema.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

from trading.contracts import (
    Fill,
    MarketBar,
    OrderDecision,
    OrderState,
    Position,
    Signal,
)

_C = TypeVar("_C", Fill, OrderState)


class StoreError(Exception):
    """The store URL is unusable or the database refused an operation."""


@dataclass(frozen=True)
class Dialect:
    name: str
    placeholder: str
    money: str
    real: str
    bigint: str
    json: str


SQLITE = Dialect("sqlite", "?", "TEXT", "REAL", "INTEGER", "TEXT")
POSTGRES = Dialect("postgresql", "%s", "NUMERIC", "DOUBLE PRECISION", "BIGINT", "JSONB")

# Each migration is a list of statements; types come from the dialect. Never edit an applied
# migration: add the next version.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "bars, signals, llm calls, risk decisions, orders, fills, positions, equity, metrics",
        (
            """CREATE TABLE bars (
                symbol TEXT NOT NULL, timeframe TEXT NOT NULL, open_time TEXT NOT NULL,
                open {money} NOT NULL, high {money} NOT NULL, low {money} NOT NULL,
                close {money} NOT NULL, volume {money} NOT NULL,
                PRIMARY KEY (symbol, timeframe, open_time))""",
            """CREATE TABLE signals (
                id {bigint} PRIMARY KEY, symbol TEXT NOT NULL, bar_time TEXT NOT NULL,
                created_at TEXT NOT NULL, direction TEXT NOT NULL, score {real} NOT NULL,
                confidence {real} NOT NULL, analyst TEXT NOT NULL, document {json} NOT NULL)""",
            """CREATE TABLE llm_calls (
                id {bigint} PRIMARY KEY, ts TEXT NOT NULL, model TEXT NOT NULL,
                request_hash TEXT NOT NULL, tokens_in {bigint} NOT NULL,
                tokens_out {bigint} NOT NULL, cost_usd {money} NOT NULL,
                latency_ms {real} NOT NULL, cache_hit {bigint} NOT NULL, outcome TEXT)""",
            """CREATE TABLE risk_decisions (
                client_order_id TEXT NOT NULL, decided_at TEXT NOT NULL,
                outcome TEXT NOT NULL, reason TEXT, requested_quantity {money} NOT NULL,
                approved_quantity {money} NOT NULL, evidence {json} NOT NULL,
                PRIMARY KEY (client_order_id, decided_at))""",
            """CREATE TABLE orders (
                client_order_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL,
                status TEXT NOT NULL, quantity {money} NOT NULL,
                filled_quantity {money} NOT NULL, avg_fill_price {money},
                venue_order_id TEXT, reject_reason TEXT, updated_at TEXT NOT NULL)""",
            """CREATE TABLE fills (
                trade_id TEXT NOT NULL, client_order_id TEXT NOT NULL, symbol TEXT NOT NULL,
                side TEXT NOT NULL, price {money} NOT NULL, quantity {money} NOT NULL,
                fee {money} NOT NULL, fee_asset TEXT NOT NULL, liquidity TEXT NOT NULL,
                ts TEXT NOT NULL, PRIMARY KEY (client_order_id, trade_id))""",
            """CREATE TABLE positions (
                symbol TEXT NOT NULL, updated_at TEXT NOT NULL, quantity {money} NOT NULL,
                avg_entry_price {money}, realized_pnl {money} NOT NULL,
                fees_paid {money} NOT NULL, PRIMARY KEY (symbol, updated_at))""",
            """CREATE TABLE equity (
                ts TEXT PRIMARY KEY, equity {money} NOT NULL, cash {money} NOT NULL,
                gross_exposure {money} NOT NULL)""",
            """CREATE TABLE metrics (
                id {bigint} PRIMARY KEY, ts TEXT NOT NULL, name TEXT NOT NULL,
                value {real} NOT NULL, labels {json} NOT NULL)""",
            """CREATE TABLE journal_heads (
                ts TEXT PRIMARY KEY, records {bigint} NOT NULL, head_hash TEXT NOT NULL)""",
            "CREATE INDEX fills_by_symbol ON fills (symbol, ts)",
            "CREATE INDEX signals_by_symbol ON signals (symbol, bar_time)",
        ),
    ),
)
LATEST_VERSION = MIGRATIONS[-1][0]

_TABLES = (
    "bars",
    "signals",
    "llm_calls",
    "risk_decisions",
    "orders",
    "fills",
    "positions",
    "equity",
    "metrics",
    "journal_heads",
)


class _Connection(Protocol):
    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


@dataclass(frozen=True)
class LLMCall:
    """One LLM request as the evaluation store and audit see it."""

    ts: datetime
    model: str
    request_hash: str
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal
    latency_ms: float
    cache_hit: bool
    outcome: str | None = None


class Store:
    """Typed writes and reads of the audit tables; one connection, one writer."""

    def __init__(self, connection: _Connection, dialect: Dialect, url: str) -> None:
        self._conn = connection
        self.dialect = dialect
        self.url = url

    @classmethod
    def open(cls, url: str | Path) -> Store:
        """``sqlite:///path.db``, a plain path, or ``postgresql://user@host:port/db``."""
        text = str(url)
        if text.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError as exc:  # pragma: no cover - psycopg is a dependency
                raise StoreError("PostgreSQL URLs need psycopg: pip install psycopg") from exc
            try:
                pg_connection = psycopg.connect(text, connect_timeout=10)
            except psycopg.Error as exc:
                raise StoreError(f"cannot connect to {_redact(text)}: {exc}") from exc
            store = cls(pg_connection, POSTGRES, text)
        else:
            path = Path(text.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level="DEFERRED")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            store = cls(connection, SQLITE, f"sqlite:///{path}")
        store.migrate()
        return store

    # ------------------------------------------------------------------ schema

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        cursor = self._conn.cursor()
        try:
            yield cursor
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        finally:
            cursor.close()

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.dialect.placeholder)

    @property
    def schema_version(self) -> int:
        with self._transaction() as cursor:
            cursor.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            (version,) = cursor.fetchone()
        return int(version)

    def migrate(self) -> int:
        """Apply every migration newer than the database's version, each in its transaction."""
        with self._transaction() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        current = self.schema_version
        if current > LATEST_VERSION:
            raise StoreError(
                f"{_redact(self.url)} has schema version {current}; this build knows up to "
                f"{LATEST_VERSION}: upgrade raytrader"
            )
        types = {
            "money": self.dialect.money,
            "real": self.dialect.real,
            "bigint": self.dialect.bigint,
            "json": self.dialect.json,
        }
        for version, description, statements in MIGRATIONS:
            if version <= current:
                continue
            with self._transaction() as cursor:
                for statement in statements:
                    cursor.execute(statement.format(**types))
                cursor.execute(
                    self._sql(
                        "INSERT INTO schema_migrations (version, description, applied_at) "
                        "VALUES (?, ?, ?)"
                    ),
                    (version, description, _iso(datetime.now(UTC))),
                )
        return self.schema_version

    # ------------------------------------------------------------------ writes

    def _insert(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        if batch:
            with self._transaction() as cursor:
                cursor.executemany(self._sql(statement), batch)

    def record_bars(self, bars: Iterable[MarketBar]) -> None:
        """Closed bars; a bar seen again (replay, backfill) is ignored, never duplicated."""
        self._insert(
            "INSERT INTO bars VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (symbol, timeframe, open_time) DO NOTHING",
            (
                (
                    b.symbol,
                    str(b.timeframe),
                    _iso(b.open_time),
                    _text(b.open),
                    _text(b.high),
                    _text(b.low),
                    _text(b.close),
                    _text(b.volume),
                )
                for b in bars
                if b.closed
            ),
        )

    def record_signal(self, signal: Signal) -> None:
        self._insert(
            "INSERT INTO signals (id, symbol, bar_time, created_at, direction, score, "
            "confidence, analyst, document) VALUES "
            "((SELECT COALESCE(MAX(id), 0) + 1 FROM signals), ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    signal.symbol,
                    _iso(signal.bar_time),
                    _iso(signal.created_at),
                    str(signal.direction),
                    signal.score,
                    signal.confidence,
                    signal.analyst,
                    signal.model_dump_json(),
                )
            ],
        )

    def record_llm_call(self, call: LLMCall) -> None:
        self._insert(
            "INSERT INTO llm_calls (id, ts, model, request_hash, tokens_in, tokens_out, "
            "cost_usd, latency_ms, cache_hit, outcome) VALUES "
            "((SELECT COALESCE(MAX(id), 0) + 1 FROM llm_calls), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    _iso(call.ts),
                    call.model,
                    call.request_hash,
                    call.tokens_in,
                    call.tokens_out,
                    _text(call.cost_usd),
                    call.latency_ms,
                    int(call.cache_hit),
                    call.outcome,
                )
            ],
        )

    def record_decision(self, decision: OrderDecision) -> None:
        self._insert(
            "INSERT INTO risk_decisions VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (client_order_id, decided_at) DO NOTHING",
            [
                (
                    decision.client_order_id,
                    _iso(decision.decided_at),
                    str(decision.outcome),
                    None if decision.reason is None else str(decision.reason),
                    _text(decision.requested_quantity),
                    _text(decision.approved_quantity),
                    json.dumps(dict(decision.evidence), sort_keys=True),
                )
            ],
        )

    def upsert_orders(self, states: Iterable[OrderState]) -> None:
        self._insert(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (client_order_id) DO UPDATE SET status = excluded.status, "
            "quantity = excluded.quantity, filled_quantity = excluded.filled_quantity, "
            "avg_fill_price = excluded.avg_fill_price, venue_order_id = excluded.venue_order_id, "
            "reject_reason = excluded.reject_reason, updated_at = excluded.updated_at",
            (
                (
                    s.client_order_id,
                    s.symbol,
                    str(s.side),
                    str(s.status),
                    _text(s.quantity),
                    _text(s.filled_quantity),
                    _text(s.avg_fill_price),
                    s.venue_order_id,
                    s.reject_reason,
                    _iso(s.updated_at),
                )
                for s in states
            ),
        )

    def record_fills(self, fills: Iterable[Fill]) -> None:
        """Fills by (client id, trade id): a fill reported twice is stored once."""
        self._insert(
            "INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (client_order_id, trade_id) DO NOTHING",
            (
                (
                    f.trade_id,
                    f.client_order_id,
                    f.symbol,
                    str(f.side),
                    _text(f.price),
                    _text(f.quantity),
                    _text(f.fee),
                    f.fee_asset,
                    str(f.liquidity),
                    _iso(f.ts),
                )
                for f in fills
            ),
        )

    def record_position(self, position: Position) -> None:
        self._insert(
            "INSERT INTO positions VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (symbol, updated_at) DO UPDATE SET quantity = excluded.quantity, "
            "avg_entry_price = excluded.avg_entry_price, realized_pnl = excluded.realized_pnl, "
            "fees_paid = excluded.fees_paid",
            [
                (
                    position.symbol,
                    _iso(position.updated_at),
                    _text(position.quantity),
                    _text(position.avg_entry_price),
                    _text(position.realized_pnl),
                    _text(position.fees_paid),
                )
            ],
        )

    def record_equity(
        self, ts: datetime, equity: Decimal, cash: Decimal, gross_exposure: Decimal
    ) -> None:
        self._insert(
            "INSERT INTO equity VALUES (?, ?, ?, ?) ON CONFLICT (ts) DO UPDATE SET "
            "equity = excluded.equity, cash = excluded.cash, "
            "gross_exposure = excluded.gross_exposure",
            [(_iso(ts), _text(equity), _text(cash), _text(gross_exposure))],
        )

    def record_metric(
        self, ts: datetime, name: str, value: float, labels: Mapping[str, str] | None = None
    ) -> None:
        self._insert(
            "INSERT INTO metrics (id, ts, name, value, labels) VALUES "
            "((SELECT COALESCE(MAX(id), 0) + 1 FROM metrics), ?, ?, ?, ?)",
            [(_iso(ts), name, value, json.dumps(dict(labels or {}), sort_keys=True))],
        )

    def record_journal_head(self, ts: datetime, records: int, head_hash: str) -> None:
        """Anchor the audit journal: a later truncation of the journal shows against this."""
        self._insert(
            "INSERT INTO journal_heads VALUES (?, ?, ?) ON CONFLICT (ts) DO NOTHING",
            [(_iso(ts), records, head_hash)],
        )

    # ------------------------------------------------------------------ reads

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._transaction() as cursor:
            cursor.execute(self._sql(statement), tuple(params))
            return [tuple(row) for row in cursor.fetchall()]

    def count(self, table: str) -> int:
        if table not in _TABLES:
            raise StoreError(f"unknown table {table!r}; tables: {', '.join(_TABLES)}")
        ((n,),) = self._rows(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - table whitelisted
        return int(n)

    def fills(self, symbol: str | None = None) -> list[Fill]:
        rows = self._rows(
            "SELECT trade_id, client_order_id, symbol, side, price, quantity, fee, fee_asset, "
            "liquidity, ts FROM fills WHERE (CAST(? AS TEXT) IS NULL OR symbol = ?) "
            "ORDER BY ts, client_order_id, trade_id",
            (symbol, symbol),
        )
        return [_contract(Fill, row) for row in rows]

    def orders(self) -> list[OrderState]:
        rows = self._rows(
            "SELECT client_order_id, symbol, side, status, quantity, filled_quantity, "
            "avg_fill_price, venue_order_id, reject_reason, updated_at FROM orders "
            "ORDER BY client_order_id"
        )
        return [_contract(OrderState, row) for row in rows]

    def journal_head(self) -> tuple[int, str] | None:
        rows = self._rows("SELECT records, head_hash FROM journal_heads ORDER BY ts DESC LIMIT 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    # ------------------------------------------------------------------ backup

    def backup(self, destination: Path) -> Path:
        """A consistent copy, taken online, as a SQLite file with this schema."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists():
            destination.unlink()
        if isinstance(self._conn, sqlite3.Connection):
            target = sqlite3.connect(destination)
            with target:
                self._conn.backup(target)
            target.close()
            return destination
        copy = Store.open(destination)
        with self._transaction() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for table in _TABLES:
                cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - table whitelisted
                rows = [_json_row(row) for row in cursor.fetchall()]
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    copy._insert(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608
        copy.close()
        return destination

    def close(self) -> None:
        self._conn.close()


def _contract(cls: type[_C], row: Sequence[Any]) -> _C:
    """Rebuild a contract from a row selected in its field order (validated on the way)."""
    fields = dict(zip(cls.model_fields.keys(), _json_row(row), strict=True))
    return cls.model_validate_json(json.dumps(fields))


def _json_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """Database values as the JSON/SQLite side wants them: NUMERIC -> text, JSONB -> text."""
    out: list[Any] = []
    for value in row:
        if isinstance(value, Decimal):
            out.append(format(value, "f"))
        elif isinstance(value, dict | list):
            out.append(json.dumps(value, sort_keys=True))
        else:
            out.append(value)
    return tuple(out)


def _redact(url: str) -> str:
    """The URL without its password, for error messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
