"""Position sizing: fixed-fractional risk scaled by signal confidence, fees included."""

from __future__ import annotations

from decimal import Decimal

from trading.market.instruments import InstrumentSpec


def risk_pct(confidence: float, min_pct: Decimal, max_pct: Decimal, exponent: float) -> Decimal:
    """Percent of equity to risk: ``min + (max - min) * confidence ** exponent``.

    ``exponent`` 1 is linear; above 1 the curve is convex (only high confidence gets near the
    maximum), below 1 concave. Confidence is clamped to [0, 1] by the caller's validation.
    """
    return min_pct + (max_pct - min_pct) * Decimal(confidence**exponent)


def loss_per_unit(entry: Decimal, stop: Decimal, fee_rate: Decimal) -> Decimal:
    """Loss of one unit stopped out: the stop distance plus a taker fee on entry and on exit."""
    return abs(entry - stop) + fee_rate * (entry + stop)


def position_size(
    equity: Decimal,
    entry: Decimal,
    stop: Decimal,
    risk_pct: Decimal,
    fee_rate: Decimal,
    spec: InstrumentSpec,
) -> Decimal:
    """Units such that the loss at the stop, fees included, is at most ``risk_pct`` of equity.

    Van Tharp's fixed-fractional sizing (size = risk amount / risk per unit), rounded down to
    the venue lot; returns 0 when the result is below the venue's minimum notional.
    """
    risk_amount = equity * risk_pct / 100
    units = spec.round_quantity_down(risk_amount / loss_per_unit(entry, stop, fee_rate))
    return units if units * entry >= spec.min_notional else Decimal(0)
