"""Reconciliation at start, one test per kind of difference, and the refusal naming them."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest

from trading.config import VenueSettings
from trading.execution.binance import BinanceVenue
from trading.execution.gateway import OrderGateway
from trading.execution.paper import PaperBar, PaperExchange
from trading.execution.paper.server import PaperServer
from trading.execution.reconciliation import (
    Difference,
    ReconcilePolicy,
    ReconciliationRefusedError,
    VenueOrder,
    check,
    reconcile,
)
from trading.execution.venue_kinds import reconcile_at_start

BTC = "BTC/USDT"
OURS = VenueOrder("rt-ours", BTC)
STRANGER = VenueOrder("web-ui-1", BTC)


def test_agreeing_venue_and_log_are_clean() -> None:
    report = reconcile(
        [OURS], [OURS], {BTC: Decimal("0.5")}, {BTC: Decimal("0.5")}, ReconcilePolicy()
    )
    assert report.clean
    assert str(report) == "venue and log agree"
    check(report)


def test_an_orphan_order_is_cancelled_by_default() -> None:
    report = reconcile([], [STRANGER], {}, {}, ReconcilePolicy())
    assert report.differences == (Difference("orphan", BTC, "web-ui-1"),)
    assert report.to_cancel == (STRANGER,)
    check(report)


def test_an_orphan_order_refuses_the_start_when_configured() -> None:
    report = reconcile([], [STRANGER], {}, {}, ReconcilePolicy(orphans="refuse"))
    assert report.to_cancel == ()
    with pytest.raises(ReconciliationRefusedError, match="orphan BTC/USDT: web-ui-1"):
        check(report)


def test_an_order_the_venue_lost_is_reported_missing_not_refused() -> None:
    report = reconcile([OURS], [], {}, {}, ReconcilePolicy(orphans="refuse"))
    assert report.differences == (Difference("missing", BTC, "rt-ours"),)
    check(report)  # the engine's query settles it (filled, cancelled or never arrived)


def test_position_drift_within_tolerance_is_reported_beyond_it_refused() -> None:
    log, venue = {BTC: Decimal("0.50")}, {BTC: Decimal("0.53"), "ETH/USDT": Decimal("-1")}
    lenient = reconcile([], [], log, venue, ReconcilePolicy(max_position_drift=Decimal("2")))
    assert [d.apart for d in lenient.differences] == [Decimal("0.03"), Decimal("1")]
    check(lenient)
    strict = reconcile([], [], log, venue, ReconcilePolicy(max_position_drift=Decimal("0.05")))
    with pytest.raises(ReconciliationRefusedError) as refused:
        check(strict)
    assert str(refused.value).startswith(
        "reconciliation refused the start: position_drift ETH/USDT: log 0, venue -1, apart 1"
    )
    assert "position_drift BTC/USDT: log 0.50, venue 0.53, apart 0.03" in str(refused.value)


def _paper_with_an_orphan() -> tuple[PaperServer, str]:
    """A paper exchange holding one resting order placed by someone else (a web UI)."""
    bar = PaperBar(1_700_000_000_000, *(Decimal(v) for v in ("100", "101", "99", "100", "50")))
    exchange = PaperExchange({BTC: [bar]})
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1"}
    exchange.place({**params, "price": "50", "newClientOrderId": "web-ui-1"})
    return PaperServer(exchange, bar_interval_ms=0), "web-ui-1"


@pytest.mark.parametrize("orphans", ["cancel", "refuse"])
def test_an_orphan_at_the_venue_is_cancelled_or_refuses_the_start(
    tmp_path: Path, orphans: Literal["cancel", "refuse"]
) -> None:
    server, orphan = _paper_with_an_orphan()
    settings = VenueSettings(orphan_orders=orphans)

    async def body() -> None:
        await server.start()
        venue = BinanceVenue(server.url)
        try:
            gateway = OrderGateway(str(tmp_path / "wal"))
            if orphans == "refuse":
                with pytest.raises(ReconciliationRefusedError, match="orphan BTC/USDT: web-ui-1"):
                    await reconcile_at_start(venue, gateway, [BTC], settings)
                assert server.exchange.orders[orphan].status == "NEW"
                return
            report = await reconcile_at_start(venue, gateway, [BTC], settings)
            assert str(report) == "orphan BTC/USDT: web-ui-1"
            assert server.exchange.orders[orphan].status == "CANCELED"
            assert (await reconcile_at_start(venue, gateway, [BTC], settings)).clean
        finally:
            await venue.close()
            await server.stop()

    asyncio.run(body())
