"""``RiskPolicy``: the configured risk limits plus venue facts, in the Decimal and timedelta forms
the checks compare against (each derived once per policy, typed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from typing import Self

from trading.config import HARD_MAX_LEVERAGE, RiskLimits, Settings
from trading.market.instruments import BINANCE_SPOT, InstrumentSpec
from trading.risk.sizing import risk_pct


def _fraction(pct: float) -> Decimal:
    return Decimal(str(pct)) / 100


@dataclass(frozen=True)
class RiskPolicy:
    """Risk limits plus venue facts, with the Decimal forms computed once on first use."""

    limits: RiskLimits = field(default_factory=RiskLimits)
    instruments: Mapping[str, InstrumentSpec] = field(default_factory=lambda: BINANCE_SPOT)
    taker_fee_rate: Decimal = Decimal("0.0004")
    flatten_on_safe_mode: bool = False

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

    @cached_property
    def min_risk_pct(self) -> Decimal:
        return Decimal(str(self.limits.risk_per_trade_min_pct))

    @cached_property
    def max_risk_pct(self) -> Decimal:
        return Decimal(str(self.limits.risk_per_trade_max_pct))

    @cached_property
    def symbol_cap(self) -> Decimal:
        """Largest exposure to one symbol (or correlation cluster), as a fraction of equity."""
        return _fraction(self.limits.max_symbol_exposure_pct)

    @cached_property
    def gross_cap(self) -> Decimal:
        return _fraction(self.limits.max_gross_exposure_pct)

    @cached_property
    def side_cap(self) -> Decimal:
        return _fraction(self.limits.max_side_exposure_pct)

    @cached_property
    def default_leverage(self) -> Decimal:
        return Decimal(str(self.limits.default_leverage))

    @cached_property
    def max_leverage(self) -> Decimal:
        """The configured maximum, never above the hard ceiling."""
        return Decimal(str(min(self.limits.max_leverage, HARD_MAX_LEVERAGE)))

    @cached_property
    def maintenance_margin_rate(self) -> Decimal:
        return _fraction(self.limits.maintenance_margin_pct)

    @cached_property
    def liquidation_buffer(self) -> Decimal:
        return _fraction(self.limits.liquidation_buffer_pct)

    @cached_property
    def daily_keep(self) -> Decimal:
        """``1 - daily_drawdown_pct / 100``: SAFE_MODE trips at equity <= day peak * this."""
        return 1 - _fraction(self.limits.daily_drawdown_pct)

    @cached_property
    def monthly_keep(self) -> Decimal:
        return 1 - _fraction(self.limits.monthly_drawdown_pct)

    @cached_property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.limits.stale_market_data_seconds)

    @cached_property
    def rate_window(self) -> timedelta:
        return timedelta(seconds=self.limits.rate_limit_window_seconds)

    @cached_property
    def cooldown(self) -> timedelta:
        return timedelta(minutes=self.limits.safe_mode_cooldown_minutes)

    def risk_pct(self, confidence: float) -> Decimal:
        """Percent of equity risked at ``confidence`` (see ``trading.risk.sizing.risk_pct``)."""
        return risk_pct(
            confidence, self.min_risk_pct, self.max_risk_pct, self.limits.risk_confidence_exponent
        )
