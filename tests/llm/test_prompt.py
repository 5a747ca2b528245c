"""Prompt encoding: canonical, stable, token-lean; state buckets group similar markets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.llm.scenario import BULLISH_1H, pin_bar, request, snapshot
from trading.contracts import Direction, Regime, Timeframe
from trading.llm.prompt import (
    PROMPT_VERSION,
    AnalysisRequest,
    build_prompt,
    encode_snapshot,
    number,
    state_bucket,
)


def test_snapshot_encoding_is_the_documented_compact_line() -> None:
    line = encode_snapshot(
        snapshot(64500.0, values={"rsi_14": 61.34, "sma_20": 64005.0, "atr_14": 412.5})
    )
    assert line == "1h close=64500 atr_14=0.64 rsi_14=61 sma_20=-0.77"


def test_numbers_have_one_text_each() -> None:
    assert [number(x, 2) for x in (-0.001, 0.0, 1.50, -2.456, 100.0)] == [
        "0",
        "0",
        "1.5",
        "-2.46",
        "100",
    ]


@given(st.permutations(sorted(BULLISH_1H)))
def test_prompt_does_not_depend_on_value_order(keys: list[str]) -> None:
    shuffled = {k: BULLISH_1H[k] for k in keys}
    assert build_prompt(request(values=shuffled)).hash == build_prompt(request()).hash


def test_prompt_hash_is_pinned_for_this_version() -> None:
    prompt = build_prompt(request(patterns=(pin_bar(),)))
    assert PROMPT_VERSION == "analyst-v1"
    assert prompt.user.splitlines()[0] == "v=analyst-v1 sym=BTC/USDT tf=1h regime=BULL"
    assert "1h PIN_BAR LONG conf=0.8 support=-0.93" in prompt.user
    assert prompt.hash == build_prompt(request(patterns=(pin_bar(),))).hash
    assert len(prompt.hash) == 64


def test_prompt_is_token_lean() -> None:
    higher = [
        snapshot(64500.0, tf, bar_time=tf.floor(request().primary.bar_time))
        for tf in (Timeframe.H4, Timeframe.D1)
    ]
    full = AnalysisRequest(
        symbol="BTC/USDT",
        timeframe=Timeframe.H1,
        regime=Regime.BULL,
        snapshots=(request().primary, *higher),
        patterns=(pin_bar(),),
    )
    prompt = build_prompt(full)
    assert len(prompt.user) // 4 < 220  # three timeframes, all indicators, one pattern
    assert prompt.tokens_estimate < 650


def test_any_change_in_state_changes_the_exact_hash() -> None:
    base = build_prompt(request()).hash
    assert build_prompt(request(close=64501.0)).hash != base
    assert build_prompt(request(regime=Regime.BEAR)).hash != base
    assert build_prompt(request(patterns=(pin_bar(),))).hash != base


def test_nearby_states_share_a_bucket_and_different_ones_do_not() -> None:
    base = state_bucket(request(), include_symbol=True)
    nudged = dict(BULLISH_1H, rsi_14=63.0, adx_14=33.0)
    assert state_bucket(request(close=64520.0, values=nudged), include_symbol=True) == base
    overbought = dict(BULLISH_1H, rsi_14=75.0)
    assert state_bucket(request(values=overbought), include_symbol=True) != base
    bearish_pattern = (pin_bar(Direction.SHORT),)
    assert state_bucket(request(patterns=bearish_pattern), include_symbol=True) != base
    assert state_bucket(request(regime=Regime.SIDEWAYS), include_symbol=True) != base
