"""Synthetic bar series for the pattern tests, and the real-data loader they share."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trading.market.frames import BarColumns, read_bars

CONTEXT = (100.0, 101.0, 99.0, 100.5)
"""A small bullish bar (range 2, body 0.5) that is no pattern on its own, repeated."""


def columns(
    ohlc: Sequence[tuple[float, float, float, float]], volume: Sequence[float] | None = None
) -> BarColumns:
    rows = np.array(ohlc, dtype=np.float64)
    n = len(rows)
    return BarColumns(
        np.arange(n, dtype=np.int64) * 3_600_000,
        rows[:, 0],
        rows[:, 1],
        rows[:, 2],
        rows[:, 3],
        np.asarray(volume if volume is not None else np.ones(n), dtype=np.float64),
    )


def path_bars(closes: Sequence[float], half_range: float = 0.5) -> BarColumns:
    """Bars that open at the previous close and close at ``closes``; wicks ``half_range``
    beyond the body."""
    c = np.asarray(closes, dtype=np.float64)
    o = np.r_[c[0], c[:-1]]
    h = np.maximum(o, c) + half_range
    lo = np.minimum(o, c) - half_range
    return columns(list(zip(o, h, lo, c, strict=True)))


def zigzag(points: Sequence[tuple[int, float]]) -> list[float]:
    """Closes moving linearly between (bar, price) points."""
    out: list[float] = []
    for (i0, p0), (i1, p1) in itertools.pairwise(points):
        out.extend(np.linspace(p0, p1, i1 - i0 + 1)[:-1].tolist())
    out.append(points[-1][1])
    return out


def real_bars(shared_data: Path, symbol: str, timeframe: str) -> BarColumns:
    folder = shared_data / "binance_spot_2024_2026"
    suffix = "parquet" if timeframe in ("5m", "15m", "30m") else "csv"
    return read_bars(folder / f"{symbol}_USDT-{timeframe}.{suffix}").columns()
