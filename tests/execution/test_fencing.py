"""Fencing: an execution incarnation paused while a newer one started is refused on resume.

The paper exchange runs in process on 127.0.0.1; each incarnation is a real engine whose venue
adapter checks the fence (``trading.failure.fencing``) before every request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.execution.conftest import FAST, make_intents, settle
from trading.execution.binance import BinanceVenue
from trading.execution.engine import ExecutionEngine
from trading.execution.gateway import OrderGateway
from trading.execution.paper import PaperBar, PaperExchange
from trading.execution.paper.server import PaperServer
from trading.execution.rules import binance_spot_rules
from trading.execution.venue import VenueAdapter
from trading.failure.fencing import Fence, FencedError, FencedVenue
from trading.failure.taxonomy import ErrorClass, Recovery, read_incidents
from trading.journal.chain import Journal, verify
from trading.journal.recorder import Recorder
from trading.journal.store import Store


def test_each_incarnation_takes_the_next_generation_and_only_the_newest_passes(
    tmp_path: Path,
) -> None:
    old = Fence.take(tmp_path)
    old.check("place a")  # alone: the newest
    new = Fence.take(tmp_path)
    assert (old.generation, new.generation) == (1, 2)
    new.check("place b")
    with pytest.raises(FencedError, match="place c refused: execution generation 1 was fenced"):
        old.check("place c")


async def _incarnation(wal: Path, fence_dir: Path, url: str, symbols: list[str]) -> ExecutionEngine:
    """A new execution incarnation: it takes the fence before its first venue request."""
    gateway = OrderGateway(wal)
    for symbol in symbols:
        gateway.set_rules(binance_spot_rules(symbol))
    venue: VenueAdapter = FencedVenue(BinanceVenue(url, recv_window_ms=300), Fence.take(fence_dir))
    engine = ExecutionEngine(gateway, venue, FAST)
    await engine.start()
    return engine


def test_a_paused_old_incarnation_resumed_after_a_new_one_started_sends_nothing(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    intents = make_intents(3, 7, paper_bars, strategy="fence")
    shared = tmp_path / "wal"  # the fence sits beside the WAL on the shared data dir

    async def run() -> tuple[PaperExchange, Exception]:
        exchange = PaperExchange(paper_bars, seed=3)
        server = PaperServer(exchange, bar_interval_ms=20)
        await server.start()
        symbols = list(paper_bars)
        old = await _incarnation(shared / "old", shared, server.url, symbols)
        await old.submit(intents[:1])
        await settle(old, intents[:1], 10)
        # the old incarnation pauses (a stopped process, a partitioned node); a new one starts
        new = await _incarnation(shared / "new", shared, server.url, symbols)
        await new.submit(intents[1:2])
        await settle(new, intents[1:2], 10)
        # the old one resumes and tries to send
        with pytest.raises(FencedError) as refused:
            await old.venue.place(intents[2], 0)
        await old.stop()  # a fenced incarnation still stops cleanly
        await new.stop()
        await server.stop()
        return exchange, refused.value

    exchange, refused = asyncio.run(run())
    sent = set(exchange.orders)
    assert sent == {intents[0].client_order_id, intents[1].client_order_id}
    assert exchange.duplicate_attempts == 0
    assert str(refused) == (
        f"place {intents[2].client_order_id} refused: execution generation 1 was fenced by "
        "generation 2"
    )
    recorder = Recorder(Journal(tmp_path / "journal.jsonl"), Store.open(tmp_path / "db.sqlite"))
    incident = Recovery().incident(datetime.now(UTC), refused)
    recorder.record([incident.model_copy(update={"outcome": "refused; nothing sent"})])
    recorder.close()
    [journaled] = read_incidents(tmp_path / "journal.jsonl")
    assert journaled.error_class is ErrorClass.EXEC
    assert journaled.cause.startswith("FencedError: place ")
    assert verify(tmp_path / "journal.jsonl").ok
