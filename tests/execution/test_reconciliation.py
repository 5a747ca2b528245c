"""Reconciliation at start, one test per kind of difference, and the refusal naming them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.execution.reconciliation import (
    Difference,
    ReconcilePolicy,
    ReconciliationRefusedError,
    VenueOrder,
    check,
    reconcile,
)

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
