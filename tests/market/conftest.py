"""Real bars from the shared data, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from trading.contracts import Timeframe
from trading.market.frames import BarColumns, read_bars


@pytest.fixture(scope="session")
def spot(shared_data: Path) -> Path:
    return shared_data / "binance_spot_2024_2026"


@pytest.fixture(scope="session")
def btc_5m(spot: Path) -> BarColumns:
    return read_bars(spot / "BTC_USDT-5m.parquet", Timeframe.M5).columns()


@pytest.fixture(scope="session")
def btc_1m(shared_data: Path) -> BarColumns:
    path = shared_data / "binance_spot_1m_2026-03" / "BTC_USDT-1m.parquet"
    return read_bars(path, Timeframe.M1).columns()


@pytest.fixture(scope="session")
def btc_reference(spot: Path) -> dict[Timeframe, BarColumns]:
    """Binance's own 1h/4h/1d BTC bars: the independent reference for resampling."""
    return {
        tf: read_bars(spot / f"BTC_USDT-{tf}.csv", tf).columns()
        for tf in (Timeframe.H1, Timeframe.H4, Timeframe.D1)
    }
