"""The risk engine's book: positions derived from fills, cash balance, orders in flight.

Accounting is a margin account in the quote asset: ``balance`` moves by realized PnL and fees,
``equity = balance + sum(unrealized PnL at marks)``. Exposure is never stored; it is derived
from positions, orders in flight and marks on every call.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, ConfigDict, Field

from trading.contracts import (
    MAX_DECIMAL_PLACES,
    MAX_DIGITS,
    Fill,
    Position,
    Quantity,
    Side,
    SignedDecimal,
    Symbol,
    UtcDatetime,
)
from trading.risk.drawdown import DrawdownGuard


def contract_decimal(value: Decimal) -> Decimal:
    """``value`` rounded (half-even) to what a contract holds: 28 digits, 18 decimal places."""
    integer_digits = max(value.adjusted() + 1, 1) if value else 1
    places = min(MAX_DECIMAL_PLACES, MAX_DIGITS - integer_digits)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent <= places:
        return value
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def quote_asset(symbol: str) -> str:
    """``USDT`` for ``BTC/USDT`` and ``BTC/USDT:USDT``."""
    return symbol.split("/")[1].split(":")[0]


def apply_fill(position: Position | None, fill: Fill) -> Position:
    """Average-cost accounting: adding moves the average entry, reducing realizes PnL at it,
    and a fill larger than the position closes it and opens the rest at the fill price.

    Fees paid in the quote asset are added to ``fees_paid``; ``realized_pnl`` is before fees.
    """
    if position is not None and position.symbol != fill.symbol:
        raise ValueError(f"fill for {fill.symbol} applied to a {position.symbol} position")
    held = position.quantity if position is not None else Decimal(0)
    entry = position.avg_entry_price if position is not None else None
    realized = position.realized_pnl if position is not None else Decimal(0)
    fees = position.fees_paid if position is not None else Decimal(0)
    signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
    if fill.fee_asset == quote_asset(fill.symbol):
        fees += fill.fee
    new_qty = held + signed
    if held == 0 or entry is None:
        new_entry: Decimal | None = fill.price
    elif (held > 0) == (signed > 0):
        new_entry = contract_decimal((held * entry + signed * fill.price) / new_qty)
    else:
        closed = min(abs(held), abs(signed))
        realized = contract_decimal(
            realized + closed * (fill.price - entry) * (1 if held > 0 else -1)
        )
        if new_qty == 0:
            new_entry = None
        elif (new_qty > 0) == (held > 0):
            new_entry = entry
        else:
            new_entry = fill.price
    return Position(
        symbol=fill.symbol,
        quantity=new_qty,
        avg_entry_price=new_entry if new_qty != 0 else None,
        realized_pnl=realized,
        fees_paid=fees,
        updated_at=fill.ts,
    )


@dataclass(frozen=True, slots=True)
class PendingOrder:
    """An approved risk-increasing order not yet (fully) filled; counts toward exposure."""

    symbol: Symbol
    side: Side
    quantity: Quantity

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is Side.BUY else -self.quantity


class Portfolio(BaseModel):
    """Everything risk remembers between calls; ``model_dump_json`` checkpoints it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    balance: SignedDecimal
    positions: dict[Symbol, Position] = Field(default_factory=dict)
    pending: dict[str, PendingOrder] = Field(default_factory=dict)
    drawdown: DrawdownGuard = Field(default_factory=DrawdownGuard)
    recent_intents: deque[UtcDatetime] = Field(default_factory=deque)

    def apply_fill(self, fill: Fill) -> Position:
        """Book a fill: position, balance (realized PnL minus quote fees) and orders in flight."""
        before = self.positions.get(fill.symbol)
        after = apply_fill(before, fill)
        self.positions[fill.symbol] = after
        realized_before = before.realized_pnl if before is not None else Decimal(0)
        fees_before = before.fees_paid if before is not None else Decimal(0)
        self.balance = contract_decimal(
            self.balance + (after.realized_pnl - realized_before) - (after.fees_paid - fees_before)
        )
        order = self.pending.get(fill.client_order_id)
        if order is not None:
            remaining = order.quantity - fill.quantity
            if remaining > 0:
                self.pending[fill.client_order_id] = replace(order, quantity=remaining)
            else:
                del self.pending[fill.client_order_id]
        return after

    def release(self, client_order_id: str) -> None:
        """Forget an order in flight (canceled, rejected or expired)."""
        self.pending.pop(client_order_id, None)

    def exposure_quantities(self) -> dict[str, Decimal]:
        """Signed quantity per symbol once every order in flight fills (zero entries dropped)."""
        quantities = {s: p.quantity for s, p in self.positions.items() if p.quantity}
        for order in self.pending.values():
            quantities[order.symbol] = quantities.get(order.symbol, Decimal(0)) + (
                order.signed_quantity
            )
        return {s: q for s, q in quantities.items() if q}

    def equity(self, marks: dict[str, Decimal]) -> Decimal:
        """``balance + sum(quantity * (mark - avg_entry))`` over open positions."""
        return self.balance + sum(
            (p.unrealized_pnl(marks[s]) for s, p in self.positions.items() if p.quantity),
            Decimal(0),
        )

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.quantity]
