"""Reconciliation at start: the venue's open orders and positions against the write-ahead log's
(the gateway's), as NautilusTrader's live reconciliation compares venue reports with its cache
(``docs/concepts/live.md``).

Pure: ``reconcile`` takes both sides and a ``ReconcilePolicy`` and returns a
``ReconciliationReport`` naming each difference: an order open at the venue the log never sent
(``orphan``: cancelled, or refused), an order the log holds open that the venue does not
(``missing``: the engine's own query settles it), and a position apart by more than the
tolerance (``position_drift``). ``check`` raises ``ReconciliationRefusedError`` with the report
when the session must not start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

OrphanAction = Literal["cancel", "refuse"]


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order the venue holds open: its client id and symbol (``BTC/USDT``)."""

    client_order_id: str
    symbol: str


@dataclass(frozen=True, slots=True)
class ReconcilePolicy:
    """``orphans``: what to do with an open venue order the log never sent;
    ``max_position_drift``: the largest position difference (in base units) tolerated per
    symbol, None to report drift without refusing."""

    orphans: OrphanAction = "cancel"
    max_position_drift: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Difference:
    kind: Literal["orphan", "missing", "position_drift"]
    symbol: str
    detail: str
    apart: Decimal = Decimal(0)  # position_drift: the absolute difference

    def __str__(self) -> str:
        return f"{self.kind} {self.symbol}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    differences: tuple[Difference, ...] = ()
    to_cancel: tuple[VenueOrder, ...] = ()
    refused: tuple[Difference, ...] = field(default=())

    @property
    def clean(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        if self.clean:
            return "venue and log agree"
        return "; ".join(str(d) for d in self.differences)


class ReconciliationRefusedError(RuntimeError):
    """The venue and the log differ beyond what the policy accepts; the report names each."""

    def __init__(self, report: ReconciliationReport) -> None:
        refused = "; ".join(str(d) for d in report.refused)
        super().__init__(f"reconciliation refused the start: {refused} (all: {report})")
        self.report = report


def reconcile(
    log_open: Sequence[VenueOrder],
    venue_open: Sequence[VenueOrder],
    log_positions: Mapping[str, Decimal],
    venue_positions: Mapping[str, Decimal],
    policy: ReconcilePolicy,
) -> ReconciliationReport:
    """Every difference between the log and the venue, and what the policy does about it."""
    logged = {o.client_order_id for o in log_open}
    at_venue = {o.client_order_id for o in venue_open}
    orphans = [o for o in venue_open if o.client_order_id not in logged]
    differences = [Difference("orphan", o.symbol, o.client_order_id) for o in orphans]
    differences += [
        Difference("missing", o.symbol, o.client_order_id)
        for o in log_open
        if o.client_order_id not in at_venue
    ]
    drifts = _position_drifts(log_positions, venue_positions)
    differences += drifts
    refused = [d for d in differences if d.kind == "orphan" and policy.orphans == "refuse"]
    limit = policy.max_position_drift
    refused += [d for d in drifts if limit is not None and d.apart > limit]
    cancel = tuple(orphans) if policy.orphans == "cancel" else ()
    return ReconciliationReport(tuple(differences), cancel, tuple(refused))


def _position_drifts(
    log_positions: Mapping[str, Decimal], venue_positions: Mapping[str, Decimal]
) -> list[Difference]:
    drifts = []
    for symbol in sorted(set(log_positions) | set(venue_positions)):
        ours, theirs = (
            log_positions.get(symbol, Decimal(0)),
            venue_positions.get(symbol, Decimal(0)),
        )
        if ours != theirs:
            apart = abs(ours - theirs)
            detail = f"log {ours}, venue {theirs}, apart {apart}"
            drifts.append(Difference("position_drift", symbol, detail, apart))
    return drifts


def check(report: ReconciliationReport) -> None:
    """Raise ``ReconciliationRefusedError`` when any difference is one the policy refuses."""
    if report.refused:
        raise ReconciliationRefusedError(report)
