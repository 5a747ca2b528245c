"""``RiskActor``: the named, detached singleton ``risk``; every order intent passes through it.

State lives in ``trading.risk.gate.RiskGate`` and is checkpointed after every change, so a
restarted actor (``max_restarts=-1``) resumes with the same book, peaks and SAFE_MODE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import ray

from actors import metrics
from trading.config import RiskLimits, Settings
from trading.contracts import Fill, OrderDecision, OrderIntent
from trading.observability.performance import LivePerformance
from trading.observability.process import configure_observability
from trading.observability.tracing import record_decisions, traced_call
from trading.risk.engine import Mark, RiskPolicy
from trading.risk.gate import RiskGate, RiskRequest, RiskSummary

RISK_ACTOR = "risk"


@ray.remote(num_cpus=0.05, max_restarts=-1, max_task_retries=-1)
class RiskActor:
    def __init__(self, settings: Settings, checkpoint_path: str, initial_balance: str) -> None:
        """A restarted actor takes the limits of the last hot reload, not ``settings``."""
        self._path = Path(checkpoint_path)
        self._reloaded = self._path.with_name(self._path.stem + "-settings.json")
        if ray.get_runtime_context().was_current_actor_reconstructed and self._reloaded.exists():
            settings = Settings.model_validate_json(self._reloaded.read_text())
        self._gate = RiskGate.restore(
            RiskPolicy.from_settings(settings), self._path, Decimal(initial_balance)
        )
        configure_observability(settings.observability, RISK_ACTOR)
        self._performance = LivePerformance(Decimal(initial_balance))

    @traced_call("risk.update_market")
    def update_market(
        self,
        now: datetime,
        marks: Mapping[str, Mark],
        closes: Mapping[str, Sequence[float]] | None = None,
    ) -> tuple[OrderIntent, ...]:
        flatten = self._gate.update_market(now, marks, closes)
        self._gate.checkpoint(self._path)
        self._observe(now, marks)
        return flatten

    def _observe(self, now: datetime, marks: Mapping[str, Mark]) -> None:
        """Live performance at this step's marks, as metrics."""
        equity = self._gate.summary().equity
        self._performance.mark_equity(now, equity)
        prices = {symbol: mark.price for symbol, mark in marks.items()}
        metrics.record_performance(self._performance.report(prices), equity)

    @traced_call("risk.decide")
    def decide(self, requests: Sequence[RiskRequest]) -> list[OrderDecision]:
        decisions = self._gate.decide(requests)
        record_decisions(decisions)
        metrics.record_decisions(decisions)
        self._gate.checkpoint(self._path)
        return decisions

    @traced_call("risk.on_fills")
    def on_fills(self, fills: Sequence[Fill]) -> int:
        booked = self._gate.on_fills(fills)
        self._performance.fills.extend(fills)
        if booked:
            self._gate.checkpoint(self._path)
        return booked

    def release(self, client_order_ids: Sequence[str]) -> None:
        self._gate.release(client_order_ids)
        self._gate.checkpoint(self._path)

    def reset(self, now: datetime) -> None:
        self._gate.reset(now)
        self._gate.checkpoint(self._path)

    def safe_mode(self, now: datetime, note: str) -> None:
        """SAFE_MODE on an incident: reduce-only until an operator resets."""
        self._gate.safe_mode(now, note)
        self._gate.checkpoint(self._path)

    def halt(self, now: datetime, note: str) -> None:
        self._gate.halt(now, note)
        self._gate.checkpoint(self._path)

    def apply_policy(self, settings: Settings) -> None:
        """Hot reload: new limits apply to the next decision (and after a restart); the book
        is untouched."""
        self._gate.policy = RiskPolicy.from_settings(settings)
        self._reloaded.parent.mkdir(parents=True, exist_ok=True)
        partial = self._reloaded.with_suffix(".tmp")
        partial.write_text(settings.model_dump_json())
        partial.replace(self._reloaded)

    def summary(self) -> RiskSummary:
        return self._gate.summary()

    def limits(self) -> RiskLimits:
        """The limits risk enforces now (the config's, or the last hot reload's)."""
        return self._gate.policy.limits

    def ping(self) -> bool:
        return True
