"""Resampling: golden against Binance's own bars, streaming == batch, gaps, partial bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.contracts import MarketBar, Timeframe
from trading.market.frames import BarColumns
from trading.market.replay import column_bars
from trading.market.resample import (
    ForeignBarError,
    OutOfOrderBarError,
    ResampledBar,
    ResampleError,
    Resampler,
    resample_columns,
)

M1, M5, M15, H1, H4, D1 = (
    Timeframe.M1,
    Timeframe.M5,
    Timeframe.M15,
    Timeframe.H1,
    Timeframe.H4,
    Timeframe.D1,
)
SYMBOL = "BTC/USDT"
# 2024-12-31 12:00 UTC is row 144 of the 5m file; its hour is rows 144..155.
NOON = 144

Row = tuple[int, Decimal, Decimal, Decimal, Decimal, float, int, int]


def run_stream(
    columns: BarColumns, base: Timeframe, targets: tuple[Timeframe, ...]
) -> tuple[list[ResampledBar], Resampler]:
    resampler = Resampler(SYMBOL, base, targets)
    updates = [
        update for bar in column_bars(columns, SYMBOL, base) for update in resampler.update(bar)
    ]
    return updates, resampler


def stream_rows(updates: list[ResampledBar], timeframe: Timeframe) -> list[Row]:
    return [
        (
            int(u.bar.open_time.timestamp() * 1000),
            u.bar.open,
            u.bar.high,
            u.bar.low,
            u.bar.close,
            float(u.bar.volume),
            u.base_bars,
            u.missing_bars,
        )
        for u in updates
        if u.bar.closed and u.bar.timeframe is timeframe
    ]


def batch_rows(columns: BarColumns, base: Timeframe, target: Timeframe) -> list[Row]:
    out = resample_columns(columns, base, target)
    bars = out.bars

    def exact(value: np.float64) -> Decimal:
        return Decimal(repr(float(value)))

    return [
        (
            int(bars.open_time_ms[i]),
            exact(bars.open[i]),
            exact(bars.high[i]),
            exact(bars.low[i]),
            exact(bars.close[i]),
            float(bars.volume[i]),
            int(out.base_bars[i]),
            int(out.missing_bars[i]),
        )
        for i in range(len(bars))
    ]


def assert_same_bars(streamed: list[Row], batch: list[Row]) -> None:
    assert [row[:5] + row[6:] for row in streamed] == [row[:5] + row[6:] for row in batch]
    assert [row[5] for row in streamed] == pytest.approx([row[5] for row in batch], rel=1e-12)


def cut(columns: BarColumns, *rows: int) -> BarColumns:
    keep = np.ones(len(columns), dtype=bool)
    keep[list(rows)] = False
    return columns.take(keep)


# --------------------------------------------------------------------------- golden


@pytest.mark.parametrize(("target", "common_bars"), [(H1, 9_964), (H4, 2_486), (D1, 397)])
def test_batch_5m_resample_equals_binance_bars_over_the_common_window(
    btc_5m: BarColumns,
    btc_reference: dict[Timeframe, BarColumns],
    target: Timeframe,
    common_bars: int,
) -> None:
    built = resample_columns(btc_5m, M5, target)
    reference = btc_reference[target]
    _, mine, theirs = np.intersect1d(
        built.bars.open_time_ms, reference.open_time_ms, return_indices=True
    )
    assert len(mine) == common_bars
    assert np.all(built.missing_bars[mine] == 0)
    for name in ("open", "high", "low", "close"):
        difference = getattr(built.bars, name)[mine] - getattr(reference, name)[theirs]
        assert np.max(np.abs(difference)) == 0.0, name
    np.testing.assert_allclose(built.bars.volume[mine], reference.volume[theirs], rtol=1e-12)


def test_streaming_5m_resample_equals_binance_bars_exactly(
    btc_5m: BarColumns, btc_reference: dict[Timeframe, BarColumns]
) -> None:
    days = 12
    updates, resampler = run_stream(btc_5m.take(slice(0, days * 288)), M5, (H1, H4, D1))
    for target, expected_bars in ((H1, days * 24), (H4, days * 6), (D1, days)):
        closed = [u for u in updates if u.bar.closed and u.bar.timeframe is target]
        assert len(closed) == expected_bars
        assert all(u.complete for u in closed)
        reference = btc_reference[target]
        start = int(np.searchsorted(reference.open_time_ms, btc_5m.open_time_ms[0]))
        expected = list(
            column_bars(reference.take(slice(start, start + expected_bars)), SYMBOL, target)
        )
        # Decimal sums of the 5m volumes equal Binance's own volume exactly, not just closely.
        assert [u.bar for u in closed] == expected
    assert resampler.incomplete_bars == {H1: 0, H4: 0, D1: 0}


def test_streaming_1m_resample_to_15m_and_1h_equals_batch(btc_1m: BarColumns) -> None:
    base = btc_1m.take(slice(0, 3 * 1440))
    updates, resampler = run_stream(base, M1, (M15, H1))
    tail = resampler.flush()
    for target in (M15, H1):
        assert_same_bars(stream_rows(updates + tail, target), batch_rows(base, M1, target))


def test_batch_1m_resample_is_complete_except_where_the_file_starts(btc_1m: BarColumns) -> None:
    # The 1m file opens at 2026-03-23 12:09, nine bars into its first 15m and 1h windows.
    for target, windows in ((M15, 2_880), (H1, 720)):
        built = resample_columns(btc_1m, M1, target)
        assert (
            built.bars.open_time_ms[0] == datetime(2026, 3, 23, 12, tzinfo=UTC).timestamp() * 1000
        )
        assert len(built.bars) == windows + 1
        assert built.missing_bars[0] == 9
        assert built.base_bars[0] == target.seconds // 60 - 9
        assert np.all(built.missing_bars[1:-1] == 0)


# --------------------------------------------------------------------------- gaps


def test_hole_inside_an_hour_gives_a_bounded_bar_marked_incomplete(btc_5m: BarColumns) -> None:
    day = btc_5m.take(slice(0, 288))
    holed = cut(day, NOON + 2, NOON + 3, NOON + 4)  # 12:10, 12:15, 12:20 missing
    updates, resampler = run_stream(holed, M5, (H1, H4, D1))
    (noon,) = [
        u for u in updates if u.bar.closed and u.bar.timeframe is H1 and u.bar.open_time.hour == 12
    ]
    present = list(range(NOON, NOON + 2)) + list(range(NOON + 5, NOON + 12))
    assert noon.bar.open_time == datetime(2024, 12, 31, 12, tzinfo=UTC)
    assert noon.bar.open == Decimal(repr(float(day.open[NOON])))
    assert noon.bar.high == Decimal(repr(float(day.high[present].max())))
    assert noon.bar.low == Decimal(repr(float(day.low[present].min())))
    assert noon.bar.close == Decimal(repr(float(day.close[NOON + 11])))
    assert (noon.base_bars, noon.missing_bars, noon.complete) == (9, 3, False)
    assert resampler.incomplete_bars == {H1: 1, H4: 1, D1: 1}  # each window lacks the same 3
    assert resampler.flush() == []
    for target in (H1, H4, D1):
        assert_same_bars(stream_rows(updates, target), batch_rows(holed, M5, target))


def test_bar_closes_on_the_update_of_its_last_base_bar(btc_5m: BarColumns) -> None:
    resampler = Resampler(SYMBOL, M5, (H1, H4))
    bars = list(column_bars(btc_5m.take(slice(NOON, NOON + 12)), SYMBOL, M5))
    for bar in bars[:-1]:
        assert not any(u.bar.closed for u in resampler.update(bar))
    hour, four_hours = resampler.update(bars[-1])
    assert hour.complete
    assert hour.bar.open_time.hour == 12
    assert not four_hours.bar.closed
    assert four_hours.missing_bars == 0


def test_missing_last_base_bar_closes_the_hour_when_the_next_hour_starts(
    btc_5m: BarColumns,
) -> None:
    holed = cut(btc_5m.take(slice(NOON, NOON + 24)), 11)  # 12:55 missing
    resampler = Resampler(SYMBOL, M5, (H1,))
    bars = list(column_bars(holed, SYMBOL, M5))
    for bar in bars[:11]:
        assert not any(u.bar.closed for u in resampler.update(bar))
    closed_noon, one_pm = resampler.update(bars[11])
    assert closed_noon.bar.closed
    assert closed_noon.bar.open_time.hour == 12
    assert (closed_noon.base_bars, closed_noon.missing_bars) == (11, 1)
    assert closed_noon.bar.close == bars[10].close
    assert not one_pm.bar.closed
    assert one_pm.bar.open_time.hour == 13
    assert resampler.incomplete_bars == {H1: 1}


def test_missing_first_base_bar_keeps_the_window_on_its_boundary(btc_5m: BarColumns) -> None:
    holed = cut(btc_5m.take(slice(NOON, NOON + 12)), 0)  # 12:00 missing
    updates, _ = run_stream(holed, M5, (H1,))
    closed = updates[-1]
    assert closed.bar.closed
    assert closed.bar.open_time == datetime(2024, 12, 31, 12, tzinfo=UTC)
    assert closed.bar.open == Decimal(repr(float(btc_5m.open[NOON + 1])))
    assert (closed.base_bars, closed.missing_bars) == (11, 1)


def test_whole_hours_missing_yield_no_bar_and_mark_the_4h_bar(btc_5m: BarColumns) -> None:
    holed = cut(btc_5m.take(slice(0, 288)), *range(NOON + 12, NOON + 36))  # 13:00..14:55
    updates, _ = run_stream(holed, M5, (H1, H4))
    hours = [u.bar.open_time.hour for u in updates if u.bar.closed and u.bar.timeframe is H1]
    assert hours == [h for h in range(24) if h not in (13, 14)]
    (afternoon,) = [
        u for u in updates if u.bar.closed and u.bar.timeframe is H4 and u.bar.open_time.hour == 12
    ]
    assert (afternoon.base_bars, afternoon.missing_bars) == (24, 24)
    assert all(u.complete for u in updates if u.bar.closed and u.bar.timeframe is H1)


# --------------------------------------------------------------------------- partial bars


def in_progress(bar: MarketBar, **values: Decimal) -> MarketBar:
    return MarketBar.model_validate(bar.model_dump() | values | {"closed": False})


def test_partial_bar_is_closed_base_bars_plus_the_latest_in_progress_update(
    btc_5m: BarColumns,
) -> None:
    first, second, third = column_bars(btc_5m.take(slice(NOON, NOON + 3)), SYMBOL, M5)
    resampler = Resampler(SYMBOL, M5, (H1,))
    resampler.update(first)
    spike = in_progress(third, high=Decimal(200_000), close=Decimal(150_000), volume=Decimal(7))
    resampler.update(second)
    (partial,) = resampler.update(spike)
    assert not partial.bar.closed
    assert partial.bar.open == first.open
    assert partial.bar.high == Decimal(200_000)
    assert partial.bar.close == Decimal(150_000)
    assert partial.bar.volume == first.volume + second.volume + 7
    assert (partial.base_bars, partial.missing_bars) == (3, 0)
    (replaced,) = resampler.update(in_progress(third, volume=Decimal(1)))
    assert replaced.bar.high == max(first.high, second.high, third.high)
    assert replaced.bar.volume == first.volume + second.volume + 1
    (final,) = resampler.update(third)
    assert final.bar.volume == first.volume + second.volume + third.volume
    assert not final.bar.closed


def test_in_progress_bar_of_a_new_window_reports_the_hole_so_far(btc_5m: BarColumns) -> None:
    first, *_, later = column_bars(btc_5m.take(slice(NOON, NOON + 5)), SYMBOL, M5)
    resampler = Resampler(SYMBOL, M5, (H1,))
    resampler.update(first)
    (partial,) = resampler.update(in_progress(later))
    assert (partial.base_bars, partial.missing_bars) == (2, 3)


# --------------------------------------------------------------------------- errors


def test_base_bar_at_or_before_the_last_closed_one_is_rejected(btc_5m: BarColumns) -> None:
    first, second = column_bars(btc_5m.take(slice(0, 2)), SYMBOL, M5)
    resampler = Resampler(SYMBOL, M5)
    resampler.update(second)
    for stale in (second, first, in_progress(first)):
        with pytest.raises(OutOfOrderBarError, match="is not after the last closed bar"):
            resampler.update(stale)


def test_bar_of_another_symbol_or_timeframe_is_rejected(btc_5m: BarColumns) -> None:
    (bar,) = column_bars(btc_5m.take(slice(0, 1)), "ETH/USDT", M5)
    with pytest.raises(ForeignBarError, match="got a ETH/USDT 5m bar"):
        Resampler(SYMBOL, M5).update(bar)
    with pytest.raises(ForeignBarError):
        Resampler("ETH/USDT", M1).update(bar)


@pytest.mark.parametrize(("base", "target"), [(H1, M15), (H1, H1), (M5, M1)])
def test_target_must_be_a_longer_multiple_of_the_base(base: Timeframe, target: Timeframe) -> None:
    with pytest.raises(ResampleError, match=f"cannot build {target} bars from {base} bars"):
        Resampler(SYMBOL, base, (target,))


def test_batch_rejects_unordered_base_bars(btc_5m: BarColumns) -> None:
    swapped = btc_5m.take(np.array([0, 2, 1, 3]))
    with pytest.raises(OutOfOrderBarError, match="2024-12-31T00:05:00"):
        resample_columns(swapped, M5, H1)


# --------------------------------------------------------------------------- properties


@st.composite
def base_series(draw: st.DrawFn) -> tuple[Timeframe, BarColumns, list[bool]]:
    base = draw(st.sampled_from([M1, M5]))
    steps = draw(st.lists(st.integers(1, 3) | st.integers(1, 400), min_size=1, max_size=250))
    first_slot = draw(st.integers(0, 2_000))
    slots = first_slot + np.cumsum(steps)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = len(slots)
    open_ = np.round(100 + np.cumsum(rng.normal(0, 1, n)).clip(-90, None), 2)
    close = np.round(open_ + rng.normal(0, 1, n), 2).clip(0.5, None)
    high = np.round(np.maximum(open_, close) + rng.random(n), 2)
    low = np.round(np.minimum(open_, close) - rng.random(n), 2).clip(0.01, None)
    volume = np.round(rng.random(n) * 50, 5)
    columns = BarColumns(
        slots.astype(np.int64) * base.seconds * 1000, open_, high, low, close, volume
    )
    previews = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return base, columns, previews


@settings(max_examples=60, deadline=None)
@given(base_series())
def test_streaming_equals_batch_for_random_series_with_gaps_and_partial_updates(
    series: tuple[Timeframe, BarColumns, list[bool]],
) -> None:
    base, columns, previews = series
    targets = tuple(tf for tf in (M15, H1, H4, D1))
    resampler = Resampler(SYMBOL, base, targets)
    updates: list[ResampledBar] = []
    for bar, preview in zip(column_bars(columns, SYMBOL, base), previews, strict=True):
        if preview:
            partials = resampler.update(in_progress(bar, close=bar.open))
            assert all(
                u.bar.open_time <= bar.open_time < u.bar.close_time
                for u in partials
                if not u.bar.closed
            )
            updates += partials
        updates += resampler.update(bar)
    updates += resampler.flush()
    for target in targets:
        expected = batch_rows(columns, base, target)
        assert_same_bars(stream_rows(updates, target), expected)
        assert resampler.incomplete_bars[target] == sum(1 for row in expected if row[7])
        assert all(
            u.bar.open_time.timestamp() % target.seconds == 0
            for u in updates
            if u.bar.timeframe is target
        )


def test_open_time_of_every_output_is_on_its_timeframe_boundary(btc_1m: BarColumns) -> None:
    updates, _ = run_stream(btc_1m.take(slice(0, 500)), M1, Timeframe.analysis())
    assert all(u.bar.timeframe.is_aligned(u.bar.open_time) for u in updates)
    assert all(
        u.bar.close_time - u.bar.open_time == timedelta(seconds=u.bar.timeframe.seconds)
        for u in updates
    )
