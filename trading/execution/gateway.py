"""Typed facade over ``rust_exec.Gateway``: pydantic models in, pydantic models out.

All order logic (idempotency, the state table, fill tracking, WAL, reconciliation) lives in
Rust; this module only turns contracts into the JSON the extension speaks and parses its answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

import rust_exec
from trading.contracts import (
    Asset,
    ClientOrderId,
    Contract,
    Fill,
    Liquidity,
    NonNegativeDecimal,
    OrderIntent,
    OrderState,
    OrderStatus,
    Price,
    Quantity,
    Reason,
    Symbol,
    UtcDatetime,
    VenueId,
)

NotReconciledError = rust_exec.NotReconciledError
GatewayError = rust_exec.GatewayError


class FsyncPolicy(StrEnum):
    """When the WAL reaches the disk: every record, once per batch (group commit), or never."""

    ALWAYS = "always"
    PER_BATCH = "per_batch"
    NEVER = "never"


# --------------------------------------------------------------------------- venue events


class Accepted(Contract):
    type: Literal["ACCEPTED"] = "ACCEPTED"
    venue_order_id: VenueId


class Rejected(Contract):
    type: Literal["REJECTED"] = "REJECTED"
    reason: Reason


class Filled(Contract):
    """One execution; repeats of a ``trade_id`` are ignored by the gateway."""

    type: Literal["FILLED"] = "FILLED"
    trade_id: VenueId
    quantity: Quantity
    price: Price
    fee: NonNegativeDecimal
    fee_asset: Asset
    liquidity: Annotated[Liquidity, Field(strict=False)]


class CancelRequested(Contract):
    type: Literal["CANCEL_REQUESTED"] = "CANCEL_REQUESTED"


class Canceled(Contract):
    type: Literal["CANCELED"] = "CANCELED"


class CancelRejected(Contract):
    type: Literal["CANCEL_REJECTED"] = "CANCEL_REJECTED"
    reason: Reason


class ReplaceRequested(Contract):
    type: Literal["REPLACE_REQUESTED"] = "REPLACE_REQUESTED"
    quantity: Quantity
    limit_price: Price | None = None


class Replaced(Contract):
    type: Literal["REPLACED"] = "REPLACED"
    quantity: Quantity
    limit_price: Price | None = None


class ReplaceRejected(Contract):
    type: Literal["REPLACE_REJECTED"] = "REPLACE_REJECTED"
    reason: Reason


class Expired(Contract):
    type: Literal["EXPIRED"] = "EXPIRED"


OrderEvent = Annotated[
    Accepted
    | Rejected
    | Filled
    | CancelRequested
    | Canceled
    | CancelRejected
    | ReplaceRequested
    | Replaced
    | ReplaceRejected
    | Expired,
    Field(discriminator="type"),
]


class OrderEventRecord(Contract):
    """One event of one order, at venue (or request) time ``ts``."""

    client_order_id: ClientOrderId
    ts: UtcDatetime
    event: OrderEvent


# --------------------------------------------------------------------------- answers


class SendOutcome(Contract):
    """New and logged as SUBMITTED: send exactly this (rounded) intent to the venue."""

    action: Literal["send"]
    intent: OrderIntent
    state: OrderState


class DuplicateOutcome(Contract):
    """Seen before: never sent again; ``state`` is what the gateway knows."""

    action: Literal["duplicate"]
    state: OrderState


class RejectedOutcome(Contract):
    """Refused before the venue by the instrument rules (reason in ``state.reject_reason``)."""

    action: Literal["rejected"]
    state: OrderState


SubmitOutcome = Annotated[
    SendOutcome | DuplicateOutcome | RejectedOutcome, Field(discriminator="action")
]


class EventApplied(Contract):
    ok: OrderState


class EventRefused(Contract):
    """The gateway refused one event (unknown order, invalid transition, overfill)."""

    error: str


class VenueFill(Contract):
    trade_id: VenueId
    quantity: Quantity
    price: Price
    fee: NonNegativeDecimal
    fee_asset: Asset
    liquidity: Annotated[Liquidity, Field(strict=False)]
    ts: UtcDatetime


class VenueReport(Contract):
    """The venue's answer to "what do you know of client id X?" (order plus its trades)."""

    found: bool
    status: Annotated[OrderStatus, Field(strict=False)] | None = None
    venue_order_id: VenueId | None = None
    fills: tuple[VenueFill, ...] = ()
    reason: Reason | None = None
    ts: UtcDatetime


class ReconcileOutcome(Contract):
    """The order after reconciliation; ``resend`` is set when the venue never saw it."""

    state: OrderState
    resend: OrderIntent | None = None


class RecoveryReport(Contract):
    """What opening the WAL recovered."""

    orders: int
    replayed_records: int
    torn_tail_bytes: int
    awaiting_reconciliation: tuple[ClientOrderId, ...]


class InstrumentRules(Contract):
    """Tick, lot, minimum quantity and minimum notional of one symbol at one venue."""

    symbol: Symbol
    tick_size: Price
    lot_size: Quantity
    min_quantity: Quantity
    min_notional: NonNegativeDecimal


_OUTCOMES = TypeAdapter(list[SubmitOutcome])
_EVENTS = TypeAdapter(list[OrderEventRecord])
_RESULTS = TypeAdapter(list[EventApplied | EventRefused])
_STATES = TypeAdapter(list[OrderState])
_FILLS = TypeAdapter(list[Fill])
_INTENTS = TypeAdapter(list[OrderIntent])
_POSITIONS = TypeAdapter(dict[str, Decimal])


def rfc3339(moment: datetime) -> str:
    """``moment`` as the RFC 3339 ``Z`` text the contracts use."""
    return moment.isoformat().replace("+00:00", "Z")


class OrderGateway:
    """The durable order book of one venue account, backed by the Rust WAL in ``wal_dir``."""

    def __init__(
        self,
        wal_dir: Path | str,
        fsync: FsyncPolicy = FsyncPolicy.PER_BATCH,
        snapshot_every: int = 10_000,
    ) -> None:
        self._inner = rust_exec.Gateway(str(wal_dir), fsync.value, snapshot_every)
        self.recovery = RecoveryReport.model_validate_json(self._inner.recovery_json)

    def set_rules(self, rules: InstrumentRules) -> None:
        self._inner.set_rules(rules.model_dump_json())

    def submit(
        self,
        intents: Sequence[OrderIntent],
        now: datetime,
        reference_prices: Mapping[str, Decimal] | None = None,
    ) -> list[SubmitOutcome]:
        """Log and admit a batch (one group commit); raises ``NotReconciledError`` if due."""
        return self.submit_json(_INTENTS.dump_json(list(intents)).decode(), now, reference_prices)

    def submit_json(
        self,
        intents_json: str,
        now: datetime,
        reference_prices: Mapping[str, Decimal] | None = None,
    ) -> list[SubmitOutcome]:
        """``submit`` for an already serialized JSON array of intents."""
        prices = None
        if reference_prices is not None:
            prices = _POSITIONS.dump_json(dict(reference_prices)).decode()
        answer = self._inner.submit(intents_json, rfc3339(now), prices)
        return _OUTCOMES.validate_json(answer)

    def apply(self, events: Sequence[OrderEventRecord]) -> list[EventApplied | EventRefused]:
        """Apply venue events (one group commit); each gets its own result."""
        if not events:
            return []
        answer = self._inner.apply_events(_EVENTS.dump_json(list(events)).decode())
        return _RESULTS.validate_json(answer)

    def reconcile(self, client_order_id: str, report: VenueReport) -> ReconcileOutcome:
        answer = self._inner.reconcile(client_order_id, report.model_dump_json())
        return ReconcileOutcome.model_validate_json(answer)

    def awaiting_reconciliation(self) -> list[str]:
        return self._inner.awaiting_reconciliation()

    def state(self, client_order_id: str) -> OrderState | None:
        answer = self._inner.state(client_order_id)
        return None if answer is None else OrderState.model_validate_json(answer)

    def open_orders(self) -> list[OrderState]:
        return _STATES.validate_json(self._inner.open_orders())

    def fills(self, client_order_id: str) -> list[Fill]:
        answer = self._inner.fills(client_order_id)
        return [] if answer is None else _FILLS.validate_json(answer)

    def positions(self) -> dict[str, Decimal]:
        """Net signed quantity per symbol, derived from fills."""
        return _POSITIONS.validate_json(self._inner.positions())

    def checkpoint(self) -> None:
        self._inner.checkpoint()

    def __len__(self) -> int:
        return len(self._inner)
