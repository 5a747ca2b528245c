"""Binance wire parsing: real messages map exactly; anything else is a counted rejection."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.market.venue import GARBAGE, kline_message, tape
from trading.contracts import MarketBar, Timeframe
from trading.market.binance import (
    KlineEvent,
    Rejection,
    RejectReason,
    parse_kline,
    parse_rest_kline,
    stream_name,
)
from trading.market.frames import BarColumns
from trading.market.instruments import venue_symbol

SYMBOLS = {"BTCUSDT": "BTC/USDT"}
OPEN = datetime(2026, 3, 23, 12, 9, tzinfo=UTC)
BAR = MarketBar(
    symbol="BTC/USDT",
    timeframe=Timeframe.M1,
    open_time=OPEN,
    open=Decimal("69979.98"),
    high=Decimal("70112.55"),
    low=Decimal("69973.41"),
    close=Decimal("70070.53"),
    volume=Decimal("32.55652"),
)
EVENT_MS = 1_774_267_800_123


def message(**kline: Any) -> dict[str, Any]:
    payload = kline_message(BAR, EVENT_MS)
    payload["data"]["k"].update(kline)
    return payload


def rejection(payload: dict[str, Any] | str | bytes) -> Rejection:
    raw = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    result = parse_kline(raw, SYMBOLS)
    assert isinstance(result, Rejection)
    return result


def test_binance_documented_message_parses() -> None:
    raw = (
        '{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1774267800123,"s":"BTCUSDT",'
        '"k":{"t":1774267740000,"T":1774267799999,"s":"BTCUSDT","i":"1m","f":100,"L":200,'
        '"o":"69979.98000000","c":"70070.53000000","h":"70112.55000000","l":"69973.41000000",'
        '"v":"32.55652000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}'
    )
    result = parse_kline(raw, SYMBOLS)
    assert isinstance(result, KlineEvent)
    assert result.event_time_ms == 1774267800123
    assert result.bar == BAR.model_copy(update={"closed": False})


def test_real_bars_round_trip_exactly(btc_1m: BarColumns) -> None:
    bars = tape(btc_1m, "BTC/USDT", Timeframe.M1, slice(0, 500))
    for bar in bars:
        result = parse_kline(json.dumps(kline_message(bar, 0)), SYMBOLS)
        assert isinstance(result, KlineEvent)
        assert result.bar == bar
        assert result.bar.close == bar.close
        assert result.bar.volume == bar.volume


def test_symbol_and_stream_names_follow_binance() -> None:
    assert venue_symbol("BTC/USDT") == "BTCUSDT"
    assert venue_symbol("BTC/USDT:USDT") == "BTCUSDT"
    assert stream_name("ETH/USDT", Timeframe.H4) == "ethusdt@kline_4h"


@pytest.mark.parametrize(("make", "reason"), GARBAGE)
def test_venue_garbage_is_rejected_with_its_reason(make: Any, reason: RejectReason) -> None:
    assert rejection(make(kline_message(BAR, EVENT_MS))).reason is reason


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (message(h="69000.00", l="70000.00"), RejectReason.BAD_RANGE, "high"),
        (message(c="80000.00"), RejectReason.BAD_RANGE, "close"),
        (message(o="0"), RejectReason.BAD_RANGE, "open"),
        (message(c="NaN"), RejectReason.BAD_NUMBER, "k.c"),
        (message(v="-1"), RejectReason.BAD_NUMBER, "k.v"),
        (message(o=69979.98), RejectReason.BAD_NUMBER, "k.o"),
        (message(t="1774267740000"), RejectReason.BAD_NUMBER, "k.t"),
        (message(t=True), RejectReason.BAD_NUMBER, "k.t"),
        (message(t=10**20), RejectReason.BAD_NUMBER, "k.t"),
        (message(i="3m"), RejectReason.UNKNOWN_INTERVAL, "k.i"),
        (message(s="DOGEUSDT"), RejectReason.BAD_SHAPE, "stream"),
        (message(x="true"), RejectReason.BAD_SHAPE, "k.x"),
        (message(T=1774267800000), RejectReason.MISALIGNED, "close time"),
        (
            message(t=1774267740001, T=1774267800000),
            RejectReason.MISALIGNED,
            "open_time",
        ),
        ("[1, 2]", RejectReason.BAD_SHAPE, "message"),
        ('{"stream": "btcusdt@kline_1m"}', RejectReason.MISSING_FIELD, "message.data"),
        ("", RejectReason.BAD_JSON, "JSONDecodeError"),
    ],
)
def test_malformed_message_is_rejected_naming_the_field(
    payload: Any, reason: RejectReason, field: str
) -> None:
    result = rejection(payload)
    assert result.reason is reason
    assert field in result.detail


def test_unsubscribed_symbol_is_rejected() -> None:
    result = parse_kline(json.dumps(message()), {"ETHUSDT": "ETH/USDT"})
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.UNKNOWN_SYMBOL


def test_other_event_types_are_rejected() -> None:
    payload = message()
    payload["data"]["e"] = "trade"
    assert rejection(payload).reason is RejectReason.BAD_SHAPE


def test_rest_row_parses_as_closed_bar() -> None:
    row = [1774267740000, "69979.98", "70112.55", "69973.41", "70070.53", "32.55652"]
    row += [1774267799999, "0", 10, "0", "0", "0"]
    assert parse_rest_kline(row, "BTC/USDT", Timeframe.M1) == BAR


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"t": 1}, RejectReason.BAD_SHAPE),
        ([1774267740000, "1"], RejectReason.MISSING_FIELD),
        ([1774267740000, "1", "1", "2", "1", "1", 1774267799999], RejectReason.BAD_RANGE),
        ([1774267740000, "1", "1", "1", "1", "x", 1774267799999], RejectReason.BAD_NUMBER),
        ([1774267740000, "1", "1", "1", "1", "1", 1774267799998], RejectReason.MISALIGNED),
    ],
)
def test_bad_rest_rows_are_rejected(row: Any, reason: RejectReason) -> None:
    result = parse_rest_kline(row, "BTC/USDT", Timeframe.M1)
    assert isinstance(result, Rejection)
    assert result.reason is reason


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["NaN", "1e400", "-0", "0.1", "1m", "BTCUSDT", "kline"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=20,
)
KLINE_FIELDS = ["t", "T", "s", "i", "o", "c", "h", "l", "v", "x"]


def _check(result: KlineEvent | Rejection) -> None:
    assert isinstance(result, KlineEvent | Rejection)
    if isinstance(result, KlineEvent):
        bar = result.bar
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.symbol == "BTC/USDT"


@given(json_values)
def test_parser_never_raises_on_arbitrary_json(value: Any) -> None:
    _check(parse_kline(json.dumps(value), SYMBOLS))


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_parser_never_raises_on_arbitrary_bytes(raw: bytes | str) -> None:
    _check(parse_kline(raw, SYMBOLS))


@given(
    st.lists(
        st.tuples(st.sampled_from([*KLINE_FIELDS, "E", "e", "stream"]), json_values | st.just(...)),
        min_size=1,
        max_size=4,
    )
)
def test_parser_never_raises_on_a_corrupted_real_message(edits: list[tuple[str, Any]]) -> None:
    payload = kline_message(BAR, EVENT_MS)
    for key, value in edits:
        target = (
            payload
            if key == "stream"
            else payload["data"]
            if key in ("E", "e")
            else payload["data"]["k"]
        )
        if value is ...:
            target.pop(key, None)
        else:
            target[key] = value
    _check(parse_kline(json.dumps(payload), SYMBOLS))


@given(json_values)
def test_rest_parser_never_raises(value: Any) -> None:
    result = parse_rest_kline(value, "BTC/USDT", Timeframe.M1)
    assert isinstance(result, MarketBar | Rejection)
