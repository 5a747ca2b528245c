"""The Python and Rust definitions of the order contracts cannot drift apart.

Python model -> JSON -> Rust (parse, validate, re-serialize) -> JSON -> Python model must give
back an equal model, and a document one side rejects the other rejects too, at the same field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import rust_exec
from tests import strategies as gen
from trading.contracts import Contract, Fill, OrderIntent, OrderState, client_order_id, epoch_us

RUST_CANONICAL: dict[type[Contract], Callable[[str], str]] = {
    OrderIntent: rust_exec.canonical_order_intent,
    Fill: rust_exec.canonical_fill,
    OrderState: rust_exec.canonical_order_state,
}


def _through_rust(model: Contract) -> Contract:
    cls = type(model)
    return cls.model_validate_json(RUST_CANONICAL[cls](model.model_dump_json()))


@settings(max_examples=300)
@given(gen.order_intents())
def test_order_intent_round_trips_through_rust(intent: OrderIntent) -> None:
    assert _through_rust(intent) == intent


@settings(max_examples=300)
@given(gen.fills)
def test_fill_round_trips_through_rust(fill: Fill) -> None:
    assert _through_rust(fill) == fill


@settings(max_examples=300)
@given(gen.order_states())
def test_order_state_round_trips_through_rust(state: OrderState) -> None:
    assert _through_rust(state) == state


@settings(max_examples=300)
@given(gen.strategy_names, gen.symbols, gen.utc_times, st.integers(0, 2**32 - 1))
def test_client_order_id_is_identical_in_python_and_rust(
    strategy: str, symbol: str, signal_time: datetime, seq: int
) -> None:
    assert client_order_id(strategy, symbol, signal_time, seq) == rust_exec.client_order_id(
        strategy, symbol, epoch_us(signal_time), seq
    )


def test_rust_keeps_decimal_scale_and_utc_text() -> None:
    t0 = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    intent = OrderIntent.for_signal(
        strategy="breakout",
        symbol="ETH/USDT:USDT",
        signal_time=t0,
        seq=3,
        side="SELL",
        order_type="STOP_LIMIT",
        quantity=Decimal("1.2300"),
        limit_price=Decimal("2999.90"),
        stop_price=Decimal("3000.00"),
        created_at=t0 + timedelta(microseconds=1),
    )
    rust = json.loads(rust_exec.canonical_order_intent(intent.model_dump_json()))
    assert rust["quantity"] == "1.2300"
    assert rust["stop_price"] == "3000.00"
    assert rust["signal_time"] == "2025-03-01T12:00:00.250Z"
    assert rust["created_at"] == "2025-03-01T12:00:00.250001Z"


INTENT = {
    "client_order_id": "rt-1",
    "strategy": "sma-cross",
    "symbol": "BTC/USDT",
    "side": "BUY",
    "order_type": "LIMIT",
    "quantity": "0.5",
    "limit_price": "60000",
    "stop_price": None,
    "time_in_force": "GTC",
    "reduce_only": False,
    "signal_time": "2024-01-01T00:00:00Z",
    "created_at": "2024-01-01T00:00:01Z",
}
FILL = {
    "trade_id": "9001",
    "client_order_id": "rt-1",
    "symbol": "BTC/USDT",
    "side": "BUY",
    "price": "60000",
    "quantity": "0.5",
    "fee": "0.0005",
    "fee_asset": "BNB",
    "liquidity": "MAKER",
    "ts": "2024-01-01T00:00:02Z",
}
STATE = {
    "client_order_id": "rt-1",
    "symbol": "BTC/USDT",
    "side": "BUY",
    "status": "PARTIALLY_FILLED",
    "quantity": "0.5",
    "filled_quantity": "0.2",
    "avg_fill_price": "60000",
    "venue_order_id": "123456",
    "reject_reason": None,
    "updated_at": "2024-01-01T00:00:02Z",
}

BAD_DOCUMENTS: list[tuple[type[Contract], dict[str, Any], str]] = [
    (OrderIntent, INTENT | {"quantity": "0"}, "quantity"),
    (OrderIntent, INTENT | {"quantity": "-0.5"}, "quantity"),
    (OrderIntent, INTENT | {"quantity": "NaN"}, "quantity"),
    (OrderIntent, INTENT | {"quantity": "0.0000000000000000001"}, "quantity"),
    (OrderIntent, INTENT | {"limit_price": None}, "limit_price"),
    (OrderIntent, INTENT | {"order_type": "MARKET"}, "limit_price"),
    (OrderIntent, INTENT | {"side": "HOLD"}, "side"),
    (OrderIntent, INTENT | {"symbol": "btc-usdt"}, "symbol"),
    (OrderIntent, INTENT | {"strategy": "Bad Name"}, "strategy"),
    (OrderIntent, INTENT | {"client_order_id": "x" * 37}, "client_order_id"),
    (OrderIntent, INTENT | {"client_order_id": "id with space"}, "client_order_id"),
    (OrderIntent, INTENT | {"signal_time": "2024-01-01T01:00:00+01:00"}, "signal_time"),
    (OrderIntent, INTENT | {"signal_time": "1969-12-31T23:59:59Z"}, "signal_time"),
    (OrderIntent, INTENT | {"signal_time": "yesterday"}, "signal_time"),
    (OrderIntent, INTENT | {"leverage": 3}, "leverage"),
    (Fill, FILL | {"fee": "-0.1"}, "fee"),
    (Fill, FILL | {"price": "0"}, "price"),
    (Fill, FILL | {"fee_asset": "bnb"}, "fee_asset"),
    (Fill, FILL | {"liquidity": "BOTH"}, "liquidity"),
    (Fill, FILL | {"trade_id": ""}, "trade_id"),
    (OrderState, STATE | {"filled_quantity": "0.6"}, "filled_quantity"),
    (OrderState, STATE | {"status": "FILLED"}, "status"),
    (OrderState, STATE | {"status": "SUBMITTED"}, "status"),
    (OrderState, STATE | {"avg_fill_price": None}, "avg_fill_price"),
    (OrderState, STATE | {"reject_reason": "no"}, "reject_reason"),
]


@pytest.mark.parametrize(("cls", "document", "field"), BAD_DOCUMENTS)
def test_both_sides_reject_the_same_bad_document_at_the_same_field(
    cls: type[Contract], document: dict[str, Any], field: str
) -> None:
    text = json.dumps(document)
    with pytest.raises(ValidationError) as py_error:
        cls.model_validate_json(text)
    py_fields = {str(err["loc"][0]) if err["loc"] else "" for err in py_error.value.errors()}
    with pytest.raises(rust_exec.ContractError) as rust_error:
        RUST_CANONICAL[cls](text)
    message, rust_field = rust_error.value.args
    assert field in py_fields
    assert rust_field == field, message


@pytest.mark.parametrize("document", [INTENT, FILL, STATE])
def test_reference_documents_are_valid_on_both_sides(document: dict[str, Any]) -> None:
    classes: dict[int, type[Contract]] = {
        id(INTENT): OrderIntent,
        id(FILL): Fill,
        id(STATE): OrderState,
    }
    cls = classes[id(document)]
    text = json.dumps(document)
    assert cls.model_validate_json(RUST_CANONICAL[cls](text)) == cls.model_validate_json(text)


def test_malformed_json_is_a_contract_error_not_a_crash() -> None:
    with pytest.raises(rust_exec.ContractError, match="EOF"):
        rust_exec.canonical_fill('{"trade_id": "1"')
    with pytest.raises(rust_exec.ContractError, match="trailing"):
        rust_exec.canonical_fill(json.dumps(FILL) + " {}")
