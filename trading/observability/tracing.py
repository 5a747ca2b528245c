"""One trace per step across the actors (OpenTelemetry): orchestrator step -> symbol analysis ->
LLM request -> risk decision -> order submit -> venue answer.

The context crosses each Ray actor call as an explicit W3C ``traceparent`` carrier, a plain
``dict[str, str]`` argument (``carrier()`` on the caller, ``traced(name, carrier)`` in the
callee), not through Ray's tracing hook. Why: the hook (``ray.init(_tracing_startup_hook=...)``)
is private and experimental, must be importable on every worker, wraps every remote call of the
cluster (Serve's and Ray's own included) with spans we cannot name or attribute, and does not
reach a Serve ``DeploymentHandle`` call (the LLM router pool). A carrier is one visible keyword
per call, works for actors and Serve alike, and is testable without Ray.

Each process (actor) installs its own ``TracerProvider`` (``configure_tracing``) from
``ObservabilitySettings``: OTLP/HTTP batches to ``otlp_endpoint``; off (the SDK's no-op
provider, no spans recorded, empty carriers) while that is None. Sampling is decided once per
step at the root (``ParentBased(TraceIdRatioBased(sample_ratio))``); every callee follows the
carrier's sampled flag, so a trace is whole or absent.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from trading.config import ObservabilitySettings
from trading.contracts import OrderDecision, OrderState

Carrier = dict[str, str]
_F = TypeVar("_F", bound=Callable[..., Any])
INSTRUMENTATION = "raytrader"
ACTOR_ATTRIBUTE = "raytrader.actor"
_PROPAGATOR = TraceContextTextMapPropagator()
_EXPORT_TIMEOUT_S = 5.0
_installed: dict[str, TracerProvider] = {}


def sampler(ratio: float) -> Sampler:
    """Root spans kept with probability ``ratio`` (by trace id); children follow their parent."""
    return ParentBased(TraceIdRatioBased(ratio))


def tracer_provider(
    settings: ObservabilitySettings, actor: str, exporter: SpanExporter | None = None
) -> TracerProvider:
    """A provider naming the service and ``actor``, batching to ``exporter`` (default: OTLP/HTTP
    to ``settings.otlp_endpoint``)."""
    resource = Resource.create({SERVICE_NAME: settings.service_name, ACTOR_ATTRIBUTE: actor})
    provider = TracerProvider(sampler=sampler(settings.sample_ratio), resource=resource)
    if exporter is None:
        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, timeout=_EXPORT_TIMEOUT_S)
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=settings.export_delay_ms)
    provider.add_span_processor(processor)
    return provider


def configure_tracing(settings: ObservabilitySettings, actor: str) -> bool:
    """Install this process's provider once (an actor's constructor calls it); False, and the
    no-op provider stays, while ``settings.otlp_endpoint`` is None."""
    if settings.otlp_endpoint is None:
        return False
    if "process" not in _installed:
        install(tracer_provider(settings, actor))
    return True


def install(provider: TracerProvider) -> None:
    """``provider`` as this process's (once: OpenTelemetry keeps the first global provider)."""
    _installed["process"] = provider
    trace.set_tracer_provider(provider)


def tracing_on() -> bool:
    """Whether this process exports traces. A function, not the dict read inline: Ray pickles
    an actor's decorated methods by value, and their globals with them (a copy of the dict)."""
    return "process" in _installed


def flush_traces(timeout_ms: int = 5_000) -> bool:
    """Export what this process's provider still holds (before an actor stops)."""
    provider = _installed.get("process")
    return provider.force_flush(timeout_ms) if provider is not None else True


def carrier() -> Carrier:
    """The current span's context as W3C ``traceparent`` headers (empty: nothing traced)."""
    headers: Carrier = {}
    _PROPAGATOR.inject(headers)
    return headers


@contextmanager
def traced(
    name: str, parent: Mapping[str, str] | None = None, **attributes: AttributeValue
) -> Iterator[Span]:
    """A span ``name`` for the block, child of ``parent`` (a caller's carrier) or, without one,
    of the current span; ``attributes`` set on it (``symbol``, ``timeframe``, ...)."""
    context = _PROPAGATOR.extract(dict(parent)) if parent else None
    tracer = trace.get_tracer(INSTRUMENTATION)
    with tracer.start_as_current_span(name, context=context, attributes=attributes) as span:
        yield span


def annotate(**attributes: AttributeValue) -> None:
    """Attributes on the current span, known only inside the call (symbol, model, tokens)."""
    trace.get_current_span().set_attributes(attributes)


def record_event(name: str, **attributes: AttributeValue) -> None:
    """An event on the current span (e.g. each LLM provider attempt, cache hit or hedge)."""
    trace.get_current_span().add_event(name, attributes)


def record_decisions(decisions: Sequence[OrderDecision]) -> None:
    """One child span per risk decision: client order id, outcome and denial reason."""
    tracer = trace.get_tracer(INSTRUMENTATION)
    for decision in decisions:
        attributes: dict[str, AttributeValue] = {
            "client_order_id": decision.client_order_id,
            "decision": str(decision.outcome),
            "approved_quantity": str(decision.approved_quantity),
        }
        if decision.reason is not None:
            attributes["reason"] = str(decision.reason)
        tracer.start_span("risk.decision", attributes=attributes).end()


def record_orders(states: Sequence[OrderState]) -> None:
    """One child span per order submitted: client order id, symbol and the venue's answer
    (status, venue order id, filled quantity) once the submit settled."""
    tracer = trace.get_tracer(INSTRUMENTATION)
    for state in states:
        attributes: dict[str, AttributeValue] = {
            "client_order_id": state.client_order_id,
            "symbol": state.symbol,
            "side": str(state.side),
            "status": str(state.status),
            "filled_quantity": str(state.filled_quantity),
        }
        if state.venue_order_id is not None:
            attributes["venue_order_id"] = state.venue_order_id
        tracer.start_span("venue.order", attributes=attributes).end()


def _clock_position(signature: inspect.Signature) -> tuple[int, str] | None:
    """Where a method takes its step close (``clock`` or ``until``): position and name."""
    for position, name in enumerate(signature.parameters):
        if name in ("clock", "until"):
            return position, name
    return None


def _clock_attribute(
    at: tuple[int, str] | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, AttributeValue]:
    if at is None:
        return {}
    clock = args[at[0]] if at[0] < len(args) else kwargs.get(at[1])
    return {"clock": clock.isoformat()} if isinstance(clock, datetime) else {}


def traced_call(name: str) -> Callable[[_F], _F]:
    """An actor method as a span ``name``, child of the carrier its caller passes as the
    keyword ``trace`` (an added keyword-only parameter, default None: untraced callers are
    unchanged), with the step close (a ``clock`` or ``until`` argument) as ``clock``. Sync and
    async methods alike; Ray reads the widened signature. Free while tracing is off."""

    def decorate(method: _F) -> _F:
        signature = inspect.signature(method)
        widened = signature.replace(
            parameters=[
                *signature.parameters.values(),
                inspect.Parameter("trace", inspect.Parameter.KEYWORD_ONLY, default=None),
            ]
        )

        at = _clock_position(signature)

        def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> AbstractContextManager[Any]:
            parent = kwargs.pop("trace", None)
            if not parent and not tracing_on():
                return nullcontext()  # tracing off: no span, not even a no-op one
            return traced(name, parent, **_clock_attribute(at, args, kwargs))

        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with begin(args, kwargs):
                    return await method(*args, **kwargs)

            wrapper: Any = run_async
        else:

            @functools.wraps(method)
            def run(*args: Any, **kwargs: Any) -> Any:
                with begin(args, kwargs):
                    return method(*args, **kwargs)

            wrapper = run
        wrapper.__signature__ = widened
        del wrapper.__wrapped__  # inspect and Ray read ``__signature__``, with ``trace``
        return wrapper  # type: ignore[no-any-return]

    return decorate
