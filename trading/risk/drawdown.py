"""Trading state and drawdown protection: UTC daily and monthly peaks trip SAFE_MODE."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from trading.contracts import SignedDecimal, UtcDatetime


class TradingState(StrEnum):
    """NautilusTrader's trading states: ACTIVE, REDUCING (our SAFE_MODE), HALTED."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class SafeModeTrigger(StrEnum):
    DAILY_DRAWDOWN = "DAILY_DRAWDOWN"
    MONTHLY_DRAWDOWN = "MONTHLY_DRAWDOWN"


def next_day(moment: datetime) -> datetime:
    """Start of the UTC day after ``moment``."""
    return datetime.combine(moment.date() + timedelta(days=1), time(), tzinfo=moment.tzinfo)


def next_month(moment: datetime) -> datetime:
    """Start of the UTC month after ``moment``."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=moment.tzinfo)


class DrawdownGuard(BaseModel):
    """Equity peaks of the current UTC day and month, and the state they put trading in.

    Drawdown is ``(peak - equity) / peak`` with the peak the highest equity observed since the
    period began (the first observation of a period starts it). SAFE_MODE (REDUCING) is left by
    ``reset`` or automatically once the period after the trip has begun and the cool-down has
    passed: the next UTC day for a daily trip, the next UTC month for a monthly one. HALTED is
    left only by ``reset``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    state: TradingState = TradingState.ACTIVE
    trigger: SafeModeTrigger | None = None
    changed_at: UtcDatetime | None = None
    note: str | None = None
    day: date | None = None
    day_peak: SignedDecimal | None = None
    month: date | None = None
    month_peak: SignedDecimal | None = None

    def release_time(self, cooldown: timedelta) -> datetime | None:
        """When an automatic SAFE_MODE exit becomes possible (None: only ``reset`` helps)."""
        if self.state is not TradingState.REDUCING or self.changed_at is None:
            return None
        if self.trigger is SafeModeTrigger.DAILY_DRAWDOWN:
            return next_day(self.changed_at) + cooldown
        if self.trigger is SafeModeTrigger.MONTHLY_DRAWDOWN:
            return next_month(self.changed_at) + cooldown
        return None

    def observe(
        self,
        equity: Decimal,
        now: datetime,
        daily_keep: Decimal,
        monthly_keep: Decimal,
        cooldown: timedelta,
    ) -> bool:
        """Track peaks and trip or release SAFE_MODE; True when this observation tripped it.

        ``daily_keep``/``monthly_keep`` are ``1 - drawdown_pct / 100``: the trip fires when
        ``equity <= peak * keep``.
        """
        today, month = now.date(), now.date().replace(day=1)
        day_peak = equity if self.day != today or self.day_peak is None else self.day_peak
        month_peak = equity if self.month != month or self.month_peak is None else self.month_peak
        day_peak, month_peak = max(day_peak, equity), max(month_peak, equity)
        peaks = (today, day_peak, month, month_peak)
        if peaks != (self.day, self.day_peak, self.month, self.month_peak):  # skip no-op writes
            self.day, self.day_peak, self.month, self.month_peak = peaks
        if self.state is TradingState.HALTED:
            return False
        release = self.release_time(cooldown)
        if release is not None and now >= release:
            self._set(TradingState.ACTIVE, None, now, f"released after {self.trigger}")
        if equity <= month_peak * monthly_keep:
            if self.trigger is not SafeModeTrigger.MONTHLY_DRAWDOWN:
                tripped = self.state is TradingState.ACTIVE
                self._set(
                    TradingState.REDUCING,
                    SafeModeTrigger.MONTHLY_DRAWDOWN,
                    now,
                    f"equity {equity} <= month peak {month_peak} * {monthly_keep}",
                )
                return tripped
        elif self.state is TradingState.ACTIVE and equity <= day_peak * daily_keep:
            self._set(
                TradingState.REDUCING,
                SafeModeTrigger.DAILY_DRAWDOWN,
                now,
                f"equity {equity} <= day peak {day_peak} * {daily_keep}",
            )
            return True
        return False

    def safe_mode(self, now: datetime, note: str) -> None:
        """Enter SAFE_MODE on an incident (the watchdog, a failure policy); only ``reset``
        leaves it, and a HALT stays a HALT."""
        if self.state is TradingState.ACTIVE:
            self._set(TradingState.REDUCING, None, now, note)

    def halt(self, now: datetime, note: str) -> None:
        """Stop everything (kill switch); only ``reset`` resumes."""
        self._set(TradingState.HALTED, None, now, note)

    def reset(self, now: datetime, equity: Decimal) -> None:
        """Explicit operator reset: ACTIVE again, with both peaks rebased to ``equity``."""
        self._set(TradingState.ACTIVE, None, now, "reset")
        self.day, self.day_peak = now.date(), equity
        self.month, self.month_peak = now.date().replace(day=1), equity

    def _set(
        self, state: TradingState, trigger: SafeModeTrigger | None, now: datetime, note: str
    ) -> None:
        self.state, self.trigger, self.changed_at, self.note = state, trigger, now, note[:200]
