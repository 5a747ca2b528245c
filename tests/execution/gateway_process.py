"""The gateway as its own process, for crash tests: ``python -m tests.execution.gateway_process``.

Opens the WAL, reconciles whatever a killed predecessor left open, (re)submits the whole
intent stream in small paced batches (repeats are answered from state, never re-sent), waits
for every order to end, cancels what still rests after ``--settle-s``, and prints ``DONE``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import TypeAdapter

from trading.contracts import OrderIntent
from trading.execution.binance import BinanceVenue
from trading.execution.engine import EngineConfig, ExecutionEngine
from trading.execution.gateway import OrderGateway
from trading.execution.rules import binance_spot_rules

INTENTS = TypeAdapter(list[OrderIntent])


async def run(args: argparse.Namespace) -> None:
    intents = INTENTS.validate_json(Path(args.intents).read_text())
    gateway = OrderGateway(args.wal)
    for symbol in {i.symbol for i in intents}:
        gateway.set_rules(binance_spot_rules(symbol))
    venue = BinanceVenue(args.venue, request_timeout_s=0.5, recv_window_ms=args.recv_window_ms)
    config = EngineConfig(
        seed=args.seed,
        base_delay_ms=20,
        max_delay_ms=500,
        breaker_open_ms=500,
        resync_interval_ms=500,
    )
    engine = ExecutionEngine(gateway, venue, config)
    await engine.start()
    print(f"RECONCILED {len(gateway.recovery.awaiting_reconciliation)}", flush=True)
    for start in range(0, len(intents), args.batch):
        await engine.submit(intents[start : start + args.batch])
        print(f"PROGRESS {start // args.batch + 1}", flush=True)
        await asyncio.sleep(args.pause_ms / 1000)
    ids = [i.client_order_id for i in intents]
    try:
        await engine.wait_terminal(ids, args.settle_s)
    except TimeoutError:
        for state in gateway.open_orders():
            await engine.cancel(state.client_order_id)
        await engine.wait_terminal(ids, 30.0)
    print("DONE", flush=True)
    await engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wal", required=True)
    parser.add_argument("--venue", required=True)
    parser.add_argument("--intents", required=True)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--pause-ms", type=int, default=20)
    parser.add_argument("--settle-s", type=float, default=2.0)
    parser.add_argument("--recv-window-ms", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    asyncio.run(run(parser.parse_args(sys.argv[1:])))


if __name__ == "__main__":
    main()
