"""The paper exchange's USDⓈ-M futures account, without I/O: one-way positions (positionSide
``BOTH``), leverage and margin type kept per symbol, reduce-only orders, a USDT wallet that
books realized PnL and fees, and Binance's futures order, trade, account and positionRisk shapes.

Orders match against the same bars and by the same rules as spot (``PaperExchange``); futures
``STOP``/``STOP_MARKET`` are the spot ``STOP_LOSS_LIMIT``/``STOP_LOSS`` matching. Conditional
orders also answer as Binance's algo service does (``/fapi/v1/algoOrder``), the form ccxt uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trading.execution.gateway import InstrumentRules
from trading.execution.paper.bars import PaperBar
from trading.execution.paper.exchange import (
    BinanceError,
    Faults,
    PaperExchange,
    PaperOrder,
    PaperTrade,
    required_param,
)

FUTURES_ORDER_TYPES = ("MARKET", "LIMIT", "STOP", "STOP_MARKET")
MAX_LEVERAGE = 125
DEFAULT_LEVERAGE = 20
MAINTENANCE_MARGIN_RATE = Decimal("0.004")  # Binance's first bracket for BTCUSDT
INITIAL_WALLET = Decimal(100_000)
MARGIN_TYPES = ("ISOLATED", "CROSSED")


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


@dataclass(slots=True)
class Position:
    """A one-way position: signed quantity (long above 0) at its average entry price."""

    quantity: Decimal = Decimal(0)
    entry_price: Decimal = Decimal(0)
    updated_ms: int = 0

    def trade(self, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Apply a fill; returns the PnL realized by the part that reduces the position."""
        realized = Decimal(0)
        if self.quantity and (self.quantity > 0) != (signed_qty > 0):
            closing = min(abs(signed_qty), abs(self.quantity))
            direction = 1 if self.quantity > 0 else -1
            realized = closing * (price - self.entry_price) * direction
            self.quantity += closing * -direction
            signed_qty += closing * direction
            if not self.quantity:
                self.entry_price = Decimal(0)
        if signed_qty:
            total = abs(self.quantity) + abs(signed_qty)
            self.entry_price = (
                abs(self.quantity) * self.entry_price + abs(signed_qty) * price
            ) / total
            self.quantity += signed_qty
        return realized


def liquidation_price(position: Position, leverage: int) -> Decimal:
    """Isolated-margin estimate: where the loss eats the initial margin down to maintenance
    (long ``entry * (1 - 1/L + mmr)``, short ``entry * (1 + 1/L - mmr)``); 0 when flat."""
    if not position.quantity:
        return Decimal(0)
    margin = 1 / Decimal(leverage) - MAINTENANCE_MARGIN_RATE
    sign = -1 if position.quantity > 0 else 1
    return position.entry_price * (1 + sign * margin)


class PaperFuturesExchange(PaperExchange):
    """USDⓈ-M perpetuals in one-way mode over the paper matching engine."""

    order_types = FUTURES_ORDER_TYPES
    priced_types = frozenset({"LIMIT", "STOP"})
    stop_types = frozenset({"STOP", "STOP_MARKET"})

    def __init__(
        self,
        bars: Mapping[str, Sequence[PaperBar]],
        rules: Mapping[str, InstrumentRules] | None = None,
        *,
        wallet: Decimal = INITIAL_WALLET,
        maker_fee_rate: Decimal = Decimal("0.0002"),
        taker_fee_rate: Decimal = Decimal("0.0005"),
        faults: Faults | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            bars,
            rules,
            maker_fee_rate=maker_fee_rate,
            taker_fee_rate=taker_fee_rate,
            faults=faults,
            seed=seed,
        )
        self.margin_asset = "USDT"
        self.balances = {self.margin_asset: wallet}
        self.positions = {s: Position() for s in self.bars}
        self.leverage = dict.fromkeys(self.bars, DEFAULT_LEVERAGE)
        self.margin_type = dict.fromkeys(self.bars, "CROSSED")
        self.reduce_only: set[str] = set()
        self.realized_pnl: dict[int, Decimal] = {}

    # ----------------------------------------------------------------- settings

    def set_leverage(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``POST /fapi/v1/leverage``: 1 to 125 per symbol."""
        symbol = self._symbol(params)
        text = required_param(params, "leverage")
        if not text.isdigit() or not 1 <= int(text) <= MAX_LEVERAGE:
            raise BinanceError(400, -4028, f"Leverage {text} is not valid")
        self.leverage[symbol] = int(text)
        notional = 1_000_000_000 // int(text)
        return {"leverage": int(text), "maxNotionalValue": str(notional), "symbol": symbol}

    def set_margin_type(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``POST /fapi/v1/marginType``: ISOLATED or CROSSED, not while a position is open."""
        symbol = self._symbol(params)
        wanted = required_param(params, "marginType").upper()
        if wanted not in MARGIN_TYPES:
            raise BinanceError(400, -4044, "The margin type is invalid.")
        if wanted == self.margin_type[symbol]:
            raise BinanceError(400, -4046, "No need to change margin type.")
        if self.positions[symbol].quantity or self.open_orders(symbol):
            raise BinanceError(
                400, -4048, "Margin type cannot be changed if there exists position."
            )
        self.margin_type[symbol] = wanted
        return {"code": 200, "msg": "success"}

    def _symbol(self, params: Mapping[str, str]) -> str:
        symbol = required_param(params, "symbol")
        if symbol not in self.bars:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return symbol

    # ----------------------------------------------------------------- orders

    def place(self, params: Mapping[str, str]) -> PaperOrder:
        order = super().place(params)
        if params.get("reduceOnly", "").lower() == "true":
            self.reduce_only.add(order.client_order_id)
        return order

    def _check_order(
        self, symbol: str, side: str, quantity: Decimal, params: Mapping[str, str]
    ) -> None:
        """Reduce-only: the order must shrink the position, never open or flip one."""
        if params.get("reduceOnly", "").lower() != "true":
            return
        held = self.positions[symbol].quantity
        reducing = held < 0 if side == "BUY" else held > 0
        if not reducing or quantity > abs(held):
            raise BinanceError(400, -2022, "ReduceOnly Order is rejected.")

    def _match(self, order: PaperOrder, *, arriving: bool) -> None:
        """A reduce-only order whose position is gone or turned expires instead of trading."""
        if order.client_order_id in self.reduce_only:
            held = self.positions[order.symbol].quantity
            reducing = held < 0 if order.side == "BUY" else held > 0
            if not reducing or order.remaining > abs(held):
                order.status = "EXPIRED"
                order.updated_ms = self.event_time_ms()
                self._report(order, "EXPIRED")
                return
        super()._match(order, arriving=arriving)

    def _settle(self, order: PaperOrder, trade: PaperTrade) -> None:
        """Futures: the position moves, the wallet books realized PnL less the fee."""
        signed = trade.qty if order.side == "BUY" else -trade.qty
        position = self.positions[order.symbol]
        realized = position.trade(signed, trade.price)
        position.updated_ms = trade.time_ms
        self.realized_pnl[trade.trade_id] = realized
        self.balances[self.margin_asset] += realized - trade.commission

    def locked(self) -> dict[str, Decimal]:
        return {self.margin_asset: self.initial_margin(open_orders=True)}

    # ----------------------------------------------------------------- account

    def mark_price(self, symbol: str) -> Decimal:
        return self.bar(symbol).close if self.bars[symbol] else Decimal(0)

    def unrealized_pnl(self, symbol: str) -> Decimal:
        position = self.positions[symbol]
        return position.quantity * (self.mark_price(symbol) - position.entry_price)

    def initial_margin(self, *, open_orders: bool = False) -> Decimal:
        """Positions' notional over leverage, plus open orders' when asked."""
        margin = sum(
            (
                abs(p.quantity) * self.mark_price(s) / self.leverage[s]
                for s, p in self.positions.items()
            ),
            Decimal(0),
        )
        if open_orders:
            for order in self.open_orders(None):
                reference = order.price or order.stop_price or self.mark_price(order.symbol)
                margin += order.remaining * reference / self.leverage[order.symbol]
        return margin

    def account_json(self) -> dict[str, Any]:
        """``GET /fapi/v2/account`` and ``/fapi/v3/account``."""
        wallet = self.balances[self.margin_asset]
        unrealized = sum((self.unrealized_pnl(s) for s in self.positions), Decimal(0))
        position_margin = self.initial_margin()
        order_margin = self.initial_margin(open_orders=True) - position_margin
        available = wallet + unrealized - position_margin - order_margin
        now = self.event_time_ms()
        asset = {
            "asset": self.margin_asset,
            "walletBalance": _text(wallet),
            "unrealizedProfit": _text(unrealized),
            "marginBalance": _text(wallet + unrealized),
            "maintMargin": "0",
            "initialMargin": _text(position_margin + order_margin),
            "positionInitialMargin": _text(position_margin),
            "openOrderInitialMargin": _text(order_margin),
            "crossWalletBalance": _text(wallet),
            "crossUnPnl": _text(unrealized),
            "availableBalance": _text(available),
            "maxWithdrawAmount": _text(available),
            "marginAvailable": True,
            "updateTime": now,
        }
        return {
            "feeTier": 0,
            "canTrade": True,
            "totalWalletBalance": _text(wallet),
            "totalUnrealizedProfit": _text(unrealized),
            "totalMarginBalance": _text(wallet + unrealized),
            "totalInitialMargin": _text(position_margin + order_margin),
            "availableBalance": _text(available),
            "maxWithdrawAmount": _text(available),
            "assets": [asset],
            "positions": [self.position_json(s) for s in sorted(self.positions)],
        }

    def position_json(self, symbol: str) -> dict[str, Any]:
        """One ``positionRisk`` row (one-way mode: positionSide ``BOTH``)."""
        position = self.positions[symbol]
        mark = self.mark_price(symbol)
        leverage = self.leverage[symbol]
        isolated = self.margin_type[symbol] == "ISOLATED"
        margin = abs(position.quantity) * position.entry_price / leverage
        return {
            "symbol": symbol,
            "positionAmt": _text(position.quantity),
            "entryPrice": _text(position.entry_price),
            "breakEvenPrice": _text(position.entry_price),
            "markPrice": _text(mark),
            "unRealizedProfit": _text(self.unrealized_pnl(symbol)),
            "liquidationPrice": _text(liquidation_price(position, leverage)),
            "leverage": str(leverage),
            "maxNotionalValue": str(1_000_000_000 // leverage),
            "marginType": "isolated" if isolated else "cross",
            "isolatedMargin": _text(margin if isolated else Decimal(0)),
            "isolatedWallet": _text(margin if isolated else Decimal(0)),
            "isAutoAddMargin": "false",
            "positionSide": "BOTH",
            "notional": _text(position.quantity * mark),
            "initialMargin": _text(abs(position.quantity) * mark / leverage),
            "updateTime": position.updated_ms,
        }

    def leverage_brackets(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /fapi/v1/leverageBracket``: one bracket per symbol, up to ``MAX_LEVERAGE`` at
        ``MAINTENANCE_MARGIN_RATE`` (the rate ``liquidation_price`` uses)."""
        symbols = [self._symbol(params)] if "symbol" in params else sorted(self.positions)
        bracket = {
            "bracket": 1,
            "initialLeverage": MAX_LEVERAGE,
            "notionalCap": 1_000_000_000,
            "notionalFloor": 0,
            "maintMarginRatio": float(MAINTENANCE_MARGIN_RATE),
            "cum": 0.0,
        }
        return [{"symbol": s, "brackets": [bracket]} for s in symbols]

    def position_risk(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        symbols = [self._symbol(params)] if "symbol" in params else sorted(self.positions)
        return [self.position_json(s) for s in symbols]

    def order_json(self, order: PaperOrder) -> dict[str, Any]:
        """A futures order as ``/fapi/v1/order`` answers."""
        return {
            "orderId": order.order_id,
            "symbol": order.symbol,
            "status": order.status,
            "clientOrderId": order.client_order_id,
            "price": _text(order.price or Decimal(0)),
            "avgPrice": _text(order.average_price),
            "origQty": _text(order.quantity),
            "executedQty": _text(order.executed),
            "cumQty": _text(order.executed),
            "cumQuote": _text(order.quote),
            "timeInForce": order.time_in_force,
            "type": order.type,
            "reduceOnly": order.client_order_id in self.reduce_only,
            "closePosition": False,
            "side": order.side,
            "positionSide": "BOTH",
            "stopPrice": _text(order.stop_price or Decimal(0)),
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": order.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE",
            "goodTillDate": 0,
            "time": order.created_ms,
            "updateTime": order.updated_ms,
        }

    def algo_json(self, order: PaperOrder) -> dict[str, Any]:
        """A conditional order as Binance's algo service (``/fapi/v1/algoOrder``) answers."""
        status = {"NEW": "NEW", "CANCELED": "CANCELED", "EXPIRED": "EXPIRED"}.get(
            order.status, "FINISHED" if order.triggered else "NEW"
        )
        return {
            "algoId": order.order_id,
            "clientAlgoId": order.client_order_id,
            "algoType": "CONDITIONAL",
            "orderType": order.type,
            "symbol": order.symbol,
            "side": order.side,
            "positionSide": "BOTH",
            "timeInForce": order.time_in_force,
            "quantity": _text(order.quantity),
            "algoStatus": status,
            "triggerPrice": _text(order.stop_price or Decimal(0)),
            "price": _text(order.price or Decimal(0)),
            "workingType": "CONTRACT_PRICE",
            "priceMatch": "NONE",
            "closePosition": False,
            "priceProtect": False,
            "reduceOnly": order.client_order_id in self.reduce_only,
            "createTime": order.created_ms,
            "updateTime": order.updated_ms,
            "triggerTime": order.updated_ms if order.triggered else 0,
            "goodTillDate": 0,
        }

    def trade_json(self, trade: PaperTrade) -> dict[str, Any]:
        """A fill as ``/fapi/v1/userTrades`` lists it, with the PnL it realized."""
        return {
            "symbol": trade.symbol,
            "id": trade.trade_id,
            "orderId": trade.order_id,
            "side": "BUY" if trade.is_buyer else "SELL",
            "price": _text(trade.price),
            "qty": _text(trade.qty),
            "realizedPnl": _text(self.realized_pnl.get(trade.trade_id, Decimal(0))),
            "quoteQty": _text(trade.price * trade.qty),
            "commission": _text(trade.commission),
            "commissionAsset": trade.commission_asset,
            "time": trade.time_ms,
            "positionSide": "BOTH",
            "buyer": trade.is_buyer,
            "maker": trade.is_maker,
        }


def algo_params(params: Mapping[str, str]) -> dict[str, str]:
    """An algo (conditional) order's parameters as a plain order takes them:
    ``clientAlgoId`` is the client id, ``triggerPrice`` the stop."""
    if params.get("algoType", "CONDITIONAL") != "CONDITIONAL":
        raise BinanceError(400, -1116, "Invalid algoType.")
    plain = {k: v for k, v in params.items() if k not in ("clientAlgoId", "triggerPrice")}
    if "clientAlgoId" in params:
        plain["newClientOrderId"] = params["clientAlgoId"]
    if "triggerPrice" in params:
        plain["stopPrice"] = params["triggerPrice"]
    if "algoId" in params:
        plain["orderId"] = params["algoId"]
    if "clientAlgoId" in params:
        plain["origClientOrderId"] = params["clientAlgoId"]
    return plain
