"""The embedded session: symbol actors on Ray replay real data into the analysis."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import talib

from actors.session import SessionOptions, format_summary, run_session
from trading.contracts import Timeframe

pytestmark = pytest.mark.ray


def test_session_replays_bundled_bars_into_indicators_equal_to_talib(
    ray_session: Any, shared_data: Path, tmp_path: Path
) -> None:
    """2,000 5m bars from 2025-10-01 00:00 close 666 15m, 166 1h, 41 4h and 6 1d bars;
    the 1h RSI after them equals TA-Lib's RSI over Binance's own 1h file for those hours."""
    options = SessionOptions(
        symbols=("BTC/USDT", "ETH/USDT", "SOL/USDT"),
        base=Timeframe.M5,
        timeframes=Timeframe.analysis(),
        data_dir=tmp_path,
        max_bars=2000,
        poll_s=0.2,
    )
    seen: list[int] = []
    summary = run_session(options, on_progress=lambda p, _: seen.append(len(p)))
    assert seen
    assert set(seen) == {3}
    for progress in summary.progress:
        assert progress.error is None
        assert progress.base_bars == 2000
        assert progress.closed_bars == {"15m": 666, "1h": 166, "4h": 41, "1d": 6}
        assert progress.last_bar_time == "2025-10-07T22:35:00+00:00"

    for symbol in options.symbols:
        hourly = pl.read_csv(
            shared_data / "binance_spot_2024_2026" / f"{symbol.replace('/', '_')}-1h.csv",
            try_parse_dates=True,
        ).filter(pl.col("date") >= datetime(2025, 10, 1, tzinfo=UTC))
        close = hourly["close"].to_numpy()[:166].astype(np.float64)
        snapshot = summary.snapshots[symbol]["1h"]
        assert snapshot.bar_time == datetime(2025, 10, 7, 21, tzinfo=UTC)
        assert snapshot.values["rsi_14"] == pytest.approx(talib.RSI(close, 14)[-1], rel=1e-9)

    written = json.loads(summary.summary_path.read_text())
    assert [s["symbol"] for s in written["symbols"]] == list(options.symbols)
    table = format_summary(summary)
    assert re.search(r"BTC/USDT\s+2,000\s+666\s+166\s+41\s+6\s", table), table
