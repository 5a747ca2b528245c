"""What the execution engine needs from a real venue: place, query, cancel, amend, a user
stream, the instruments it lists. ``VenueAdapter`` is implemented by ``BinanceVenue`` (Binance
REST + WebSocket, also the paper exchange's server) and ``CcxtVenue``; ``trade_step`` reaches
the engine through the execution actor as its ``VenuePort``.

Every call either returns or raises ``VenueError`` (see ``retry.py``); an error whose
``outcome_unknown`` is set (timeout, dropped connection, 5xx) may have acted at the venue, so
the engine resolves it by ``query`` and never by guessing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from trading.contracts import Contract, OrderIntent, OrderStatus, Quantity, VenueId
from trading.execution.gateway import OrderEventRecord, VenueReport
from trading.execution.reconciliation import VenueOrder
from trading.market.instruments import InstrumentSpec


class PlaceAck(Contract):
    """The venue took the order (its id); fills arrive on the user stream or by query."""

    venue_order_id: VenueId
    status: OrderStatus


class UserStream(Protocol):
    """A connected user-data stream: batches of order events until closed or dropped."""

    def __aiter__(self) -> AsyncIterator[Sequence[OrderEventRecord]]: ...

    async def close(self) -> None: ...


class VenueAdapter(Protocol):
    """A venue's API as the engine calls it. ``timestamp_ms`` is the request time the venue
    checks its window on."""

    name: str
    recv_window_ms: int

    async def place(self, intent: OrderIntent, timestamp_ms: int) -> PlaceAck: ...

    async def query(self, symbol: str, client_order_id: str) -> VenueReport: ...

    async def cancel(self, symbol: str, client_order_id: str) -> None: ...

    async def amend(self, symbol: str, client_order_id: str, quantity: Quantity) -> None: ...

    async def balances(self) -> dict[str, Decimal]: ...

    async def ping(self) -> None: ...

    async def instruments(self) -> Mapping[str, InstrumentSpec]: ...

    async def open_orders(self, symbols: Sequence[str]) -> list[VenueOrder]:
        """The orders the venue holds open for ``symbols`` (reconciliation at start)."""
        ...

    async def open_user_stream(self) -> UserStream: ...

    async def close(self) -> None: ...
