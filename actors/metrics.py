"""Metrics where values are produced, through ``ray.util.metrics``: each node's Ray metrics
agent exports them (Prometheus names gain Ray's ``ray_`` prefix), so they reach the Ray dashboard
and Prometheus for live sessions, backtests and ``--port 0`` alike; the API's ``/metrics``
appends them (``serve.metrics``). Each metric is created once per process, on first use."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from ray.util.metrics import Counter, Gauge, Histogram

from trading.contracts import OrderDecision
from trading.execution.engine import ExecutionEngine
from trading.execution.gateway import SubmitOutcome
from trading.observability.performance import PerformanceReport

LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]
_F = TypeVar("_F", bound=Callable[..., Any])


@functools.cache
def histogram(name: str, description: str, tags: tuple[str, ...] = ()) -> Histogram:
    return Histogram(name, description, boundaries=LATENCY_BUCKETS_S, tag_keys=tags)


@functools.cache
def counter(name: str, description: str, tags: tuple[str, ...] = ()) -> Counter:
    return Counter(name, description, tag_keys=tags)


@functools.cache
def gauge(name: str, description: str, tags: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, description, tag_keys=tags)


def timed(
    name: str, description: str, tags_of: Callable[[Any], dict[str, str]] | None = None
) -> Callable[[_F], _F]:
    """An async method's latency (seconds, also when it raises) into histogram ``name``,
    tagged with ``tags_of(self)``."""

    def decorate(method: _F) -> _F:
        @functools.wraps(method)
        async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await method(self, *args, **kwargs)
            finally:
                tags = tags_of(self) if tags_of is not None else {}
                metric = histogram(name, description, tuple(tags))
                metric.observe(time.perf_counter() - started, tags=tags)

        return run  # type: ignore[return-value]

    return decorate


def record_feed_staleness(symbol: str, last_close: datetime | None) -> None:
    """Seconds since the live feed's last closed bar (a replay has no wall-clock staleness)."""
    if last_close is not None:
        age = (datetime.now(UTC) - last_close).total_seconds()
        gauge("raytrader_feed_staleness_seconds", "age of the last bar", ("symbol",)).set(
            age, tags={"symbol": symbol}
        )


def record_decisions(decisions: Sequence[OrderDecision]) -> None:
    metric = counter(
        "raytrader_risk_decisions_total",
        "risk decisions by outcome and reason",
        ("outcome", "reason"),
    )
    for decision in decisions:
        reason = str(decision.reason) if decision.reason is not None else "none"
        metric.inc(tags={"outcome": str(decision.outcome), "reason": reason})


def record_order_latency(stage: str, seconds: float, orders: int) -> None:
    """Per order of a batch: submit -> the venue's answer (``settled``: acked, filled or ended)."""
    metric = histogram(
        "raytrader_order_latency_seconds", "order submit to venue answer", ("stage",)
    )
    for _ in range(orders):
        metric.observe(seconds, tags={"stage": stage})


def record_performance(report: PerformanceReport, equity: Decimal) -> None:
    values = {
        "raytrader_live_equity": float(equity),
        "raytrader_live_pnl_realized": float(report.pnl.realized),
        "raytrader_live_pnl_unrealized": float(report.pnl.unrealized),
        "raytrader_live_fees": float(report.pnl.fees),
        "raytrader_live_pnl_net": float(report.pnl.net),
        "raytrader_live_sharpe": report.sharpe,
        "raytrader_live_sortino": report.sortino,
        "raytrader_live_mar": report.mar,
        "raytrader_live_drawdown": report.max_drawdown,
        "raytrader_live_win_rate": report.win_rate,
        "raytrader_live_cost_per_trade_usd": report.cost_per_trade_usd,
    }
    for name, value in values.items():
        if math.isfinite(value):  # MAR over a short window can overflow: not a number to plot
            gauge(name, name.removeprefix("raytrader_live_").replace("_", " ")).set(value)
    hits = gauge("raytrader_live_pattern_hit_rate", "hit rate per pattern", ("pattern",))
    for pattern, rate in report.hit_rate_by_pattern.items():
        hits.set(rate, tags={"pattern": pattern})


def record_gateway(engine: ExecutionEngine, outcomes: Sequence[SubmitOutcome]) -> None:
    """Intents newly written to the WAL (sent), and the venue breaker's state (1: not closed)."""
    logged = sum(1 for outcome in outcomes if outcome.action == "send")
    wal = counter("raytrader_wal_intents_total", "order intents logged before sending")
    if logged:  # a Ray counter refuses 0
        wal.inc(logged)
    open_ = float(engine.breaker.state.state != "closed")
    gauge("raytrader_breaker_open", "1 while a circuit breaker is open", ("breaker",)).set(
        open_, tags={"breaker": "venue"}
    )
