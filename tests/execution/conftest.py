"""Fixtures for execution tests: real bars, the paper exchange in-process or as its own process."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trading.contracts import OrderIntent, OrderState, OrderType, Side
from trading.execution.binance import BinanceVenue
from trading.execution.engine import EngineConfig, ExecutionEngine
from trading.execution.gateway import OrderGateway
from trading.execution.paper import Faults, PaperBar, PaperExchange, load_bars
from trading.execution.paper.server import PaperServer
from trading.execution.rules import binance_spot_rules

REPO = Path(__file__).resolve().parents[2]
SYMBOLS = ("BTC/USDT", "ETH/USDT")
START_ROW = 20_000
ROWS = 4_000


def data_path(shared_data: Path, symbol: str) -> Path:
    return shared_data / "binance_spot_2024_2026" / f"{symbol.replace('/', '_')}-5m.parquet"


@pytest.fixture(scope="session")
def paper_bars(shared_data: Path) -> dict[str, list[PaperBar]]:
    return {s: load_bars(data_path(shared_data, s), START_ROW, ROWS) for s in SYMBOLS}


class PaperProcess:
    """``python -m trading.execution.paper`` on an ephemeral port, with its admin endpoints."""

    def __init__(self, shared_data: Path, faults: dict[str, Any], seed: int) -> None:
        data = [f"--data={s}={data_path(shared_data, s)}" for s in SYMBOLS]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trading.execution.paper",
                "--port",
                "0",
                *data,
                "--start-row",
                str(START_ROW),
                "--rows",
                str(ROWS),
                "--bar-interval-ms",
                "20",
                "--seed",
                str(seed),
                "--faults",
                json.dumps(faults),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("PAPER LISTENING"), line
        self.url = f"http://127.0.0.1:{int(line.split()[-1])}"

    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            self.url + path, data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            reply: dict[str, Any] = json.loads(response.read())
            return reply

    def stats(self) -> dict[str, Any]:
        return self.admin("/_paper/stats")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def paper_process(shared_data: Path) -> Iterator[Any]:
    started: list[PaperProcess] = []

    def start(faults: dict[str, Any] | None = None, seed: int = 0) -> PaperProcess:
        started.append(PaperProcess(shared_data, faults or {}, seed))
        return started[-1]

    yield start
    for process in started:
        process.close()


def make_intents(
    count: int, seed: int, bars: dict[str, list[PaperBar]], strategy: str = "crash"
) -> list[OrderIntent]:
    """A seeded mix of market and near-the-money limit orders with off-grid sizes and prices."""
    rng = random.Random(seed)
    signal_time = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(minutes=seed)
    intents = []
    for seq in range(count):
        symbol = rng.choice(SYMBOLS)
        close = bars[symbol][0].close
        notional = Decimal(rng.randint(20, 400))
        quantity = (notional / close).quantize(Decimal("0.000000001"))
        side = rng.choice((Side.BUY, Side.SELL))
        fields: dict[str, Any] = {"order_type": OrderType.MARKET}
        if rng.random() < 0.4:
            offset = Decimal(1) + Decimal(rng.uniform(-0.004, 0.004)).quantize(Decimal("0.000001"))
            fields = {
                "order_type": OrderType.LIMIT,
                "limit_price": (close * offset).quantize(Decimal("0.0001")),
            }
        intents.append(
            OrderIntent.for_signal(
                strategy=strategy,
                symbol=symbol,
                signal_time=signal_time,
                seq=seq,
                side=side,
                quantity=quantity,
                created_at=signal_time,
                **fields,
            )
        )
    return intents


def venue_net(stats: dict[str, Any]) -> dict[str, Decimal]:
    """Net signed executed quantity per venue symbol, from the exchange's own order book."""
    net: dict[str, Decimal] = {}
    for order in stats["orders"].values():
        sign = 1 if order["side"] == "BUY" else -1
        net[order["symbol"]] = net.get(order["symbol"], Decimal(0)) + sign * Decimal(
            order["executed"]
        )
    return net


def wait_for(predicate: Any, timeout_s: float, poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(poll_s)


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def ids(intents: Sequence[OrderIntent]) -> list[str]:
    return [i.client_order_id for i in intents]


FAST = EngineConfig(base_delay_ms=10, max_delay_ms=200, breaker_open_ms=300, resync_interval_ms=300)


@dataclass
class Session:
    exchange: PaperExchange
    server: PaperServer
    engine: ExecutionEngine
    gateway: OrderGateway


@asynccontextmanager
async def session(
    bars: dict[str, list[PaperBar]],
    wal: Path,
    faults: Faults | None = None,
    bar_interval_ms: int = 20,
    request_timeout_s: float = 0.5,
    config: EngineConfig = FAST,
    recv_window_ms: int = 300,
) -> AsyncIterator[Session]:
    exchange = PaperExchange(bars, faults=faults, seed=3)
    server = PaperServer(exchange, bar_interval_ms=bar_interval_ms)
    await server.start()
    gateway = OrderGateway(wal)
    for symbol in bars:
        gateway.set_rules(binance_spot_rules(symbol))
    venue = BinanceVenue(
        server.url, request_timeout_s=request_timeout_s, recv_window_ms=recv_window_ms
    )
    engine = ExecutionEngine(gateway, venue, config)
    await engine.start()
    try:
        yield Session(exchange, server, engine, gateway)
    finally:
        await engine.stop()
        await server.stop()


def check_books_agree(s: Session, intents: list[OrderIntent]) -> None:
    """No duplicates; fills never exceed the order; positions equal the venue's balances."""
    assert s.exchange.duplicate_attempts == 0
    for intent in intents:
        state = s.gateway.state(intent.client_order_id)
        assert state is not None
        assert state.filled_quantity <= state.quantity
        venue_order = s.exchange.orders.get(intent.client_order_id)
        if venue_order is not None:
            assert venue_order.executed == state.filled_quantity
            assert {str(t.trade_id) for t in venue_order.trades} == {
                f.trade_id for f in s.gateway.fills(intent.client_order_id)
            }
    for symbol, quantity in s.gateway.positions().items():
        assert s.exchange.balances[symbol.split("/")[0]] == quantity


async def settle(
    engine: ExecutionEngine, intents: Sequence[OrderIntent], timeout_s: float
) -> list[OrderState]:
    """Wait for every order to end; limits the market never reached are then canceled."""
    try:
        return await engine.wait_terminal(ids(intents), timeout_s)
    except TimeoutError:
        for state in engine.gateway.open_orders():
            await engine.cancel(state.client_order_id)
        return await engine.wait_terminal(ids(intents), 10)
