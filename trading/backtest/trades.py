"""Round trips from fills: flat -> position -> flat per symbol, with what the entry was based on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from trading.contracts import Fill, Side


@dataclass(frozen=True)
class EntryNote:
    """What an entry order was based on: its protective stop, confidence, patterns, regime."""

    stop_price: float
    confidence: float
    patterns: tuple[str, ...] = ()
    regime: float = 0.0
    timeframe: str = ""


@dataclass
class TradeRecord:
    """One closed (or, at the end, still open) round trip; ``pnl`` is after fees."""

    symbol: str
    side: str
    entry_ms: int
    exit_ms: int | None
    quantity: float
    entry_price: float
    exit_price: float | None
    gross_pnl: float
    fees: float
    pnl: float
    r_multiple: float | None
    confidence: float
    patterns: tuple[str, ...]
    regime: float
    timeframe: str
    entry_client_id: str
    fills: int = 0
    open_qty: float = field(default=0.0, repr=False)


def round_trips(fills: Sequence[Fill], notes: Mapping[str, EntryNote]) -> list[TradeRecord]:
    """Average-cost round trips; a fill through zero closes one trade and opens the next."""
    trades: list[TradeRecord] = []
    live: dict[str, TradeRecord] = {}
    cost: dict[str, float] = {}
    for fill in fills:
        signed = float(fill.quantity) * (1 if fill.side is Side.BUY else -1)
        price, fee = float(fill.price), float(fill.fee)
        ts = int(fill.ts.timestamp() * 1000)
        trade = live.get(fill.symbol)
        if trade is not None:
            held = trade.open_qty
            if (held > 0) == (signed > 0):
                total = held + signed
                cost[fill.symbol] = (cost[fill.symbol] * held + price * signed) / total
                trade.open_qty = total
                trade.quantity = abs(total)
                trade.entry_price = cost[fill.symbol]
                trade.fees += fee
                trade.fills += 1
                continue
            closed = min(abs(held), abs(signed))
            share = closed / abs(signed)
            trade.gross_pnl += closed * (price - cost[fill.symbol]) * (1 if held > 0 else -1)
            trade.fees += fee * share
            exit_value = (trade.exit_price or 0.0) * (trade.quantity - abs(held)) + price * closed
            trade.exit_price = exit_value / (trade.quantity - abs(held) + closed)
            trade.open_qty = held + (signed if abs(signed) <= abs(held) else -held)
            trade.fills += 1
            if abs(trade.open_qty) < 1e-12:
                _close(trade, ts)
                trades.append(trade)
                del live[fill.symbol]
            rest = abs(signed) - closed
            if rest <= 1e-12:
                continue
            signed = rest * (1 if signed > 0 else -1)
            fee *= 1 - share
        note = notes.get(fill.client_order_id)
        cost[fill.symbol] = price
        live[fill.symbol] = TradeRecord(
            symbol=fill.symbol,
            side=Side.BUY.value if signed > 0 else Side.SELL.value,
            entry_ms=ts,
            exit_ms=None,
            quantity=abs(signed),
            entry_price=price,
            exit_price=None,
            gross_pnl=0.0,
            fees=fee,
            pnl=0.0,
            r_multiple=None,
            confidence=note.confidence if note else 0.0,
            patterns=note.patterns if note else (),
            regime=note.regime if note else 0.0,
            timeframe=note.timeframe if note else "",
            entry_client_id=fill.client_order_id,
            fills=1,
            open_qty=signed,
        )
        if note is not None:
            live[fill.symbol].r_multiple = abs(price - note.stop_price)  # risk per unit, for now
    for trade in live.values():
        trade.pnl, trade.r_multiple = trade.gross_pnl - trade.fees, None
        trades.append(trade)
    return trades


def _close(trade: TradeRecord, ts: int) -> None:
    trade.exit_ms = ts
    trade.pnl = trade.gross_pnl - trade.fees
    risk_per_unit = trade.r_multiple
    risk = risk_per_unit * trade.quantity if risk_per_unit else 0.0
    trade.r_multiple = trade.pnl / risk if risk > 0 else None
