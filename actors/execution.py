"""``ExecutionActor``: the Rust gateway (WAL on a durable path) and the venue connection.

Fenced: each incarnation takes the next generation beside the WAL and checks it before every
venue request (``trading.failure.fencing``), so an old incarnation that resumes after a new one
started sends nothing.
``max_restarts=-1``: a restarted actor rebuilds the gateway from its write-ahead log and
reconciles every open order with the venue before it accepts intents (the first call after
a restart waits for that). Ray may retry calls: idempotency is by client_order_id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal

import ray

from actors.metrics import record_gateway, record_order_latency
from trading.config import ObservabilitySettings, SecuritySettings, VenueSettings
from trading.contracts import OrderIntent
from trading.execution.desk import OrderUpdate
from trading.execution.engine import ExecutionEngine
from trading.execution.gateway import FsyncPolicy, OrderGateway, SubmitOutcome
from trading.execution.venue_kinds import (
    balances_text,
    build_venue,
    engine_config,
    reconcile_when_reachable,
    venue_rules,
)
from trading.failure.fencing import Fence, FencedVenue
from trading.observability.process import configure_observability
from trading.observability.tracing import flush_traces, record_orders, traced_call

EXECUTION_ACTOR = "execution"
logger = logging.getLogger(__name__)


@ray.remote(num_cpus=0.05, max_restarts=-1, max_task_retries=-1)
class ExecutionActor:
    def __init__(
        self,
        wal_dir: str,
        venue_url: str,
        symbols: Sequence[str],
        fsync: str = "per_batch",
        venue: VenueSettings | None = None,
        observability: ObservabilitySettings | None = None,
        security: SecuritySettings | None = None,
    ) -> None:
        """``venue`` names the environment variables of the API key and secret (or ``security``
        a secrets provider): they are read here, in the actor's process, so the secret never
        travels as a Ray argument."""
        self._wal_dir, self._venue_url = wal_dir, venue_url
        self._symbols, self._fsync = tuple(symbols), FsyncPolicy(fsync)
        self._venue, self._security = venue or VenueSettings(), security
        self._engine: ExecutionEngine | None = None
        self._starting: asyncio.Task[ExecutionEngine] | None = None
        self._fence: Fence | None = None
        configure_observability(observability or ObservabilitySettings(), EXECUTION_ACTOR)

    async def _ready(self) -> ExecutionEngine:
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        return await asyncio.shield(self._starting)

    async def _start(self) -> ExecutionEngine:
        """The venue of ``venue.kind`` (``venue_url``: the paper exchange's), its filters for
        the gateway (an unlisted symbol refused by name), the venue's open orders reconciled
        with the log (orphans cancelled, or the start refused), its balances logged."""
        self._fence = Fence.take(self._wal_dir)  # this incarnation's generation
        venue = FencedVenue(
            build_venue(self._venue, self._venue_url or None, security=self._security), self._fence
        )
        gateway = OrderGateway(self._wal_dir, self._fsync)
        for rules in await venue_rules(venue, self._symbols):
            gateway.set_rules(rules)
        engine = ExecutionEngine(gateway, venue, engine_config(self._venue))
        await engine.start()
        await reconcile_when_reachable(venue, gateway, self._symbols, self._venue)
        logger.warning(
            "venue %s balances before the first order: %s", venue.name, await balances_text(venue)
        )
        self._engine = engine
        return engine

    @traced_call("execution.submit")
    async def submit(
        self,
        intents: Sequence[OrderIntent],
        reference_prices: Mapping[str, Decimal] | None = None,
        settle_timeout_s: float = 2.0,
    ) -> list[SubmitOutcome]:
        """Log, send, and wait until the venue has answered each new order (market orders:
        until they have fills or ended), so a step's fills are booked in the same step."""
        engine, started = await self._ready(), time.perf_counter()
        if self._fence is not None:  # a newer incarnation started: refuse, log nothing
            self._fence.check(f"submit of {len(intents)} intents")
        outcomes = await engine.submit_settled(intents, reference_prices, settle_timeout_s)
        record_order_latency("settled", time.perf_counter() - started, len(intents))
        record_gateway(engine, outcomes)
        record_orders([engine.gateway.state(o.state.client_order_id) or o.state for o in outcomes])
        return outcomes

    async def updates(self, client_order_ids: Sequence[str]) -> list[OrderUpdate]:
        """Current state and every fill of each order (the caller dedupes fills by id)."""
        engine = await self._ready()
        gateway = engine.gateway
        return [
            OrderUpdate(state, tuple(gateway.fills(client_order_id)))
            for client_order_id in client_order_ids
            if (state := gateway.state(client_order_id)) is not None
        ]

    async def positions(self) -> dict[str, Decimal]:
        return (await self._ready()).gateway.positions()

    async def stats(self) -> dict[str, int]:
        engine = await self._ready()
        return dict(vars(engine.stats))

    async def breaker_open(self) -> bool:
        """Whether the venue's circuit breaker is open now (the watchdog times it)."""
        return (await self._ready()).breaker.state.state == "open"

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.stop()
        flush_traces()

    def ping(self) -> bool:
        return True
