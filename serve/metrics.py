"""Prometheus exposition of a session: one collector over what the actors report per scrape,
followed by the metrics the actors record where values are produced (``actors.metrics``).

The API gathers an ``Observation`` from the actors (concurrently, with a timeout) and
renders a fresh registry holding a ``SessionCollector`` over it; a source that did not answer
drops its metrics and shows ``raytrader_source_up{source=...} 0``. The recorded metrics are read
from every live node's Ray metrics agent (``ray_raytrader_*`` families, merged across nodes) in
the same scrape; a node that does not answer is left out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import ray
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from trading.execution.progress import SessionProgress
from trading.risk.drawdown import TradingState
from trading.risk.gate import RiskSummary

__all__ = ["CONTENT_TYPE_LATEST", "Observation", "SessionCollector", "exposition", "observe"]


@dataclass(frozen=True)
class Observation:
    """One scrape's reading of the actors; ``None`` where a source failed."""

    progress: SessionProgress | None = None
    risk: RiskSummary | None = None
    execution: dict[str, int] | None = None
    journal_records: int | None = None
    venue: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    recorded: str = ""  # the ``ray_raytrader_*`` families of the nodes' metrics agents


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float | Decimal) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


class SessionCollector(Collector):
    """Counters and gauges of one session, read from an ``Observation``."""

    def __init__(self, observation: Observation) -> None:
        self._observation = observation

    def collect(self) -> Iterator[Metric]:
        o = self._observation
        yield _source_up(o)
        if o.progress is not None:
            yield from _progress_metrics(o.progress)
        if o.risk is not None:
            yield from _risk_metrics(o.risk)
        if o.execution is not None:
            yield _execution_events(o.execution)
        if o.journal_records is not None:
            yield _gauge(
                "raytrader_journal_records", "records in the audit journal", o.journal_records
            )
        if o.venue is not None:
            yield from _venue_metrics(o.venue)


def _source_up(o: Observation) -> Metric:
    up = GaugeMetricFamily(
        "raytrader_source_up", "1 when the actor answered this scrape", labels=["source"]
    )
    sources = {
        "orchestrator": o.progress,
        "risk": o.risk,
        "execution": o.execution,
        "journal": o.journal_records,
        "paper-venue": o.venue,
    }
    for source, value in sources.items():
        if value is not None or source in o.errors:
            up.add_metric([source], 0.0 if value is None else 1.0)
    return up


def _execution_events(counts: dict[str, int]) -> Metric:
    events = CounterMetricFamily(
        "raytrader_execution_events", "execution engine counters", labels=["event"]
    )
    for event, count in sorted(counts.items()):
        events.add_metric([event], float(count))
    return events


def _venue_metrics(venue: dict[str, Any]) -> Iterator[Metric]:
    yield _counter(
        "raytrader_venue_orders_accepted", "orders the paper venue accepted", venue["accepted"]
    )
    yield _counter(
        "raytrader_venue_duplicate_attempts",
        "client ids the paper venue saw twice",
        venue["duplicate_attempts"],
    )


def _progress_metrics(p: SessionProgress) -> Iterator[Metric]:
    yield _counter("raytrader_steps", "pipeline steps run", p.steps)
    yield _counter("raytrader_base_bars", "base bars consumed", p.base_bars)
    yield _counter("raytrader_signals", "signals produced", p.signals)
    decisions = CounterMetricFamily(
        "raytrader_risk_decisions", "risk decisions by outcome", labels=["outcome"]
    )
    for outcome, count in sorted(p.decisions.items()):
        decisions.add_metric([str(outcome)], float(count))
    yield decisions
    yield _counter("raytrader_orders", "orders the pipeline sent", p.orders)
    yield _counter("raytrader_fills", "fills the pipeline booked", p.fills)
    yield _gauge("raytrader_session_done", "1 once the replay has ended", float(p.done))


def _risk_metrics(r: RiskSummary) -> Iterator[Metric]:
    yield _gauge("raytrader_equity", "marked equity", r.equity)
    yield _gauge("raytrader_balance", "cash balance", r.balance)
    yield _gauge("raytrader_gross_exposure", "gross notional exposure", r.gross_exposure)
    exposure = GaugeMetricFamily(
        "raytrader_symbol_exposure", "notional exposure per symbol", labels=["symbol"]
    )
    for symbol, value in sorted(r.exposure_by_symbol.items()):
        exposure.add_metric([symbol], float(value))
    yield exposure
    yield _trading_state(r.state)
    for name, peak in (("day", r.day_peak), ("month", r.month_peak)):
        if peak is not None:
            yield _gauge(f"raytrader_equity_{name}_peak", f"equity peak of the {name}", peak)
    yield _gauge("raytrader_open_positions", "symbols with a position", r.open_positions)
    yield _gauge("raytrader_orders_in_flight", "approved orders not yet filled", r.orders_in_flight)


def _trading_state(current: TradingState) -> Metric:
    state = GaugeMetricFamily(
        "raytrader_trading_state", "1 for the current trading state", labels=["state"]
    )
    for candidate in TradingState:
        state.add_metric([candidate.value], float(candidate is current))
    return state


async def observe(sources: Mapping[str, Awaitable[Any]], timeout_s: float) -> Observation:
    """Read every source at once, each within ``timeout_s``; a failed one is kept as its error
    (sources: ``progress``, ``risk``, ``execution``, ``journal`` (its head), ``venue``)."""
    answers = await asyncio.gather(
        *(asyncio.wait_for(call, timeout_s) for call in sources.values()), return_exceptions=True
    )
    read = dict(zip(sources, answers, strict=True))
    recorded = await recorded_metrics(timeout_s)
    errors = {k: repr(v) for k, v in read.items() if isinstance(v, BaseException)}
    values: dict[str, Any] = {k: v for k, v in read.items() if k not in errors}
    return Observation(
        progress=values.get("progress"),
        risk=values.get("risk"),
        execution=values.get("execution"),
        journal_records=values["journal"][0] if "journal" in values else None,
        venue=values.get("venue"),
        errors=errors,
        recorded=recorded,
    )


def exposition(observation: Observation) -> bytes:
    """Prometheus text format of one observation."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SessionCollector(observation))
    return generate_latest(registry) + observation.recorded.encode()


RECORDED_PREFIX = "ray_raytrader_"


def _family(line: str) -> str:
    """The metric family a text-format line belongs to (samples: without histogram suffixes)."""
    name = line.split()[2] if line.startswith("#") else line.split("{")[0].split()[0]
    for suffix in ("_bucket", "_count", "_sum"):
        if not line.startswith("#") and name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def merge_recorded(pages: Iterable[str]) -> str:
    """The ``ray_raytrader_*`` families of several agents' pages, each HELP and TYPE once."""
    headers: dict[str, list[str]] = {}
    samples: dict[str, list[str]] = {}
    for page in pages:
        for line in page.splitlines():
            if not line.strip() or (line.startswith("#") and len(line.split()) < 3):
                continue
            family = _family(line)
            if not family.startswith(RECORDED_PREFIX):
                continue
            if line.startswith("#"):
                kept = headers.setdefault(family, [])
                if not any(h.split()[1] == line.split()[1] for h in kept):
                    kept.append(line)
            else:
                samples.setdefault(family, []).append(line)
    families = sorted(set(headers) | set(samples))
    return "".join("\n".join([*headers.get(f, []), *samples.get(f, [])]) + "\n" for f in families)


def _agents() -> list[str]:
    return [
        f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics"
        for node in ray.nodes()  # type: ignore[no-untyped-call]  # ray.nodes has no annotations
        if node.get("Alive") and node.get("MetricsExportPort")
    ]


async def recorded_metrics(timeout_s: float) -> str:
    """Every live node's recorded raytrader metrics (none outside Ray or when none answer)."""
    if not ray.is_initialized():
        return ""
    urls = await asyncio.to_thread(_agents)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        pages = await asyncio.gather(*(_page(session, url) for url in urls))
    return merge_recorded(pages)


async def _page(session: aiohttp.ClientSession, url: str) -> str:
    try:
        async with session.get(url) as response:
            return await response.text() if response.status == 200 else ""
    except (aiohttp.ClientError, TimeoutError):
        return ""
