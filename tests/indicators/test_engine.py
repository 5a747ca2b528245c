"""``IndicatorSet`` folds bars one at a time into the same values ``compute_batch`` gives for the
whole series, and its snapshot is a valid ``IndicatorSnapshot`` without warm-up values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from tests.indicators.conftest import Bars
from trading.contracts import IndicatorSnapshot, MarketBar, Timeframe
from trading.indicators import IndicatorSet, compute_batch


def test_indicator_set_streams_the_same_values_as_compute_batch(btc_1h: Bars) -> None:
    bars = btc_1h.head(400)
    engine = IndicatorSet("BTC/USDT", Timeframe.H1)
    rows = []
    for o, h, lo, c, v, t in zip(
        bars.open, bars.high, bars.low, bars.close, bars.volume, bars.open_time_ms, strict=True
    ):
        rows.append(engine.update(o, h, lo, c, v, datetime.fromtimestamp(t / 1000, UTC)))
    batch = compute_batch(bars.high, bars.low, bars.close, bars.volume, bars.open_time_ms)
    assert set(batch) == set(rows[0])
    for key, series in batch.items():
        streamed = np.array([row[key] for row in rows])
        np.testing.assert_allclose(streamed, series, rtol=1e-11, atol=1e-9, err_msg=key)


def test_snapshot_omits_indicators_still_warming_up() -> None:
    engine = IndicatorSet("ETH/USDT", Timeframe.M15)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(25):
        price = 3000.0 + i
        engine.update(
            price, price + 5, price - 5, price + 1, 10.0, start.replace(minute=0, hour=i % 24)
        )
    snapshot = engine.snapshot()
    assert isinstance(snapshot, IndicatorSnapshot)
    assert snapshot.close == Decimal("3025.0")
    assert {"sma_20", "rsi_14", "bb_upper", "obv", "vwap", "stoch_k"} <= set(snapshot.values)
    assert not {"sma_50", "sma_200", "ema_200", "macd", "adx_14"} & set(snapshot.values)


def test_update_bar_accepts_a_market_bar() -> None:
    engine = IndicatorSet("BTC/USDT", Timeframe.H1)
    bar = MarketBar(
        symbol="BTC/USDT",
        timeframe=Timeframe.H1,
        open_time=datetime(2025, 1, 1, 5, tzinfo=UTC),
        open=Decimal("100"),
        high=Decimal("110"),
        low=Decimal("90"),
        close=Decimal("105"),
        volume=Decimal("2"),
    )
    values = engine.update_bar(bar)
    assert values["obv"] == 2.0
    assert values["vwap"] == (110 + 90 + 105) / 3
    assert engine.snapshot().bar_time == bar.open_time
