"""The execution engine: drives the Rust order book against one venue, exactly once.

Submit logs intents (one group commit) before anything is sent; "send" outcomes go to a queue
that workers drain through the venue's circuit breaker, retrying with backoff only what the venue
surely did not act on. A send whose outcome is unknown (timeout, dropped connection, 5xx) is
never retried blindly: once the venue's recvWindow has passed, the order is queried by client id
and ``reconcile`` decides (resend only if the venue never saw it). On start, every order left
open by the previous process is resolved the same way before new intents are accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from trading.contracts import OrderIntent, OrderState, OrderStatus, OrderType, Quantity, now_ms
from trading.execution.gateway import (
    Accepted,
    Canceled,
    CancelRejected,
    CancelRequested,
    EventRefused,
    OrderEvent,
    OrderEventRecord,
    OrderGateway,
    Rejected,
    Replaced,
    ReplaceRejected,
    ReplaceRequested,
    SendOutcome,
    SubmitOutcome,
)
from trading.execution.retry import Backoff, CircuitBreaker, VenueError
from trading.execution.venue import VenueAdapter

log = logging.getLogger(__name__)
T = TypeVar("T")
_UNANSWERED = (OrderStatus.NEW, OrderStatus.SUBMITTED)


class EngineConfig(BaseModel):
    """Knobs of the engine; times in ms unless named otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    send_workers: int = Field(8, ge=1)
    base_delay_ms: int = Field(100, ge=1)
    max_delay_ms: int = Field(5_000, ge=1)
    max_attempts: int = Field(8, ge=1)
    seed: int = 0
    breaker_failures: int = Field(5, ge=1)
    breaker_open_ms: int = Field(5_000, ge=1)
    resync_interval_ms: int = Field(2_000, ge=10)
    query_concurrency: int = Field(16, ge=1)
    stream_connect_ms: int = Field(5_000, ge=0)  # start() waits this long for the user stream


@dataclass
class EngineStats:
    """Counters for tests and metrics."""

    sent: int = 0
    send_failures: int = 0
    unknown_outcomes: int = 0
    resends: int = 0
    queries: int = 0
    local_rejects: int = 0
    refused_events: int = 0
    stream_connects: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class ExecutionEngine:
    """One venue account: the gateway (durable state) plus the venue adapter (I/O)."""

    def __init__(
        self, gateway: OrderGateway, venue: VenueAdapter, config: EngineConfig | None = None
    ) -> None:
        self.gateway = gateway
        self.venue = venue
        self.config = config = config or EngineConfig()
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_open_ms)
        self._backoff = Backoff(
            config.base_delay_ms, config.max_delay_ms, config.max_attempts, config.seed
        )
        self.stats = EngineStats()
        self._queue: asyncio.Queue[OrderIntent] = asyncio.Queue()
        self._pending_send: set[str] = set()
        self._not_before: dict[str, float] = {}
        self._resolve_at: dict[str, float] = {}
        self._last_news: dict[str, float] = {}
        self._reconciled = asyncio.Event()
        self._stream_up = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._query_slots = asyncio.Semaphore(config.query_concurrency)

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Connect the user stream, reconcile what the last run left open, start the workers.

        The stream is connected first (waiting up to ``stream_connect_ms``): the venue pushes
        an order's execution reports only to streams open when they happen, so an order sent
        before would learn its fills only from a query, a recvWindow later."""
        self._spawn(self._user_stream())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stream_up.wait(), self.config.stream_connect_ms / 1000)
        awaiting = self.gateway.awaiting_reconciliation()
        window_end = time.monotonic() + self.venue.recv_window_ms / 1000
        for client_order_id in awaiting:
            self._not_before[client_order_id] = window_end
        await asyncio.gather(*(self._reconcile_on_start(i) for i in awaiting))
        self._reconciled.set()
        for _ in range(self.config.send_workers):
            self._spawn(self._send_worker())
        self._spawn(self._resolver())
        self._spawn(self._resync())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.venue.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro))

    async def _reconcile_on_start(self, client_order_id: str) -> None:
        state = self._state(client_order_id)
        if state.status is OrderStatus.SUBMITTED:
            await asyncio.sleep(max(0.0, self._not_before[client_order_id] - time.monotonic()))
        report = await self._query(state.symbol, client_order_id)
        outcome = self.gateway.reconcile(client_order_id, report)
        if outcome.resend is not None:
            self.stats.resends += 1
            self._enqueue(outcome.resend)

    # ----------------------------------------------------------------- commands

    async def submit(
        self, intents: Sequence[OrderIntent], reference_prices: Mapping[str, Decimal] | None = None
    ) -> list[SubmitOutcome]:
        """Log a batch and queue what is new for the venue; repeats are answered from state."""
        await self._reconciled.wait()
        outcomes = self.gateway.submit(intents, _now(), reference_prices)
        for outcome in outcomes:
            if isinstance(outcome, SendOutcome):
                self._enqueue(outcome.intent)
            elif outcome.action == "rejected":
                self.stats.local_rejects += 1
        return outcomes

    async def submit_settled(
        self,
        intents: Sequence[OrderIntent],
        reference_prices: Mapping[str, Decimal] | None = None,
        settle_timeout_s: float = 2.0,
        poll_s: float = 0.002,
    ) -> list[SubmitOutcome]:
        """``submit``, then wait up to ``settle_timeout_s`` until the venue has answered each new
        order (market orders: until they have fills or ended), so a step books its own fills."""
        outcomes = await self.submit(intents, reference_prices)
        waiting = {
            o.intent.client_order_id: o.intent.order_type is OrderType.MARKET
            for o in outcomes
            if isinstance(o, SendOutcome)
        }
        deadline = time.monotonic() + settle_timeout_s
        while waiting and time.monotonic() < deadline:
            waiting = {i: market for i, market in waiting.items() if not self._settled(i, market)}
            if waiting:
                await asyncio.sleep(poll_s)
        return outcomes

    def _settled(self, client_order_id: str, market: bool) -> bool:
        """The venue answered the order; a market order also filled (some) or ended."""
        state = self.gateway.state(client_order_id)
        if state is None or state.status in _UNANSWERED:
            return False
        return not market or state.filled_quantity > 0 or state.status.is_terminal

    async def cancel(self, client_order_id: str) -> OrderState:
        """Cancel what is left of an order (fills so far stay); answers the state after."""
        state = await self._venue_side(client_order_id)
        if state.status.is_terminal:
            return state
        self._apply_one(client_order_id, CancelRequested())
        try:
            await self._retrying(lambda: self.venue.cancel(state.symbol, client_order_id))
        except VenueError as error:
            self._apply_one(client_order_id, CancelRejected(reason=str(error.failure)[:500]))
            self._resolve_soon(client_order_id)
        else:
            self._apply_one(client_order_id, Canceled())
        return self._state(client_order_id)

    async def amend(self, client_order_id: str, quantity: Quantity) -> OrderState:
        """Reduce an open order's quantity in place (keeps its client id and queue priority)."""
        state = await self._venue_side(client_order_id)
        self._apply_one(client_order_id, ReplaceRequested(quantity=quantity))
        try:
            await self._retrying(lambda: self.venue.amend(state.symbol, client_order_id, quantity))
        except VenueError as error:
            self._apply_one(client_order_id, ReplaceRejected(reason=str(error.failure)[:500]))
            self._resolve_soon(client_order_id)
        else:
            self._apply_one(client_order_id, Replaced(quantity=quantity))
        return self._state(client_order_id)

    async def cancel_replace(
        self, client_order_id: str, replacement: OrderIntent, timeout_s: float = 10.0
    ) -> list[SubmitOutcome]:
        """Cancel the remainder of an order, then submit ``replacement`` for what was left."""
        await self.cancel(client_order_id)
        (state,) = await self.wait_terminal([client_order_id], timeout_s)
        if state.remaining_quantity <= 0:
            return []
        update = {"quantity": state.remaining_quantity, "created_at": _now()}
        return await self.submit([replacement.model_copy(update=update)])

    async def wait_terminal(
        self, client_order_ids: Sequence[str], timeout_s: float, poll_s: float = 0.02
    ) -> list[OrderState]:
        """States of the orders once all are terminal; raises ``TimeoutError`` after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = [self._state(i) for i in client_order_ids]
            if all(s.status.is_terminal for s in states):
                return states
            if time.monotonic() > deadline:
                open_ids = [s.client_order_id for s in states if not s.status.is_terminal]
                raise TimeoutError(f"{len(open_ids)} orders still open, first {open_ids[0]}")
            await asyncio.sleep(poll_s)

    async def position_drift(self, baseline: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Per symbol: venue base-asset balance change minus the position from our fills."""
        balances = await self._retrying(self.venue.balances)
        drift = {}
        for symbol, quantity in self.gateway.positions().items():
            base = symbol.split("/")[0]
            drift[symbol] = (
                balances.get(base, Decimal(0)) - baseline.get(base, Decimal(0)) - quantity
            )
        return drift

    # ----------------------------------------------------------------- sending

    def _enqueue(self, intent: OrderIntent) -> None:
        self._pending_send.add(intent.client_order_id)
        self._resolve_at.pop(intent.client_order_id, None)
        self._queue.put_nowait(intent)

    async def _send_worker(self) -> None:
        while True:
            intent = await self._queue.get()
            try:
                await self._send(intent)
            finally:
                self._pending_send.discard(intent.client_order_id)

    async def _send(self, intent: OrderIntent) -> None:
        client_order_id = intent.client_order_id
        attempt = 0
        while True:
            await self._venue_ready()
            attempt += 1
            self._not_before[client_order_id] = (
                time.monotonic() + self.venue.recv_window_ms / 1000 + 0.05
            )
            try:
                ack = await self.venue.place(intent, now_ms())
            except VenueError as error:
                self.breaker.on_failure(error.failure, now_ms())
                self.stats.send_failures += 1
                if error.outcome_unknown:
                    self.stats.unknown_outcomes += 1
                    self._resolve_at[client_order_id] = self._not_before[client_order_id]
                    return
                delay_ms = self._backoff.next_delay_ms(error.failure, attempt)
                if delay_ms is None:
                    reason = f"not sent after {attempt} attempts: {error.failure.model_dump_json()}"
                    self._apply_one(client_order_id, Rejected(reason=reason[:500]))
                    return
                await asyncio.sleep(delay_ms / 1000)
                continue
            self.breaker.on_success()
            self.stats.sent += 1
            self._apply_one(client_order_id, Accepted(venue_order_id=ack.venue_order_id))
            return

    async def _venue_ready(self) -> None:
        """Wait while the breaker is open; when it half-opens, probe the venue with a ping."""
        while True:
            state = self.breaker.state
            now = now_ms()
            if state.state == "closed":
                return
            if state.state == "open" and state.until_ms is not None and now < state.until_ms:
                await asyncio.sleep(min((state.until_ms - now) / 1000, 0.25))
                continue
            if self.breaker.allow(now):
                try:
                    await self.venue.ping()
                except VenueError as error:
                    self.breaker.on_failure(error.failure, now_ms())
                    continue
                self.breaker.on_success()
                return
            await asyncio.sleep(0.02)

    async def _retrying(self, call: Callable[[], Awaitable[T]], forever: bool = False) -> T:
        """``call`` with backoff for retryable failures (through the breaker)."""
        attempt = 0
        while True:
            await self._venue_ready()
            attempt += 1
            try:
                result = await call()
            except VenueError as error:
                self.breaker.on_failure(error.failure, now_ms())
                capped = min(attempt, self.config.max_attempts - 1) if forever else attempt
                delay_ms = self._backoff.next_delay_ms(error.failure, max(capped, 1))
                if delay_ms is None:
                    raise
                await asyncio.sleep(delay_ms / 1000)
                continue
            self.breaker.on_success()
            return result

    # ----------------------------------------------------------------- resolving

    async def _query(self, symbol: str, client_order_id: str) -> Any:
        async with self._query_slots:
            self.stats.queries += 1
            return await self._retrying(
                lambda: self.venue.query(symbol, client_order_id), forever=True
            )

    def _resolve_soon(self, client_order_id: str) -> None:
        if client_order_id in self._pending_send:
            return
        due = max(time.monotonic(), self._not_before.get(client_order_id, 0.0))
        self._resolve_at[client_order_id] = due

    async def _resolver(self) -> None:
        while True:
            now = time.monotonic()
            due = [i for i, at in self._resolve_at.items() if at <= now]
            for client_order_id in due:
                del self._resolve_at[client_order_id]
            await asyncio.gather(*(self._resolve(i) for i in due))
            await asyncio.sleep(0.02)

    async def _resolve(self, client_order_id: str) -> None:
        """Bring one order in line with the venue by querying it (never by guessing)."""
        state = self.gateway.state(client_order_id)
        if state is None or state.status.is_terminal or client_order_id in self._pending_send:
            return
        report = await self._query(state.symbol, client_order_id)
        if client_order_id in self._pending_send:
            return
        if not report.found and time.monotonic() < self._not_before.get(client_order_id, 0.0):
            self._resolve_soon(client_order_id)
            return
        outcome = self.gateway.reconcile(client_order_id, report)
        self._last_news[client_order_id] = time.monotonic()
        if outcome.resend is not None:
            self.stats.resends += 1
            self._enqueue(outcome.resend)

    async def _resync(self) -> None:
        """Safety net for lost events: query open orders that have been quiet for a while."""
        interval = self.config.resync_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for state in self.gateway.open_orders():
                quiet = now - self._last_news.get(state.client_order_id, 0.0) > interval
                if quiet and state.client_order_id not in self._resolve_at:
                    self._resolve_soon(state.client_order_id)

    # ----------------------------------------------------------------- events

    async def _user_stream(self) -> None:
        attempt = 0
        while True:
            try:
                stream = await self.venue.open_user_stream()
            except VenueError as error:
                attempt += 1
                delay_ms = self._backoff.next_delay_ms(
                    error.failure, min(attempt, self.config.max_attempts - 1)
                )
                await asyncio.sleep((delay_ms or self.config.max_delay_ms) / 1000)
                continue
            attempt = 0
            self.stats.stream_connects += 1
            self._stream_up.set()
            if self._reconciled.is_set():
                for state in self.gateway.open_orders():
                    self._resolve_soon(state.client_order_id)
            try:
                async for batch in stream:
                    self._apply(batch)
            except VenueError:
                pass
            finally:
                await stream.close()

    def _apply(self, records: Sequence[OrderEventRecord]) -> None:
        now = time.monotonic()
        for record, result in zip(records, self.gateway.apply(records), strict=True):
            self._last_news[record.client_order_id] = now
            if isinstance(result, EventRefused):
                self.stats.refused_events += 1
                log.debug("event refused: %s", result.error)

    def _apply_one(self, client_order_id: str, event: OrderEvent) -> None:
        self._apply([OrderEventRecord(client_order_id=client_order_id, ts=_now(), event=event)])

    def _state(self, client_order_id: str) -> OrderState:
        state = self.gateway.state(client_order_id)
        if state is None:
            raise KeyError(f"unknown client_order_id {client_order_id!r}")
        return state

    async def _venue_side(self, client_order_id: str, timeout_s: float = 10.0) -> OrderState:
        """The order's state once it has left our send queue (so the venue may know it)."""
        deadline = time.monotonic() + timeout_s
        while client_order_id in self._pending_send and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self._state(client_order_id)
