"""What a session's step leaves behind: its journal events and the run's progress counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from trading.contracts import DecisionOutcome, Fill, OrderState
from trading.execution.desk import SymbolStep
from trading.execution.gateway import SendOutcome
from trading.execution.step import StepResult
from trading.journal.recorder import EquityPoint, Recordable

LATENCIES_KEPT = 1000
RECENT_KEPT = 20  # orders and fills the dashboard lists


@dataclass
class SessionProgress:
    """The run's counters as ``/metrics`` and the CLI show them."""

    steps: int = 0
    clock: str | None = None
    base_bars: int = 0
    signals: int = 0
    decisions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DecisionOutcome, 0))
    orders: int = 0
    fills: int = 0
    equity: str | None = None
    trading_state: str | None = None
    journal_records: int = 0
    step_ms: list[float] = field(default_factory=list)  # the last 1,000 steps' latency
    recent_orders: list[dict[str, str]] = field(default_factory=list)  # the last 20 sent
    recent_fills: list[dict[str, str]] = field(default_factory=list)  # the last 20
    done: bool = False
    error: str | None = None

    def count(
        self, steps: Sequence[SymbolStep], done: StepResult, records: int, clock: datetime
    ) -> None:
        """Add one step: its bars, signals, decisions, orders sent and fills; equity after."""
        self.steps += 1
        self.clock = clock.isoformat()
        self.base_bars += sum(len(s.bars) for s in steps)
        self.signals += sum(s.signal is not None for s in steps)
        for decision in done.decisions:
            self.decisions[decision.outcome] += 1
        self.orders += sum(isinstance(o, SendOutcome) for o in done.outcomes)
        self.fills += len(done.fills)
        self.equity = format(done.summary.equity.quantize(Decimal("0.01")), "f")
        self.trading_state = str(done.summary.state)
        self.journal_records = records
        sent = [o.state for o in done.outcomes if isinstance(o, SendOutcome)]
        self.recent_orders = _recent(self.recent_orders, [_order_row(s) for s in sent])
        self.recent_fills = _recent(self.recent_fills, [_fill_row(f) for f in done.fills])

    def time_step(self, latency_ms: float) -> None:
        """Keep the latest ``LATENCIES_KEPT`` step latencies."""
        self.step_ms.append(latency_ms)
        del self.step_ms[:-LATENCIES_KEPT]


def _recent(kept: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    return [*kept, *new][-RECENT_KEPT:]


def _order_row(state: OrderState) -> dict[str, str]:
    return {
        "time": state.updated_at.isoformat(),
        "client_order_id": state.client_order_id,
        "symbol": state.symbol,
        "side": str(state.side),
        "quantity": format(state.quantity, "f"),
        "status": str(state.status),
    }


def _fill_row(fill: Fill) -> dict[str, str]:
    return {
        "time": fill.ts.isoformat(),
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "side": str(fill.side),
        "quantity": format(fill.quantity, "f"),
        "price": format(fill.price, "f"),
        "fee": f"{format(fill.fee, 'f')} {fill.fee_asset}",
    }


def step_events(steps: Sequence[SymbolStep], done: StepResult, clock: datetime) -> list[Recordable]:
    """The step's journal batch: bars, signals, the intents risk denied (nothing else records
    what was refused), decisions, orders sent, fills, ended orders, and the equity point."""
    events: list[Recordable] = [bar for s in steps for bar in s.bars]
    events += [s.signal for s in steps if s.signal is not None]
    denied = {d.client_order_id for d in done.decisions if d.outcome is DecisionOutcome.DENIED}
    events += [r.intent for r in done.requests if r.intent.client_order_id in denied]
    events += done.decisions
    events += [o.state for o in done.outcomes]
    events += done.fills
    events += done.ended
    summary = done.summary
    events.append(EquityPoint(clock, summary.equity, summary.balance, summary.gross_exposure))
    return events
