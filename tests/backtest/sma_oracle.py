"""The test oracle: a fixed-size SMA cross that reverses on every cross (not product code).

``sma_cross`` runs it bar by bar through ``BarMatchingVenue`` (orders at a bar's close fill at
the next bar's open, taker fee per fill) and books fills in the risk ``Portfolio``; ``sma_grid``
is its vectorized twin for parameter sweeps (cash accounting in numpy, one pass per configuration).
``tests/backtest/test_oracle.py`` holds both equal to backtesting.py on real data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from trading.backtest.venues import BarMatchingVenue, FillRule, FillSettings
from trading.contracts import Fill, OrderIntent, OrderType, Side
from trading.indicators.averages import sma
from trading.market.frames import BarColumns
from trading.market.instruments import InstrumentSpec
from trading.patterns.series import BoolArray, FloatArray, IntArray
from trading.risk.portfolio import Portfolio

ORACLE_FILLS = FillSettings(rule=FillRule.NEXT_OPEN, volume_share=None, round_fees=False)
UNIT_LOT = InstrumentSpec("SMA/USD", Decimal("1e-8"), Decimal("1e-8"), Decimal(0))


def crosses(fast: FloatArray, slow: FloatArray) -> tuple[BoolArray, BoolArray]:
    """backtesting.py's ``crossover``: ``a[-2] < b[-2] and a[-1] > b[-1]``, both ways."""
    up = np.zeros(len(fast), dtype=bool)
    down = np.zeros(len(fast), dtype=bool)
    with np.errstate(invalid="ignore"):
        up[1:] = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
        down[1:] = (slow[:-1] < fast[:-1]) & (slow[1:] > fast[1:])
    return up, down


@dataclass(frozen=True)
class SmaRun:
    """Per-bar equity (at closes) and the fills of one SMA-cross run."""

    equity: FloatArray
    fills: list[Fill]


def sma_cross(
    bars: BarColumns,
    fast: int,
    slow: int,
    size: Decimal,
    cash: Decimal,
    fills: FillSettings = ORACLE_FILLS,
    symbol: str = "SMA/USD",
) -> SmaRun:
    """Event loop: at bar ``i``'s close a cross closes the position and opens ``size`` the
    other way; the venue fills both at bar ``i + 1``'s open. At the end, what is still open is
    closed at the last bar's open (backtesting.py's ``finalize_trades`` re-runs that bar)."""
    up, down = crosses(np.asarray(sma(bars.close, fast)), np.asarray(sma(bars.close, slow)))
    spec = replace(UNIT_LOT, symbol=symbol)
    venue = BarMatchingVenue({symbol: bars}, {symbol: spec}, fills)
    book = Portfolio(balance=cash)
    equity = np.empty(len(bars))
    booked: list[Fill] = []
    times = bars.open_time_ms.tolist()
    closes = bars.close.tolist()
    for i, t_ms in enumerate(times):
        venue.advance_to(t_ms + 1)
        _book(venue, book, booked)
        held = book.positions[symbol].quantity if symbol in book.positions else Decimal(0)
        side = Side.BUY if up[i] else Side.SELL if down[i] else None
        if side is not None:
            orders = []
            if held and (held > 0) != (side is Side.BUY):
                orders.append(_order(symbol, side, abs(held), t_ms, 0))
            if not held or (held > 0) != (side is Side.BUY):
                orders.append(_order(symbol, side, size, t_ms, 1))
            venue.submit(orders)
            _book(venue, book, booked)
        mark = Decimal(repr(closes[i]))
        equity[i] = float(book.equity({symbol: mark}))
    if len(times):
        venue.rematch()  # orders of the last bar's close trade at its open (finalize_trades)
        _book(venue, book, booked)
        held = book.positions[symbol].quantity if symbol in book.positions else Decimal(0)
        if held:
            side = Side.SELL if held > 0 else Side.BUY
            venue.submit([_order(symbol, side, abs(held), times[-1] + 1, 2)])
            venue.rematch()
            _book(venue, book, booked)
        equity[-1] = float(book.balance)
    return SmaRun(equity, booked)


def _order(symbol: str, side: Side, quantity: Decimal, t_ms: int, seq: int) -> OrderIntent:
    at = datetime.fromtimestamp(t_ms / 1000, UTC)
    return OrderIntent.for_signal(
        strategy="sma-cross",
        symbol=symbol,
        signal_time=at,
        seq=seq,
        side=side,
        order_type=OrderType.MARKET,
        quantity=quantity,
        created_at=at,
    )


def _book(venue: BarMatchingVenue, book: Portfolio, booked: list[Fill]) -> None:
    for update in venue.take_updates():
        for fill in update.fills:
            book.apply_fill(fill)
            booked.append(fill)


def sma_table(close: FloatArray, periods: Iterable[int]) -> dict[int, FloatArray]:
    """Every needed SMA once (the grid shares them across configurations)."""
    return {p: np.asarray(sma(close, p)) for p in sorted(set(periods))}


def sma_grid(
    bars: BarColumns,
    pairs: Sequence[tuple[int, int]],
    size: float,
    cash: float,
    fee_rate: float,
    table: dict[int, FloatArray] | None = None,
) -> FloatArray:
    """Final equity of each ``(fast, slow)`` SMA cross (same rules as ``sma_cross``), vectorized:
    target position = last cross direction, traded at the next open, closed at the last open."""
    table = table or sma_table(bars.close, [p for pair in pairs for p in pair])
    opens, closes = bars.open, bars.close
    out = np.empty(len(pairs))
    for k, (fast, slow) in enumerate(pairs):
        out[k] = _final_equity(table[fast], table[slow], opens, closes, size, cash, fee_rate)
    return out


def _final_equity(
    fast: FloatArray,
    slow: FloatArray,
    opens: FloatArray,
    closes: FloatArray,
    size: float,
    cash: float,
    fee_rate: float,
) -> float:
    up, down = crosses(fast, slow)
    signal = up.astype(np.int8) - down.astype(np.int8)
    at: IntArray = np.flatnonzero(signal)
    if not len(at):
        return cash
    # keep only crosses that change the target (a repeated direction is a no-op)
    direction = signal[at]
    keep = np.concatenate([[True], direction[1:] != direction[:-1]])
    at, direction = at[keep], direction[keep]
    price = opens[np.minimum(at + 1, len(opens) - 1)]
    before = np.concatenate([[0], direction[:-1]]).astype(np.float64)
    delta = (direction - before) * size
    closed = np.abs(before) * size
    opened = np.full(len(at), size)
    fees = fee_rate * price * (closed + opened)
    final_qty = float(direction[-1]) * size
    flows = -(delta * price).sum() - fees.sum()
    last = opens[-1]  # finalize_trades: closed at the last bar's open
    exit_fee = fee_rate * last * abs(final_qty)
    return float(cash + flows + final_qty * last - exit_fee)
