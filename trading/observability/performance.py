"""Live performance of a session, computed with the backtest's formulas so the two agree:
PnL from fills (average cost, ``trading.risk.portfolio.apply_fill``) with fees and funding,
rolling Sharpe, Sortino and MAR over the last ``window`` equity marks
(``trading.backtest.metrics.equity_metrics``), win rate and cost per trade including LLM spend
(``trade_metrics``) and hit rate per pattern (``pattern_hit_rates``) over the round trips."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np

from trading.backtest.metrics import equity_metrics, pattern_hit_rates, trade_metrics
from trading.backtest.trades import EntryNote, round_trips
from trading.contracts import Fill, Position, epoch_us
from trading.risk.portfolio import apply_fill, quote_asset


@dataclass(frozen=True)
class PnL:
    """Realized (before fees) and unrealized PnL at the marks, quote fees and funding paid
    (negative: received); ``net`` is what the account made."""

    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    funding: Decimal

    @property
    def net(self) -> Decimal:
        return self.realized + self.unrealized - self.fees - self.funding


def positions_from(fills: Sequence[Fill]) -> dict[str, Position]:
    """Every symbol's position, derived from its fills in order."""
    positions: dict[str, Position] = {}
    for fill in fills:
        positions[fill.symbol] = apply_fill(positions.get(fill.symbol), fill)
    return positions


def pnl(fills: Sequence[Fill], marks: Mapping[str, Decimal], funding: Decimal) -> PnL:
    """PnL of ``fills`` at ``marks`` (a position without a mark counts at its entry)."""
    positions = positions_from(fills)
    return PnL(
        realized=sum((p.realized_pnl for p in positions.values()), Decimal(0)),
        unrealized=sum(
            (
                p.unrealized_pnl(marks.get(s, p.avg_entry_price or Decimal(0)))
                for s, p in positions.items()
            ),
            Decimal(0),
        ),
        fees=sum((f.fee for f in fills if f.fee_asset == quote_asset(f.symbol)), Decimal(0)),
        funding=funding,
    )


@dataclass(frozen=True)
class PerformanceReport:
    pnl: PnL
    sharpe: float
    sortino: float
    mar: float
    max_drawdown: float
    win_rate: float
    closed_trades: int
    cost_per_trade_usd: float
    llm_spend_usd: Decimal
    hit_rate_by_pattern: dict[str, float]


@dataclass
class LivePerformance:
    """A session's fills, equity marks (the last ``window``), funding and LLM spend; ``report``
    computes every number from them."""

    initial_equity: Decimal
    window: int = 288
    fills: list[Fill] = field(default_factory=list)
    notes: dict[str, EntryNote] = field(default_factory=dict)
    funding: Decimal = Decimal(0)
    llm_spend_usd: Decimal = Decimal(0)
    _equity: deque[tuple[int, float]] = field(default_factory=deque)

    def mark_equity(self, ts: datetime, equity: Decimal) -> None:
        self._equity.append((epoch_us(ts) // 1000, float(equity)))
        while len(self._equity) > self.window + 1:
            self._equity.popleft()

    def report(self, marks: Mapping[str, Decimal]) -> PerformanceReport:
        times = np.array([t for t, _ in self._equity], dtype=np.int64)
        curve = np.array([e for _, e in self._equity], dtype=np.float64)
        start = float(curve[0]) if len(curve) else float(self.initial_equity)
        rolling = equity_metrics(times[1:], curve[1:], start)
        trades = round_trips(self.fills, self.notes)
        spend = float(self.llm_spend_usd)
        costs = trade_metrics(trades, float(self.funding), spend)
        return PerformanceReport(
            pnl=pnl(self.fills, marks, self.funding),
            sharpe=rolling["sharpe"],
            sortino=rolling["sortino"],
            mar=rolling["calmar"],
            max_drawdown=rolling["max_drawdown"],
            win_rate=costs["win_rate"],
            closed_trades=costs["trades"],
            cost_per_trade_usd=costs["cost_per_trade"],
            llm_spend_usd=self.llm_spend_usd,
            hit_rate_by_pattern={k: v["hit_rate"] for k, v in pattern_hit_rates(trades).items()},
        )
