"""The LLM router pool's metrics (``actors.metrics``): latency per model, tokens in and out, cost
in USD, answers by cache outcome, provider errors, and the budget used. Apart from
``actors.metrics`` because it loads ``trading.llm`` (and so the provider SDKs): only the router
replicas and the budget actor pay for that."""

from __future__ import annotations

from actors.metrics import counter, gauge, histogram
from trading.llm.budget import Spending
from trading.llm.evaluation import CallRecord, EvaluationStore
from trading.observability.tracing import record_event


def record_llm_call(call: CallRecord) -> None:
    """One routed answer or failed provider call: latency, tokens, cost, cache outcome."""
    model = {"model": call.model}
    histogram("raytrader_llm_latency_seconds", "LLM answer latency", ("model",)).observe(
        call.latency_ms / 1000, tags=model
    )
    tokens = counter("raytrader_llm_tokens_total", "LLM tokens", ("model", "direction"))
    for direction, count in (("in", call.tokens_in), ("out", call.tokens_out)):
        if count > 0:  # a Ray counter refuses 0
            tokens.inc(count, tags=model | {"direction": direction})
    if call.cost_usd > 0:
        cost = counter("raytrader_llm_cost_usd_total", "LLM spend in USD", ("model",))
        cost.inc(float(call.cost_usd), tags=model)
    counter("raytrader_llm_requests_total", "LLM answers by cache outcome", ("cache",)).inc(
        tags={"cache": call.cache}
    )
    if call.error is not None:
        counter("raytrader_llm_errors_total", "failed LLM provider calls", ("model",)).inc(
            tags=model
        )


def record_budget(spending: Spending, daily_usd: float) -> None:
    gauge("raytrader_llm_spend_day_usd", "LLM spend today").set(float(spending.day_usd))
    used = float(spending.day_usd) / daily_usd if daily_usd > 0 else 0.0
    gauge("raytrader_llm_budget_used_ratio", "LLM spend today over the daily cap").set(used)


class MeteredEvaluationStore(EvaluationStore):
    """The router's evaluation store, also counting every call it records as metrics and as an
    ``llm.call`` event (model, cache, tokens, cost, latency, error) on the request's span."""

    def record(self, call: CallRecord) -> None:
        super().record(call)
        record_llm_call(call)
        record_event(
            "llm.call",
            model=call.model,
            cache=call.cache,
            tokens_in=call.tokens_in,
            tokens_out=call.tokens_out,
            cost_usd=str(call.cost_usd),
            latency_ms=round(call.latency_ms, 3),
            error=call.error or "",
        )
