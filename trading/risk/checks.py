"""The risk checks, one function each, run in the order of ``CHECKS``; then ``size`` applies
the risk per trade and the exposure caps of ``CAPS`` (NautilusTrader's RiskEngine style: each
``_check_order_*`` returns a denial or nothing, and the first denial decides).

A check takes the ``Evaluation`` (the intent, the book, the market and the policy, plus the
evidence gathered so far) and returns the ``RiskDecision`` that ends the evaluation, or None to
go on. Why this order: nothing is looked at while trading is halted or the symbol unknown;
reducing intents never add risk, so they are decided before marks are needed; equity needs
fresh, valid marks for everything held; the drawdown guard sees that equity before any denial
that does not depend on it, and the rate limit counts only intents that got that far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from trading.contracts import DenialReason, OrderIntent, OrderType, Side
from trading.market.instruments import InstrumentSpec
from trading.risk.decision import ZERO, RiskDecision, decide
from trading.risk.drawdown import TradingState
from trading.risk.leverage import liquidation_price, stop_clears_liquidation
from trading.risk.marks import Mark, MarketView
from trading.risk.policy import RiskPolicy
from trading.risk.portfolio import PendingOrder, Portfolio
from trading.risk.sizing import loss_per_unit

FLATTEN_STRATEGY = "risk-flatten"


@dataclass(frozen=True, slots=True)
class Book:
    """The book marked to market with the orders in flight filled, as the caps measure it."""

    long: Decimal  # notional of the long exposures
    short: Decimal  # notional of the short exposures, positive
    unrealized: Decimal  # positions' PnL at the marks (orders in flight excluded)
    own_qty: Decimal  # signed exposure quantity of the intent's symbol
    cluster: tuple[str, ...]  # other symbols correlated with it beyond ``max_correlation``
    cluster_net: Decimal  # their notional, signed in the intent's direction (``sign(rho)``)


@dataclass(frozen=True, slots=True)
class Projection:
    """Exposure notionals were the intent's symbol to hold only what the intent does not
    reduce: what each cap holds against its limit."""

    symbol: Decimal
    gross: Decimal
    side: Decimal
    cluster: Decimal


@dataclass
class Evaluation:
    """One intent under evaluation: its inputs, the evidence gathered so far, and what the
    checks derive from the book and the market (each computed once, when first needed)."""

    intent: OrderIntent
    portfolio: Portfolio
    market: MarketView
    policy: RiskPolicy
    stop_price: Decimal | None
    confidence: float
    requested_leverage: float | None
    numbers: dict[str, object] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        return self.market.now

    @property
    def buying(self) -> bool:
        return self.intent.side is Side.BUY

    @cached_property
    def spec(self) -> InstrumentSpec:
        return self.policy.instruments[self.intent.symbol]

    @cached_property
    def held(self) -> Decimal:
        """Signed position quantity in the intent's symbol."""
        position = self.portfolio.positions.get(self.intent.symbol)
        return position.quantity if position is not None else ZERO

    @cached_property
    def opposes(self) -> bool:
        return self.held < 0 if self.buying else self.held > 0

    @cached_property
    def reducing_qty(self) -> Decimal:
        """The part of the intent that closes the position."""
        return abs(self.held) if self.opposes else ZERO

    @cached_property
    def new_qty(self) -> Decimal:
        """The part of the intent that adds risk."""
        return self.intent.quantity - self.reducing_qty

    @cached_property
    def mark(self) -> Mark:
        return self.market.marks[self.intent.symbol]

    @cached_property
    def stale_before(self) -> datetime:
        return self.now - self.policy.stale_after

    @cached_property
    def in_flight(self) -> dict[str, Decimal]:
        """Signed quantity per symbol of the orders in flight, this intent's own (a retry) aside."""
        pending: dict[str, Decimal] = {}
        for client_id, order in self.portfolio.pending.items():
            if client_id != self.intent.client_order_id:
                pending[order.symbol] = pending.get(order.symbol, ZERO) + order.signed_quantity
        return pending

    @cached_property
    def open_held(self) -> dict[str, Decimal]:
        """Signed quantity per symbol of the open positions (flat entries left out)."""
        return {s: p.quantity for s, p in self.portfolio.positions.items() if p.quantity}

    @cached_property
    def correlated(self) -> Mapping[str, float]:
        """Correlation with the intent's symbol of each symbol beyond ``max_correlation``."""
        threshold = self.policy.limits.max_correlation
        return self.market.correlations.cluster_row(self.intent.symbol, threshold)

    @cached_property
    def book(self) -> Book:
        return mark_book(self)

    @cached_property
    def equity(self) -> Decimal:
        return self.portfolio.balance + self.book.unrealized

    @cached_property
    def leverage(self) -> Decimal:
        requested = self.requested_leverage
        return self.policy.default_leverage if requested is None else Decimal(str(requested))

    @cached_property
    def stop(self) -> Decimal:
        """The protective stop, once ``check_stop_present`` has passed."""
        if self.stop_price is None:
            raise ValueError("stop_price is required past check_stop_present")
        return self.stop_price

    @cached_property
    def entry_price(self) -> Decimal:
        """Where the order should fill: its limit, the trigger of a stop-market, else the mark."""
        intent = self.intent
        if intent.limit_price is not None:
            return intent.limit_price
        if intent.order_type is OrderType.STOP_MARKET and intent.stop_price is not None:
            return intent.stop_price
        return self.mark.price

    @cached_property
    def projection(self) -> Projection:
        return project(self)

    def deny(self, reason: DenialReason, numbers: dict[str, object] | None = None) -> RiskDecision:
        """DENIED for ``reason`` with ``numbers`` as evidence (default: the evidence so far)."""
        return decide(
            self.intent, self.now, ZERO, reason, self.numbers if numbers is None else numbers
        )

    def approve(self, quantity: Decimal, reason: DenialReason | None) -> RiskDecision:
        """``quantity`` of the intent: APPROVED if all of it, else RESIZED/DENIED for ``reason``."""
        return decide(self.intent, self.now, quantity, reason, self.numbers)


def _exposures(evaluation: Evaluation) -> Iterator[tuple[str, Decimal, Decimal]]:
    """``(symbol, held, exposure)`` for each open position, then each symbol only in flight
    (never traded, or flat again: its position entry keeps the realized PnL, not exposure);
    the exposure adds the orders in flight to what is held."""
    open_held, in_flight = evaluation.open_held, evaluation.in_flight
    for symbol, held in open_held.items():
        yield symbol, held, held + in_flight.get(symbol, ZERO) if in_flight else held
    for symbol, quantity in in_flight.items():
        if symbol not in open_held:
            yield symbol, ZERO, ZERO + quantity


def mark_book(evaluation: Evaluation) -> Book:
    """One pass over the book at the marks (Decimal throughout)."""
    symbol, row = evaluation.intent.symbol, evaluation.correlated
    marks, positions = evaluation.market.marks, evaluation.portfolio.positions
    long = short = marked = cost = own_qty = cluster_net = ZERO
    cluster: list[str] = []
    for sym, held, quantity in _exposures(evaluation):
        price = marks[sym].price
        if held:
            marked += held * price
            cost += held * positions[sym].avg_entry_price  # type: ignore[operator]
        notional = quantity * price
        if notional > 0:
            long += notional
        else:
            short -= notional
        if sym == symbol:
            own_qty = quantity
        elif sym in row and notional:
            cluster.append(sym)
            cluster_net += notional if row[sym] > 0 else -notional
    net = cluster_net if evaluation.buying else -cluster_net
    return Book(long, short, marked - cost, own_qty, tuple(cluster), net)


def project(evaluation: Evaluation) -> Projection:
    """The book's notionals with the intent's symbol at the position it keeps after reducing."""
    book, price, buying = evaluation.book, evaluation.mark.price, evaluation.buying
    own_qty = book.own_qty
    base_qty = max((own_qty if buying else -own_qty) + evaluation.reducing_qty, ZERO)
    own_notional = abs(own_qty) * price
    own_same_side = own_notional if (own_qty > 0) == buying and own_qty else ZERO
    base_notional = base_qty * price
    same_side = book.long if buying else book.short
    return Projection(
        symbol=base_notional,
        gross=book.long + book.short - own_notional + base_notional,
        side=same_side - own_same_side + base_notional,
        cluster=book.cluster_net + base_notional,
    )


# --------------------------------------------------------------------------- the checks

Check = Callable[[Evaluation], RiskDecision | None]


def check_trading_state(evaluation: Evaluation) -> RiskDecision | None:
    """HALTED (kill switch): nothing passes, not even reducing intents."""
    guard = evaluation.portfolio.drawdown
    if guard.state is TradingState.HALTED:
        return evaluation.deny(DenialReason.HALTED, {"state": guard.state, "note": guard.note})
    return None


def check_symbol(evaluation: Evaluation) -> RiskDecision | None:
    """UNKNOWN_SYMBOL: the venue lists no instrument for it."""
    symbol = evaluation.intent.symbol
    if symbol not in evaluation.policy.instruments:
        return evaluation.deny(DenialReason.UNKNOWN_SYMBOL, {"symbol": symbol})
    return None


def check_reducing(evaluation: Evaluation) -> RiskDecision | None:
    """Reduce-only, or opposite the position and no larger: adds no risk, so it is decided here
    (no mark or stop needed), approved up to the position; beyond it RESIZED for SAFE_MODE (in
    SAFE_MODE) or INVALID_INPUT, and a reduce-only intent that reduces nothing DENIED."""
    intent, held = evaluation.intent, evaluation.held
    if not (intent.reduce_only or (evaluation.opposes and intent.quantity <= abs(held))):
        return None
    guard = evaluation.portfolio.drawdown
    evaluation.numbers.update(state=guard.state, position_qty=held)
    if not evaluation.opposes:
        evaluation.numbers["error"] = "reduce_only intent does not reduce the position"
        return evaluation.deny(DenialReason.INVALID_INPUT)
    approved = min(intent.quantity, abs(held))
    if approved == intent.quantity:
        return evaluation.approve(approved, None)
    evaluation.numbers["capped_at_position"] = abs(held)
    in_safe_mode = guard.state is TradingState.REDUCING
    return evaluation.approve(
        approved, DenialReason.SAFE_MODE if in_safe_mode else DenialReason.INVALID_INPUT
    )


def check_mark_present(evaluation: Evaluation) -> RiskDecision | None:
    """STALE_MARKET_DATA: no mark at all for the intent's symbol."""
    symbol = evaluation.intent.symbol
    if evaluation.market.marks.get(symbol) is None:
        return evaluation.deny(DenialReason.STALE_MARKET_DATA, {"missing_mark": symbol})
    return None


def check_marks_valid(evaluation: Evaluation) -> RiskDecision | None:
    """INVALID_INPUT: the intent's or a held symbol's mark is not a positive finite price."""
    invalid = evaluation.market.invalid
    if invalid:
        held = evaluation.portfolio.positions.keys()
        bad = sorted(invalid & ({evaluation.intent.symbol} | held))
        if bad:
            return evaluation.deny(DenialReason.INVALID_INPUT, {"bad_mark": " ".join(bad)})
    return None


def _stale(evaluation: Evaluation, symbol: str, mark: Mark) -> RiskDecision:
    numbers: dict[str, object] = {"stale_symbol": symbol, "mark_time": mark.ts.isoformat()}
    return evaluation.deny(DenialReason.STALE_MARKET_DATA, numbers)


def check_book_marks(evaluation: Evaluation) -> RiskDecision | None:
    """STALE_MARKET_DATA: a held symbol without a fresh mark, or one only in flight without any."""
    marks, open_held = evaluation.market.marks, evaluation.open_held
    for symbol in open_held:
        mark = marks.get(symbol)
        if mark is None:
            return evaluation.deny(DenialReason.STALE_MARKET_DATA, {"missing_mark": symbol})
        if mark.ts < evaluation.stale_before:
            return _stale(evaluation, symbol, mark)
    for symbol in evaluation.in_flight:
        if symbol not in open_held and marks.get(symbol) is None:
            return evaluation.deny(DenialReason.STALE_MARKET_DATA, {"missing_mark": symbol})
    return None


def check_mark_fresh(evaluation: Evaluation) -> RiskDecision | None:
    """STALE_MARKET_DATA: the intent's own mark is older than ``stale_market_data_seconds``."""
    if evaluation.mark.ts < evaluation.stale_before:
        return _stale(evaluation, evaluation.intent.symbol, evaluation.mark)
    return None


def check_equity(evaluation: Evaluation) -> RiskDecision | None:
    """INVALID_INPUT: equity (balance plus unrealized PnL at the marks) is not positive."""
    equity = evaluation.equity
    evaluation.numbers.update(equity=equity, mark=evaluation.mark.price)
    if not equity.is_finite() or equity <= 0:
        evaluation.numbers["error"] = "equity must be positive"
        return evaluation.deny(DenialReason.INVALID_INPUT)
    return None


def check_drawdown(evaluation: Evaluation) -> RiskDecision | None:
    """SAFE_MODE: equity updates the day and month peaks; outside ACTIVE only the part that
    closes the position passes, with the flatten exits when this observation tripped it."""
    policy, guard, now = evaluation.policy, evaluation.portfolio.drawdown, evaluation.now
    tripped = guard.observe(
        evaluation.equity, now, policy.daily_keep, policy.monthly_keep, policy.cooldown
    )
    if guard.state is TradingState.ACTIVE:
        return None
    flatten = (
        flatten_intents(evaluation.portfolio, now)
        if tripped and policy.flatten_on_safe_mode
        else ()
    )
    numbers = evaluation.numbers
    numbers.update(state=guard.state, trigger=guard.trigger, note=guard.note)
    numbers.update(day_peak=guard.day_peak, month_peak=guard.month_peak)
    reason = DenialReason.SAFE_MODE
    return decide(evaluation.intent, now, evaluation.reducing_qty, reason, numbers, flatten)


def check_rate_limit(evaluation: Evaluation) -> RiskDecision | None:
    """RATE_LIMIT: at most ``max_intents_per_window`` intents per window; this one is counted."""
    times, now = evaluation.portfolio.recent_intents, evaluation.now
    window_start = now - evaluation.policy.rate_window
    while times and times[0] <= window_start:
        times.popleft()
    if len(times) >= evaluation.policy.limits.max_intents_per_window:
        evaluation.numbers["intents_in_window"] = len(times)
        return evaluation.deny(DenialReason.RATE_LIMIT)
    times.append(now)
    return None


def check_leverage(evaluation: Evaluation) -> RiskDecision | None:
    """LEVERAGE_CAP: the margin leverage is finite, at least 1 and at most ``max_leverage``."""
    leverage, ceiling = evaluation.leverage, evaluation.policy.max_leverage
    evaluation.numbers["leverage"] = leverage
    if not leverage.is_finite() or leverage < 1 or leverage > ceiling:
        evaluation.numbers["max_leverage"] = ceiling
        return evaluation.deny(DenialReason.LEVERAGE_CAP)
    return None


def check_confidence(evaluation: Evaluation) -> RiskDecision | None:
    """INVALID_INPUT: the signal's confidence is outside [0, 1]."""
    confidence = evaluation.confidence
    if not 0.0 <= confidence <= 1.0:
        evaluation.numbers["error"] = f"confidence {confidence} outside [0, 1]"
        return evaluation.deny(DenialReason.INVALID_INPUT)
    return None


def check_stop_present(evaluation: Evaluation) -> RiskDecision | None:
    """INVALID_INPUT: a risk-increasing intent has no positive finite protective stop."""
    stop = evaluation.stop_price
    if stop is None or not stop.is_finite() or stop <= 0:
        error = f"risk-increasing intent needs a positive stop_price, got {stop}"
        evaluation.numbers["error"] = error
        return evaluation.deny(DenialReason.INVALID_INPUT)
    return None


def check_stop_side(evaluation: Evaluation) -> RiskDecision | None:
    """INVALID_INPUT: the stop is not below the entry of a buy (above that of a sell)."""
    entry, stop = evaluation.entry_price, evaluation.stop
    evaluation.numbers.update(entry_price=entry, stop_price=stop)
    if (entry - stop if evaluation.buying else stop - entry) <= 0:
        side = evaluation.intent.side
        evaluation.numbers["error"] = f"stop is on the wrong side of entry for a {side} intent"
        return evaluation.deny(DenialReason.INVALID_INPUT)
    return None


def check_liquidation(evaluation: Evaluation) -> RiskDecision | None:
    """STOP_BEYOND_LIQUIDATION: the stop must trigger before the position would be liquidated,
    by at least ``liquidation_buffer_pct``."""
    policy, side = evaluation.policy, evaluation.intent.side
    liquidation = liquidation_price(
        evaluation.entry_price, side, evaluation.leverage, policy.maintenance_margin_rate
    )
    evaluation.numbers["liquidation_price"] = liquidation
    if not stop_clears_liquidation(evaluation.stop, liquidation, side, policy.liquidation_buffer):
        evaluation.numbers["liquidation_buffer"] = policy.liquidation_buffer
        return evaluation.deny(DenialReason.STOP_BEYOND_LIQUIDATION)
    return None


def check_min_notional(evaluation: Evaluation) -> RiskDecision | None:
    """MIN_NOTIONAL: the risk-increasing part is below the venue's minimum order value (any
    part that closes the position still passes)."""
    min_notional = evaluation.spec.min_notional
    evaluation.numbers["min_notional"] = min_notional
    if evaluation.new_qty * evaluation.entry_price < min_notional:
        return evaluation.approve(evaluation.reducing_qty, DenialReason.MIN_NOTIONAL)
    return None


CHECKS: tuple[Check, ...] = (
    check_trading_state,
    check_symbol,
    check_reducing,
    check_mark_present,
    check_marks_valid,
    check_book_marks,
    check_mark_fresh,
    check_equity,
    check_drawdown,
    check_rate_limit,
    check_leverage,
    check_confidence,
    check_stop_present,
    check_stop_side,
    check_liquidation,
    check_min_notional,
)


# --------------------------------------------------------------------------- sizing and caps


@dataclass(frozen=True, slots=True)
class Cap:
    """A limit on exposure notional and what the intent's book already uses of it."""

    reason: DenialReason
    limit: Decimal
    used: Decimal


def symbol_cap(evaluation: Evaluation) -> Cap | None:
    """SYMBOL_CAP: exposure to the symbol at most ``max_symbol_exposure_pct`` of equity."""
    limit = evaluation.policy.symbol_cap * evaluation.equity
    return Cap(DenialReason.SYMBOL_CAP, limit, evaluation.projection.symbol)


def gross_cap(evaluation: Evaluation) -> Cap | None:
    """EXPOSURE_CAP: gross exposure at most ``max_gross_exposure_pct`` of equity."""
    limit = evaluation.policy.gross_cap * evaluation.equity
    return Cap(DenialReason.EXPOSURE_CAP, limit, evaluation.projection.gross)


def side_cap(evaluation: Evaluation) -> Cap | None:
    """SIDE_CAP: long (or short) exposure at most ``max_side_exposure_pct`` of equity."""
    limit = evaluation.policy.side_cap * evaluation.equity
    return Cap(DenialReason.SIDE_CAP, limit, evaluation.projection.side)


def margin_cap(evaluation: Evaluation) -> Cap | None:
    """LEVERAGE_CAP: margin, gross notional / leverage, at most equity."""
    limit = evaluation.leverage * evaluation.equity
    return Cap(DenialReason.LEVERAGE_CAP, limit, evaluation.projection.gross)


def correlation_cap(evaluation: Evaluation) -> Cap | None:
    """CORRELATION: the correlated cluster's net exposure at most the per-symbol cap."""
    if not evaluation.book.cluster:
        return None
    limit = evaluation.policy.symbol_cap * evaluation.equity
    return Cap(DenialReason.CORRELATION, limit, evaluation.projection.cluster)


CAPS: tuple[Callable[[Evaluation], Cap | None], ...] = (
    symbol_cap,
    gross_cap,
    side_cap,
    margin_cap,
    correlation_cap,
)


def size(evaluation: Evaluation) -> RiskDecision:
    """The quantity risking at most ``risk_pct(confidence)`` of equity down to the stop, then
    resized down to what every cap of ``CAPS`` leaves room for (the tightest names the reason)."""
    policy, equity, new_qty = evaluation.policy, evaluation.equity, evaluation.new_qty
    pct = policy.risk_pct(evaluation.confidence)
    risk_amount = equity * pct / 100
    unit_loss = loss_per_unit(evaluation.entry_price, evaluation.stop, policy.taker_fee_rate)
    allowed = risk_amount / unit_loss
    reason = DenialReason.RISK_PER_TRADE if allowed < new_qty else None
    allowed = min(allowed, new_qty)
    if evaluation.book.cluster:
        evaluation.numbers["cluster_symbols"] = " ".join(evaluation.book.cluster)
    for cap in filter(None, (rule(evaluation) for rule in CAPS)):
        room = (cap.limit - cap.used) / evaluation.mark.price
        if room < allowed:
            allowed, reason = room, cap.reason
    evaluation.numbers.update(
        risk_pct=pct,
        risk_amount=risk_amount,
        loss_per_unit=unit_loss,
        max_qty_risk=risk_amount / unit_loss,
    )
    _note_exposures(evaluation)
    return reserve(evaluation, max(allowed, ZERO), reason)


def _note_exposures(evaluation: Evaluation) -> None:
    projection, policy, equity = evaluation.projection, evaluation.policy, evaluation.equity
    evaluation.numbers.update(
        symbol_exposure=projection.symbol,
        symbol_cap=policy.symbol_cap * equity,
        gross_exposure=projection.gross,
        gross_cap=policy.gross_cap * equity,
        side_exposure=projection.side,
        side_cap=policy.side_cap * equity,
    )
    if evaluation.book.cluster:
        evaluation.numbers.update(cluster_exposure=projection.cluster)


def reserve(evaluation: Evaluation, allowed: Decimal, reason: DenialReason | None) -> RiskDecision:
    """Round the total down to the lot size; a risk-increasing rest below the minimum notional
    is dropped; what remains is reserved as an order in flight until filled or released."""
    spec, reducing_qty, requested = (
        evaluation.spec,
        evaluation.reducing_qty,
        evaluation.intent.quantity,
    )
    total = spec.round_quantity_down(reducing_qty + allowed)
    if total >= requested:
        total = requested
    elif reason is None:
        evaluation.numbers["lot_size"] = spec.lot_size
    new_final = total - reducing_qty
    if new_final > 0 and new_final * evaluation.entry_price < spec.min_notional:
        evaluation.numbers["resized_below_min_notional"] = new_final
        total, new_final = reducing_qty, ZERO
    if new_final > 0:
        intent = evaluation.intent
        evaluation.portfolio.pending[intent.client_order_id] = PendingOrder(
            intent.symbol, intent.side, total
        )
    return evaluation.approve(total, reason)


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
