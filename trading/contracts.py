"""The data contracts every layer speaks: frozen, strict pydantic v2 models.

Conventions (one each, everywhere):
- Time: timezone-aware ``datetime`` in UTC (offset zero), microsecond resolution, at or after
  1970-01-01. On the wire: RFC 3339 text ending in ``Z``. Naive or non-UTC datetimes are
  rejected, never converted. Bars are keyed by their OPEN time, as the venues publish them.
- Money: prices, quantities and fees are ``Decimal``: finite, at most 28 significant digits and
  18 decimal places (exactly what ``rust_exec`` holds), carried in JSON as plain-notation
  strings (``"0.00100"``, never ``"1E-3"``) so no float ever touches them.
- Scores, confidences and indicator values are floats (finite; scores in [-1, 1],
  confidences in [0, 1]).

``OrderIntent``, ``Fill``, ``OrderStatus`` and ``OrderState`` have twins in
``rust_exec/src/contracts.rs``; ``tests/test_rust_contract.py`` keeps the two in lockstep.
Bad input raises ``pydantic.ValidationError`` whose entry names the field and the value.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

# --------------------------------------------------------------------------- enums


class Timeframe(StrEnum):
    """Bar length. 1m/5m are base feeds; 15m/1h/4h/1d are the analysis timeframes."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        return _TIMEFRAME_SECONDS[self]

    @property
    def duration(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def floor(self, moment: datetime) -> datetime:
        """Open time of the exchange-aligned (UTC epoch-aligned) bar that contains ``moment``."""
        epoch_s = int(moment.timestamp())
        return datetime.fromtimestamp(epoch_s - epoch_s % self.seconds, UTC)

    def is_aligned(self, moment: datetime) -> bool:
        return moment.microsecond == 0 and int(moment.timestamp()) % self.seconds == 0

    @classmethod
    def analysis(cls) -> tuple[Timeframe, ...]:
        return (cls.M15, cls.H1, cls.H4, cls.D1)


_TIMEFRAME_SECONDS = {
    Timeframe.M1: 60,
    Timeframe.M5: 300,
    Timeframe.M15: 900,
    Timeframe.H1: 3_600,
    Timeframe.H4: 14_400,
    Timeframe.D1: 86_400,
}


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Direction(StrEnum):
    """What an analysis thinks price will do; ``Side`` is what an order does."""

    LONG = "LONG"
    SHORT = "SHORT"
    NEUTRAL = "NEUTRAL"


class Regime(StrEnum):
    BULL = "BULL"
    BEAR = "BEAR"
    SIDEWAYS = "SIDEWAYS"


class PatternKind(StrEnum):
    SUPPORT = "SUPPORT"
    RESISTANCE = "RESISTANCE"
    TREND_LINE = "TREND_LINE"
    RANGE = "RANGE"
    RANGE_BREAKOUT = "RANGE_BREAKOUT"
    TREND_LINE_BREAK = "TREND_LINE_BREAK"
    LEVEL_BREAK = "LEVEL_BREAK"
    RETEST = "RETEST"
    FALSE_BREAK = "FALSE_BREAK"
    PIN_BAR = "PIN_BAR"
    ENGULFING = "ENGULFING"
    DOJI = "DOJI"
    INSIDE_BAR = "INSIDE_BAR"
    MORNING_STAR = "MORNING_STAR"
    EVENING_STAR = "EVENING_STAR"
    REGULAR_DIVERGENCE = "REGULAR_DIVERGENCE"
    HIDDEN_DIVERGENCE = "HIDDEN_DIVERGENCE"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class Liquidity(StrEnum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class OrderStatus(StrEnum):
    NEW = "NEW"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    PENDING_REPLACE = "PENDING_REPLACE"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_STATUSES


_TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class DecisionOutcome(StrEnum):
    APPROVED = "APPROVED"
    RESIZED = "RESIZED"
    DENIED = "DENIED"


class DenialReason(StrEnum):
    """Why risk denied or resized an intent (NautilusTrader-style typed reasons)."""

    EXPOSURE_CAP = "EXPOSURE_CAP"
    SYMBOL_CAP = "SYMBOL_CAP"
    SIDE_CAP = "SIDE_CAP"
    CORRELATION = "CORRELATION"
    RISK_PER_TRADE = "RISK_PER_TRADE"
    SAFE_MODE = "SAFE_MODE"
    HALTED = "HALTED"
    LEVERAGE_CAP = "LEVERAGE_CAP"
    MIN_NOTIONAL = "MIN_NOTIONAL"
    STOP_BEYOND_LIQUIDATION = "STOP_BEYOND_LIQUIDATION"
    STALE_MARKET_DATA = "STALE_MARKET_DATA"
    RATE_LIMIT = "RATE_LIMIT"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_INPUT = "INVALID_INPUT"


# --------------------------------------------------------------------------- field types


def field_error(model: str, field: str, value: Any, kind: str, message: str) -> ValidationError:
    """A ValidationError located at ``field``, for rules that span several fields."""
    error = PydanticCustomError(kind, message)
    return ValidationError.from_exception_data(
        model, [InitErrorDetails(type=error, loc=(field,), input=value)]
    )


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise PydanticCustomError(
            "utc_datetime",
            "must be a UTC datetime (offset +00:00), got {value}",
            {"value": value.isoformat()},
        )
    if value.year < 1970:
        raise PydanticCustomError(
            "datetime_before_epoch",
            "must be at or after 1970-01-01, got {value}",
            {"value": value.isoformat()},
        )
    return value.astimezone(UTC)


def _plain_decimal(value: Decimal) -> str:
    return format(value, "f")


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]
"""A UTC instant; see the module docstring."""

MAX_DIGITS = 28
MAX_DECIMAL_PLACES = 18


def _require_precision(value: Decimal) -> Decimal:
    """At most 28 significant digits and 18 decimal places: what ``rust_exec`` holds exactly."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN and infinities: rejected earlier by allow_inf_nan
        raise PydanticCustomError("finite_number", "must be a finite number")
    places = max(-exponent, 0)
    total = max(len(digits) + max(exponent, 0), places)
    if places > MAX_DECIMAL_PLACES or total > MAX_DIGITS:
        raise PydanticCustomError(
            "decimal_precision",
            "must have at most 28 digits and 18 decimal places, got {value}",
            {"value": format(value, "f")},
        )
    return value


_MONEY = (
    AfterValidator(_require_precision),
    PlainSerializer(_plain_decimal, return_type=str, when_used="json"),
)
_FINITE = {"allow_inf_nan": False}

Price = Annotated[Decimal, Field(gt=0, **_FINITE), *_MONEY]
Quantity = Annotated[Decimal, Field(gt=0, **_FINITE), *_MONEY]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, **_FINITE), *_MONEY]
SignedDecimal = Annotated[Decimal, Field(**_FINITE), *_MONEY]

Symbol = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$")]
"""ccxt unified symbol: ``BASE/QUOTE`` for spot, ``BASE/QUOTE:SETTLE`` for perpetuals."""
Asset = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,20}$")]
ClientOrderId = Annotated[str, Field(pattern=r"^[.A-Z:/a-z0-9_-]{1,36}$")]
"""Binance's ``newClientOrderId`` alphabet and length."""
StrategyName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
VenueId = Annotated[str, Field(pattern=r"^[!-~]{1,64}$")]
FeatureName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Reason = Annotated[str, Field(min_length=1, max_length=500)]

Confidence = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Score = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

# Enum fields accept their value text ("1h", "BUY") as well as the member; anything else fails
# naming the allowed values. Everything else is strict: no "1.5" -> Decimal, no 1 -> True.
_ENUM = Field(strict=False)


class Contract(BaseModel):
    """Base of every contract: frozen, strict, no unknown fields."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


# --------------------------------------------------------------------------- market data


class MarketBar(Contract):
    """One OHLCV candle keyed by its exchange-aligned UTC open time.

    ``closed`` is False for the in-progress bar, which a later update of the same key replaces.
    """

    symbol: Symbol
    timeframe: Annotated[Timeframe, _ENUM]
    open_time: UtcDatetime
    open: Price
    high: Price
    low: Price
    close: Price
    volume: NonNegativeDecimal
    closed: bool = True

    @model_validator(mode="after")
    def _check_geometry(self) -> Self:
        name = type(self).__name__
        if not self.timeframe.is_aligned(self.open_time):
            raise field_error(
                name,
                "open_time",
                self.open_time,
                "bar_alignment",
                f"open_time {self.open_time.isoformat()} is not on a {self.timeframe} boundary",
            )
        if self.high < self.low:
            raise field_error(
                name, "high", self.high, "bar_range", f"high {self.high} is below low {self.low}"
            )
        for field in ("open", "close"):
            value: Decimal = getattr(self, field)
            if not self.low <= value <= self.high:
                raise field_error(
                    name,
                    field,
                    value,
                    "bar_range",
                    f"{field} {value} is outside [low {self.low}, high {self.high}]",
                )
        return self

    @property
    def close_time(self) -> datetime:
        return self.open_time + self.timeframe.duration


class IndicatorSnapshot(Contract):
    """Latest indicator values of one symbol/timeframe after the bar opened at ``bar_time``.

    Indicators still in their warm-up period are absent from ``values`` rather than NaN.
    """

    symbol: Symbol
    timeframe: Annotated[Timeframe, _ENUM]
    bar_time: UtcDatetime
    close: Price
    values: Mapping[FeatureName, FiniteFloat]


class PatternHit(Contract):
    """A detected chart or candlestick pattern, with the levels and scores behind it."""

    kind: Annotated[PatternKind, _ENUM]
    direction: Annotated[Direction, _ENUM]
    symbol: Symbol
    timeframe: Annotated[Timeframe, _ENUM]
    bar_time: UtcDatetime
    bar_index: Annotated[int, Field(ge=0)]
    levels: Mapping[FeatureName, Price] = Field(default_factory=dict)
    confidence: Confidence
    components: Mapping[FeatureName, FiniteFloat] = Field(default_factory=dict)


class Signal(Contract):
    """A scored trading idea with the reasons behind it; it never sizes or places an order."""

    symbol: Symbol
    bar_time: UtcDatetime
    created_at: UtcDatetime
    direction: Annotated[Direction, _ENUM]
    score: Score
    confidence: Confidence
    timeframes: Annotated[tuple[Annotated[Timeframe, _ENUM], ...], Field(min_length=1)]
    regime: Annotated[Regime, _ENUM]
    high_volatility: bool = False
    reasons: Annotated[tuple[Reason, ...], Field(min_length=1)]
    components: Mapping[FeatureName, FiniteFloat] = Field(default_factory=dict)
    analyst: Annotated[str, Field(min_length=1, max_length=100)]
    entry_price: Price | None = None
    stop_price: Price | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        name = type(self).__name__
        if len(set(self.timeframes)) != len(self.timeframes):
            raise field_error(
                name, "timeframes", self.timeframes, "duplicate", "timeframes repeat an entry"
            )
        expected_sign = {Direction.LONG: 1, Direction.SHORT: -1, Direction.NEUTRAL: 0}
        sign = (self.score > 0) - (self.score < 0)
        if self.direction is not Direction.NEUTRAL and sign != expected_sign[self.direction]:
            raise field_error(
                name,
                "score",
                self.score,
                "direction_mismatch",
                f"score {self.score} contradicts direction {self.direction}",
            )
        if self.entry_price is not None and self.stop_price is not None:
            wrong_side = (
                self.direction is Direction.LONG and self.stop_price >= self.entry_price
            ) or (self.direction is Direction.SHORT and self.stop_price <= self.entry_price)
            if wrong_side:
                raise field_error(
                    name,
                    "stop_price",
                    self.stop_price,
                    "stop_side",
                    f"stop {self.stop_price} is on the wrong side of entry {self.entry_price} "
                    f"for a {self.direction} signal",
                )
        return self


# --------------------------------------------------------------------------- orders


CLIENT_ID_SCHEME = "v1"
CLIENT_ID_PREFIX = "rt-"


def epoch_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch, exact for any UTC datetime."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def utc_from_ms(epoch_ms: int) -> datetime:
    """The UTC datetime of a venue's millisecond timestamp."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def now_ms() -> int:
    """Wall-clock milliseconds since the Unix epoch, as venues stamp requests and events."""
    return time.time_ns() // 1_000_000


def client_order_id(strategy: str, symbol: str, signal_time: datetime, seq: int) -> str:
    """Deterministic id of the ``seq``-th order a strategy derives from one signal.

    ``rt-`` + the first 128 bits (hex) of SHA-256 over ``v1|strategy|symbol|epoch_us|seq``; the
    Rust gateway computes the identical string (``rust_exec.client_order_id``).
    """
    preimage = f"{CLIENT_ID_SCHEME}|{strategy}|{symbol}|{epoch_us(signal_time)}|{seq}"
    return CLIENT_ID_PREFIX + hashlib.sha256(preimage.encode()).hexdigest()[:32]


class OrderIntent(Contract):
    """What a strategy wants executed. Idempotent by ``client_order_id``."""

    client_order_id: ClientOrderId
    strategy: StrategyName
    symbol: Symbol
    side: Annotated[Side, _ENUM]
    order_type: Annotated[OrderType, _ENUM]
    quantity: Quantity
    limit_price: Price | None = None
    stop_price: Price | None = None
    time_in_force: Annotated[TimeInForce, _ENUM] = TimeInForce.GTC
    reduce_only: bool = False
    signal_time: UtcDatetime
    created_at: UtcDatetime

    @model_validator(mode="after")
    def _check_prices(self) -> Self:
        needs_limit = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
        for field, required in (("limit_price", needs_limit), ("stop_price", needs_stop)):
            value = getattr(self, field)
            if required != (value is not None):
                verb = "requires" if required else "must not have"
                raise field_error(
                    type(self).__name__,
                    field,
                    value,
                    "order_prices",
                    f"{self.order_type} order {verb} {field}",
                )
        return self

    @classmethod
    def for_signal(
        cls, *, strategy: str, symbol: str, signal_time: datetime, seq: int, **fields: Any
    ) -> OrderIntent:
        """Build an intent whose client id is derived from (strategy, symbol, time, seq)."""
        return cls(
            client_order_id=client_order_id(strategy, symbol, signal_time, seq),
            strategy=strategy,
            symbol=symbol,
            signal_time=signal_time,
            **fields,
        )


class OrderDecision(Contract):
    """Risk's verdict on one intent, with the numbers that led to it (for the audit log)."""

    client_order_id: ClientOrderId
    outcome: Annotated[DecisionOutcome, _ENUM]
    reason: Annotated[DenialReason, _ENUM] | None = None
    requested_quantity: Quantity
    approved_quantity: NonNegativeDecimal
    decided_at: UtcDatetime
    evidence: Mapping[FeatureName, Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _check_outcome(self) -> Self:
        name = type(self).__name__
        has_reason = self.reason is not None
        if (self.outcome is DecisionOutcome.APPROVED) == has_reason:
            rule = "must be empty" if self.outcome is DecisionOutcome.APPROVED else "is required"
            raise field_error(
                name, "reason", self.reason, "decision_reason", f"{self.outcome}: reason {rule}"
            )
        approved, requested = self.approved_quantity, self.requested_quantity
        fits = {
            DecisionOutcome.APPROVED: approved == requested,
            DecisionOutcome.RESIZED: 0 < approved < requested,
            DecisionOutcome.DENIED: approved == 0,
        }[self.outcome]
        if not fits:
            raise field_error(
                name,
                "approved_quantity",
                approved,
                "decision_quantity",
                f"{self.outcome} does not fit approved {approved} of requested {requested}",
            )
        return self


class Fill(Contract):
    """One execution reported by the venue."""

    trade_id: VenueId
    client_order_id: ClientOrderId
    symbol: Symbol
    side: Annotated[Side, _ENUM]
    price: Price
    quantity: Quantity
    fee: NonNegativeDecimal
    fee_asset: Asset
    liquidity: Annotated[Liquidity, _ENUM]
    ts: UtcDatetime

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity


class OrderState(Contract):
    """The gateway's view of one order: status plus cumulative fills."""

    client_order_id: ClientOrderId
    symbol: Symbol
    side: Annotated[Side, _ENUM]
    status: Annotated[OrderStatus, _ENUM]
    quantity: Quantity
    filled_quantity: NonNegativeDecimal
    avg_fill_price: Price | None = None
    venue_order_id: VenueId | None = None
    reject_reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    updated_at: UtcDatetime

    @model_validator(mode="after")
    def _check_fills(self) -> Self:
        name = type(self).__name__
        filled, quantity = self.filled_quantity, self.quantity
        if filled > quantity:
            raise field_error(
                name,
                "filled_quantity",
                filled,
                "overfill",
                f"filled {filled} exceeds order quantity {quantity}",
            )
        if (filled == 0) == (self.avg_fill_price is not None):
            raise field_error(
                name,
                "avg_fill_price",
                self.avg_fill_price,
                "fill_price",
                "must be set exactly when filled_quantity > 0",
            )
        status = self.status
        if status in (OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.REJECTED):
            status_ok = filled == 0
        elif status is OrderStatus.PARTIALLY_FILLED:
            status_ok = 0 < filled < quantity
        elif status is OrderStatus.FILLED:
            status_ok = filled == quantity
        else:
            status_ok = filled < quantity
        if not status_ok:
            raise field_error(
                name,
                "status",
                status,
                "order_status",
                f"{status} does not fit filled_quantity {filled} of {quantity}",
            )
        if (status is OrderStatus.REJECTED) != (self.reject_reason is not None):
            raise field_error(
                name,
                "reject_reason",
                self.reject_reason,
                "reject_reason",
                "must be set exactly when status is REJECTED",
            )
        return self

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity


class Position(Contract):
    """Net position in one symbol: positive quantity is long, negative short.

    Derived from fills by the execution layer; ``avg_entry_price`` is set exactly when not flat.
    """

    symbol: Symbol
    quantity: SignedDecimal
    avg_entry_price: Price | None = None
    realized_pnl: SignedDecimal = Decimal(0)
    fees_paid: NonNegativeDecimal = Decimal(0)
    updated_at: UtcDatetime

    @model_validator(mode="after")
    def _check_entry(self) -> Self:
        if (self.quantity == 0) == (self.avg_entry_price is not None):
            raise field_error(
                type(self).__name__,
                "avg_entry_price",
                self.avg_entry_price,
                "entry_price",
                "must be set exactly when quantity is not 0",
            )
        return self

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    def notional(self, mark: Decimal) -> Decimal:
        """Signed value of the position at ``mark``."""
        return self.quantity * mark

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        if self.avg_entry_price is None:
            return Decimal(0)
        return self.quantity * (mark - self.avg_entry_price)


ALL_CONTRACTS: tuple[type[Contract], ...] = (
    MarketBar,
    IndicatorSnapshot,
    PatternHit,
    Signal,
    OrderIntent,
    OrderDecision,
    Fill,
    OrderState,
    Position,
)
