"""The one way in: ``evaluate(intent, portfolio, market, policy=...)`` -> ``RiskDecision``.

The checks of ``trading.risk.checks.CHECKS`` run in a fixed order and the first that binds
names the reason (NautilusTrader's RiskEngine style): trading state, symbol, reduce-only path,
marks, equity and drawdown, rate limit, leverage, stop and liquidation, minimum notional; then
``size`` applies the risk per trade and the exposure caps (symbol, gross, side, margin,
correlation cluster), which resize down to what fits.

Correlation cluster: the candidate plus every position (or order in flight) whose return
correlation with it is ``|rho| >= max_correlation``; a position counts for the cluster when its
direction times ``sign(rho)`` matches the intent's and against it otherwise (a short in a
positively correlated asset offsets). The cluster's net exposure is capped at the per-symbol
cap. Margin: ``gross notional after / leverage <= equity``. Reducing intents (reduce-only, or
opposite the position and no larger) skip marks, stops, rate limit and caps: they never add risk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from trading.contracts import DecisionOutcome, DenialReason, OrderIntent
from trading.risk.checks import CHECKS, Evaluation, flatten_intents, size
from trading.risk.decision import ZERO, RiskDecision
from trading.risk.marks import Mark, MarketView
from trading.risk.policy import RiskPolicy
from trading.risk.portfolio import Portfolio

__all__ = [
    "Mark",
    "MarketView",
    "RiskDecision",
    "RiskPolicy",
    "evaluate",
    "flatten_intents",
    "observe_equity",
]


def evaluate(
    intent: OrderIntent,
    portfolio: Portfolio,
    market: MarketView,
    *,
    policy: RiskPolicy,
    stop_price: Decimal | None = None,
    confidence: float = 0.0,
    leverage: float | None = None,
) -> RiskDecision:
    """Decide one intent. ``stop_price`` is the protective stop of a risk-increasing intent,
    ``confidence`` the signal's, ``leverage`` the margin leverage (default from the limits).

    Side effects on ``portfolio`` (deterministic): equity peaks and SAFE_MODE are updated, the
    intent is counted for the rate limit, and an approved risk-increasing quantity is reserved
    as an order in flight until ``Portfolio.apply_fill`` or ``Portfolio.release``. Any
    unexpected error is a DENIED/INVALID_INPUT decision: risk fails closed.
    """
    evaluation = Evaluation(intent, portfolio, market, policy, stop_price, confidence, leverage)
    try:
        return _evaluate(evaluation)
    except Exception as exc:
        return _failed(intent, market, exc)


def _evaluate(evaluation: Evaluation) -> RiskDecision:
    """The first check that decides ends the evaluation; past all of them, sizing decides."""
    for check in CHECKS:
        decision = check(evaluation)
        if decision is not None:
            return decision
    return size(evaluation)


def _failed(intent: object, market: object, exc: Exception) -> RiskDecision:
    client_id = getattr(intent, "client_order_id", "invalid-intent")
    requested = getattr(intent, "quantity", ZERO)
    now = getattr(market, "now", None)
    return RiskDecision(
        client_order_id=str(client_id),
        outcome=DecisionOutcome.DENIED,
        reason=DenialReason.INVALID_INPUT,
        requested_quantity=requested if isinstance(requested, Decimal) else ZERO,
        approved_quantity=ZERO,
        decided_at=now if isinstance(now, datetime) else datetime.now(UTC),
        numbers={"error": f"{type(exc).__name__}: {exc}"},
    )


def observe_equity(
    portfolio: Portfolio, market: MarketView, policy: RiskPolicy
) -> tuple[OrderIntent, ...]:
    """Mark the book to market (call once per bar): updates peaks and SAFE_MODE; returns the
    flatten intents when this observation tripped SAFE_MODE and flattening is on."""
    equity = portfolio.equity({s: m.price for s, m in market.marks.items()})
    tripped = portfolio.drawdown.observe(
        equity, market.now, policy.daily_keep, policy.monthly_keep, policy.cooldown
    )
    if tripped and policy.flatten_on_safe_mode:
        return flatten_intents(portfolio, market.now)
    return ()
