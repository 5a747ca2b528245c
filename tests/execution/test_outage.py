"""Outage: the venue's port closes; the breaker opens, nothing is lost, and the engine recovers
by itself within 60 s of the venue's return. Every intent ends filled, canceled or rejected
with a reason. The default run scales the 30 s outage (and the breaker's open time) down 10x.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.execution.conftest import Session, check_books_agree, ids, make_intents, session
from trading.contracts import OrderIntent, OrderStatus, OrderType, Side
from trading.execution.engine import EngineConfig
from trading.execution.paper import PaperBar


def resting_limit(bars: dict[str, list[PaperBar]], intent: OrderIntent) -> OrderIntent:
    """A buy far below the market: it rests at the venue through the outage."""
    price = (bars["BTC/USDT"][0].close * Decimal("0.5")).quantize(Decimal("0.01"))
    return intent.model_copy(
        update={
            "symbol": "BTC/USDT",
            "side": Side.BUY,
            "order_type": OrderType.LIMIT,
            "limit_price": price,
            "quantity": Decimal("0.001"),
        }
    )


async def until_known_to_venue(s: Session, intents: list[OrderIntent], timeout_s: float) -> None:
    """Wait until every order is acknowledged by the venue or has ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = [s.gateway.state(i.client_order_id) for i in intents]
        if all(st is not None and st.status is not OrderStatus.SUBMITTED for st in states):
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("orders still unacknowledged after the outage")


async def outage_run(
    bars: dict[str, list[PaperBar]], wal: Path, outage_s: float
) -> dict[str, float]:
    open_ms = int(outage_s * 1000 / 6)
    config = EngineConfig(
        breaker_failures=3,
        breaker_open_ms=open_ms,
        base_delay_ms=50,
        max_delay_ms=open_ms,
        resync_interval_ms=500,
    )
    before = make_intents(20, 11, bars, strategy="before")
    in_flight = make_intents(15, 12, bars, strategy="inflight")
    during = make_intents(30, 13, bars, strategy="during")
    resting = [resting_limit(bars, i) for i in make_intents(2, 14, bars, strategy="resting")]
    async with session(bars, wal, config=config) as s:
        await s.engine.submit(before + resting)
        await s.engine.wait_terminal(ids(before), 10)
        breaker_states: set[str] = set()

        async def watch() -> None:
            while True:
                breaker_states.add(s.engine.breaker.state.state)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        await s.engine.submit(in_flight)
        await s.server.begin_outage(outage_s)
        venue_back = time.monotonic() + outage_s
        await s.engine.submit(during)
        await asyncio.sleep(outage_s / 2)
        assert "open" in breaker_states
        assert not any(i.client_order_id in s.exchange.orders for i in during)
        await until_known_to_venue(s, in_flight + during, outage_s + 60)
        recovery_s = time.monotonic() - venue_back
        everything = before + in_flight + during + resting
        for state in s.gateway.open_orders():  # resting limits: cancel what the market left
            await s.engine.cancel(state.client_order_id)
        states = await s.engine.wait_terminal(ids(everything), 10)
        watcher.cancel()
        for state in states:
            assert state.status in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED)
            assert state.status is not OrderStatus.REJECTED or state.reject_reason
        assert {i.client_order_id for i in everything} <= set(s.exchange.orders)
        check_books_agree(s, everything)
        return {"recovery_s": recovery_s, "unknown": s.engine.stats.unknown_outcomes}


def test_outage_opens_the_breaker_loses_nothing_and_recovers(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    result = asyncio.run(outage_run(paper_bars, tmp_path, outage_s=3.0))
    print(f"outage 3 s: recovered {result['recovery_s']:.2f} s after the venue came back")
    assert result["recovery_s"] < 60


@pytest.mark.slow
def test_thirty_second_outage_recovers_within_sixty_seconds(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    result = asyncio.run(outage_run(paper_bars, tmp_path, outage_s=30.0))
    print(f"outage 30 s: recovered {result['recovery_s']:.2f} s after the venue came back")
    assert result["recovery_s"] < 60
