"""Positions derived from fills (average cost, realized PnL, flips) and a checkpointable book."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.risk.scenario import T0, fill
from trading.contracts import Side
from trading.risk import Portfolio, apply_fill

D = Decimal


def test_adding_to_a_long_moves_the_average_entry() -> None:
    """1 @ 100 then 3 @ 120: average (100 + 360) / 4 = 115."""
    position = apply_fill(None, fill("SOL/USDT", Side.BUY, "1", "100"))
    position = apply_fill(position, fill("SOL/USDT", Side.BUY, "3", "120"))
    assert (position.quantity, position.avg_entry_price, position.realized_pnl) == (
        D(4),
        D(115),
        D(0),
    )


def test_reducing_realizes_pnl_at_the_average_entry() -> None:
    """Long 4 @ 115, sell 1 @ 130: realized 15, average unchanged."""
    position = apply_fill(None, fill("SOL/USDT", Side.BUY, "4", "115"))
    position = apply_fill(position, fill("SOL/USDT", Side.SELL, "1", "130"))
    assert (position.quantity, position.avg_entry_price, position.realized_pnl) == (
        D(3),
        D(115),
        D(15),
    )


def test_a_fill_through_zero_flips_the_position_at_the_fill_price() -> None:
    """Long 2 @ 100, sell 5 @ 90: realize 2 * (90 - 100) = -20, then short 3 @ 90."""
    position = apply_fill(None, fill("SOL/USDT", Side.BUY, "2", "100"))
    position = apply_fill(position, fill("SOL/USDT", Side.SELL, "5", "90"))
    assert (position.quantity, position.avg_entry_price, position.realized_pnl) == (
        D(-3),
        D(90),
        D(-20),
    )


def test_closing_exactly_leaves_a_flat_position_without_entry() -> None:
    position = apply_fill(None, fill("SOL/USDT", Side.SELL, "2", "100"))
    position = apply_fill(position, fill("SOL/USDT", Side.BUY, "2", "80"))
    assert position.is_flat
    assert position.avg_entry_price is None
    assert position.realized_pnl == 40


def test_a_fill_for_another_symbol_is_refused() -> None:
    position = apply_fill(None, fill("SOL/USDT", Side.BUY, "1", "100"))
    with pytest.raises(ValueError, match="ETH/USDT"):
        apply_fill(position, fill("ETH/USDT", Side.BUY, "1", "100"))


def test_portfolio_balance_moves_by_realized_pnl_minus_fees() -> None:
    """Buy 1 @ 100 (fee 0.04), sell 1 @ 110 (fee 0.044): balance 1 000 + 10 - 0.084."""
    portfolio = Portfolio(balance=D(1_000))
    portfolio.apply_fill(fill("SOL/USDT", Side.BUY, "1", "100"))
    portfolio.apply_fill(fill("SOL/USDT", Side.SELL, "1", "110"))
    assert portfolio.balance == D("1009.916")


def test_portfolio_round_trips_through_json_for_checkpoints() -> None:
    portfolio = Portfolio(balance=D("1000.5"))
    portfolio.apply_fill(fill("SOL/USDT", Side.BUY, "1.5", "100"))
    portfolio.recent_intents.append(T0)
    portfolio.drawdown.observe(D(1000), T0, D("0.92"), D("0.8"), T0 - T0)
    restored = Portfolio.model_validate_json(portfolio.model_dump_json())
    assert restored == portfolio


fills = st.lists(
    st.tuples(st.sampled_from(Side), st.integers(1, 5_000), st.integers(5_000, 20_000)),
    min_size=1,
    max_size=40,
)


@given(trades=fills, mark_cents=st.integers(5_000, 20_000))
def test_position_equals_the_sum_of_fills_and_pnl_adds_up(
    trades: list[tuple[Side, int, int]], mark_cents: int
) -> None:
    """Quantity is the signed sum of fills; realized + unrealized PnL equals the cash-flow PnL
    ``sum(signed_qty * (mark - price))`` (up to the 18-place rounding of the average entry)."""
    position = None
    cash_pnl = D(0)
    mark = D(mark_cents) / 100
    for side, lots, cents in trades:
        qty, price = D(lots) / 1_000, D(cents) / 100
        position = apply_fill(position, fill("SOL/USDT", side, qty, price))
        cash_pnl += side.sign * qty * (mark - price)
    assert position is not None
    assert position.quantity == sum(side.sign * D(lots) / 1_000 for side, lots, _ in trades)
    total = position.realized_pnl + position.unrealized_pnl(mark)
    assert abs(total - cash_pnl) < D("1e-9")
