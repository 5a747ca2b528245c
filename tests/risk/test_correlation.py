"""The correlation gate: correlated same-direction positions share one cluster cap
(the per-symbol cap, 10 % of equity by default); opposite exposure offsets it."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tests.risk.scenario import book, intent, market
from trading.contracts import DecisionOutcome, DenialReason, Side
from trading.risk import Correlations, RiskDecision, RiskPolicy, evaluate

D = Decimal
POLICY = RiskPolicy()
PRICES = {"BTC/USDT": "60000", "ETH/USDT": "2000", "XRP/USDT": "0.6", "SOL/USDT": "150"}


@pytest.fixture(scope="module")
def basket() -> Correlations:
    """BTC and ETH share one return factor, SOL follows its inverse, XRP moves on its own."""
    rng = np.random.default_rng(7)
    factor = rng.normal(0, 0.01, 300)
    returns = {
        "BTC/USDT": factor + rng.normal(0, 0.002, 300),
        "ETH/USDT": factor + rng.normal(0, 0.002, 300),
        "SOL/USDT": -factor + rng.normal(0, 0.002, 300),
        "XRP/USDT": rng.normal(0, 0.01, 300),
    }
    closes = {s: 100 * np.exp(np.cumsum(r)) for s, r in returns.items()}
    return Correlations.from_closes(closes, window=100)


def _eth(
    side: Side, quantity: str, holdings: tuple[tuple[str, str, str], ...], table: Correlations
) -> RiskDecision:
    stop = D(1_900) if side is Side.BUY else D(2_100)
    return evaluate(
        intent("ETH/USDT", side, quantity),
        book("100000", *holdings),
        market(PRICES, correlations=table),
        policy=POLICY,
        stop_price=stop,
        confidence=1.0,
    )


def _known(basket: Correlations, a: str, b: str) -> float:
    """The pair's correlation, which the basket must have."""
    value = basket.get(a, b)
    assert value is not None
    return value


def test_synthetic_basket_has_the_correlations_it_was_built_with(basket: Correlations) -> None:
    assert _known(basket, "BTC/USDT", "ETH/USDT") > 0.9
    assert _known(basket, "SOL/USDT", "ETH/USDT") < -0.9
    assert abs(_known(basket, "XRP/USDT", "ETH/USDT")) < 0.3


def test_correlated_long_is_resized_to_the_cluster_room(basket: Correlations) -> None:
    """Long 0.1 BTC = 6 000 USDT; the BTC+ETH cluster may hold 10 000: 2 ETH (4 000) fit."""
    decision = _eth(Side.BUY, "2.5", (("BTC/USDT", "0.1", "60000"),), basket)
    assert (decision.outcome, decision.reason) == (
        DecisionOutcome.RESIZED,
        DenialReason.CORRELATION,
    )
    assert decision.approved_quantity == D(2)
    assert decision.evidence["cluster_symbols"] == "BTC/USDT"


def test_a_full_cluster_denies_more_correlated_exposure(basket: Correlations) -> None:
    """BTC 6 000 + inversely correlated short SOL 4 000 (both long the factor) fill the cluster."""
    holdings = (("BTC/USDT", "0.1", "60000"), ("SOL/USDT", "-26.667", "150"))
    decision = _eth(Side.BUY, "1", holdings, basket)
    assert (decision.outcome, decision.reason) == (DecisionOutcome.DENIED, DenialReason.CORRELATION)
    assert decision.evidence["cluster_symbols"] == "BTC/USDT SOL/USDT"


def test_a_short_against_a_correlated_long_is_not_blocked(basket: Correlations) -> None:
    decision = _eth(Side.SELL, "2.5", (("BTC/USDT", "0.1", "60000"),), basket)
    assert decision.outcome is DecisionOutcome.APPROVED


def test_an_uncorrelated_position_does_not_use_the_cluster_room(basket: Correlations) -> None:
    decision = _eth(Side.BUY, "2.5", (("XRP/USDT", "10000", "0.6"),), basket)
    assert decision.outcome is DecisionOutcome.APPROVED
    assert "cluster_symbols" not in decision.evidence


def test_without_correlation_data_symbols_count_as_uncorrelated() -> None:
    decision = _eth(Side.BUY, "2.5", (("BTC/USDT", "0.1", "60000"),), Correlations())
    assert decision.outcome is DecisionOutcome.APPROVED


def test_short_history_and_flat_prices_give_no_correlation() -> None:
    table = Correlations.from_closes(
        {
            "BTC/USDT": np.linspace(1, 2, 50),
            "ETH/USDT": np.ones(200),
            "SOL/USDT": np.arange(1, 201),
        },
        window=100,
    )
    assert table.get("BTC/USDT", "SOL/USDT") is None
    assert table.get("ETH/USDT", "SOL/USDT") is None


def _closes(path: Path) -> dict[str, float]:
    with path.open() as handle:
        return {row["date"]: float(row["close"]) for row in csv.DictReader(handle)}


def test_real_btc_eth_hourly_returns_are_correlated_and_gated(shared_data: Path) -> None:
    """Binance 1h closes: BTC/ETH return correlation over the last 100 common hours is ~0.9,
    and over non-overlapping 100-hour windows of 2024-09..2026-02 its median is above 0.7."""
    folder = shared_data / "binance_spot_2024_2026"
    btc, eth = _closes(folder / "BTC_USDT-1h.csv"), _closes(folder / "ETH_USDT-1h.csv")
    hours = sorted(btc.keys() & eth.keys())
    btc_closes = np.array([btc[h] for h in hours])
    eth_closes = np.array([eth[h] for h in hours])
    table = Correlations.from_closes({"BTC/USDT": btc_closes, "ETH/USDT": eth_closes}, 100)
    rho = table.get("BTC/USDT", "ETH/USDT")
    assert rho is not None
    assert rho > POLICY.limits.max_correlation
    windows = [
        Correlations.from_closes(
            {"BTC/USDT": btc_closes[end - 101 : end], "ETH/USDT": eth_closes[end - 101 : end]}, 100
        ).get("BTC/USDT", "ETH/USDT")
        for end in range(101, len(hours), 101)
    ]
    assert float(np.median(np.array(windows, dtype=float))) > 0.7
    decision = _eth(Side.BUY, "4", (("BTC/USDT", "0.15", "60000"),), table)
    assert (decision.reason, decision.approved_quantity) == (DenialReason.CORRELATION, D("0.5"))
