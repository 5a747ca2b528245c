"""Margin and liquidation estimates for a linear (USDT-margined) isolated position."""

from __future__ import annotations

from decimal import Decimal

from trading.contracts import Side


def liquidation_price(
    entry: Decimal, side: Side, leverage: Decimal, maintenance_margin_rate: Decimal
) -> Decimal:
    """Price at which the isolated margin ``entry / leverage`` per unit falls to maintenance.

    Long: ``entry/L + (P - entry) = mmr * P``  ->  ``P = entry * (1 - 1/L) / (1 - mmr)``.
    Short: ``entry/L - (P - entry) = mmr * P`` ->  ``P = entry * (1 + 1/L) / (1 + mmr)``.
    Binance's USDS-M isolated formula with one position, no maintenance amount, fees or
    funding; an approximation, so the stop keeps a buffer inside it.
    """
    if side is Side.BUY:
        return entry * (1 - 1 / leverage) / (1 - maintenance_margin_rate)
    return entry * (1 + 1 / leverage) / (1 + maintenance_margin_rate)


def stop_clears_liquidation(
    stop: Decimal, liquidation: Decimal, side: Side, buffer: Decimal
) -> bool:
    """True when the stop triggers before liquidation with ``buffer`` (a fraction) to spare.

    Long: ``stop >= liq * (1 + buffer)``; short: ``stop <= liq * (1 - buffer)``.
    """
    if side is Side.BUY:
        return stop >= liquidation * (1 + buffer)
    return stop <= liquidation * (1 - buffer)


def initial_margin(notional: Decimal, leverage: Decimal) -> Decimal:
    """Margin a position of ``notional`` ties up at ``leverage``."""
    return notional / leverage
