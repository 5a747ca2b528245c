"""Contract paths the model tests leave out: a flat position's PnL and the precision check's
last line of defence against non-finite numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic_core import PydanticCustomError

from trading.contracts import Position, _require_precision


def test_a_flat_position_has_no_unrealized_pnl() -> None:
    flat = Position(
        symbol="BTC/USDT",
        quantity=Decimal(0),
        realized_pnl=Decimal("12.5"),
        updated_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert flat.unrealized_pnl(Decimal("50000")) == Decimal(0)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_the_precision_check_refuses_non_finite_numbers_on_its_own(value: str) -> None:
    with pytest.raises(PydanticCustomError, match="finite"):
        _require_precision(Decimal(value))
