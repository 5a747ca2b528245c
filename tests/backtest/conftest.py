"""Locked data windows of the shared real data for backtest tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from trading.backtest.data import MarketData, Window, load_market, parse_day
from trading.contracts import Timeframe

REFERENCE_WINDOW = Window(parse_day("2025-01-01"), parse_day("2025-01-15"))
REFERENCE_SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture(scope="session")
def spot_dir(shared_data: Path) -> Path:
    return shared_data / "binance_spot_2024_2026"


@pytest.fixture(scope="session")
def reference_data(spot_dir: Path) -> MarketData:
    """BTC and ETH 5m over two locked weeks (the regression-gate configuration)."""
    return load_market(spot_dir, REFERENCE_SYMBOLS, Timeframe.M5, REFERENCE_WINDOW)
