"""Run the paper exchange alone: ``python -m trading.execution.paper --port 0 --data
BTC/USDT=FILE`` (``--symbol ETH/USDT`` for a symbol with no file, fed over
``POST /_paper/bars``; ``--futures``: the same bars also as USDⓈ-M perpetuals under
``/fapi``); prints ``PAPER LISTENING <port>`` once it serves."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from trading.execution.paper.bars import PaperBar, load_bars
from trading.execution.paper.exchange import Faults, PaperExchange
from trading.execution.paper.futures import PaperFuturesExchange
from trading.execution.paper.server import PaperServer


def parse_data_args(items: Iterable[str]) -> dict[str, Path]:
    """``SYMBOL=PATH`` pairs from the command line."""
    pairs: dict[str, Path] = {}
    for item in items:
        symbol, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"--data expects SYMBOL=PATH, got {item!r}")
        pairs[symbol] = Path(path)
    return pairs


async def _serve(args: argparse.Namespace) -> None:
    bars: dict[str, list[PaperBar]] = {symbol: [] for symbol in args.symbol}
    for symbol, path in parse_data_args(args.data).items():
        bars[symbol] = load_bars(path, args.start_row, args.rows)
    if not bars:
        raise SystemExit("give --data SYMBOL=PATH or --symbol SYMBOL")
    faults = Faults.model_validate_json(args.faults) if args.faults else Faults()
    exchange = PaperExchange(bars, faults=faults, seed=args.seed)
    api_key = api_secret = None
    if args.credentials_env:
        key_env, _, secret_env = args.credentials_env.partition(":")
        missing = [name for name in (key_env, secret_env) if not os.environ.get(name)]
        if missing:
            raise SystemExit(f"--credentials-env: {', '.join(missing)} not set")
        api_key, api_secret = os.environ[key_env], os.environ[secret_env]
    futures = None
    if args.futures:
        perpetuals = {f"{s}:{s.partition('/')[2]}": list(b) for s, b in bars.items()}
        futures = PaperFuturesExchange(perpetuals, faults=faults, seed=args.seed)
    server = PaperServer(
        exchange,
        bar_interval_ms=args.bar_interval_ms,
        port=args.port,
        api_key=api_key,
        api_secret=api_secret,
        futures=futures,
    )
    await server.start()
    print(f"PAPER LISTENING {server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trading.execution.paper", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", action="append", default=[], help="SYMBOL=PATH, repeatable")
    parser.add_argument(
        "--symbol", action="append", default=[], help="a symbol with no file, fed by /_paper/bars"
    )
    parser.add_argument("--start-row", type=int, default=0)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--bar-interval-ms", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", default="", help="Faults as JSON")
    parser.add_argument(
        "--futures", action="store_true", help="also serve the bars as USDⓈ-M perpetuals (/fapi)"
    )
    parser.add_argument(
        "--credentials-env",
        default="",
        metavar="KEY_ENV:SECRET_ENV",
        help="require SIGNED requests with the API key and secret in these variables",
    )
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
