"""Stops: ATR initial stop, breakeven after +1R, a trail that only tightens, R targets."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trading.contracts import Side
from trading.market.instruments import BINANCE_SPOT
from trading.risk import TrailingStop, atr_stop, take_profit_prices

SOL = BINANCE_SPOT["SOL/USDT"]
D = Decimal
TWO = D(2)
ONE_R = D(1)


def test_atr_stop_sits_two_atr_from_entry_on_the_losing_side() -> None:
    """Entry 100, ATR 2.5, multiple 2 -> long stop 95.00, short stop 105.00."""
    assert atr_stop(D(100), D("2.5"), Side.BUY, TWO, SOL) == D("95.00")
    assert atr_stop(D(100), D("2.5"), Side.SELL, TWO, SOL) == D("105.00")


def test_atr_stop_rounds_to_the_tick_away_from_entry() -> None:
    """100 - 2 * 1.2345 = 97.531 -> 97.53 (down); 100 + 2.469 = 102.469 -> 102.47 (up)."""
    assert atr_stop(D(100), D("1.2345"), Side.BUY, TWO, SOL) == D("97.53")
    assert atr_stop(D(100), D("1.2345"), Side.SELL, TWO, SOL) == D("102.47")


def test_take_profit_levels_are_r_multiples() -> None:
    """R = 100 - 95 = 5: 1.5R -> 107.50, 3R -> 115.00; short mirrored around 100."""
    assert take_profit_prices(D(100), D(95), (1.5, 3.0), SOL) == (D("107.50"), D("115.00"))
    assert take_profit_prices(D(100), D(105), (1.5, 3.0), SOL) == (D("92.50"), D("85.00"))


def test_long_stop_moves_to_breakeven_then_trails_and_never_loosens() -> None:
    """Entry 100, ATR 2.5 -> stop 95, R = 5.
    Bar high 103 (ATR 2.5): chandelier 103 - 5 = 98 -> stop 98 (below +1R, no breakeven).
    Bar high 105 = +1R with ATR 4: chandelier 97, breakeven 100 -> stop 100.
    Bar high 112 (ATR 2): 112 - 4 = 108 -> stop 108.
    Bar high 110 (ATR 5): best stays 112, 112 - 10 = 102 < 108 -> stop stays 108.
    """
    stop = TrailingStop.open(D(100), D("2.5"), Side.BUY, TWO, SOL)
    assert stop.stop == D(95)
    seen = []
    for high, atr in ((103, "2.5"), (105, "4"), (112, "2"), (110, "5")):
        stop = stop.update(D(high), D(high) - 3, D(atr), TWO, ONE_R, SOL)
        seen.append(stop.stop)
    assert seen == [D(98), D(100), D(108), D(108)]


def test_short_stop_moves_to_breakeven_after_one_r() -> None:
    """Entry 100, stop 105, R = 5; low 95 (= +1R) with ATR 4: chandelier 103, breakeven 100."""
    stop = TrailingStop.open(D(100), D("2.5"), Side.SELL, TWO, SOL)
    stop = stop.update(D(97), D(95), D(4), TWO, ONE_R, SOL)
    assert stop.stop == D(100)


def test_trailing_stop_round_trips_through_json() -> None:
    stop = TrailingStop.open(D(100), D("2.5"), Side.BUY, TWO, SOL)
    assert TrailingStop.model_validate_json(stop.model_dump_json()) == stop


bars = st.lists(
    st.tuples(
        st.integers(-500, 500),  # close-to-close move, basis points
        st.integers(0, 300),  # bar half-range, basis points
        st.integers(1, 1_000),  # ATR, cents
    ),
    max_size=60,
)


@given(side=st.sampled_from(Side), path=bars, breakeven_r=st.sampled_from([0.5, 1.0, 2.0]))
def test_trailing_stop_never_loosens(
    side: Side, path: list[tuple[int, int, int]], breakeven_r: float
) -> None:
    price = D(100)
    stop = TrailingStop.open(price, D("2.5"), side, TWO, SOL)
    for move_bps, half_range_bps, atr_cents in path:
        price = max(price * (1 + D(move_bps) / 10_000), D(1))
        half_range = price * D(half_range_bps) / 10_000
        updated = stop.update(
            price + half_range, price - half_range, D(atr_cents) / 100, TWO, D(breakeven_r), SOL
        )
        if side is Side.BUY:
            assert updated.stop >= stop.stop
        else:
            assert updated.stop <= stop.stop
        stop = updated
