"""Session VWAP resets at UTC session boundaries; the volume profile finds the point of control
and the 70% value area by the CBOT two-buckets-at-a-time rule."""

from __future__ import annotations

import numpy as np
import pytest

from tests.indicators.conftest import Bars
from trading.indicators import IndicatorInputError, VolumeProfileStream, volume_profile, vwap

HOUR_MS = 3_600_000.0


def test_vwap_restarts_at_each_utc_day(btc_1h: Bars) -> None:
    b = btc_1h.head(72)
    ours = vwap(b.high, b.low, b.close, b.volume, b.open_time_ms)
    typical = (b.high + b.low + b.close) / 3.0
    day = (b.open_time_ms // (24 * HOUR_MS)).astype(int)
    for d in np.unique(day):
        sel = day == d
        expected = np.cumsum(typical[sel] * b.volume[sel]) / np.cumsum(b.volume[sel])
        np.testing.assert_allclose(ours[sel], expected, rtol=1e-13)
        assert ours[sel][0] == pytest.approx(typical[sel][0], rel=1e-15)


def test_vwap_four_hour_session_starts_on_the_epoch_grid() -> None:
    t = HOUR_MS * np.arange(8.0)
    price = np.arange(8.0) + 10.0
    ours = vwap(price, price, price, np.ones(8), t, session="4h")
    np.testing.assert_allclose(ours, [10, 10.5, 11, 11.5, 14, 14.5, 15, 15.5])


def test_volume_profile_point_of_control_and_value_area_by_hand() -> None:
    # Buckets 0..9 (edges 0..10); volumes chosen so the CBOT rule is visible:
    # POC = bucket 5 (30). Step 1: above pair (6,7) = 20+5 vs below pair (4,3) = 15+10 -> tie, up.
    # Covered 55 of 100 < 70. Step 2: above (8,9) = 1+1 vs below (4,3) = 25 -> down: 80 >= 70.
    volume = np.array([2, 3, 3, 10, 15, 30, 20, 5, 1, 1], dtype=np.float64)
    price = np.arange(10) + 0.5
    profile = volume_profile(price, volume, bins=np.arange(11.0))
    assert profile.poc_index == 5
    assert profile.poc_price == 5.5
    assert (profile.value_area_low, profile.value_area_high) == (3.0, 8.0)
    assert profile.total_volume == 90.0


def test_volume_profile_equal_buckets_cover_the_price_range() -> None:
    profile = volume_profile([1.0, 2.0, 3.0, 3.0], [1.0, 1.0, 1.0, 5.0], bins=4)
    np.testing.assert_allclose(profile.edges, [1.0, 1.5, 2.0, 2.5, 3.0])
    np.testing.assert_allclose(profile.volume, [1.0, 0.0, 1.0, 6.0])
    assert profile.poc_price == 2.75


def test_volume_profile_stream_equals_batch_on_fixed_edges(btc_1h: Bars) -> None:
    b = btc_1h.head(2_000)
    typical = (b.high + b.low + b.close) / 3.0
    edges = np.linspace(typical.min(), typical.max(), 41)
    stream = VolumeProfileStream(edges)
    for i, (p, v) in enumerate(zip(typical, b.volume, strict=True)):
        poc = stream.update(p, v)
        if i % 500 == 499:
            assert poc == volume_profile(typical[: i + 1], b.volume[: i + 1], bins=edges).poc_price
    batch, streamed = volume_profile(typical, b.volume, bins=edges), stream.profile()
    np.testing.assert_allclose(streamed.volume, batch.volume, rtol=1e-12)
    assert (streamed.value_area_low, streamed.value_area_high) == (
        batch.value_area_low,
        batch.value_area_high,
    )
    low = int(np.searchsorted(edges, batch.value_area_low))
    high = int(np.searchsorted(edges, batch.value_area_high))
    assert batch.volume[low:high].sum() >= 0.7 * batch.total_volume


def test_volume_profile_rejects_bad_bins() -> None:
    with pytest.raises(IndicatorInputError, match=r"^bins:"):
        volume_profile([1.0], [1.0], bins=0)
    with pytest.raises(IndicatorInputError, match=r"^bins:"):
        volume_profile([1.0], [1.0], bins=[2.0, 1.0])
