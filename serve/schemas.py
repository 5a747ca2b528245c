"""Request and response bodies of the HTTP API.

Requests reuse the contract field types (``Quantity``, ``Symbol``, ``UtcDatetime``...) in lax
mode, so a JSON number or string becomes a ``Decimal`` and every bad field fails with its name
in ``loc``. Responses carry Decimals as plain-notation strings, as the contracts do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trading.contracts import (
    CLIENT_ID_PREFIX,
    ClientOrderId,
    Confidence,
    NonNegativeDecimal,
    OrderDecision,
    OrderIntent,
    OrderState,
    OrderType,
    Price,
    Quantity,
    Side,
    Signal,
    SignedDecimal,
    StrategyName,
    Symbol,
    TimeInForce,
    UtcDatetime,
)
from trading.execution.manual import ManualPlacement
from trading.failure.taxonomy import Incident
from trading.risk.drawdown import TradingState
from trading.risk.gate import RiskSummary

MANUAL_ID_PREFIX = CLIENT_ID_PREFIX + "m"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- requests


class ManualOrder(Body):
    """A manual order intent. Without ``client_order_id`` the id is derived from the body, so
    the same request twice is the same order."""

    client_order_id: ClientOrderId | None = None
    strategy: StrategyName = "manual"
    symbol: Symbol
    side: Side
    order_type: OrderType = OrderType.MARKET
    quantity: Quantity
    limit_price: Price | None = None
    stop_price: Price | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    stop_loss_price: Price | None = Field(
        None, description="protective stop that risk sizes against; needed to add risk"
    )
    confidence: Confidence = Field(
        0.0, description="0 sizes at risk_per_trade_min_pct, 1 at risk_per_trade_max_pct"
    )
    leverage: Annotated[float, Field(ge=1, allow_inf_nan=False)] | None = None
    signal_time: UtcDatetime | None = None

    def resolved_client_order_id(self) -> str:
        """The given id, else ``rt-m`` + 128 bits of SHA-256 over the canonical body."""
        if self.client_order_id is not None:
            return self.client_order_id
        body = self.model_dump(exclude={"client_order_id"}, exclude_none=True)
        canonical = json.dumps(body, sort_keys=True, default=_canonical, separators=(",", ":"))
        return MANUAL_ID_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def to_intent(self, now: datetime) -> OrderIntent:
        """The contract intent (raises ``ValidationError`` naming the field on a bad combination,
        e.g. a LIMIT order without ``limit_price``)."""
        return OrderIntent(
            client_order_id=self.resolved_client_order_id(),
            strategy=self.strategy,
            symbol=self.symbol,
            side=self.side,
            order_type=self.order_type,
            quantity=self.quantity,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            time_in_force=self.time_in_force,
            reduce_only=self.reduce_only,
            signal_time=self.signal_time or now,
            created_at=now,
        )


def _canonical(value: Any) -> str:
    """One spelling per value: ``0.0010`` and ``0.001`` hash alike."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot canonicalize {type(value).__name__}")


class ReloadRequest(Body):
    path: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="config file to load; default: the session's config"
    )


# --------------------------------------------------------------------------- responses


class ActorHealth(Body):
    ok: bool
    latency_ms: float
    error: str | None = None


class Health(Body):
    status: Literal["ok", "failing"]
    actors: dict[str, ActorHealth]
    failed: list[str]


class Signals(Body):
    """Latest explained Signal per symbol (None before the first)."""

    signals: dict[str, Signal | None]


class PositionView(Body):
    """Net quantity from the execution gateway's fills; exposure from risk's marked book."""

    symbol: str
    quantity: SignedDecimal
    exposure: NonNegativeDecimal


class Positions(Body):
    positions: list[PositionView]

    @classmethod
    def of(cls, quantities: Mapping[str, Decimal], exposure: Mapping[str, Decimal]) -> Positions:
        """Every symbol with a position or an exposure, sorted."""
        symbols = sorted({s for s, q in quantities.items() if q} | set(exposure))
        return cls(
            positions=[
                PositionView(
                    symbol=s,
                    quantity=quantities.get(s, Decimal(0)),
                    exposure=exposure.get(s, Decimal(0)),
                )
                for s in symbols
            ]
        )


class RiskView(Body):
    state: TradingState
    safe_mode: bool
    trigger: str | None
    equity: SignedDecimal
    balance: SignedDecimal
    gross_exposure: NonNegativeDecimal
    exposure_by_symbol: dict[str, NonNegativeDecimal]
    day_peak: SignedDecimal | None
    month_peak: SignedDecimal | None
    daily_drawdown_pct: float | None
    monthly_drawdown_pct: float | None
    open_positions: int
    orders_in_flight: int

    @classmethod
    def from_summary(cls, summary: RiskSummary) -> RiskView:
        return cls(
            state=summary.state,
            safe_mode=summary.state is TradingState.REDUCING,
            trigger=summary.trigger,
            equity=summary.equity,
            balance=summary.balance,
            gross_exposure=summary.gross_exposure,
            exposure_by_symbol=summary.exposure_by_symbol,
            day_peak=summary.day_peak,
            month_peak=summary.month_peak,
            daily_drawdown_pct=_drawdown_pct(summary.equity, summary.day_peak),
            monthly_drawdown_pct=_drawdown_pct(summary.equity, summary.month_peak),
            open_positions=summary.open_positions,
            orders_in_flight=summary.orders_in_flight,
        )


def _drawdown_pct(equity: Decimal, peak: Decimal | None) -> float | None:
    """Percent below the peak (0 at or above it)."""
    if peak is None or peak <= 0:
        return None
    return max(0.0, float((peak - equity) / peak * 100))


class OrderResult(Body):
    """Risk's decision and the order as the gateway knows it; ``sent`` is True only for the
    request that sent it, a repeat gets the same decision with ``sent`` False."""

    client_order_id: str
    decision: OrderDecision
    sent: bool
    order: OrderState | None = None

    @classmethod
    def of(cls, client_order_id: str, placed: ManualPlacement) -> OrderResult:
        return cls(
            client_order_id=client_order_id,
            decision=placed.decision,
            sent=placed.sent,
            order=placed.order,
        )


class ReloadResult(Body):
    path: str
    digest: str
    applied: bool


class Incidents(Body):
    """Failures the session handled: error class, cause, recovery action and outcome."""

    incidents: list[Incident]
