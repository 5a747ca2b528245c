"""Metric values against arithmetic written out here and against empyrical (an independent
implementation). Annualization: crypto trades 365 days a year, so a daily series has 365 steps
a year and an hourly one 8760; Sharpe and Sortino scale per-step ratios by sqrt(steps a year)."""

from __future__ import annotations

import math
import statistics

import empyrical
import numpy as np
import pytest

from trading.backtest.metrics import (
    drawdown,
    equity_metrics,
    pattern_hit_rates,
    summarize,
    trade_metrics,
)
from trading.backtest.trades import TradeRecord

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC


def _days(n: int) -> np.ndarray:
    return T0 + np.arange(n, dtype=np.int64) * DAY_MS


def _trade(
    pnl: float,
    fees: float = 0.0,
    r: float | None = None,
    closed: bool = True,
    patterns: tuple[str, ...] = (),
) -> TradeRecord:
    return TradeRecord(
        symbol="BTC/USDT",
        side="BUY",
        entry_ms=T0,
        exit_ms=T0 + DAY_MS if closed else None,
        quantity=1.0,
        entry_price=100.0,
        exit_price=100.0 + pnl + fees if closed else None,
        gross_pnl=pnl + fees,
        fees=fees,
        pnl=pnl,
        r_multiple=r,
        confidence=0.6,
        patterns=patterns,
        regime=0.0,
        timeframe="1d",
        entry_client_id="rt-x",
    )


def test_returns_sharpe_sortino_of_four_daily_steps_by_hand() -> None:
    # 100 -> 110 -> 99 -> 121 -> 121: step returns +10 %, -10 %, 22/99, 0.
    m = equity_metrics(_days(4), np.array([110.0, 99.0, 121.0, 121.0]), 100.0)
    returns = [10 / 100, -11 / 110, 22 / 99, 0.0]
    mean = sum(returns) / 4
    sample_sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / 3)
    downside = math.sqrt((0.1**2) / 4)  # only -10 % is below zero, over all four steps
    years = 4 / 365  # four daily steps, the first one counted from the initial balance
    assert m["total_return"] == pytest.approx(121 / 100 - 1)
    assert m["annual_return"] == pytest.approx(1.21 ** (1 / years) - 1, rel=1e-9)
    assert m["sharpe"] == pytest.approx(mean / sample_sd * math.sqrt(365))
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(365))
    assert m["sharpe"] == pytest.approx(
        statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(365)
    )


def test_max_drawdown_calmar_and_dates_by_hand() -> None:
    # Peak 110 on day 0, trough 99 on day 1: 11/110 = 10 %.
    times = _days(4)
    m = equity_metrics(times, np.array([110.0, 99.0, 121.0, 121.0]), 100.0)
    assert m["max_drawdown"] == pytest.approx(11 / 110)
    assert m["max_drawdown_peak_ms"] == times[0]
    assert m["max_drawdown_trough_ms"] == times[1]
    assert m["calmar"] == pytest.approx(m["annual_return"] / (11 / 110))


def test_drawdown_dates_take_the_deepest_fall_and_the_last_time_at_its_peak() -> None:
    # 120 is reached on days 1 and 2; the fall to 90 (25 %) beats 130 -> 117 (10 %).
    times = _days(6)
    m = equity_metrics(times, np.array([100.0, 120.0, 120.0, 90.0, 130.0, 117.0]), 100.0)
    assert m["max_drawdown"] == pytest.approx(30 / 120)
    assert (m["max_drawdown_peak_ms"], m["max_drawdown_trough_ms"]) == (times[2], times[3])


def test_a_drawdown_from_the_initial_balance_peaks_one_step_before_the_first_bar() -> None:
    times = _days(3)
    m = equity_metrics(times, np.array([90.0, 95.0, 100.0]), 100.0)
    assert m["max_drawdown"] == pytest.approx(0.1)
    assert m["max_drawdown_peak_ms"] == times[0] - DAY_MS
    assert m["max_drawdown_trough_ms"] == times[0]


def test_a_curve_that_only_rises_has_no_drawdown_dates_and_no_sortino() -> None:
    m = equity_metrics(_days(3), np.array([101.0, 102.0, 104.0]), 100.0)
    assert m["max_drawdown"] == 0.0
    assert m["max_drawdown_peak_ms"] is None
    assert m["sortino"] == 0.0
    assert m["calmar"] == 0.0


def test_fewer_than_two_points_give_zero_metrics_and_no_drawdown_dates() -> None:
    m = equity_metrics(_days(1), np.array([105.0]), 100.0)
    assert (m["total_return"], m["sharpe"], m["max_drawdown"]) == (0.0, 0.0, 0.0)
    assert m["max_drawdown_peak_ms"] is None
    assert len(drawdown(np.zeros(0))) == 0


@pytest.mark.parametrize(("step_ms", "per_year"), [(DAY_MS, 365), (HOUR_MS, 365 * 24)])
def test_equity_metrics_match_empyrical_on_a_random_walk(step_ms: int, per_year: int) -> None:
    rng = np.random.default_rng(21)
    step_returns = rng.normal(0.0004, 0.02, 500)
    equity = (10_000.0 * np.cumprod(1.0 + step_returns)).astype(np.float64)
    times = T0 + np.arange(500, dtype=np.int64) * step_ms
    m = equity_metrics(times, equity, 10_000.0)
    returns = step_returns
    assert m["total_return"] == pytest.approx(empyrical.cum_returns_final(returns))
    assert m["annual_return"] == pytest.approx(
        empyrical.annual_return(returns, annualization=per_year)
    )
    assert m["sharpe"] == pytest.approx(empyrical.sharpe_ratio(returns, annualization=per_year))
    assert m["sortino"] == pytest.approx(empyrical.sortino_ratio(returns, annualization=per_year))
    assert m["max_drawdown"] == pytest.approx(-empyrical.max_drawdown(returns))
    assert m["calmar"] == pytest.approx(empyrical.calmar_ratio(returns, annualization=per_year))
    # Dates: the trough is the deepest point under the running high, the peak that high.
    high_at, deepest, peak, trough = 0, 0.0, 0, 0
    for i, value in enumerate(equity):
        if value >= equity[high_at]:
            high_at = i
        if 1 - value / equity[high_at] > deepest:
            deepest, peak, trough = 1 - value / equity[high_at], high_at, i
    assert (m["max_drawdown_peak_ms"], m["max_drawdown_trough_ms"]) == (times[peak], times[trough])


def test_win_rate_profit_factor_expectancy_and_r_by_hand() -> None:
    trades = [
        _trade(30.0, fees=1.0, r=1.5),
        _trade(-10.0, fees=1.0, r=-0.5),
        _trade(0.0, fees=1.0, r=0.0),  # break-even after fees is not a win
        _trade(20.0, fees=1.0, r=None),
        _trade(5.0, fees=2.0, closed=False),  # still open: cost only
    ]
    m = trade_metrics(trades)
    assert m["trades"] == 4
    assert m["win_rate"] == pytest.approx(2 / 4)
    assert m["profit_factor"] == pytest.approx((30 + 20) / 10)
    assert m["expectancy"] == pytest.approx((30 - 10 + 0 + 20) / 4)
    assert m["avg_r"] == pytest.approx((1.5 - 0.5 + 0.0) / 3)
    assert m["fees"] == pytest.approx(6.0)
    assert m["cost_per_trade"] == pytest.approx(6.0 / 5)


def test_cost_per_trade_adds_funding_and_llm_spend_to_fees() -> None:
    trades = [_trade(10.0, fees=1.5), _trade(-4.0, fees=0.5)]
    assert trade_metrics(trades, funding=3.0)["cost_per_trade"] == pytest.approx((2.0 + 3.0) / 2)
    m = trade_metrics(trades, funding=3.0, llm_spend=0.8)
    assert m["cost_per_trade"] == pytest.approx((1.5 + 0.5 + 3.0 + 0.8) / 2)


def test_no_losing_trade_leaves_profit_factor_undefined() -> None:
    assert trade_metrics([_trade(10.0), _trade(5.0)])["profit_factor"] is None


def test_summary_exposure_is_the_share_of_steps_holding_a_position() -> None:
    m = summarize(
        _days(4),
        np.array([100.0, 101.0, 102.0, 102.0]),
        np.array([0.0, 5_000.0, 2_500.0, 0.0]),
        [_trade(2.0, fees=0.2)],
        100.0,
        funding=0.3,
        llm_spend=0.1,
    )
    assert m["exposure"] == pytest.approx(2 / 4)
    assert m["cost_per_trade"] == pytest.approx(0.2 + 0.3 + 0.1)


def test_pattern_hit_rates_count_closed_trades_per_tag_at_entry() -> None:
    rates = pattern_hit_rates(
        [
            _trade(10.0, r=1.0, patterns=("PIN_BAR:+",)),
            _trade(-5.0, r=-0.5, patterns=("PIN_BAR:+", "ENGULFING:+")),
            _trade(3.0),
            _trade(50.0, closed=False, patterns=("PIN_BAR:+",)),  # open: not counted
        ]
    )
    assert rates == {
        "ENGULFING:+": {"trades": 1.0, "hit_rate": 0.0, "avg_r": -0.5},
        "PIN_BAR:+": {"trades": 2.0, "hit_rate": 1 / 2, "avg_r": (1.0 - 0.5) / 2},
        "none": {"trades": 1.0, "hit_rate": 1.0, "avg_r": 0.0},
    }
