"""The paper exchange: Binance shapes and errors, matching rules, fees, and fault switches."""

from __future__ import annotations

import ast
import asyncio
import json
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from trading.execution.paper import (
    BarError,
    BinanceError,
    Faults,
    PaperBar,
    PaperExchange,
)
from trading.execution.paper.server import PaperServer


def bar(
    open_: str, high: str, low: str, close: str, volume: str = "10", minute: int = 0
) -> PaperBar:
    return PaperBar(
        1_740_000_000_000 + minute * 300_000,
        *(Decimal(v) for v in (open_, high, low, close, volume)),
    )


BARS = [
    bar("100.00", "101.00", "99.00", "100.00"),
    bar("100.00", "100.50", "97.00", "98.00", minute=1),
    bar("98.00", "104.00", "98.00", "103.00", minute=2),
    bar("103.00", "103.00", "102.00", "102.50", volume="0.4", minute=3),
]


def exchange(**faults: object) -> PaperExchange:
    return PaperExchange({"SOL/USDT": BARS}, faults=Faults.model_validate(faults))


def order(client_id: str, **params: str) -> dict[str, str]:
    return {
        "symbol": "SOLUSDT",
        "side": "BUY",
        "type": "MARKET",
        "quantity": "1.000",
        "newClientOrderId": client_id,
        **params,
    }


def test_duplicate_client_id_is_refused_and_counted() -> None:
    paper = exchange()
    paper.place(order("a"))
    with pytest.raises(BinanceError) as refused:
        paper.place(order("a"))
    assert (refused.value.code, refused.value.msg) == (-2010, "Duplicate order sent.")
    assert paper.duplicate_attempts == 1
    assert len(paper.orders) == 1


def test_market_order_fills_at_the_current_close_as_taker_with_fee_in_quote() -> None:
    paper = exchange()
    placed = paper.place(order("m"))
    assert placed.status == "FILLED"
    (trade,) = placed.trades
    assert (trade.price, trade.is_maker) == (Decimal("100.00"), False)
    assert trade.commission == Decimal("0.1")
    assert paper.balances["SOL"] == Decimal(1)


def test_resting_limit_fills_at_its_price_as_maker_when_the_bar_reaches_it() -> None:
    paper = exchange()
    placed = paper.place(order("l", type="LIMIT", price="97.50", timeInForce="GTC"))
    assert placed.status == "NEW"
    paper.step()  # low 97.00 reaches 97.50
    assert placed.status == "FILLED"
    assert (placed.trades[0].price, placed.trades[0].is_maker) == (Decimal("97.50"), True)


def test_stop_loss_triggers_on_the_bar_low_and_fills_no_better_than_the_stop() -> None:
    paper = exchange()
    stop = paper.place(order("s", side="SELL", type="STOP_LOSS", stopPrice="98.50"))
    assert stop.status == "NEW"
    paper.step()
    assert stop.status == "FILLED"
    assert stop.trades[0].price == Decimal("98.50")


def test_fills_are_capped_by_a_share_of_bar_volume() -> None:
    paper = exchange()
    for _ in range(3):
        paper.step()  # the 0.4-volume bar: budget 0.1 per bar
    big = paper.place(order("v", quantity="0.500"))
    assert big.status == "PARTIALLY_FILLED"
    assert big.executed == Decimal("0.100")


def test_ioc_remainder_expires_and_filters_refuse_off_grid_orders() -> None:
    paper = exchange()
    for _ in range(3):
        paper.step()
    ioc = paper.place(order("i", quantity="0.500", type="LIMIT", price="103.00", timeInForce="IOC"))
    assert (ioc.status, ioc.executed) == ("EXPIRED", Decimal("0.100"))
    with pytest.raises(BinanceError, match="LOT_SIZE"):
        paper.place(order("x", quantity="0.0001"))
    with pytest.raises(BinanceError, match="PRICE_FILTER"):
        paper.place(order("y", type="LIMIT", price="100.001", timeInForce="GTC"))


def test_rest_and_user_stream_speak_binance_shapes() -> None:
    async def run() -> None:
        server = PaperServer(exchange(), bar_interval_ms=60_000)
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                key = await (await http.post(f"{server.url}/api/v3/userDataStream")).json()
                socket = await http.ws_connect(
                    f"{server.url.replace('http', 'ws')}/ws/{key['listenKey']}"
                )
                placed = await http.post(f"{server.url}/api/v3/order", params=order("r"))
                assert (await placed.json())["clientOrderId"] == "r"
                queried = await http.get(
                    f"{server.url}/api/v3/order",
                    params={"symbol": "SOLUSDT", "origClientOrderId": "r"},
                )
                body = await queried.json()
                assert (body["status"], body["executedQty"]) == ("FILLED", "1.00000000")
                missing = await http.get(
                    f"{server.url}/api/v3/order",
                    params={"symbol": "SOLUSDT", "origClientOrderId": "zz"},
                )
                assert (missing.status, (await missing.json())["code"]) == (400, -2013)
                kinds = []
                for _ in range(2):
                    message = await asyncio.wait_for(socket.receive(), 2)
                    report = json.loads(message.data)
                    assert report["e"] == "executionReport"
                    kinds.append(report["x"])
                assert kinds == ["NEW", "TRADE"]
                await socket.close()
        finally:
            await server.stop()

    asyncio.run(run())


def test_rate_limit_storm_answers_429_with_retry_after_and_outage_closes_the_port() -> None:
    async def run() -> None:
        server = PaperServer(exchange(rate_limit=1.0, retry_after_s=2), bar_interval_ms=60_000)
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                limited = await http.post(f"{server.url}/api/v3/order", params=order("q"))
                assert (limited.status, limited.headers["Retry-After"]) == (429, "2")
                assert server.exchange.orders == {}
                await server.begin_outage(0.3)
                with pytest.raises(aiohttp.ClientConnectionError):
                    await http.get(f"{server.url}/api/v3/ping")
                await asyncio.sleep(0.4)
                server.exchange.faults = Faults()
                assert (await http.get(f"{server.url}/api/v3/ping")).status == 200
        finally:
            await server.stop()

    asyncio.run(run())


def test_manual_clock_steps_bars_and_stamps_fills_with_market_time() -> None:
    """Driven by a replay, the exchange's current bar is the last one opened before T; a
    market order fills at that bar's close and carries T as its time."""
    from decimal import Decimal

    from trading.execution.paper import PaperBar, PaperExchange

    start = 1_759_276_800_000  # 2025-10-01T00:00Z
    bars = [
        PaperBar(
            start + i * 300_000,
            Decimal(p),
            Decimal(p) + 5,
            Decimal(p) - 5,
            Decimal(p) + 1,
            Decimal(100),
        )
        for i, p in enumerate(("60000", "60010", "60020", "60030"))
    ]
    exchange = PaperExchange({"BTC/USDT": bars})
    assert exchange.advance_to(start + 900_000) == 2
    assert exchange.bar_index["BTCUSDT"] == 2
    order = exchange.place(
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "MARKET",
            "quantity": "0.5",
            "newClientOrderId": "rt-clock",
        }
    )
    assert order.status == "FILLED"
    assert order.trades[0].price == Decimal("60021")
    assert order.trades[0].time_ms == start + 900_000
    assert exchange.advance_to(start + 10 * 300_000) == 1, "holds at the last bar"


def trade_tape(paper: PaperExchange) -> list[tuple[str, Decimal, Decimal, bool, Decimal, int]]:
    return [
        (o.client_order_id, t.price, t.qty, t.is_maker, t.commission, t.time_ms)
        for o in paper.orders.values()
        for t in o.trades
    ]


def test_bars_appended_as_they_arrive_match_exactly_as_the_same_bars_from_a_file() -> None:
    """Market at the current close, a resting limit (maker), a stop triggered on a later bar,
    and the volume budget: an exchange fed bar by bar as the clock moves fills the same trades
    at the same prices and times as one that loaded every bar up front."""
    loaded, fed = exchange(), PaperExchange({"SOL/USDT": []})
    t0, t1, t3 = (BARS[i].open_time_ms + 1 for i in (0, 1, 3))
    steps = [
        (t0, BARS[:1], [order("m1"), order("lim", type="LIMIT", price="97.50")]),
        (t1, BARS[1:3], [order("stop", type="STOP_LOSS", stopPrice="103.50")]),
        (t3, BARS[3:], [order("big", quantity="0.500")]),
    ]
    for until_ms, bars, placed in steps:
        assert fed.append_bars("SOL/USDT", bars) == len(bars)
        for paper in (loaded, fed):
            paper.advance_to(until_ms)
            for params in placed:
                paper.place(params)
    assert (
        trade_tape(fed)
        == trade_tape(loaded)
        == [
            ("m1", Decimal("100.00"), Decimal("1.000"), False, Decimal("0.1"), t0),
            ("lim", Decimal("97.50"), Decimal("1.000"), True, Decimal("0.0975"), t1),
            ("stop", Decimal("103.50"), Decimal("1.000"), False, Decimal("0.1035"), t3),
            ("big", Decimal("102.50"), Decimal("0.100"), False, Decimal("0.01025"), t3),
        ]
    )
    assert fed.bar_index == loaded.bar_index == {"SOLUSDT": 3}
    assert fed.balances == loaded.balances
    assert fed.orders["big"].status == "PARTIALLY_FILLED"


def test_an_order_before_the_first_bar_is_refused_as_market_closed() -> None:
    fed = PaperExchange({"SOL/USDT": []})
    with pytest.raises(BinanceError) as refused:
        fed.place(order("early"))
    assert (refused.value.code, refused.value.msg) == (-1013, "Market is closed.")
    fed.step()  # the bar clock holds a symbol with no bars
    assert fed.orders == {}
    fed.append_bars("SOL/USDT", BARS[:1])
    assert fed.place(order("early")).status == "FILLED"


def test_a_bad_bar_refuses_its_whole_batch_naming_the_field_and_keeps_what_was_held() -> None:
    fed = PaperExchange({"SOL/USDT": [], "BTC/USDT": []})
    fed.append_bars("SOL/USDT", BARS[:2])
    upside_down = bar("98.00", "97.00", "99.00", "98.00", minute=2)
    cases = [
        ({"BTC/USDT": BARS[:1], "SOL/USDT": [BARS[2], upside_down]}, "SOL/USDT[1].high"),
        ({"SOL/USDT": [bar("98.00", "99.00", "98.50", "98.00", minute=2)]}, "SOL/USDT[0].low"),
        ({"SOL/USDT": [bar("0", "99.00", "97.00", "98.00", minute=2)]}, "SOL/USDT[0].open"),
        ({"SOL/USDT": [bar("98", "99", "97", "98", volume="-1", minute=2)]}, "SOL/USDT[0].volume"),
        ({"SOL/USDT": [BARS[3], BARS[2]]}, "SOL/USDT[1].open_time_ms"),
        ({"SOL/USDT": [bar("1", "2", "1", "2", minute=1)]}, "SOL/USDT[0].open_time_ms"),
        ({"DOGE/USDT": BARS[2:3]}, "DOGE/USDT"),
    ]
    for batch, field in cases:
        with pytest.raises(BarError) as refused:
            fed.append(batch)
        assert refused.value.field == field
        assert fed.bars == {"SOLUSDT": BARS[:2], "BTCUSDT": []}
    assert fed.append_bars("SOL/USDT", BARS[:3]) == 1, "a retried batch adds only the new bar"
    assert fed.bars["SOLUSDT"] == BARS[:3]


def test_bars_posted_over_http_are_appended_and_bad_ones_answer_400_naming_the_field() -> None:
    def wire(b: PaperBar) -> dict[str, object]:
        return {
            "open_time_ms": b.open_time_ms,
            **{k: str(getattr(b, k)) for k in ("open", "high", "low", "close", "volume")},
        }

    async def run() -> None:
        fed = PaperExchange({"SOL/USDT": []})
        server = PaperServer(fed, bar_interval_ms=0)
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                url = f"{server.url}/_paper/bars"
                ok = await http.post(url, json={"bars": {"SOL/USDT": [wire(b) for b in BARS[:2]]}})
                assert (ok.status, await ok.json()) == (
                    200,
                    {"added": 2, "bars_held": {"SOLUSDT": 2}},
                )
                float_price = {**wire(BARS[2]), "close": 103.0}
                bad_geometry = {**wire(BARS[2]), "high": "90.00"}
                missing = {k: v for k, v in wire(BARS[2]).items() if k != "volume"}
                answers = []
                for bad in (float_price, bad_geometry, missing):
                    body = {"bars": {"SOL/USDT": [wire(BARS[2]), bad]}}
                    answer = await http.post(url, json=body)
                    answers.append((answer.status, (await answer.json())["field"]))
                not_json = await http.post(url, data=b"{bars")
                answers.append((not_json.status, (await not_json.json())["field"]))
                assert answers == [
                    (400, "bars.SOL/USDT[1].close"),
                    (400, "bars.SOL/USDT[1].high"),
                    (400, "bars.SOL/USDT[1].volume"),
                    (400, "<body>"),
                ]
                assert fed.bars["SOLUSDT"] == BARS[:2]
                clock = await http.post(
                    f"{server.url}/_paper/clock", json={"until_ms": BARS[1].open_time_ms + 1}
                )
                assert (await clock.json())["bar_index"] == {"SOLUSDT": 1}
                placed = await http.post(f"{server.url}/api/v3/order", params=order("h"))
                body = await placed.json()
                assert (body["status"], body["cummulativeQuoteQty"]) == ("FILLED", "98.00000000")
        finally:
            await server.stop()

    asyncio.run(run())


def test_only_the_paper_cli_imports_the_server_module() -> None:
    """The backtest and every other ``trading`` module use the exchange in-process: the aiohttp
    server is imported by ``python -m trading.execution.paper`` alone (and by actors, tests)."""
    trading = Path(__file__).resolve().parents[2] / "trading"
    importers = set()
    for path in trading.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if "trading.execution.paper.server" in names:
                importers.add(path.relative_to(trading).as_posix())
    assert importers == {"execution/paper/__main__.py"}
