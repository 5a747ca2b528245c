"""The offline analyst: deterministic, labelled, sensible on clear setups."""

from __future__ import annotations

from tests.llm.scenario import BULLISH_1H, pin_bar, request
from trading.contracts import Direction, Regime
from trading.llm.offline import MAX_OFFLINE_CONFIDENCE, analyse


def test_bullish_setup_reads_long_with_a_stop_below_close() -> None:
    answer = analyse(request(patterns=(pin_bar(),)))
    assert answer.direction is Direction.LONG
    assert 0 < answer.confidence <= MAX_OFFLINE_CONFIDENCE
    assert answer.invalidation_level is not None
    assert answer.invalidation_level == 64500.0 - 2 * BULLISH_1H["atr_14"]


def test_mirrored_setup_reads_short() -> None:
    bearish = dict(
        BULLISH_1H,
        ema_12=63800.0,
        ema_26=64110.0,
        macd_hist=-45.0,
        rsi_14=38.0,
        sma_50=65500.0,
        sma_200=66000.0,
    )
    answer = analyse(request(regime=Regime.BEAR, values=bearish))
    assert answer.direction is Direction.SHORT
    assert answer.invalidation_level is not None
    assert answer.invalidation_level > 64500.0


def test_same_request_same_answer() -> None:
    assert analyse(request()) == analyse(request())


def test_cold_indicators_give_a_neutral_answer_with_a_reason() -> None:
    answer = analyse(request(regime=Regime.SIDEWAYS, values={"obv": 1.0}))
    assert answer.direction is Direction.NEUTRAL
    assert answer.invalidation_level is None
    assert answer.reasons == ("no indicator is warmed up yet",)
