"""The matching core: prices, liquidity, volume-bounded quantities, fees and filters by hand;
and, as properties over both of its simulators (the paper exchange and the backtest's
``BarMatchingVenue``), fills never above the order's quantity nor a bar's volume budget."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.backtest.venues import BarMatchingVenue, FillSettings
from trading.contracts import OrderIntent, OrderType, Side
from trading.execution.matching import (
    Match,
    VolumeBudget,
    fill_quantity,
    lot_size_failure,
    match_order,
    notional_failure,
    price_filter_failure,
    slipped_price,
    trade_fee,
)
from trading.execution.paper import BinanceError, PaperBar, PaperExchange
from trading.market.frames import BarColumns
from trading.market.instruments import BINANCE_SPOT

D = Decimal
T0 = 1_735_689_600_000  # 2025-01-01
M5 = 300_000


@dataclass(frozen=True)
class Prices:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


BAR = Prices(D("110"), D("115"), D("90"), D("101.5"))


def test_an_arriving_market_order_takes_the_close() -> None:
    assert match_order(True, None, None, False, BAR, arriving=True) == Match(False, D("101.5"))
    assert match_order(False, None, None, False, BAR, arriving=True) == Match(False, D("101.5"))


def test_an_arriving_limit_trades_at_the_close_only_when_marketable() -> None:
    assert match_order(True, D("102"), None, False, BAR, arriving=True) == Match(False, D("101.5"))
    assert match_order(True, D("101"), None, False, BAR, arriving=True) == Match(False)
    assert match_order(False, D("101"), None, False, BAR, arriving=True).price == D("101.5")
    assert match_order(False, D("102"), None, False, BAR, arriving=True) == Match(False)


def test_a_resting_limit_trades_at_its_own_price_as_maker_once_the_bar_reaches_it() -> None:
    assert match_order(True, D("97.50"), None, False, BAR, arriving=False) == Match(
        False, D("97.50"), maker=True
    )
    assert match_order(True, D("89.99"), None, False, BAR, arriving=False) == Match(False)
    assert match_order(False, D("115"), None, False, BAR, arriving=False).maker
    assert match_order(False, D("115.01"), None, False, BAR, arriving=False) == Match(False)


def test_a_resting_market_order_takes_the_open() -> None:
    assert match_order(True, None, None, False, BAR, arriving=False) == Match(False, D("110"))


def test_a_touched_stop_trades_at_the_stop_or_a_worse_open() -> None:
    sell_touched = match_order(False, None, D("92"), False, BAR, arriving=False)
    assert sell_touched == Match(True, D("92"))
    gap_down = Prices(D("88"), D("89"), D("85"), D("86"))
    assert match_order(False, None, D("92"), False, gap_down, arriving=False).price == D("88")
    buy_touched = match_order(True, None, D("112"), False, BAR, arriving=False)
    assert buy_touched == Match(True, D("112"))
    assert match_order(True, None, D("116"), False, BAR, arriving=False) == Match(False)


def test_an_arriving_stop_triggers_on_the_close() -> None:
    assert match_order(True, None, D("101"), False, BAR, arriving=True) == Match(True, D("101.5"))
    assert match_order(True, None, D("102"), False, BAR, arriving=True) == Match(False)


def test_a_triggered_stop_limit_then_rests_as_a_limit() -> None:
    bar = Prices(D("103"), D("106"), D("102"), D("105"))
    assert match_order(True, D("104"), D("105"), False, bar, arriving=False) == Match(
        True, D("104"), maker=True
    )
    untouched_limit = match_order(True, D("101"), D("105"), False, bar, arriving=False)
    assert untouched_limit == Match(True), "triggered, waiting for its limit"
    assert match_order(True, D("102"), D("999"), True, bar, arriving=False).price == D("102")


def test_fills_are_bounded_by_the_budget_left_floored_to_the_lot() -> None:
    lot = D("0.00001")
    budget = VolumeBudget(D("0.25"))
    budget.reset(D("4"))
    assert budget.bound(D("1.6"), lot) == D("1.00000")
    budget.spend(D("0.6"))
    assert budget.left == D("0.40")
    assert budget.bound(D("1.0"), lot) == D("0.40000")
    budget.spend(D("0.4"))
    assert budget.bound(D("1.0"), lot) == 0
    assert fill_quantity(D("0.5"), D("0.123456"), D("0.001")) == D("0.123")
    unbounded = VolumeBudget(None)
    unbounded.reset(D("4"))
    assert unbounded.bound(D("1000"), lot) == D("1000")


def test_fees_are_a_rate_of_the_notional_rounded_half_up_to_the_quote_precision() -> None:
    assert trade_fee(D("101.0"), D("1.00000"), D("0.001")) == D("0.10100000")
    assert trade_fee(D("5"), D("0.000001"), D("0.001")) == D("0.00000001"), "half up"
    assert trade_fee(D("5"), D("0.000001"), D("0.001"), rounded=False) == D("5E-9")


def test_slippage_moves_a_taker_price_against_the_order() -> None:
    assert slipped_price(D("110.0"), True, D(10)) == D("110.110")
    assert slipped_price(D("110.0"), False, D(10)) == D("109.890")


def test_filters_name_binances_filter() -> None:
    lot = D("0.001")
    assert lot_size_failure(D("0.0001"), lot, lot) == "Filter failure: LOT_SIZE"
    assert lot_size_failure(D("0.0015"), lot, lot) == "Filter failure: LOT_SIZE"
    assert lot_size_failure(D("0.002"), lot, lot) is None
    assert price_filter_failure((D("100.001"), None), D("0.01")) == "Filter failure: PRICE_FILTER"
    assert price_filter_failure((None, D("100.01")), D("0.01")) is None
    assert notional_failure(D("0.001"), None, None, D("5000"), D("10")) == (
        "Filter failure: NOTIONAL"
    )
    assert notional_failure(D("0.001"), D("20000"), None, D("5000"), D("10")) is None
    assert notional_failure(D("0.001"), None, D("12000"), D("5000"), D("10")) is None


# ------------------------------------------------------------------ properties

CENTS = st.integers(min_value=10_000, max_value=20_000)  # prices 100.00 .. 200.00


@st.composite
def bar_rows(draw: st.DrawFn) -> list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal]]:
    rows = []
    for _ in range(draw(st.integers(min_value=2, max_value=8))):
        a, b, c, d = sorted(draw(st.lists(CENTS, min_size=4, max_size=4)))
        open_, close = draw(st.permutations([b, c]))
        volume = D(draw(st.integers(min_value=0, max_value=2_000))) / 100
        rows.append((D(open_) / 100, D(d) / 100, D(a) / 100, D(close) / 100, volume))
    return rows


@st.composite
def order_specs(draw: st.DrawFn) -> list[tuple[int, Side, OrderType, Decimal, Decimal]]:
    """(bar it arrives at, side, type, quantity, limit or stop price)."""
    return draw(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=3),
                st.sampled_from(list(Side)),
                st.sampled_from([OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_MARKET]),
                st.integers(min_value=5, max_value=800).map(lambda k: D(k) / 100),
                CENTS.map(lambda c: D(c) / 100),
            ),
            min_size=1,
            max_size=6,
        )
    )


def _assert_bounded(
    ordered: dict[str, Decimal],
    fills: list[tuple[str, int, Decimal]],
    rows: Sequence[tuple[Decimal, ...]],
    share: Decimal,
) -> None:
    per_order: defaultdict[str, Decimal] = defaultdict(Decimal)
    per_bar: defaultdict[int, Decimal] = defaultdict(Decimal)
    for client_id, bar, quantity in fills:
        assert quantity > 0
        per_order[client_id] += quantity
        per_bar[bar] += quantity
    for client_id, filled in per_order.items():
        assert filled <= ordered[client_id]
    for bar, filled in per_bar.items():
        assert filled <= rows[bar][4] * share


@settings(max_examples=60, deadline=None)
@given(rows=bar_rows(), specs=order_specs(), share=st.sampled_from([D("0.1"), D("0.25"), D(1)]))
def test_paper_exchange_fills_stay_within_order_quantity_and_bar_volume_budget(
    rows: list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal]],
    specs: list[tuple[int, Side, OrderType, Decimal, Decimal]],
    share: Decimal,
) -> None:
    bars = [PaperBar(T0 + i * M5, *row) for i, row in enumerate(rows)]
    paper = PaperExchange({"BTC/USDT": bars}, volume_share=share)
    ordered: dict[str, Decimal] = {}
    for i in range(len(rows)):
        paper.advance_to(T0 + i * M5 + 1)
        for n, (at, side, kind, quantity, price) in enumerate(specs):
            if at != i:
                continue
            params = {
                "symbol": "BTCUSDT",
                "side": side.value,
                "type": {"STOP_MARKET": "STOP_LOSS"}.get(kind.value, kind.value),
                "quantity": str(quantity),
                "newClientOrderId": f"o{n}",
                **({"price": str(price)} if kind is OrderType.LIMIT else {}),
                **({"stopPrice": str(price)} if kind is OrderType.STOP_MARKET else {}),
            }
            try:
                paper.place(params)
            except BinanceError:
                continue
            ordered[f"o{n}"] = quantity
    fills = [
        (o.client_order_id, (t.time_ms - T0) // M5, t.qty)
        for o in paper.orders.values()
        for t in o.trades
    ]
    _assert_bounded(ordered, fills, rows, share)


@settings(max_examples=60, deadline=None)
@given(rows=bar_rows(), specs=order_specs(), share=st.sampled_from([D("0.1"), D("0.25"), D(1)]))
def test_bar_matching_venue_fills_stay_within_order_quantity_and_bar_volume_budget(
    rows: list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal]],
    specs: list[tuple[int, Side, OrderType, Decimal, Decimal]],
    share: Decimal,
) -> None:
    columns = BarColumns(
        np.array([T0 + i * M5 for i in range(len(rows))], dtype=np.int64),
        *(np.array([float(row[k]) for row in rows]) for k in range(5)),
    )
    venue = BarMatchingVenue({"BTC/USDT": columns}, BINANCE_SPOT, FillSettings(volume_share=share))
    ordered: dict[str, Decimal] = {}
    fills: list[tuple[str, int, Decimal]] = []
    for i in range(len(rows)):
        venue.advance_to(T0 + i * M5 + 1)
        at_time = datetime.fromtimestamp((T0 + i * M5) / 1000, UTC)
        intents = [
            OrderIntent.for_signal(
                strategy="p",
                symbol="BTC/USDT",
                signal_time=at_time,
                seq=n,
                side=side,
                order_type=kind,
                quantity=quantity,
                limit_price=price if kind is OrderType.LIMIT else None,
                stop_price=price if kind is OrderType.STOP_MARKET else None,
                created_at=at_time,
            )
            for n, (at, side, kind, quantity, price) in enumerate(specs)
            if at == i
        ]
        ordered |= {intent.client_order_id: intent.quantity for intent in intents}
        venue.submit(intents)
        for update in venue.take_updates():
            fills += [(f.client_order_id, i, f.quantity) for f in update.fills]
    _assert_bounded(ordered, fills, rows, share)
