"""Oracle check: an SMA cross through our venue and book equals backtesting.py on real data
(same trades, equity within 1e-9 relative), and the vectorized sweep equals the event loop."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tests.backtest.sma_oracle import ORACLE_FILLS, sma_cross, sma_grid
from trading.contracts import Timeframe
from trading.indicators.averages import sma
from trading.market.frames import BarColumns, read_bars
from trading.market.replay import data_file

backtesting = pytest.importorskip("backtesting")
pd = pytest.importorskip("pandas")

CASH = 1_000_000
FEE = 0.001


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> BarColumns:
    path = data_file(shared_data / "binance_spot_2024_2026", "BTC/USDT", Timeframe.M5)
    return read_bars(path).columns().take(slice(0, 20_000))


def _reference(bars: BarColumns, fast: int, slow: int) -> tuple[object, np.ndarray]:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    frame = pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        },
        index=pd.to_datetime(bars.open_time_ms, unit="ms"),
    )

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(lambda c: np.asarray(sma(c, fast)), self.data.Close)
            self.slow = self.I(lambda c: np.asarray(sma(c, slow)), self.data.Close)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy(size=1)
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell(size=1)

    stats = Backtest(frame, SmaCross, cash=CASH, commission=FEE, finalize_trades=True).run()
    return stats, stats._equity_curve["Equity"].to_numpy()


@pytest.mark.parametrize(("fast", "slow"), [(10, 30), (20, 60)])
def test_sma_cross_equals_backtesting_py(btc: BarColumns, fast: int, slow: int) -> None:
    stats, equity = _reference(btc, fast, slow)
    fills = replace(ORACLE_FILLS, taker_fee_rate=Decimal(str(FEE)))
    ours = sma_cross(btc, fast, slow, Decimal(1), Decimal(CASH), fills)
    trades = stats._trades  # type: ignore[attr-defined]
    entries = [f for f in ours.fills if f.client_order_id != ours.fills[0].client_order_id]
    assert len(ours.fills) == 2 * len(trades)
    ours_prices = [float(f.price) for f in ours.fills]
    theirs = [p for row in trades.itertuples() for p in (row.EntryPrice, row.ExitPrice)]
    assert sorted(ours_prices) == sorted(theirs)
    assert entries
    np.testing.assert_allclose(ours.equity, equity, rtol=1e-9, atol=0)
    final = stats["Equity Final [$]"]  # type: ignore[index]
    assert abs(ours.equity[-1] - final) <= 1e-9 * final


def test_vectorized_grid_equals_event_loop(btc: BarColumns) -> None:
    fills = replace(ORACLE_FILLS, taker_fee_rate=Decimal(str(FEE)))
    pairs = [(10, 30), (20, 60), (5, 50)]
    grid = sma_grid(btc, pairs, 1.0, CASH, FEE)
    for (fast, slow), final in zip(pairs, grid, strict=True):
        loop = sma_cross(btc, fast, slow, Decimal(1), Decimal(CASH), fills)
        assert abs(final - loop.equity[-1]) <= 1e-9 * CASH
