"""The one way in: ``evaluate(intent, portfolio, market, policy=...)`` -> ``RiskDecision``.

Checks run in a fixed order and the first that binds names the reason (NautilusTrader's
RiskEngine style): trading state, symbol, reduce-only path, marks, equity and drawdown, rate
limit, leverage, stop and liquidation, then sizing and the exposure caps (risk per trade,
symbol, gross, side, correlation cluster, margin), which resize down to what fits.

Correlation cluster: the candidate plus every position (or order in flight) whose return
correlation with it is ``|rho| >= max_correlation``; a position counts for the cluster when its
direction times ``sign(rho)`` matches the intent's and against it otherwise (a short in a
positively correlated asset offsets). The cluster's net exposure is capped at the per-symbol
cap. Margin: ``gross notional after / leverage <= equity``. Reducing intents (reduce-only, or
opposite the position and no larger) skip marks, stops, rate limit and caps: they never add risk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Self

from trading.config import HARD_MAX_LEVERAGE, RiskLimits, Settings
from trading.contracts import (
    DecisionOutcome,
    DenialReason,
    OrderDecision,
    OrderIntent,
    OrderType,
    Side,
)
from trading.market.instruments import BINANCE_SPOT, InstrumentSpec
from trading.risk.correlation import Correlations
from trading.risk.drawdown import TradingState
from trading.risk.leverage import liquidation_price, stop_clears_liquidation
from trading.risk.portfolio import PendingOrder, Portfolio
from trading.risk.sizing import loss_per_unit, risk_pct

ZERO = Decimal(0)
FLATTEN_STRATEGY = "risk-flatten"
EVIDENCE_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class Mark:
    """Latest price of a symbol and when it was observed."""

    price: Decimal
    ts: datetime


def _is_valid_mark(mark: object) -> bool:
    return (
        isinstance(mark, Mark)
        and isinstance(mark.price, Decimal)
        and mark.price.is_finite()
        and mark.price > 0
        and isinstance(mark.ts, datetime)
    )


@dataclass(frozen=True, slots=True)
class MarketView:
    """What risk sees of the market at ``now``: marks and the per-bar correlation table.

    Marks are checked once here (``invalid``: not a positive finite Decimal price with a time),
    so ``evaluate`` can deny on them without re-checking every mark per call.
    """

    now: datetime
    marks: Mapping[str, Mark]
    correlations: Correlations = field(default_factory=Correlations)
    invalid: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        bad = frozenset(s for s, m in self.marks.items() if not _is_valid_mark(m))
        object.__setattr__(self, "invalid", bad)


def _fraction(pct: float) -> Decimal:
    return Decimal(str(pct)) / 100


@dataclass(frozen=True)
class RiskPolicy:
    """Risk limits plus venue facts, with the Decimal forms precomputed once."""

    limits: RiskLimits = field(default_factory=RiskLimits)
    instruments: Mapping[str, InstrumentSpec] = field(default_factory=lambda: BINANCE_SPOT)
    taker_fee_rate: Decimal = Decimal("0.0004")
    flatten_on_safe_mode: bool = False

    min_risk_pct: Decimal = field(init=False)
    max_risk_pct: Decimal = field(init=False)
    symbol_cap: Decimal = field(init=False)
    gross_cap: Decimal = field(init=False)
    side_cap: Decimal = field(init=False)
    default_leverage: Decimal = field(init=False)
    max_leverage: Decimal = field(init=False)
    maintenance_margin_rate: Decimal = field(init=False)
    liquidation_buffer: Decimal = field(init=False)
    daily_keep: Decimal = field(init=False)
    monthly_keep: Decimal = field(init=False)
    stale_after: timedelta = field(init=False)
    rate_window: timedelta = field(init=False)
    cooldown: timedelta = field(init=False)

    def __post_init__(self) -> None:
        lim = self.limits
        derived: dict[str, object] = {
            "min_risk_pct": Decimal(str(lim.risk_per_trade_min_pct)),
            "max_risk_pct": Decimal(str(lim.risk_per_trade_max_pct)),
            "symbol_cap": _fraction(lim.max_symbol_exposure_pct),
            "gross_cap": _fraction(lim.max_gross_exposure_pct),
            "side_cap": _fraction(lim.max_side_exposure_pct),
            "default_leverage": Decimal(str(lim.default_leverage)),
            "max_leverage": Decimal(str(min(lim.max_leverage, HARD_MAX_LEVERAGE))),
            "maintenance_margin_rate": _fraction(lim.maintenance_margin_pct),
            "liquidation_buffer": _fraction(lim.liquidation_buffer_pct),
            "daily_keep": 1 - _fraction(lim.daily_drawdown_pct),
            "monthly_keep": 1 - _fraction(lim.monthly_drawdown_pct),
            "stale_after": timedelta(seconds=lim.stale_market_data_seconds),
            "rate_window": timedelta(seconds=lim.rate_limit_window_seconds),
            "cooldown": timedelta(minutes=lim.safe_mode_cooldown_minutes),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_settings(
        cls, settings: Settings, instruments: Mapping[str, InstrumentSpec] = BINANCE_SPOT
    ) -> Self:
        return cls(
            limits=settings.risk,
            instruments=instruments,
            taker_fee_rate=Decimal(str(settings.venue.taker_fee_bps)) / 10_000,
            flatten_on_safe_mode=settings.features.flatten_on_safe_mode,
        )

    def risk_pct(self, confidence: float) -> Decimal:
        """Percent of equity risked at ``confidence`` (see ``trading.risk.sizing.risk_pct``)."""
        return risk_pct(
            confidence, self.min_risk_pct, self.max_risk_pct, self.limits.risk_confidence_exponent
        )


def _text(value: object) -> str:
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return text[:EVIDENCE_MAX_CHARS]


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Risk's verdict with the numbers behind it; ``flatten`` holds the SAFE_MODE exits to send."""

    client_order_id: str
    outcome: DecisionOutcome
    reason: DenialReason | None
    requested_quantity: Decimal
    approved_quantity: Decimal
    decided_at: datetime
    numbers: Mapping[str, object] = field(default_factory=dict)
    flatten: tuple[OrderIntent, ...] = ()

    @property
    def evidence(self) -> dict[str, str]:
        """The numbers as text, as the audit log stores them."""
        return {name: _text(value) for name, value in self.numbers.items()}

    def to_order_decision(self) -> OrderDecision:
        return OrderDecision(
            client_order_id=self.client_order_id,
            outcome=self.outcome,
            reason=self.reason,
            requested_quantity=self.requested_quantity,
            approved_quantity=self.approved_quantity,
            decided_at=self.decided_at,
            evidence=self.evidence,
        )


def _decision(
    intent: OrderIntent,
    now: datetime,
    approved: Decimal,
    reason: DenialReason | None,
    numbers: dict[str, object],
    flatten: tuple[OrderIntent, ...] = (),
) -> RiskDecision:
    requested = intent.quantity
    if approved >= requested:
        outcome, approved, reason = DecisionOutcome.APPROVED, requested, None
    elif approved > 0:
        outcome = DecisionOutcome.RESIZED
    else:
        outcome, approved = DecisionOutcome.DENIED, ZERO
    if reason is None and outcome is not DecisionOutcome.APPROVED:
        reason = DenialReason.INVALID_INPUT
    return RiskDecision(
        intent.client_order_id, outcome, reason, requested, approved, now, numbers, flatten
    )


def _deny(
    intent: OrderIntent,
    now: datetime,
    reason: DenialReason,
    numbers: dict[str, object],
    flatten: tuple[OrderIntent, ...] = (),
) -> RiskDecision:
    return _decision(intent, now, ZERO, reason, numbers, flatten)


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
    try:
        return _evaluate(intent, portfolio, market, policy, stop_price, confidence, leverage)
    except Exception as exc:
        return _failed(intent, market, exc)


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


def _entry_price(intent: OrderIntent, mark: Decimal) -> Decimal:
    """Where the order should fill: its limit, the trigger of a stop-market, else the mark."""
    if intent.limit_price is not None:
        return intent.limit_price
    if intent.order_type is OrderType.STOP_MARKET and intent.stop_price is not None:
        return intent.stop_price
    return mark


def _stale(intent: OrderIntent, now: datetime, symbol: str, mark: Mark) -> RiskDecision:
    numbers: dict[str, object] = {"stale_symbol": symbol, "mark_time": mark.ts.isoformat()}
    return _deny(intent, now, DenialReason.STALE_MARKET_DATA, numbers)


def _reduce(
    intent: OrderIntent, portfolio: Portfolio, held: Decimal, opposes: bool, now: datetime
) -> RiskDecision:
    """A reducing intent needs no mark or stop: approved up to the position, never beyond."""
    numbers: dict[str, object] = {"state": portfolio.drawdown.state, "position_qty": held}
    if not opposes:
        numbers["error"] = "reduce_only intent does not reduce the position"
        return _deny(intent, now, DenialReason.INVALID_INPUT, numbers)
    approved = min(intent.quantity, abs(held))
    if approved == intent.quantity:
        return _decision(intent, now, approved, None, numbers)
    numbers["capped_at_position"] = abs(held)
    in_safe_mode = portfolio.drawdown.state is TradingState.REDUCING
    reason = DenialReason.SAFE_MODE if in_safe_mode else DenialReason.INVALID_INPUT
    return _decision(intent, now, approved, reason, numbers)


def _evaluate(
    intent: OrderIntent,
    portfolio: Portfolio,
    market: MarketView,
    policy: RiskPolicy,
    stop_price: Decimal | None,
    confidence: float,
    leverage: float | None,
) -> RiskDecision:
    now = market.now
    guard = portfolio.drawdown
    symbol = intent.symbol
    if guard.state is TradingState.HALTED:
        return _deny(intent, now, DenialReason.HALTED, {"state": guard.state, "note": guard.note})
    spec = policy.instruments.get(symbol)
    if spec is None:
        return _deny(intent, now, DenialReason.UNKNOWN_SYMBOL, {"symbol": symbol})
    position = portfolio.positions.get(symbol)
    held = position.quantity if position is not None else ZERO
    side = intent.side
    buying = side is Side.BUY
    opposes = (held < 0) if buying else (held > 0)
    if intent.reduce_only or (opposes and intent.quantity <= abs(held)):
        return _reduce(intent, portfolio, held, opposes, now)

    # Marks, equity and exposure in one pass over the book (Decimal throughout).
    marks = market.marks
    stale_before = now - policy.stale_after
    mark = marks.get(symbol)
    if mark is None:
        return _deny(intent, now, DenialReason.STALE_MARKET_DATA, {"missing_mark": symbol})
    if market.invalid:
        bad = sorted(market.invalid & ({symbol} | portfolio.positions.keys()))
        if bad:
            return _deny(intent, now, DenialReason.INVALID_INPUT, {"bad_mark": " ".join(bad)})
    pending: dict[str, Decimal] = {}
    for client_id, order in portfolio.pending.items():
        if client_id != intent.client_order_id:
            pending[order.symbol] = pending.get(order.symbol, ZERO) + order.signed_quantity
    cluster_row = market.correlations.cluster_row(symbol, policy.limits.max_correlation)
    marked = cost = long_sum = short_sum = cluster_others = own_qty = ZERO
    cluster: list[str] = []
    exposures: list[tuple[str, Decimal]] = []
    for sym, position in portfolio.positions.items():
        qty = position.quantity
        if not qty:
            continue
        sym_mark = marks.get(sym)
        if sym_mark is None:
            return _deny(intent, now, DenialReason.STALE_MARKET_DATA, {"missing_mark": sym})
        if sym_mark.ts < stale_before:
            return _stale(intent, now, sym, sym_mark)
        notional = qty * sym_mark.price
        cost += qty * position.avg_entry_price  # type: ignore[operator]
        if pending:
            marked += notional
            exposures.append((sym, qty))
            continue
        if notional > 0:
            long_sum += notional
        else:
            short_sum -= notional
        if sym == symbol:
            own_qty = qty
        elif sym in cluster_row:
            cluster.append(sym)
            cluster_others += notional if cluster_row[sym] > 0 else -notional
    if not pending:
        marked = long_sum - short_sum
    else:
        for sym in pending.keys() - portfolio.positions.keys():
            exposures.append((sym, ZERO))
        for sym, qty in exposures:
            sym_mark = marks.get(sym)
            if sym_mark is None:
                return _deny(intent, now, DenialReason.STALE_MARKET_DATA, {"missing_mark": sym})
            notional = (qty + pending.get(sym, ZERO)) * sym_mark.price
            if notional > 0:
                long_sum += notional
            else:
                short_sum -= notional
            if sym == symbol:
                own_qty = qty + pending.get(sym, ZERO)
            elif sym in cluster_row and notional:
                cluster.append(sym)
                cluster_others += notional if cluster_row[sym] > 0 else -notional
    if not buying:
        cluster_others = -cluster_others
    gross = long_sum + short_sum
    same_side = long_sum if buying else short_sum
    unrealized = marked - cost
    price = mark.price
    if mark.ts < stale_before:
        return _stale(intent, now, symbol, mark)
    equity = portfolio.balance + unrealized
    numbers: dict[str, object] = {"equity": equity, "mark": price}
    if not equity.is_finite() or equity <= 0:
        numbers["error"] = "equity must be positive"
        return _deny(intent, now, DenialReason.INVALID_INPUT, numbers)

    tripped = guard.observe(equity, now, policy.daily_keep, policy.monthly_keep, policy.cooldown)
    flatten = flatten_intents(portfolio, now) if tripped and policy.flatten_on_safe_mode else ()
    if guard.state is not TradingState.ACTIVE:
        numbers.update(state=guard.state, trigger=guard.trigger, note=guard.note)
        numbers.update(day_peak=guard.day_peak, month_peak=guard.month_peak)
        return _decision(
            intent, now, abs(held) if opposes else ZERO, DenialReason.SAFE_MODE, numbers, flatten
        )

    times = portfolio.recent_intents
    window_start = now - policy.rate_window
    while times and times[0] <= window_start:
        times.popleft()
    if len(times) >= policy.limits.max_intents_per_window:
        numbers["intents_in_window"] = len(times)
        return _deny(intent, now, DenialReason.RATE_LIMIT, numbers)
    times.append(now)

    lev = policy.default_leverage if leverage is None else Decimal(str(leverage))
    numbers["leverage"] = lev
    if not lev.is_finite() or lev < 1 or lev > policy.max_leverage:
        numbers["max_leverage"] = policy.max_leverage
        return _deny(intent, now, DenialReason.LEVERAGE_CAP, numbers)
    if not 0.0 <= confidence <= 1.0:
        numbers["error"] = f"confidence {confidence} outside [0, 1]"
        return _deny(intent, now, DenialReason.INVALID_INPUT, numbers)
    if stop_price is None or not stop_price.is_finite() or stop_price <= 0:
        numbers["error"] = f"risk-increasing intent needs a positive stop_price, got {stop_price}"
        return _deny(intent, now, DenialReason.INVALID_INPUT, numbers)
    entry_price = _entry_price(intent, price)
    numbers.update(entry_price=entry_price, stop_price=stop_price)
    if (entry_price - stop_price if buying else stop_price - entry_price) <= 0:
        numbers["error"] = f"stop is on the wrong side of entry for a {side} intent"
        return _deny(intent, now, DenialReason.INVALID_INPUT, numbers)
    liquidation = liquidation_price(entry_price, side, lev, policy.maintenance_margin_rate)
    numbers["liquidation_price"] = liquidation
    if not stop_clears_liquidation(stop_price, liquidation, side, policy.liquidation_buffer):
        numbers["liquidation_buffer"] = policy.liquidation_buffer
        return _deny(intent, now, DenialReason.STOP_BEYOND_LIQUIDATION, numbers)

    requested = intent.quantity
    reducing_qty = abs(held) if opposes else ZERO
    new_qty = requested - reducing_qty
    numbers["min_notional"] = spec.min_notional
    if new_qty * entry_price < spec.min_notional:
        return _decision(intent, now, reducing_qty, DenialReason.MIN_NOTIONAL, numbers)

    pct = policy.risk_pct(confidence)
    risk_amount = equity * pct / 100
    unit_loss = loss_per_unit(entry_price, stop_price, policy.taker_fee_rate)
    allowed = risk_amount / unit_loss
    reason = DenialReason.RISK_PER_TRADE if allowed < new_qty else None
    allowed = min(allowed, new_qty)

    base_qty = max((own_qty if buying else -own_qty) + reducing_qty, ZERO)
    own_notional = abs(own_qty) * price
    own_same_side = own_notional if (own_qty > 0) == buying and own_qty else ZERO
    base_notional = base_qty * price
    gross_rest = gross - own_notional + base_notional
    caps = [
        (DenialReason.SYMBOL_CAP, policy.symbol_cap * equity, base_notional),
        (DenialReason.EXPOSURE_CAP, policy.gross_cap * equity, gross_rest),
        (
            DenialReason.SIDE_CAP,
            policy.side_cap * equity,
            same_side - own_same_side + base_notional,
        ),
        (DenialReason.LEVERAGE_CAP, lev * equity, gross_rest),
    ]
    if cluster:
        caps.append(
            (DenialReason.CORRELATION, policy.symbol_cap * equity, cluster_others + base_notional)
        )
        numbers["cluster_symbols"] = " ".join(cluster)
    for cap_reason, cap, used in caps:
        room = (cap - used) / price
        if room < allowed:
            allowed, reason = room, cap_reason
    allowed = max(allowed, ZERO)
    numbers.update(
        risk_pct=pct,
        risk_amount=risk_amount,
        loss_per_unit=unit_loss,
        max_qty_risk=risk_amount / unit_loss,
        symbol_exposure=base_notional,
        symbol_cap=policy.symbol_cap * equity,
        gross_exposure=gross_rest,
        gross_cap=policy.gross_cap * equity,
        side_exposure=same_side - own_same_side + base_notional,
        side_cap=policy.side_cap * equity,
    )
    if cluster:
        numbers.update(cluster_exposure=cluster_others + base_notional)
    total = spec.round_quantity_down(reducing_qty + allowed)
    if total >= requested:
        total = requested
    elif reason is None:
        numbers["lot_size"] = spec.lot_size
    new_final = total - reducing_qty
    if new_final > 0 and new_final * entry_price < spec.min_notional:
        numbers["resized_below_min_notional"] = new_final
        total, new_final = reducing_qty, ZERO
    if new_final > 0:
        portfolio.pending[intent.client_order_id] = PendingOrder(symbol, side, total)
    return _decision(intent, now, total, reason, numbers, flatten)


def flatten_intents(portfolio: Portfolio, now: datetime) -> tuple[OrderIntent, ...]:
    """Reduce-only market orders closing every open position (SAFE_MODE flatten)."""
    return tuple(
        OrderIntent.for_signal(
            strategy=FLATTEN_STRATEGY,
            symbol=p.symbol,
            signal_time=now,
            seq=0,
            side=Side.SELL if p.quantity > 0 else Side.BUY,
            order_type=OrderType.MARKET,
            quantity=abs(p.quantity),
            reduce_only=True,
            created_at=now,
        )
        for p in portfolio.open_positions()
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
