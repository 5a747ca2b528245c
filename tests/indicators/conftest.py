"""Real OHLCV series for the indicator tests, loaded once per session from the shared data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from numpy.typing import NDArray


@dataclass(frozen=True)
class Bars:
    name: str
    open: NDArray[np.float64]
    high: NDArray[np.float64]
    low: NDArray[np.float64]
    close: NDArray[np.float64]
    volume: NDArray[np.float64]
    open_time_ms: NDArray[np.float64]

    def head(self, n: int) -> Bars:
        return Bars(
            self.name,
            self.open[:n],
            self.high[:n],
            self.low[:n],
            self.close[:n],
            self.volume[:n],
            self.open_time_ms[:n],
        )


def load_bars(path: Path, rows: slice | None = None) -> Bars:
    frame = (
        pl.read_parquet(path)
        if path.suffix == ".parquet"
        else pl.read_csv(path, try_parse_dates=True)
    )
    if rows is not None:
        frame = frame[rows]
    times = frame["date"].dt.epoch("ms").to_numpy().astype(np.float64)
    open_, high, low, close, volume = (
        frame[c].to_numpy().astype(np.float64) for c in ("open", "high", "low", "close", "volume")
    )
    return Bars(path.stem, open_, high, low, close, volume, times)


GOLDEN_FILES = (
    ("binance_spot_2024_2026/BTC_USDT-1h.csv", None),
    ("binance_spot_2024_2026/ETH_USDT-4h.csv", None),
    ("binance_spot_2024_2026/SOL_USDT-5m.parquet", slice(0, 20_000)),
    ("binance_spot_2024_2026/XRP_USDT-1d.csv", None),
)


@pytest.fixture(scope="session", params=[f for f, _ in GOLDEN_FILES], ids=lambda f: Path(f).stem)
def real_bars(request: pytest.FixtureRequest, shared_data: Path) -> Bars:
    rows = dict(GOLDEN_FILES)[request.param]
    return load_bars(shared_data / request.param, rows)


@pytest.fixture(scope="session")
def btc_1h(shared_data: Path) -> Bars:
    return load_bars(shared_data / "binance_spot_2024_2026/BTC_USDT-1h.csv")
