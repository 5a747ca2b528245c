"""The SQL store on SQLite and on a real PostgreSQL server (started by .ci/postgres.sh)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from tests import strategies as gen
from trading.contracts import (
    DecisionOutcome,
    DenialReason,
    Direction,
    Fill,
    Liquidity,
    MarketBar,
    OrderDecision,
    OrderState,
    OrderStatus,
    Regime,
    Side,
    Signal,
    Timeframe,
)
from trading.journal.store import LATEST_VERSION, LLMCall, Store, StoreError

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 10, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("RAYTRADER_TEST_PG_URL")
    if url:
        return url
    started = subprocess.run(
        ["bash", str(REPO / ".ci" / "postgres.sh")], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        reason = f"no PostgreSQL server could be started: {started.stderr.strip()}"
        print(reason)
        pytest.skip(reason)
    return started.stdout.strip()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    yield url


def _fill(trade: str, qty: str, price: str = "60000.10", cid: str = "rt-1") -> Fill:
    return Fill(
        trade_id=trade,
        client_order_id=cid,
        symbol="BTC/USDT",
        side=Side.BUY,
        price=Decimal(price),
        quantity=Decimal(qty),
        fee=Decimal("0.0000100"),
        fee_asset="BTC",
        liquidity=Liquidity.MAKER,
        ts=T0 + timedelta(seconds=int(trade.lstrip("T"))),
    )


def test_fresh_store_is_migrated_and_reopening_is_idempotent(store_url: str) -> None:
    store = Store.open(store_url)
    assert store.schema_version == LATEST_VERSION
    store.close()
    again = Store.open(store_url)
    assert again.schema_version == LATEST_VERSION
    assert again.count("fills") == 0
    again.close()


def test_a_database_from_a_newer_build_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01')")
    with pytest.raises(StoreError, match="schema version 99; this build knows up to 1"):
        Store.open(path)


def test_fills_round_trip_exactly_and_a_repeated_fill_is_stored_once(store_url: str) -> None:
    store = Store.open(store_url)
    fills = [_fill("T1", "0.0100"), _fill("T2", "0.25", "60001")]
    store.record_fills(fills)
    store.record_fills([fills[0]])
    assert store.fills() == fills
    assert store.fills()[0].quantity.as_tuple().exponent == -4
    assert store.fills(symbol="ETH/USDT") == []
    store.close()


def test_order_upsert_keeps_the_latest_state(store_url: str) -> None:
    store = Store.open(store_url)
    base: dict[str, Any] = {
        "client_order_id": "rt-1",
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "quantity": Decimal("1"),
        "updated_at": T0,
    }
    submitted = OrderState(status=OrderStatus.SUBMITTED, filled_quantity=Decimal(0), **base)
    filled = OrderState(
        **(base | {"updated_at": T0 + timedelta(seconds=5)}),
        status=OrderStatus.FILLED,
        filled_quantity=Decimal("1"),
        avg_fill_price=Decimal("60000.5"),
        venue_order_id="42",
    )
    store.upsert_orders([submitted])
    store.upsert_orders([filled])
    assert store.orders() == [filled]
    store.close()


def test_every_record_kind_lands_in_its_table(store_url: str) -> None:
    store = Store.open(store_url)
    bar = MarketBar(
        symbol="ETH/USDT",
        timeframe=Timeframe.H1,
        open_time=T0,
        open=Decimal("2500"),
        high=Decimal("2510"),
        low=Decimal("2490"),
        close=Decimal("2505"),
        volume=Decimal("10"),
    )
    store.record_bars([bar, bar, bar.model_copy(update={"closed": False})])
    store.record_signal(
        Signal(
            symbol="ETH/USDT",
            bar_time=T0,
            created_at=T0,
            direction=Direction.LONG,
            score=0.5,
            confidence=0.6,
            timeframes=(Timeframe.H1,),
            regime=Regime.BULL,
            reasons=("1h: bullish engulfing",),
            analyst="offline-v1",
        )
    )
    store.record_decision(
        OrderDecision(
            client_order_id="rt-1",
            outcome=DecisionOutcome.DENIED,
            reason=DenialReason.SAFE_MODE,
            requested_quantity=Decimal("1"),
            approved_quantity=Decimal("0"),
            decided_at=T0,
            evidence={"daily_drawdown_pct": "8.4"},
        )
    )
    store.record_llm_call(
        LLMCall(T0, "claude-sonnet", "ab" * 32, 812, 96, Decimal("0.003876"), 812.5, False)
    )
    store.record_equity(T0, Decimal("10000"), Decimal("8000"), Decimal("2000"))
    store.record_metric(T0, "bars_total", 1.0, {"symbol": "ETH/USDT"})
    store.record_journal_head(T0, 12, "f" * 64)
    counts = {
        table: store.count(table)
        for table in ("bars", "signals", "risk_decisions", "llm_calls", "equity", "metrics")
    }
    assert counts == dict.fromkeys(counts, 1)
    assert store.journal_head() == (12, "f" * 64)
    with pytest.raises(StoreError, match="unknown table 'users'"):
        store.count("users")
    store.close()


def test_backup_is_a_consistent_online_copy(store_url: str, tmp_path: Path) -> None:
    store = Store.open(store_url)
    store.record_fills([_fill("T1", "1"), _fill("T2", "2")])
    writer = Store.open(store_url)  # a second connection, mid-transaction during the backup
    cursor = writer._conn.cursor()
    cursor.execute(
        writer._sql("INSERT INTO journal_heads VALUES (?, ?, ?)"), ("2030-01-01T00:00:00Z", 1, "x")
    )
    copy_path = store.backup(tmp_path / "backup.db")
    writer._conn.rollback()
    writer.close()
    copy = Store.open(copy_path)
    assert copy.fills() == store.fills()
    assert copy.journal_head() is None, "uncommitted rows are not in the copy"
    copy.close()
    store.close()


@settings(max_examples=25, deadline=None)
@given(fill=gen.fills)
def test_any_valid_fill_round_trips_through_sqlite(fill: Fill) -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        store = Store.open(Path(scratch) / "prop.db")
        store.record_fills([fill])
        assert store.fills() == [fill]
        store.close()


def test_bad_postgres_url_names_the_host_without_the_password() -> None:
    with pytest.raises(StoreError) as exc:
        Store.open("postgresql://trader:hunter2@127.0.0.1:1/nowhere")  # pragma: allowlist secret
    assert "hunter2" not in str(exc.value)
    assert "postgresql://trader:***@127.0.0.1:1/nowhere" in str(exc.value)
