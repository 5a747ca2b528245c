"""Traces in one process: carriers parent the spans of calls that cross a process boundary,
the sampler keeps whole traces or none, and decisions and orders carry their attributes."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from opentelemetry import context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trading.config import ObservabilitySettings
from trading.contracts import (
    DecisionOutcome,
    DenialReason,
    OrderDecision,
    OrderState,
    OrderStatus,
    Side,
)
from trading.observability.tracing import (
    ACTOR_ATTRIBUTE,
    annotate,
    carrier,
    configure_tracing,
    install,
    record_decisions,
    record_event,
    record_orders,
    sampler,
    traced,
    traced_call,
    tracer_provider,
)

T0 = datetime(2025, 10, 1, 0, 15, tzinfo=UTC)
_EXPORTER = InMemorySpanExporter()
_PROVIDER: list[TracerProvider] = []


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """This process's provider (installed once) exporting to memory; cleared for each test."""
    if not _PROVIDER:
        settings = ObservabilitySettings(otlp_endpoint="http://127.0.0.1:9/v1/traces")
        _PROVIDER.append(tracer_provider(settings, "test", exporter=_EXPORTER))
        install(_PROVIDER[0])
    _EXPORTER.clear()
    return _EXPORTER


def _finished() -> dict[str, ReadableSpan]:
    _PROVIDER[0].force_flush()
    return {span.name: span for span in _EXPORTER.get_finished_spans()}


class Risk:
    @traced_call("risk.decide")
    def decide(self, requests: int) -> int:
        return requests + 1


class Symbol:
    @traced_call("symbol.advance")
    async def advance(self, until: datetime, symbol: str = "BTC/USDT") -> str:
        annotate(symbol=symbol)
        return symbol


def test_a_carrier_parents_the_callees_span_with_no_shared_context(
    spans: InMemorySpanExporter,
) -> None:
    """The callee runs after the caller's context is gone (as in another process): only the
    carrier links the two."""
    with traced("orchestrator.step", clock=T0.isoformat()):
        headers = carrier()
    token = context.attach(context.Context())
    try:
        assert Risk().decide(1, trace=headers) == 2  # type: ignore[call-arg]
        assert asyncio.run(Symbol().advance(T0, trace=headers)) == "BTC/USDT"  # type: ignore[call-arg]
    finally:
        context.detach(token)
    found = _finished()
    root = found["orchestrator.step"]
    assert root.parent is None
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{root.context.trace_id:032x}",
        f"{root.context.span_id:016x}",
    )
    assert int(flags, 16) & 1, "sampled"
    for name in ("risk.decide", "symbol.advance"):
        parent = found[name].parent
        assert parent is not None
        assert parent.span_id == root.context.span_id
        assert found[name].context.trace_id == root.context.trace_id
    assert found["symbol.advance"].attributes == {"clock": T0.isoformat(), "symbol": "BTC/USDT"}
    assert found["orchestrator.step"].resource.attributes[ACTOR_ATTRIBUTE] == "test"


def test_a_traced_method_shows_ray_the_trace_keyword_and_runs_untraced_callers_unchanged(
    spans: InMemorySpanExporter,
) -> None:
    parameters = inspect.signature(Risk.decide).parameters
    assert list(parameters) == ["self", "requests", "trace"]
    assert parameters["trace"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.iscoroutinefunction(Symbol.advance)
    assert not inspect.iscoroutinefunction(Risk.decide)
    assert Risk().decide(41) == 42
    assert _finished()["risk.decide"].parent is None  # its own root


def test_the_sampler_keeps_a_trace_whole_or_drops_it() -> None:
    """Ratio 0 drops every root; a child whose carrier says sampled is kept anyway (the root's
    decision rules), and one whose carrier says not sampled is dropped at ratio 1."""
    never = TracerProvider(sampler=sampler(0.0)).get_tracer("t")
    always = TracerProvider(sampler=sampler(1.0)).get_tracer("t")
    assert not never.start_span("root").is_recording()
    assert always.start_span("root").is_recording()
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()
    sampled = propagator.extract({"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"})
    unsampled = propagator.extract({"traceparent": f"00-{'a' * 32}-{'b' * 16}-00"})
    assert never.start_span("child", context=sampled).is_recording()
    assert not always.start_span("child", context=unsampled).is_recording()


def test_tracing_is_off_without_an_endpoint_and_the_endpoint_is_validated() -> None:
    assert configure_tracing(ObservabilitySettings(), "orchestrator") is False
    with pytest.raises(ValueError, match="otlp_endpoint"):
        ObservabilitySettings(otlp_endpoint="127.0.0.1:4318")
    with pytest.raises(ValueError, match="sample_ratio"):
        ObservabilitySettings(sample_ratio=1.5)


def test_decisions_and_orders_are_child_spans_with_their_ids(
    spans: InMemorySpanExporter,
) -> None:
    decision = OrderDecision(
        client_order_id="rt-1",
        outcome=DecisionOutcome.DENIED,
        reason=DenialReason.SAFE_MODE,
        requested_quantity=Decimal("1"),
        approved_quantity=Decimal("0"),
        decided_at=T0,
    )
    order = OrderState(
        client_order_id="rt-2",
        symbol="BTC/USDT",
        side=Side.BUY,
        status=OrderStatus.FILLED,
        quantity=Decimal("0.5"),
        filled_quantity=Decimal("0.5"),
        avg_fill_price=Decimal("60000"),
        venue_order_id="42",
        updated_at=T0,
    )
    with traced("execution.submit"):
        record_decisions([decision])
        record_orders([order])
    found = _finished()
    parent = found["execution.submit"].context.span_id
    assert found["risk.decision"].parent is not None
    assert found["risk.decision"].parent.span_id == parent
    assert found["risk.decision"].attributes == {
        "client_order_id": "rt-1",
        "decision": "DENIED",
        "approved_quantity": "0",
        "reason": "SAFE_MODE",
    }
    assert found["venue.order"].attributes == {
        "client_order_id": "rt-2",
        "symbol": "BTC/USDT",
        "side": "BUY",
        "status": "FILLED",
        "filled_quantity": "0.5",
        "venue_order_id": "42",
    }


def test_an_event_lands_on_the_current_span(spans: InMemorySpanExporter) -> None:
    with traced("router.opinion"):
        record_event("llm.call", model="claude", tokens_in=812, tokens_out=96)
    (event,) = _finished()["router.opinion"].events
    assert event.name == "llm.call"
    assert dict(event.attributes or {}) == {"model": "claude", "tokens_in": 812, "tokens_out": 96}


def test_a_traced_method_pickled_by_value_still_sees_this_process_tracing(
    spans: InMemorySpanExporter,
) -> None:
    """Ray ships an actor class to its worker with cloudpickle, closures by value: the wrapper
    must ask the worker's module whether tracing is on, not carry the driver's answer."""
    from ray import cloudpickle

    namespace: dict[str, object] = {"traced_call": traced_call}
    # a class defined nowhere importable is pickled by value, as Ray's actor classes are
    exec(  # noqa: S102 - a fixed class body, no input
        "class Shipped:\n"
        "    @traced_call('shipped.call')\n"
        "    def call(self, clock):\n"
        "        return clock\n",
        namespace,
    )
    shipped = cloudpickle.loads(cloudpickle.dumps(namespace["Shipped"]))  # type: ignore[no-untyped-call]
    assert shipped().call(T0) == T0
    assert _finished()["shipped.call"].attributes == {"clock": T0.isoformat()}
