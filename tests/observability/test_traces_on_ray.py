"""A paper session's traces, exported over OTLP/HTTP to a receiver on 127.0.0.1: one trace per
step, the spans of the orchestrator, the symbol actors, the LLM router pool, risk and execution
parented through the carriers each actor call passes."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from actors.run_loop import run_session
from actors.session import SessionOptions
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


def test_a_step_trace_holds_every_actor_correctly_parented(
    ray_session: Any, tmp_path: Path
) -> None:
    with otlp_receiver() as receiver:
        options = SessionOptions(
            settings=_settings(receiver.url), data_dir=tmp_path, max_bars=BARS, poll_s=0.2
        )
        summary = run_session(options)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            _full(t) for t in _by_trace(receiver.snapshot()).values()
        ):
            time.sleep(0.1)
        spans = receiver.snapshot()
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
    assert opinion.attributes["timeframe"] == "15m"
    order = next(s for s in trace if s.name == "venue.order")
    decision = next(s for s in trace if s.name == "risk.decision")
    assert order.attributes["client_order_id"] in {
        d.attributes["client_order_id"] for d in trace if d.name == "risk.decision"
    }
    assert decision.attributes["decision"] in {"APPROVED", "RESIZED", "DENIED"}
    advance = next(s for s in trace if s.name == "symbol.advance")
    assert advance.attributes["symbol"] in options.settings.symbols
