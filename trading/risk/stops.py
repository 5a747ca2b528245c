"""Protective stops and targets: ATR initial stop, breakeven, chandelier trail, R targets."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict

from trading.contracts import Price, Side
from trading.market.instruments import InstrumentSpec


def atr_stop(
    entry: Decimal, atr: Decimal, side: Side, multiple: Decimal, spec: InstrumentSpec
) -> Decimal:
    """``entry -/+ multiple * ATR`` (Wilder's ATR), rounded to the tick away from the entry."""
    if side is Side.BUY:
        return spec.round_price_down(entry - multiple * atr)
    return spec.round_price_up(entry + multiple * atr)


def take_profit_prices(
    entry: Decimal, stop: Decimal, r_multiples: tuple[float, ...], spec: InstrumentSpec
) -> tuple[Decimal, ...]:
    """Targets at ``entry +/- r * R`` with ``R = |entry - stop|``, rounded toward the entry."""
    risk = abs(entry - stop)
    if stop < entry:
        return tuple(spec.round_price_down(entry + Decimal(str(r)) * risk) for r in r_multiples)
    return tuple(spec.round_price_up(entry - Decimal(str(r)) * risk) for r in r_multiples)


class TrailingStop(BaseModel):
    """A stop that moves to breakeven after ``breakeven_after_r`` R and then trails the best
    price by ``multiple * ATR`` (Le Beau's chandelier exit). It only ever tightens."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    side: Side
    entry: Price
    initial_stop: Price
    stop: Price
    best_price: Price

    @classmethod
    def open(
        cls, entry: Decimal, atr: Decimal, side: Side, multiple: Decimal, spec: InstrumentSpec
    ) -> Self:
        stop = atr_stop(entry, atr, side, multiple, spec)
        return cls(side=side, entry=entry, initial_stop=stop, stop=stop, best_price=entry)

    @property
    def r_distance(self) -> Decimal:
        return abs(self.entry - self.initial_stop)

    def update(
        self,
        high: Decimal,
        low: Decimal,
        atr: Decimal,
        multiple: Decimal,
        breakeven_after_r: Decimal,
        spec: InstrumentSpec,
    ) -> TrailingStop:
        """The stop after one bar: the tighter of the old stop and the new candidates."""
        if self.side is Side.BUY:
            best = max(self.best_price, high)
            candidate = spec.round_price_down(best - multiple * atr)
            if best >= self.entry + breakeven_after_r * self.r_distance:
                candidate = max(candidate, self.entry)
            stop = max(self.stop, candidate)
        else:
            best = min(self.best_price, low)
            candidate = spec.round_price_up(best + multiple * atr)
            if best <= self.entry - breakeven_after_r * self.r_distance:
                candidate = min(candidate, self.entry)
            stop = min(self.stop, candidate)
        if stop == self.stop and best == self.best_price:
            return self
        return self.model_copy(update={"stop": stop, "best_price": best})
