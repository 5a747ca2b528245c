"""The stateful risk gate the ``RiskActor`` wraps: one book, the latest market, a checkpoint.

Idempotent by id, because Ray may retry a call after a restart: a decision asked again for
the same ``client_order_id`` is answered from the memo, and a fill already booked (same client
id and trade id) is not booked twice. ``checkpoint`` writes everything needed to resume
(portfolio with peaks and SAFE_MODE, the decision memo, the booked fill keys) atomically.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import numpy as np

from trading.contracts import Fill, OrderDecision, OrderIntent
from trading.risk.correlation import Correlations
from trading.risk.drawdown import TradingState
from trading.risk.engine import Mark, MarketView, RiskPolicy, evaluate, observe_equity
from trading.risk.portfolio import Portfolio

MEMO_SIZE = 50_000
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True)
class RiskRequest:
    """One intent to decide, with what sizing needs from its signal."""

    intent: OrderIntent
    stop_price: Decimal | None = None
    confidence: float = 0.0
    leverage: float | None = None


@dataclass(frozen=True)
class RiskSummary:
    """What ``GET /v1/risk`` shows."""

    state: TradingState
    trigger: str | None
    equity: Decimal
    balance: Decimal
    gross_exposure: Decimal
    exposure_by_symbol: dict[str, Decimal]
    day_peak: Decimal | None
    month_peak: Decimal | None
    open_positions: int
    orders_in_flight: int


def _remember(memo: OrderedDict[_K, _V], key: _K, value: _V) -> None:
    """Insert, dropping the oldest entries beyond ``MEMO_SIZE``."""
    memo[key] = value
    while len(memo) > MEMO_SIZE:
        memo.popitem(last=False)


class RiskGate:
    def __init__(self, policy: RiskPolicy, portfolio: Portfolio) -> None:
        self.policy = policy
        self.portfolio = portfolio
        self.market = MarketView(now=datetime.fromtimestamp(0, UTC), marks={})
        self._decisions: OrderedDict[str, OrderDecision] = OrderedDict()
        self._booked: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._closes: dict[str, np.ndarray] | None = None  # awaiting a correlation table

    # ------------------------------------------------------------------ checkpoint

    @classmethod
    def restore(cls, policy: RiskPolicy, path: Path, initial_balance: Decimal) -> RiskGate:
        """Resume from ``path`` if a checkpoint is there, else start flat at the balance."""
        if not path.exists():
            return cls(policy, Portfolio(balance=initial_balance))
        document = json.loads(path.read_text())
        gate = cls(policy, Portfolio.model_validate_json(json.dumps(document["portfolio"])))
        for item in document["decisions"]:
            decision = OrderDecision.model_validate_json(json.dumps(item))
            gate._decisions[decision.client_order_id] = decision
        gate._booked.update((tuple(key), None) for key in document["booked_fills"])
        return gate

    def checkpoint(self, path: Path) -> None:
        document = {
            "portfolio": self.portfolio.model_dump(mode="json"),
            "decisions": [d.model_dump(mode="json") for d in self._decisions.values()],
            "booked_fills": [list(key) for key in self._booked],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w") as handle:
            json.dump(document, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)

    # ------------------------------------------------------------------ market

    def update_market(
        self,
        now: datetime,
        marks: Mapping[str, Mark],
        closes: Mapping[str, Sequence[float]] | None = None,
    ) -> tuple[OrderIntent, ...]:
        """New marks (and, once per bar, closes for correlations); marks the book to market.

        Returns flatten intents when this observation tripped SAFE_MODE and flattening is on.
        """
        merged = {**self.market.marks, **marks}
        if closes is not None:
            # a snapshot now; the table itself is built only when a decision needs it
            self._closes = {s: np.asarray(c, dtype=np.float64) for s, c in closes.items()}
        self.market = MarketView(now=now, marks=merged, correlations=self.market.correlations)
        held = {p.symbol for p in self.portfolio.open_positions()}
        if held - merged.keys():
            return ()  # equity cannot be marked without every held symbol's price
        return observe_equity(self.portfolio, self.market, self.policy)

    # ------------------------------------------------------------------ decisions

    def decide(self, requests: Sequence[RiskRequest]) -> list[OrderDecision]:
        """One decision per request, in order; a repeated client id gets its first decision."""
        if requests and self._closes is not None:
            table = Correlations.from_closes(
                self._closes, self.policy.limits.correlation_window_bars
            )
            self.market = replace(self.market, correlations=table)
            self._closes = None
        decisions = []
        for request in requests:
            known = self._decisions.get(request.intent.client_order_id)
            if known is None:
                known = evaluate(
                    request.intent,
                    self.portfolio,
                    self.market,
                    policy=self.policy,
                    stop_price=request.stop_price,
                    confidence=request.confidence,
                    leverage=request.leverage,
                ).to_order_decision()
                _remember(self._decisions, known.client_order_id, known)
            decisions.append(known)
        return decisions

    def on_fills(self, fills: Iterable[Fill]) -> int:
        """Book fills not booked before; returns how many were new."""
        booked = 0
        for fill in fills:
            key = (fill.client_order_id, fill.trade_id)
            if key in self._booked:
                continue
            self.portfolio.apply_fill(fill)
            _remember(self._booked, key, None)
            booked += 1
        return booked

    def release(self, client_order_ids: Iterable[str]) -> None:
        """Orders that ended without (more) fills: canceled, rejected, expired."""
        for client_order_id in client_order_ids:
            self.portfolio.release(client_order_id)

    def reset(self, now: datetime) -> None:
        marks = {s: m.price for s, m in self.market.marks.items()}
        self.portfolio.drawdown.reset(now, self.portfolio.equity(marks))

    def safe_mode(self, now: datetime, note: str) -> None:
        self.portfolio.drawdown.safe_mode(now, note)

    def halt(self, now: datetime, note: str) -> None:
        self.portfolio.drawdown.halt(now, note)

    # ------------------------------------------------------------------ views

    def summary(self) -> RiskSummary:
        marks = {s: m.price for s, m in self.market.marks.items()}
        exposure = {
            p.symbol: abs(p.quantity) * marks[p.symbol]
            for p in self.portfolio.open_positions()
            if p.symbol in marks
        }
        drawdown = self.portfolio.drawdown
        held = {p.symbol for p in self.portfolio.open_positions()}
        equity = self.portfolio.equity(marks) if held <= marks.keys() else self.portfolio.balance
        return RiskSummary(
            state=drawdown.state,
            trigger=None if drawdown.trigger is None else str(drawdown.trigger),
            equity=equity,
            balance=self.portfolio.balance,
            gross_exposure=sum(exposure.values(), Decimal(0)),
            exposure_by_symbol=exposure,
            day_peak=drawdown.day_peak,
            month_peak=drawdown.month_peak,
            open_positions=len(held),
            orders_in_flight=len(self.portfolio.pending),
        )
