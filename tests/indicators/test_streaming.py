"""Each ``*Stream`` returns, bar by bar, what its batch function (a Rust kernel running the same
arithmetic in the same order) returns for the whole series, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.indicators.cases import CASES, Arrays, Case, assert_stream_equals_batch
from tests.indicators.conftest import Bars


def arrays_of(bars: Bars) -> Arrays:
    return {
        "high": bars.high,
        "low": bars.low,
        "close": bars.close,
        "volume": bars.volume,
        "time": bars.open_time_ms,
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_stream_equals_batch_on_real_bars(case: Case, btc_1h: Bars) -> None:
    assert_stream_equals_batch(case, arrays_of(btc_1h.head(3_000)))


@st.composite
def random_bars(draw: st.DrawFn) -> Arrays:
    n = draw(st.integers(min_value=0, max_value=120))
    scale = draw(st.sampled_from([1e-4, 1.0, 1e5]))
    steps = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    close = scale * (100.0 + np.cumsum(np.array(steps, dtype=np.float64)))
    wicks = draw(st.lists(st.integers(0, 2), min_size=2 * n, max_size=2 * n))
    spread = scale * np.array(wicks, dtype=np.float64).reshape(2, n)
    volume = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 7.25]), min_size=n, max_size=n))
    hours = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    return {
        "high": close + spread[0],
        "low": close - spread[1],
        "close": close,
        "volume": np.array(volume, dtype=np.float64),
        "time": 3_600_000.0 * np.cumsum(np.array(hours, dtype=np.float64)),
    }


@settings(max_examples=200, deadline=None)
@given(bars=random_bars())
def test_stream_equals_batch_on_random_series(bars: Arrays) -> None:
    for case in CASES:
        assert_stream_equals_batch(case, bars)
