"""What each ``venue.kind`` means: its endpoints (testnet unless ``--live``), its adapter, and
the instruments it lists.

``paper`` is the built-in exchange (its URL comes from the paper actor); ``binance_spot`` is
``BinanceVenue`` on Binance's REST API; ``binance_usdm`` and ``ccxt`` go through ccxt
(``binanceusdm``, or any ``venue.exchange`` of ``ccxt.exchanges``). Every endpoint can be set in
``VenueSettings`` so tests point them at a paper exchange on 127.0.0.1: the production path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from trading.config import SecuritySettings, VenueKind, VenueSettings
from trading.execution.binance import BinanceVenue, Credentials
from trading.execution.ccxt_venue import CcxtVenue
from trading.execution.engine import EngineConfig
from trading.execution.gateway import InstrumentRules, OrderGateway
from trading.execution.reconciliation import (
    ReconcilePolicy,
    ReconciliationReport,
    VenueOrder,
    check,
    reconcile,
)
from trading.execution.retry import VenueError
from trading.execution.rules import gateway_rules
from trading.market.instruments import InstrumentCache
from trading.security.secrets import open_secrets, venue_credentials

if TYPE_CHECKING:
    from trading.execution.venue import VenueAdapter

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VenueEndpoints:
    rest_url: str
    ws_api_url: str | None = None
    stream_url: str | None = None


# Binance's documented hosts (spot: "Testnet General Info"; USDⓈ-M: "General Info").
BINANCE_ENDPOINTS: dict[tuple[VenueKind, bool], VenueEndpoints] = {
    (VenueKind.BINANCE_SPOT, True): VenueEndpoints(
        "https://testnet.binance.vision",
        "wss://ws-api.testnet.binance.vision/ws-api/v3",
        "wss://stream.testnet.binance.vision",
    ),
    (VenueKind.BINANCE_SPOT, False): VenueEndpoints(
        "https://api.binance.com",
        "wss://ws-api.binance.com:443/ws-api/v3",
        "wss://stream.binance.com:9443",
    ),
    (VenueKind.BINANCE_USDM, True): VenueEndpoints(
        "https://testnet.binancefuture.com",
        "wss://testnet.binancefuture.com/ws-fapi/v1",
        "wss://fstream.binancefuture.com",
    ),
    (VenueKind.BINANCE_USDM, False): VenueEndpoints(
        "https://fapi.binance.com",
        "wss://ws-fapi.binance.com/ws-fapi/v1",
        "wss://fstream.binance.com",
    ),
}


class LiveTradingRefusedError(ValueError):
    """A production venue without ``--live``."""

    def __init__(self, settings: VenueSettings) -> None:
        super().__init__(
            f"venue.kind {settings.kind.value} with testnet: false trades real money; "
            "add --live to mean it (or set venue.testnet: true)"
        )


def check_live(settings: VenueSettings, live: bool) -> None:
    """Refuse a production venue unless the operator said ``--live``."""
    if settings.kind is not VenueKind.PAPER and not settings.testnet and not live:
        raise LiveTradingRefusedError(settings)


def venue_endpoints(settings: VenueSettings, paper_url: str | None = None) -> VenueEndpoints:
    """The endpoints of ``settings.kind``: each configured URL, else the kind's default
    (paper: ``paper_url``; ccxt: the exchange's own, so ``rest_url`` only when set; a Binance
    kind with only ``rest_url`` set: its WebSocket API and streams on that host)."""
    if settings.kind is VenueKind.PAPER:
        if paper_url is None:
            raise ValueError("venue.kind paper needs the paper exchange's URL")
        default = VenueEndpoints(paper_url)
    elif settings.kind is VenueKind.CCXT:
        default = VenueEndpoints("")
    elif settings.rest_url:  # one host for everything, as the paper exchange serves it
        host = "ws" + settings.rest_url.rstrip("/").removeprefix("http")
        default = VenueEndpoints(settings.rest_url, f"{host}/ws-api/v3", host)
    else:
        default = BINANCE_ENDPOINTS[(settings.kind, settings.testnet)]
    return VenueEndpoints(
        settings.rest_url or default.rest_url,
        settings.ws_api_url or default.ws_api_url,
        settings.stream_url or default.stream_url,
    )


def credentials_source(
    settings: VenueSettings, security: SecuritySettings | None = None
) -> Credentials:
    """Where the venue's key and secret are read, and reread after a rotation: the secrets
    provider ``security`` names, or the variables ``settings`` names (the default)."""
    if security is not None and security.secrets_provider != "env":  # pragma: allowlist secret
        return venue_credentials(open_secrets(security))

    def from_environment(refresh: bool) -> tuple[str, str] | None:
        pair = settings.credentials()
        return (
            (pair.api_key.get_secret_value(), pair.api_secret.get_secret_value()) if pair else None
        )

    return from_environment


def build_venue(
    settings: VenueSettings,
    paper_url: str | None = None,
    *,
    signed: bool = True,
    security: SecuritySettings | None = None,
) -> VenueAdapter:
    """The adapter of ``settings.kind`` with the credentials of ``credentials_source`` (``signed``
    False: none, for public endpoints only)."""
    endpoints = venue_endpoints(settings, paper_url)
    source = credentials_source(settings, security) if signed else None
    if settings.kind in (VenueKind.PAPER, VenueKind.BINANCE_SPOT):
        return BinanceVenue(
            endpoints.rest_url,
            name=settings.kind.value,
            recv_window_ms=settings.recv_window_ms,
            credentials=source,
            ws_api_url=endpoints.ws_api_url if settings.kind is VenueKind.BINANCE_SPOT else None,
        )
    key, secret = (source(False) if source else None) or (None, None)
    exchange = "binanceusdm" if settings.kind is VenueKind.BINANCE_USDM else settings.exchange
    return CcxtVenue(
        "futures" if settings.kind is VenueKind.BINANCE_USDM else "spot",
        exchange_id=exchange,
        rest_url=endpoints.rest_url or None,
        api_key=key,
        secret=secret,
        sandbox=settings.testnet and not settings.rest_url,
        recv_window_ms=settings.recv_window_ms,
    )


async def venue_rules(
    venue: VenueAdapter, symbols: Sequence[str], attempts: int = 5
) -> list[InstrumentRules]:
    """The gateway rules of ``symbols`` from the venue's own listing, retried with backoff
    while the venue cannot answer (``UnlistedSymbolError`` is final: it names the symbols)."""
    cache = InstrumentCache(venue.instruments, venue.name)
    for attempt in range(attempts):
        try:
            specs = await cache.require(symbols)
            return [gateway_rules(spec) for spec in specs.values()]
        except VenueError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


async def balances_text(venue: VenueAdapter) -> str:
    """The account's non-zero balances for the log before the first order."""
    try:
        balances = await venue.balances()
    except VenueError as error:
        return f"unavailable ({error})"
    return ", ".join(f"{asset} {amount}" for asset, amount in balances.items() if amount) or "none"


def check_listed(settings: VenueSettings, symbols: Sequence[str]) -> None:
    """Before a session starts anything: ``UnlistedSymbolError`` naming each of ``symbols``
    the venue of a non-paper ``settings.kind`` does not list (public endpoints, no keys)."""
    if settings.kind is VenueKind.PAPER:
        return

    async def listing() -> None:
        venue = build_venue(settings, signed=False)
        try:
            await venue_rules(venue, symbols)
        finally:
            await venue.close()

    asyncio.run(listing())


POLLED_KINDS = (VenueKind.BINANCE_USDM, VenueKind.CCXT)
POLL_INTERVAL_MS = 200


def engine_config(settings: VenueSettings) -> EngineConfig:
    """The engine's knobs for ``settings.kind``. The ccxt-driven kinds push no order events
    here (``CcxtVenue`` has no user stream yet), so their open orders are polled by query
    every ``POLL_INTERVAL_MS`` instead of the 2 s safety net."""
    if settings.kind in POLLED_KINDS:
        return EngineConfig(breaker_open_ms=2_000, resync_interval_ms=POLL_INTERVAL_MS)
    return EngineConfig(breaker_open_ms=2_000)


class VenueOrders(Protocol):
    """What reconciliation needs of a venue: its open orders, and cancelling one."""

    async def open_orders(self, symbols: Sequence[str]) -> list[VenueOrder]: ...

    async def cancel(self, symbol: str, client_order_id: str) -> None: ...


async def reconcile_when_reachable(
    venue: VenueOrders, gateway: OrderGateway, symbols: Sequence[str], settings: VenueSettings
) -> ReconciliationReport | None:
    """``reconcile_at_start``, unless the venue cannot be asked (a refused key, a network
    failure): then a warning naming the venue's error and None, and the session starts (its
    orders meet the same error and are journaled with it). A drift it refuses still stops it."""
    try:
        return await reconcile_at_start(venue, gateway, symbols, settings)
    except VenueError as error:
        logger.warning("reconciliation at start skipped: the venue answered %s", error)
        return None


async def reconcile_at_start(
    venue: VenueOrders, gateway: OrderGateway, symbols: Sequence[str], settings: VenueSettings
) -> ReconciliationReport:
    """The venue's open orders against the log's: orphans cancelled, or the start refused
    (``ReconciliationRefusedError`` naming each difference), as ``settings.orphan_orders``
    says. Positions are not compared here yet: a spot account's balances include holdings
    the log never traded."""
    log_open = [VenueOrder(o.client_order_id, o.symbol) for o in gateway.open_orders()]
    policy = ReconcilePolicy(orphans=settings.orphan_orders)
    report = reconcile(log_open, await venue.open_orders(symbols), {}, {}, policy)
    check(report)
    for orphan in report.to_cancel:
        await venue.cancel(orphan.symbol, orphan.client_order_id)
    return report
