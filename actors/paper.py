"""``PaperVenueActor``: the built-in paper exchange as a real server on 127.0.0.1, whose
market clock the orchestrator drives so fills happen on the bars being replayed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ray

from trading.execution.paper import PaperExchange, PaperServer, load_bars

PAPER_ACTOR = "paper-venue"


@ray.remote(num_cpus=0.05)
class PaperVenueActor:
    def __init__(
        self, data_files: dict[str, str], maker_fee_bps: float, taker_fee_bps: float
    ) -> None:
        bars = {symbol: load_bars(path, rows=None) for symbol, path in data_files.items()}
        self._exchange = PaperExchange(
            bars,
            maker_fee_rate=Decimal(str(maker_fee_bps)) / 10_000,
            taker_fee_rate=Decimal(str(taker_fee_bps)) / 10_000,
        )
        self._server = PaperServer(self._exchange, bar_interval_ms=0, host="127.0.0.1")

    async def start(self) -> str:
        await self._server.start()
        return self._server.url

    async def advance_to(self, until_ms: int) -> int:
        return self._server.advance_to(until_ms)

    def stats(self) -> dict[str, Any]:
        return self._exchange.stats()

    async def stop(self) -> None:
        await self._server.stop()

    def ping(self) -> bool:
        return True
