"""Contracts: every model round-trips through JSON; bad data fails naming field and value."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from tests import strategies as gen
from trading.contracts import (
    ALL_CONTRACTS,
    Contract,
    Direction,
    Fill,
    IndicatorSnapshot,
    MarketBar,
    OrderDecision,
    OrderIntent,
    OrderState,
    OrderStatus,
    PatternHit,
    Position,
    Signal,
    Timeframe,
    client_order_id,
    epoch_us,
)

T0 = datetime(2024, 9, 14, tzinfo=UTC)
D = Decimal

CONTRACT_STRATEGIES: dict[type[Contract], st.SearchStrategy[Any]] = {
    MarketBar: gen.market_bars(),
    IndicatorSnapshot: gen.indicator_snapshots,
    PatternHit: gen.pattern_hits,
    Signal: gen.signals(),
    OrderIntent: gen.order_intents(),
    OrderDecision: gen.order_decisions(),
    Fill: gen.fills,
    OrderState: gen.order_states(),
    Position: gen.positions(),
}
ANY_CONTRACT = st.one_of(*CONTRACT_STRATEGIES.values())


@settings(max_examples=400)
@given(ANY_CONTRACT)
def test_every_contract_round_trips_through_json_and_python(model: Contract) -> None:
    cls = type(model)
    assert cls.model_validate_json(model.model_dump_json()) == model
    assert cls.model_validate(model.model_dump()) == model


def test_round_trip_covers_every_contract() -> None:
    assert set(CONTRACT_STRATEGIES) == set(ALL_CONTRACTS)


def test_decimals_travel_as_plain_strings_keeping_their_scale() -> None:
    bar = _bar(volume=D("1E+3"), low=D("0.00000100"))
    text = bar.model_dump_json()
    assert '"volume":"1000"' in text
    assert '"low":"0.00000100"' in text
    assert MarketBar.model_validate_json(text).low.as_tuple().exponent == -8


def test_times_travel_as_utc_z_strings() -> None:
    text = _bar(open_time=T0 + timedelta(hours=5)).model_dump_json()
    assert '"open_time":"2024-09-14T05:00:00Z"' in text


def test_contracts_are_frozen() -> None:
    bar = _bar()
    with pytest.raises(ValidationError, match="frozen"):
        bar.close = D("1")  # type: ignore[misc]  # writing a frozen field is the test


# --------------------------------------------------------------------------- MarketBar


def _bar(**overrides: Any) -> MarketBar:
    fields: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "open_time": T0,
        "open": D("60000.00"),
        "high": D("60500.50"),
        "low": D("59800.00"),
        "close": D("60100.10"),
        "volume": D("123.456"),
    }
    return MarketBar(**(fields | overrides))


def _error(exc: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    [err] = exc.value.errors()
    return ".".join(str(p) for p in err["loc"]), err["msg"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"high": D("59000")}, "high", "high 59000 is below low 59800.00"),
        ({"open": D("61000")}, "open", "open 61000 is outside [low 59800.00, high 60500.50]"),
        ({"close": D("1")}, "close", "close 1 is outside [low 59800.00, high 60500.50]"),
        ({"volume": D("-0.1")}, "volume", "greater than or equal to 0"),
        ({"close": D("NaN")}, "close", "finite number"),
        ({"high": D("Infinity")}, "high", "finite number"),
        ({"low": D("0")}, "low", "greater than 0"),
        ({"timeframe": "2h"}, "timeframe", "'1m', '5m', '15m', '1h', '4h' or '1d'"),
        ({"open_time": datetime(2024, 9, 14)}, "open_time", "must be a UTC datetime"),
        (
            {"open_time": datetime(2024, 9, 14, 2, tzinfo=timezone(timedelta(hours=2)))},
            "open_time",
            "must be a UTC datetime (offset +00:00), got 2024-09-14T02:00:00+02:00",
        ),
        (
            {"open_time": T0 + timedelta(minutes=30)},
            "open_time",
            "open_time 2024-09-14T00:30:00+00:00 is not on a 1h boundary",
        ),
        ({"open_time": datetime(1969, 12, 31, 23, tzinfo=UTC)}, "open_time", "1970-01-01"),
        ({"symbol": "btcusdt"}, "symbol", "should match pattern"),
        ({"open": 60000.0}, "open", "instance of Decimal"),
        ({"open": "60000"}, "open", "instance of Decimal"),
        (
            {"low": D("0.0000000000000000001")},
            "low",
            "must have at most 28 digits and 18 decimal places, got 0.0000000000000000001",
        ),
        ({"volume": D("1E+28")}, "volume", "at most 28 digits and 18 decimal places, got 1000"),
        ({"closed": 1}, "closed", "valid boolean"),
        ({"vwap": D("1")}, "vwap", "Extra inputs are not permitted"),
    ],
)
def test_bad_bar_is_rejected_naming_field_and_value(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        _bar(**overrides)
    loc, msg = _error(exc)
    assert loc == field
    assert message in msg


def test_bar_json_with_nan_or_bad_time_is_rejected() -> None:
    good = _bar().model_dump_json()
    with pytest.raises(ValidationError, match="close"):
        MarketBar.model_validate_json(good.replace('"close":"60100.10"', '"close":"NaN"'))
    with pytest.raises(ValidationError, match="must be a UTC datetime"):
        MarketBar.model_validate_json(good.replace("00:00Z", "00:00+01:00"))


def test_bar_accepts_zero_volume_and_flat_candle() -> None:
    price = D("100")
    bar = _bar(open=price, high=price, low=price, close=price, volume=D(0), closed=False)
    assert bar.close_time == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("timeframe", "moment", "expected"),
    [
        (Timeframe.M15, datetime(2024, 9, 14, 10, 44, 59, tzinfo=UTC), "2024-09-14T10:30:00"),
        (Timeframe.H4, datetime(2024, 9, 14, 3, 59, tzinfo=UTC), "2024-09-14T00:00:00"),
        (Timeframe.H4, datetime(2024, 9, 14, 4, 0, tzinfo=UTC), "2024-09-14T04:00:00"),
        (Timeframe.D1, datetime(2024, 9, 14, 23, 59, tzinfo=UTC), "2024-09-14T00:00:00"),
    ],
)
def test_timeframe_floor_is_exchange_aligned_utc(
    timeframe: Timeframe, moment: datetime, expected: str
) -> None:
    assert timeframe.floor(moment).isoformat() == expected + "+00:00"


# --------------------------------------------------------------------------- analysis models


def test_indicator_snapshot_rejects_nan_and_bad_names() -> None:
    base: dict[str, Any] = {
        "symbol": "ETH/USDT",
        "timeframe": "4h",
        "bar_time": T0,
        "close": D("2500"),
    }
    snapshot = IndicatorSnapshot(**base, values={"rsi_14": 55.5, "macd_hist": -1.25})
    assert snapshot.values["rsi_14"] == 55.5
    with pytest.raises(ValidationError) as exc:
        IndicatorSnapshot(**base, values={"rsi_14": float("nan")})
    assert _error(exc) == ("values.rsi_14", "Input should be a finite number")
    with pytest.raises(ValidationError, match=r"values\.RSI\.\[key\]"):
        IndicatorSnapshot(**base, values={"RSI": 1.0})


def test_pattern_hit_confidence_must_be_a_probability() -> None:
    fields: dict[str, Any] = {
        "kind": "ENGULFING",
        "direction": "LONG",
        "symbol": "BTC/USDT",
        "timeframe": "4h",
        "bar_time": T0,
        "bar_index": 42,
        "levels": {"support": D("61200")},
    }
    assert PatternHit(**fields, confidence=0.8).levels["support"] == D("61200")
    with pytest.raises(ValidationError) as exc:
        PatternHit(**fields, confidence=1.2)
    assert _error(exc) == ("confidence", "Input should be less than or equal to 1")
    with pytest.raises(ValidationError) as exc:
        PatternHit(**(fields | {"kind": "HEAD_AND_SHOULDERS"}), confidence=0.5)
    assert _error(exc)[0] == "kind"


def _signal(**overrides: Any) -> Signal:
    fields: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "bar_time": T0,
        "created_at": T0 + timedelta(hours=4),
        "direction": Direction.LONG,
        "score": 0.6,
        "confidence": 0.71,
        "timeframes": ("4h", "1h"),
        "regime": "BULL",
        "reasons": ("4h: bullish engulfing at 61,200 support (3 touches)",),
        "analyst": "offline-v1",
        "entry_price": D("61500"),
        "stop_price": D("60800"),
    }
    return Signal(**(fields | overrides))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"score": -0.2}, "score", "score -0.2 contradicts direction LONG"),
        ({"score": 1.5}, "score", "less than or equal to 1"),
        (
            {"stop_price": D("62000")},
            "stop_price",
            "stop 62000 is on the wrong side of entry 61500 for a LONG signal",
        ),
        ({"timeframes": ("4h", "4h")}, "timeframes", "timeframes repeat an entry"),
        ({"timeframes": ()}, "timeframes", "at least 1 item"),
        ({"reasons": ("ok", "")}, "reasons.1", "at least 1 character"),
        ({"direction": "UP"}, "direction", "'LONG', 'SHORT' or 'NEUTRAL'"),
    ],
)
def test_inconsistent_signal_is_rejected(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        _signal(**overrides)
    loc, msg = _error(exc)
    assert loc == field
    assert message in msg


def test_neutral_signal_may_carry_any_score() -> None:
    signal = _signal(direction="NEUTRAL", score=-0.05, stop_price=None)
    assert signal.direction is Direction.NEUTRAL


# --------------------------------------------------------------------------- orders


def test_client_order_id_is_sha256_of_the_documented_preimage() -> None:
    signal_time = datetime(2024, 1, 1, tzinfo=UTC)
    preimage = b"v1|sma-cross|BTC/USDT|1704067200000000|0"
    expected = "rt-" + hashlib.sha256(preimage).hexdigest()[:32]
    assert client_order_id("sma-cross", "BTC/USDT", signal_time, 0) == expected
    assert expected == "rt-3070f91c5af71ec0a3580cb0ba8e92bd"
    assert client_order_id("sma-cross", "BTC/USDT", signal_time, 1) != expected


def test_epoch_us_is_exact_for_microsecond_times() -> None:
    assert epoch_us(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)) == 1_000_005
    assert (
        epoch_us(datetime(2199, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == 7_258_118_399_999_999
    )


def _intent(**overrides: Any) -> OrderIntent:
    fields: dict[str, Any] = {
        "strategy": "sma-cross",
        "symbol": "BTC/USDT",
        "signal_time": T0,
        "seq": 0,
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": D("0.010"),
        "limit_price": D("60000.5"),
        "created_at": T0 + timedelta(seconds=1),
    }
    return OrderIntent.for_signal(**(fields | overrides))


def test_intent_for_signal_derives_its_client_id() -> None:
    intent = _intent()
    assert intent.client_order_id == client_order_id("sma-cross", "BTC/USDT", T0, 0)
    assert len(intent.client_order_id) == 35


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"quantity": D("0")}, "quantity", "greater than 0"),
        ({"quantity": D("-1")}, "quantity", "greater than 0"),
        ({"limit_price": None}, "limit_price", "LIMIT order requires limit_price"),
        ({"order_type": "MARKET"}, "limit_price", "MARKET order must not have limit_price"),
        ({"order_type": "STOP_MARKET", "limit_price": None}, "stop_price", "requires stop_price"),
        ({"order_type": "TRAILING"}, "order_type", "Input should be"),
        ({"strategy": "SMA Cross"}, "strategy", "should match pattern"),
        ({"time_in_force": "DAY"}, "time_in_force", "'GTC', 'IOC' or 'FOK'"),
    ],
)
def test_bad_intent_is_rejected(overrides: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _intent(**overrides)
    loc, msg = _error(exc)
    assert loc == field
    assert message in msg


def test_client_order_id_longer_than_binance_allows_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        OrderIntent(**(_intent().model_dump() | {"client_order_id": "x" * 37}))
    assert _error(exc)[0] == "client_order_id"


def _decision(**overrides: Any) -> OrderDecision:
    fields: dict[str, Any] = {
        "client_order_id": "rt-1",
        "outcome": "RESIZED",
        "reason": "EXPOSURE_CAP",
        "requested_quantity": D("1.0"),
        "approved_quantity": D("0.4"),
        "decided_at": T0,
        "evidence": {"gross_exposure_pct": "18.0", "cap_pct": "20.0"},
    }
    return OrderDecision(**(fields | overrides))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"reason": None}, "reason", "RESIZED: reason is required"),
        ({"outcome": "APPROVED"}, "reason", "APPROVED: reason must be empty"),
        ({"approved_quantity": D("1.0")}, "approved_quantity", "RESIZED does not fit approved"),
        ({"outcome": "DENIED"}, "approved_quantity", "DENIED does not fit approved 0.4"),
        ({"reason": "VIBES"}, "reason", "Input should be"),
    ],
)
def test_decision_outcome_must_match_its_quantities(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        _decision(**overrides)
    loc, msg = _error(exc)
    assert loc == field
    assert message in msg


def test_valid_decisions_of_each_outcome() -> None:
    assert _decision().approved_quantity == D("0.4")
    denied = _decision(outcome="DENIED", reason="SAFE_MODE", approved_quantity=D(0))
    assert denied.reason == "SAFE_MODE"
    approved = _decision(outcome="APPROVED", reason=None, approved_quantity=D("1.00"))
    assert approved.approved_quantity == approved.requested_quantity


def test_fill_rejects_negative_fee_and_reports_notional() -> None:
    fields: dict[str, Any] = {
        "trade_id": "28457",
        "client_order_id": "rt-1",
        "symbol": "ETH/USDT",
        "side": "SELL",
        "price": D("2500.25"),
        "quantity": D("0.40"),
        "fee": D("0.40"),
        "fee_asset": "USDT",
        "liquidity": "TAKER",
        "ts": T0,
    }
    assert Fill(**fields).notional == D("1000.1000")
    with pytest.raises(ValidationError) as exc:
        Fill(**(fields | {"fee": D("-0.01")}))
    assert _error(exc)[0] == "fee"


def _state(**overrides: Any) -> OrderState:
    fields: dict[str, Any] = {
        "client_order_id": "rt-1",
        "symbol": "BTC/USDT",
        "side": "BUY",
        "status": "PARTIALLY_FILLED",
        "quantity": D("2"),
        "filled_quantity": D("0.5"),
        "avg_fill_price": D("60000"),
        "updated_at": T0,
    }
    return OrderState(**(fields | overrides))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"filled_quantity": D("2.5")}, "filled_quantity", "filled 2.5 exceeds order quantity 2"),
        ({"status": "FILLED"}, "status", "FILLED does not fit filled_quantity 0.5 of 2"),
        ({"status": "NEW"}, "status", "NEW does not fit"),
        ({"avg_fill_price": None}, "avg_fill_price", "must be set exactly when filled_quantity"),
        (
            {"status": "REJECTED", "filled_quantity": D(0), "avg_fill_price": None},
            "reject_reason",
            "must be set exactly when status is REJECTED",
        ),
    ],
)
def test_inconsistent_order_state_is_rejected(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        _state(**overrides)
    loc, msg = _error(exc)
    assert loc == field
    assert message in msg


def test_order_state_remaining_and_terminal_status() -> None:
    assert _state().remaining_quantity == D("1.5")
    assert OrderStatus.FILLED.is_terminal
    assert not OrderStatus.PARTIALLY_FILLED.is_terminal


def test_position_entry_price_present_exactly_when_not_flat() -> None:
    short = Position(symbol="SOL/USDT", quantity=D("-3"), avg_entry_price=D("150"), updated_at=T0)
    assert short.unrealized_pnl(D("140")) == D("30")
    assert short.notional(D("140")) == D("-420")
    with pytest.raises(ValidationError) as exc:
        Position(symbol="SOL/USDT", quantity=D("0"), avg_entry_price=D("150"), updated_at=T0)
    assert _error(exc) == ("avg_entry_price", "must be set exactly when quantity is not 0")


def test_nested_error_location_names_the_list_index() -> None:
    bars = TypeAdapter(list[MarketBar])
    good = _bar().model_dump(mode="json")
    with pytest.raises(ValidationError) as exc:
        bars.validate_json(json.dumps([good, good | {"high": "1"}]))
    [err] = exc.value.errors()
    assert err["loc"] == (1, "high")
    assert err["msg"] == "high 1 is below low 59800.00"
