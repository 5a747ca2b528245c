"""The paper USDⓈ-M account without a client library: positions from fills with realized PnL
computed by hand, reduce-only refusals, margin-type rules, and the futures user stream
(``/fapi/v1/listenKey`` then ``ORDER_TRADE_UPDATE`` events)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import aiohttp
import pytest

from trading.execution.paper import BinanceError, PaperBar, PaperExchange
from trading.execution.paper.futures import PaperFuturesExchange, Position, liquidation_price
from trading.execution.paper.server import PaperServer

BAR = PaperBar(1_700_000_000_000, *(Decimal(v) for v in ("100", "101", "99", "100", "50")))
PERP = "BTCUSDT"


def order(side: str, quantity: str, **extra: str) -> dict[str, str]:
    return {"symbol": PERP, "side": side, "type": "MARKET", "quantity": quantity, **extra}


def test_a_position_flips_through_zero_booking_the_pnl_of_the_closed_part() -> None:
    position = Position()
    assert position.trade(Decimal(2), Decimal(100)) == 0
    assert position.trade(Decimal(1), Decimal(110)) == 0  # average entry (200 + 110) / 3
    assert position.entry_price == Decimal(310) / 3
    realized = position.trade(Decimal(-4), Decimal(120))  # closes 3, opens 1 short at 120
    assert realized == 3 * (Decimal(120) - Decimal(310) / 3)
    assert (position.quantity, position.entry_price) == (Decimal(-1), Decimal(120))


def test_liquidation_estimate_long_and_short_at_10x() -> None:
    long, short = Position(Decimal(1), Decimal(100)), Position(Decimal(-1), Decimal(100))
    assert liquidation_price(long, 10) == Decimal("90.4")  # 100 * (1 - 0.1 + 0.004)
    assert liquidation_price(short, 10) == Decimal("109.6")
    assert liquidation_price(Position(), 10) == 0


def test_reduce_only_never_opens_and_margin_type_waits_for_a_flat_book() -> None:
    account = PaperFuturesExchange({"BTC/USDT:USDT": [BAR]})
    with pytest.raises(BinanceError, match="-2022"):
        account.place(order("SELL", "0.5", reduceOnly="true"))
    account.place(order("BUY", "1", newClientOrderId="open"))
    with pytest.raises(BinanceError, match="-4048"):
        account.set_margin_type({"symbol": PERP, "marginType": "ISOLATED"})
    with pytest.raises(BinanceError, match="-2022"):
        account.place(order("SELL", "2", reduceOnly="true"))
    account.place(order("SELL", "1", reduceOnly="true", newClientOrderId="close"))
    assert account.positions[PERP].quantity == 0
    fees = 2 * Decimal(100) * Decimal("0.0005")  # taker both ways, no price change
    assert account.balances["USDT"] == Decimal(100_000) - fees
    with pytest.raises(BinanceError, match="-4046"):
        account.set_margin_type({"symbol": PERP, "marginType": "CROSSED"})
    with pytest.raises(BinanceError, match="-4028"):
        account.set_leverage({"symbol": PERP, "leverage": "126"})


def test_futures_fills_reach_the_listen_key_stream_as_order_trade_updates() -> None:
    async def body() -> dict[str, object]:
        futures = PaperFuturesExchange({"BTC/USDT:USDT": [BAR]})
        server = PaperServer(PaperExchange({"BTC/USDT": [BAR]}), bar_interval_ms=0, futures=futures)
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{server.url}/fapi/v1/listenKey") as answer:
                    key = (await answer.json())["listenKey"]
                async with http.put(f"{server.url}/fapi/v1/listenKey") as kept:
                    assert kept.status == 200
                socket = await http.ws_connect(server.url.replace("http", "ws", 1) + f"/ws/{key}")
                params = order("BUY", "2", newClientOrderId="f-1")  # 200 USDT, above the minimum
                async with http.post(f"{server.url}/fapi/v1/order", data=params) as placed:
                    assert (await placed.json())["status"] == "FILLED"
                while True:
                    event = json.loads((await socket.receive(timeout=5)).data)
                    if event["o"]["x"] == "TRADE":
                        await socket.close()
                        return dict(event)
        finally:
            await server.stop()

    event = asyncio.run(body())
    assert event["e"] == "ORDER_TRADE_UPDATE"
    trade = event["o"]
    assert isinstance(trade, dict)
    assert (trade["c"], trade["X"], trade["l"], trade["L"], trade["ps"]) == (
        "f-1",
        "FILLED",
        "2.00000000",
        "100.00000000",
        "BOTH",
    )
