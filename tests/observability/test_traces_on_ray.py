"""A paper session's traces, exported over OTLP/HTTP to a receiver on 127.0.0.1: one trace per
step, the spans of the orchestrator, the symbol actors, the LLM router pool, risk and execution
parented through the carriers each actor call passes; and the metrics the actors recorded, read
from Ray's metrics agent as ``/metrics`` appends them."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from ray.actor import ActorHandle

from actors.orchestrator import Handles
from actors.run_loop import run_session
from actors.session import SessionOptions
from serve.health import Readiness, probe_readiness, session_probes
from serve.metrics import recorded_metrics
from tests.observability.otlp_receiver import ReceivedSpan, otlp_receiver
from trading.config import ObservabilitySettings, Settings, load_settings

pytestmark = pytest.mark.ray

BARS = 300  # 5m bars per symbol: 100 steps, some with an LLM opinion and an order


def _settings(endpoint: str) -> Settings:
    settings = load_settings()
    observability = ObservabilitySettings(otlp_endpoint=endpoint, export_delay_ms=50)
    features = settings.features.model_copy(update={"llm_opinion": True})
    return settings.model_copy(update={"observability": observability, "features": features})


def _by_trace(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    traces: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return traces


def _parent(span: ReceivedSpan, trace: list[ReceivedSpan]) -> ReceivedSpan:
    parents = [p for p in trace if p.span_id == span.parent_span_id]
    assert len(parents) == 1, f"{span.name} has no parent in its trace"
    return parents[0]


def _full(trace: list[ReceivedSpan]) -> bool:
    names = {s.name for s in trace}
    return {"router.opinion", "risk.decide", "venue.order"} <= names


# every family a paper replay records (tokens and cost stay 0 with the offline analyst: a Ray
# counter is not exported before its first increase)
RECORDED = (
    "ray_raytrader_step_latency_seconds",
    "ray_raytrader_scan_latency_seconds",
    "ray_raytrader_risk_decisions_total",
    "ray_raytrader_order_latency_seconds",
    "ray_raytrader_llm_latency_seconds",
    "ray_raytrader_llm_requests_total",
    "ray_raytrader_live_equity",
    "ray_raytrader_live_sharpe",
    "ray_raytrader_live_win_rate",
)


def _steps_counted(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("ray_raytrader_step_latency_seconds_count")
    )


@dataclass
class Run:
    options: SessionOptions
    summary: Any
    spans: list[ReceivedSpan]
    recorded: str
    readiness: Readiness


def _until(ready: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not ready():
        time.sleep(0.2)


@pytest.fixture(scope="module")
def run(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One session; once its clock ends, before its actors stop, ``/readyz``'s probes run and
    the recorded metrics are read (Ray's agents export them every few seconds)."""
    seen: dict[str, Any] = {"recorded": ""}

    def on_started(handles: Handles, orchestrator: ActorHandle[Any]) -> Callable[[], None]:
        def before_stop() -> None:
            probes = session_probes(handles, orchestrator)
            stats: Awaitable[dict[str, int]] = handles.execution.stats.remote()
            seen["readiness"] = asyncio.run(probe_readiness(probes, stats, 5.0))

            def ready() -> bool:
                seen["recorded"] = asyncio.run(recorded_metrics(5.0))
                present = all(f"# TYPE {name} " in seen["recorded"] for name in RECORDED)
                return present and _steps_counted(seen["recorded"]) == BARS // 3

            _until(ready, 120)  # the agents export every few seconds; a loaded box is slower

        return before_stop

    with otlp_receiver() as receiver:
        options = SessionOptions(
            settings=_settings(receiver.url),
            data_dir=tmp_path_factory.mktemp("traced"),
            max_bars=BARS,
            poll_s=0.2,
        )
        summary = run_session(options, on_started=on_started)
        _until(lambda: any(_full(t) for t in _by_trace(receiver.snapshot()).values()), 10)
        spans = receiver.snapshot()
    return Run(options, summary, spans, seen["recorded"], seen["readiness"])


def test_readiness_probes_every_actor_the_router_pool_and_its_budget(run: Run) -> None:
    readiness = run.readiness
    assert readiness.ready, readiness
    assert readiness.venue_stream
    assert {"orchestrator", "risk", "execution", "llm-router", "llm-budget"} <= set(
        readiness.health.actors
    )
    assert any(name.startswith("symbol:") for name in readiness.health.actors)


@pytest.mark.slow  # passes alone; in the full suite the ray_raytrader_live_* gauges have not
# reached Ray's agent within 120 s twice (open in #17): kept out of the default run until fixed
def test_the_actors_metrics_reach_rays_agent_and_the_api_exposition(run: Run) -> None:
    missing = [name for name in RECORDED if f"# TYPE {name} " not in run.recorded]
    assert missing == [], [line for line in run.recorded.splitlines() if "# TYPE" in line]
    assert _steps_counted(run.recorded) == run.summary.progress.steps == BARS // 3


def test_a_step_trace_holds_every_actor_correctly_parented(run: Run) -> None:
    summary, spans, options = run.summary, run.spans, run.options
    assert summary.progress.orders > 0
    traces = _by_trace(spans)
    roots = [s for s in spans if s.name == "orchestrator.step"]
    assert all(s.parent_span_id == "" and s.actor == "orchestrator" for s in roots)
    assert len({s.trace_id for s in roots}) == len(roots) >= summary.progress.steps // 2
    full = [t for t in traces.values() if _full(t)]
    assert full, sorted({s.name for s in spans})
    trace = full[0]
    expected_parent = {
        "symbol.advance": "orchestrator.step",
        "router.opinion": "symbol.advance",
        "risk.update_market": "orchestrator.step",
        "risk.decide": "orchestrator.step",
        "risk.decision": "risk.decide",
        "execution.submit": "orchestrator.step",
        "venue.order": "execution.submit",
    }
    for span in trace:
        if span.name in expected_parent:
            assert _parent(span, trace).name == expected_parent[span.name], span
    actors = {s.actor for s in trace}
    assert {"orchestrator", "risk", "execution", "LLMRouterDeployment"} <= actors
    assert any(a.startswith("symbol:") for a in actors)
    opinion = next(s for s in trace if s.name == "router.opinion")
    assert opinion.attributes["model"] == "offline"
    calls = [attributes for name, attributes in opinion.events if name == "llm.call"]
    assert calls, opinion  # each answer the router stored, with its tokens and cost
    assert {"model", "cache", "tokens_in", "tokens_out", "cost_usd"} <= set(calls[0])
    assert opinion.attributes["timeframe"] == "15m"
    order = next(s for s in trace if s.name == "venue.order")
    decision = next(s for s in trace if s.name == "risk.decision")
    assert order.attributes["client_order_id"] in {
        d.attributes["client_order_id"] for d in trace if d.name == "risk.decision"
    }
    assert decision.attributes["decision"] in {"APPROVED", "RESIZED", "DENIED"}
    advance = next(s for s in trace if s.name == "symbol.advance")
    assert advance.attributes["symbol"] in options.settings.symbols
