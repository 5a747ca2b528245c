"""``PaperVenueActor``: the built-in paper exchange as a real server on 127.0.0.1, whose
market clock the orchestrator drives so fills happen on the session's bars: replayed from data
files, or (live, no files) the closed bars each step consumed, handed over with the clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import ray

from trading.config import VenueSettings
from trading.contracts import MarketBar
from trading.execution.paper import PaperBar, PaperExchange, load_bars
from trading.execution.paper.server import PaperServer

PAPER_ACTOR = "paper-venue"


def _server(exchange: PaperExchange, venue: VenueSettings) -> PaperServer:
    """The exchange's server on 127.0.0.1, checking signatures when the venue has credentials."""
    credentials = venue.credentials()
    return PaperServer(
        exchange,
        bar_interval_ms=0,
        host="127.0.0.1",
        api_key=credentials.api_key.get_secret_value() if credentials else None,
        api_secret=credentials.api_secret.get_secret_value() if credentials else None,
    )


@ray.remote(num_cpus=0.05)
class PaperVenueActor:
    def __init__(
        self,
        data_files: Mapping[str, str | None],
        maker_fee_bps: float,
        taker_fee_bps: float,
        venue: VenueSettings | None = None,
    ) -> None:
        """``data_files`` maps each symbol to its bar file, or to None for a symbol whose bars
        arrive through ``advance_to``. With the API key and secret set in the environment
        variables ``venue`` names, SIGNED requests must carry that key and a valid signature."""
        bars = {
            symbol: load_bars(path, rows=None) if path is not None else []
            for symbol, path in data_files.items()
        }
        self._exchange = PaperExchange(
            bars,
            maker_fee_rate=Decimal(str(maker_fee_bps)) / 10_000,
            taker_fee_rate=Decimal(str(taker_fee_bps)) / 10_000,
        )
        self._server = _server(self._exchange, venue or VenueSettings())

    async def start(self) -> str:
        await self._server.start()
        return self._server.url

    async def advance_to(
        self, until_ms: int, bars: Mapping[str, Sequence[MarketBar]] | None = None
    ) -> int:
        """Append the step's new closed ``bars`` (all or nothing), then move the clock."""
        if bars:
            self._exchange.append(
                {symbol: [PaperBar.of(bar) for bar in series] for symbol, series in bars.items()}
            )
        return self._server.advance_to(until_ms)

    def stats(self) -> dict[str, Any]:
        return self._exchange.stats()

    async def stop(self) -> None:
        await self._server.stop()

    def ping(self) -> bool:
        return True
