"""The link between the gateway and the venue delays, resets and goes down while orders flow:
every order is sent once, fills never exceed an order, positions equal the venue's balances."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.proxy import FaultyProxy, LinkFaults
from tests.execution.conftest import FAST, make_intents, settle
from trading.contracts import OrderType
from trading.execution.binance import BinanceVenue
from trading.execution.engine import ExecutionEngine
from trading.execution.gateway import OrderGateway
from trading.execution.paper import PaperBar, PaperExchange
from trading.execution.paper.server import PaperServer
from trading.execution.rules import binance_spot_rules

pytestmark = pytest.mark.chaos


async def _link_storm(
    bars: dict[str, list[PaperBar]], wal: Path, faults: LinkFaults, cut_s: float
) -> dict[str, Any]:
    """Orders sent through the faulty link, a cut of ``cut_s``, then healed and settled."""
    mixed = make_intents(40, 11, bars, strategy="chaos")
    intents = [i for i in mixed if i.order_type is OrderType.MARKET][:24]  # all end by fills
    exchange = PaperExchange(bars, seed=3)
    server = PaperServer(exchange, bar_interval_ms=20)
    await server.start()
    proxy = FaultyProxy(int(server.url.rsplit(":", 1)[1]), faults)
    await proxy.start()
    gateway = OrderGateway(wal)
    for symbol in bars:
        gateway.set_rules(binance_spot_rules(symbol))
    venue = BinanceVenue(proxy.url, request_timeout_s=0.5, recv_window_ms=300)
    engine = ExecutionEngine(gateway, venue, FAST)
    await engine.start()
    half = len(intents) // 2
    await engine.submit(intents[:half])
    proxy.cut()
    await engine.submit(intents[half:])
    await asyncio.sleep(cut_s)
    healed = time.monotonic()
    proxy.heal()
    states = await settle(engine, intents, 30)
    recovery_s = time.monotonic() - healed
    await engine.stop()
    await proxy.stop()
    await server.stop()
    return {
        "exchange": exchange,
        "gateway": gateway,
        "intents": intents,
        "states": states,
        "recovery_s": recovery_s,
        "link": vars(proxy.stats),
        "engine": vars(engine.stats),
    }


@pytest.mark.parametrize(
    ("delay_s", "reset_rate"), [(0.02, 0.0), (0.0, 0.3)], ids=["delay", "resets"]
)
def test_orders_through_a_delaying_resetting_cut_link_are_sent_once_and_books_agree(
    paper_bars: dict[str, list[PaperBar]],
    tmp_path: Path,
    chaos_report: dict[str, Any],
    delay_s: float,
    reset_rate: float,
) -> None:
    faults = LinkFaults(delay_s=delay_s, reset_rate=reset_rate, seed=5)
    run = asyncio.run(_link_storm(paper_bars, tmp_path / "wal", faults, cut_s=1.0))
    exchange, gateway = run["exchange"], run["gateway"]
    chaos_report.update(
        injected={"delay_s": delay_s, "reset_rate": reset_rate, "cut_s": 1.0},
        link=run["link"],
        engine=run["engine"],
        duplicate_client_ids=exchange.duplicate_attempts,
        recovery_s=round(run["recovery_s"], 3),
    )
    assert exchange.duplicate_attempts == 0
    assert all(s.filled_quantity <= s.quantity for s in run["states"])
    for intent in run["intents"]:
        venue_order = exchange.orders.get(intent.client_order_id)
        state = gateway.state(intent.client_order_id)
        assert state is not None
        if venue_order is not None:
            assert venue_order.executed == state.filled_quantity
    for symbol, quantity in gateway.positions().items():
        assert exchange.balances[symbol.split("/")[0]] == quantity, "positions equal fills"
    if reset_rate:
        assert run["link"]["resets"] > 0, "the scenario injected no reset"
    assert run["link"]["refused"] + run["link"]["dropped"] > 0, "the cut never bit"
    chaos_report["invariants"] = "held"
