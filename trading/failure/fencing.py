"""Fencing for the execution actor: each incarnation takes the next generation number from a
file beside its write-ahead log (on the shared data dir, so every node sees the same one) and
checks it before every venue request. An old incarnation that comes back after a new one
started (a paused process, a partitioned node) finds a newer generation and is refused: it can
never send an order the new one does not know about.

The number is taken under an exclusive ``flock`` and written by rename, so two incarnations
starting at once get different numbers and a reader never sees half a file."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from trading.contracts import OrderIntent
from trading.execution.gateway import VenueReport
from trading.execution.reconciliation import VenueOrder
from trading.execution.venue import PlaceAck, UserStream, VenueAdapter
from trading.failure.taxonomy import ExecError
from trading.market.instruments import InstrumentSpec

FENCE_FILE = "fence.json"


class FencedError(ExecError):
    """This incarnation's generation is no longer the newest: its venue requests are refused."""


def _read(path: Path) -> int:
    if not path.exists():
        return 0
    generation: int = json.loads(path.read_text())["generation"]
    return generation


class Fence:
    """The generation one incarnation holds, checked against the newest one on disk."""

    def __init__(self, path: Path, generation: int) -> None:
        self.path = path
        self.generation = generation

    @classmethod
    def take(cls, directory: str | Path) -> Fence:
        """The next generation in ``directory``'s fence file, taken atomically."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / FENCE_FILE
        with (folder / (FENCE_FILE + ".lock")).open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            generation = _read(path) + 1
            partial = path.with_suffix(".tmp")
            partial.write_text(json.dumps({"generation": generation, "pid": os.getpid()}))
            partial.replace(path)
        return cls(path, generation)

    def newest(self) -> int:
        return _read(self.path)

    def check(self, request: str) -> None:
        """Raise ``FencedError`` when a newer incarnation has taken the fence."""
        newest = self.newest()
        if newest != self.generation:
            raise FencedError(
                f"{request} refused: execution generation {self.generation} was fenced by "
                f"generation {newest}"
            )


class FencedVenue:
    """A venue adapter that checks the fence before every request it passes on."""

    def __init__(self, venue: VenueAdapter, fence: Fence) -> None:
        self._venue, self.fence = venue, fence
        self.name, self.recv_window_ms = venue.name, venue.recv_window_ms

    async def place(self, intent: OrderIntent, timestamp_ms: int) -> PlaceAck:
        self.fence.check(f"place {intent.client_order_id}")
        return await self._venue.place(intent, timestamp_ms)

    async def query(self, symbol: str, client_order_id: str) -> VenueReport:
        self.fence.check(f"query {client_order_id}")
        return await self._venue.query(symbol, client_order_id)

    async def cancel(self, symbol: str, client_order_id: str) -> None:
        self.fence.check(f"cancel {client_order_id}")
        await self._venue.cancel(symbol, client_order_id)

    async def amend(self, symbol: str, client_order_id: str, quantity: Decimal) -> None:
        self.fence.check(f"amend {client_order_id}")
        await self._venue.amend(symbol, client_order_id, quantity)

    async def balances(self) -> dict[str, Decimal]:
        self.fence.check("balances")
        return await self._venue.balances()

    async def ping(self) -> None:
        self.fence.check("ping")
        await self._venue.ping()

    async def instruments(self) -> Mapping[str, InstrumentSpec]:
        self.fence.check("instruments")
        return await self._venue.instruments()

    async def open_orders(self, symbols: Sequence[str]) -> list[VenueOrder]:
        self.fence.check("open orders")
        return await self._venue.open_orders(symbols)

    async def open_user_stream(self) -> UserStream:
        self.fence.check("user stream")
        return await self._venue.open_user_stream()

    async def close(self) -> None:
        await self._venue.close()
