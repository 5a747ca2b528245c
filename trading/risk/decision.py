"""``RiskDecision``: risk's verdict on one intent with the numbers behind it, and how an approved
quantity becomes an outcome (APPROVED, RESIZED or DENIED, each with its reason)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from trading.contracts import DecisionOutcome, DenialReason, OrderDecision, OrderIntent

ZERO = Decimal(0)
EVIDENCE_MAX_CHARS = 200


def _text(value: object) -> str:
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return text[:EVIDENCE_MAX_CHARS]


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Risk's verdict with the numbers behind it; ``flatten`` holds the SAFE_MODE exits to send."""

    client_order_id: str
    outcome: DecisionOutcome
    reason: DenialReason | None
    requested_quantity: Decimal
    approved_quantity: Decimal
    decided_at: datetime
    numbers: Mapping[str, object] = field(default_factory=dict)
    flatten: tuple[OrderIntent, ...] = ()

    @property
    def evidence(self) -> dict[str, str]:
        """The numbers as text, as the audit log stores them."""
        return {name: _text(value) for name, value in self.numbers.items()}

    def to_order_decision(self) -> OrderDecision:
        return OrderDecision(
            client_order_id=self.client_order_id,
            outcome=self.outcome,
            reason=self.reason,
            requested_quantity=self.requested_quantity,
            approved_quantity=self.approved_quantity,
            decided_at=self.decided_at,
            evidence=self.evidence,
        )


def decide(
    intent: OrderIntent,
    now: datetime,
    approved: Decimal,
    reason: DenialReason | None,
    numbers: Mapping[str, object],
    flatten: tuple[OrderIntent, ...] = (),
) -> RiskDecision:
    """The decision approving ``approved`` of the intent: all of it is APPROVED (no reason),
    part RESIZED and none DENIED, both with ``reason`` (INVALID_INPUT when none binds)."""
    requested = intent.quantity
    if approved >= requested:
        outcome, approved, reason = DecisionOutcome.APPROVED, requested, None
    elif approved > 0:
        outcome = DecisionOutcome.RESIZED
    else:
        outcome, approved = DecisionOutcome.DENIED, ZERO
    if reason is None and outcome is not DecisionOutcome.APPROVED:
        reason = DenialReason.INVALID_INPUT
    return RiskDecision(
        intent.client_order_id, outcome, reason, requested, approved, now, numbers, flatten
    )
