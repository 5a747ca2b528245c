"""Position sizing: confidence curve, fees inside the risk budget, lot rounding, min notional."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.config import RiskLimits
from trading.market.instruments import BINANCE_SPOT
from trading.risk import RiskPolicy, loss_per_unit, position_size, risk_pct

BTC = BINANCE_SPOT["BTC/USDT"]
MIN, MAX = Decimal("0.25"), Decimal("2.0")


def test_risk_pct_is_linear_in_confidence_between_min_and_max() -> None:
    assert risk_pct(0.0, MIN, MAX, 1.0) == Decimal("0.25")
    assert risk_pct(0.5, MIN, MAX, 1.0) == Decimal("1.125")
    assert risk_pct(1.0, MIN, MAX, 1.0) == Decimal("2.0")


def test_convex_curve_keeps_mid_confidence_closer_to_the_minimum() -> None:
    """exponent 2: 0.25 + 1.75 * 0.5**2 = 0.6875 %."""
    assert risk_pct(0.5, MIN, MAX, 2.0) == Decimal("0.6875")


def test_policy_reads_the_curve_from_the_limits() -> None:
    policy = RiskPolicy(limits=RiskLimits(risk_confidence_exponent=2.0))
    assert policy.risk_pct(0.5) == Decimal("0.6875")


def test_btc_long_size_worked_by_hand() -> None:
    """Equity 100 000 USDT, confidence 0.5 -> 1.125 % -> risk 1 125 USDT.
    Entry 60 000, stop 58 800: distance 1 200; taker fee 4 bps on entry and exit
    0.0004 * (60 000 + 58 800) = 47.52, so one BTC loses 1 247.52 at the stop.
    1 125 / 1 247.52 = 0.901789...; down to the 0.00001 lot: 0.90178 BTC.
    Loss at the stop: 0.90178 * 1 247.52 = 1 124.9886 <= 1 125 (without fees it would be 0.9375).
    """
    size = position_size(
        Decimal(100_000), Decimal(60_000), Decimal(58_800), Decimal("1.125"), Decimal("0.0004"), BTC
    )
    assert size == Decimal("0.90178")
    assert size * loss_per_unit(Decimal(60_000), Decimal(58_800), Decimal("0.0004")) <= 1125


def test_short_size_counts_the_fee_on_the_higher_stop_price() -> None:
    """Short ETH: entry 3 000, stop 3 150, distance 150, fees 0.001 * 6 150 = 6.15 (10 bps).
    Risk 2 % of 10 000 = 200; 200 / 156.15 = 1.28081 -> lot 0.0001 -> 1.2808 ETH."""
    eth = BINANCE_SPOT["ETH/USDT"]
    size = position_size(
        Decimal(10_000), Decimal(3_000), Decimal(3_150), Decimal(2), Decimal("0.001"), eth
    )
    assert size == Decimal("1.2808")


def test_size_below_min_notional_is_zero() -> None:
    """Equity 10, 0.25 % = 0.025 USDT of risk; a 1 % stop loses 600 per BTC:
    0.0000416 -> 0.00004 BTC = 2.40 USDT, below the 5 USDT minimum notional."""
    size = position_size(
        Decimal(10), Decimal(60_000), Decimal(59_400), Decimal("0.25"), Decimal(0), BTC
    )
    assert size == 0


@given(
    equity=st.integers(1_000, 10_000_000),
    confidence=st.floats(0, 1),
    stop_bps=st.integers(5, 3_000),
    fee_bps=st.integers(0, 20),
)
def test_loss_at_stop_with_fees_never_exceeds_the_risk_budget(
    equity: int, confidence: float, stop_bps: int, fee_bps: int
) -> None:
    entry = Decimal(60_000)
    stop = entry * (1 - Decimal(stop_bps) / 10_000)
    pct = risk_pct(confidence, MIN, MAX, 1.0)
    fee = Decimal(fee_bps) / 10_000
    size = position_size(Decimal(equity), entry, stop, pct, fee, BTC)
    assert size % BTC.lot_size == 0
    assert size * loss_per_unit(entry, stop, fee) <= Decimal(equity) * pct / 100
    assert pct <= MAX


@pytest.mark.parametrize("symbol", sorted(BINANCE_SPOT))
def test_every_bundled_instrument_rounds_down_to_its_lot(symbol: str) -> None:
    spec = BINANCE_SPOT[symbol]
    raw = spec.lot_size * Decimal("7.9")
    assert spec.round_quantity_down(raw) == spec.lot_size * 7
    assert spec.min_notional == 5
