"""Volume indicators: OBV (as TA-Lib), session VWAP and the volume profile (POC, value area)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

import rust_exec
from trading.indicators.inputs import (
    IndicatorInputError,
    Series,
    as_series,
    as_series_set,
    nan_series,
)

SESSION_MS = {"1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000, "1w": 604_800_000}
"""VWAP session lengths; sessions are aligned to the Unix epoch in UTC (``1w`` starts Thursday)."""

VALUE_AREA_SHARE = 0.70
"""Share of volume in the value area: one standard deviation of a normal day (Steidlmayer)."""


def obv(close: ArrayLike, volume: ArrayLike) -> Series:
    """On-balance volume starting at the first bar's volume, as TA-Lib ``OBV``."""
    c, v = as_series_set(close=close, volume=volume)
    return rust_exec.ta_obv(c, v)


class OBVStream:
    """Streaming ``obv``."""

    __slots__ = ("_previous", "_value")

    def __init__(self) -> None:
        self._previous = math.nan
        self._value = math.nan

    def update(self, close: float, volume: float) -> float:
        if math.isnan(self._value):
            if math.isnan(close) or math.isnan(volume):
                return math.nan
            self._value = volume
        elif close > self._previous:
            self._value += volume
        elif close < self._previous:
            self._value -= volume
        else:
            self._value += 0.0
        self._previous = close
        return self._value


def _session_ms(session: str) -> int:
    if session not in SESSION_MS:
        raise IndicatorInputError(f"session: must be one of {sorted(SESSION_MS)}, got {session!r}")
    return SESSION_MS[session]


def vwap(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike,
    timestamps_ms: ArrayLike,
    session: str = "1d",
) -> Series:
    """Session VWAP: cumulative typical price * volume / cumulative volume, reset each session.

    Typical price is (H+L+C)/3 (StockCharts); NaN until the session has traded volume.
    """
    h, lo, c, v, t = as_series_set(
        high=high, low=low, close=close, volume=volume, timestamps_ms=timestamps_ms
    )
    length_ms = _session_ms(session)
    typical = (h + lo + c) / 3.0
    n = h.shape[0]
    if n == 0:
        return nan_series(0)
    # one row per session, its bars left-aligned: a running sum along each row restarts the
    # sums at every session exactly as the stream does (zero padding only follows the bars)
    session_id = np.floor_divide(t, length_ms)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(session_id) != 0) + 1))
    row = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))
    column = np.arange(n) - starts[row]
    shape = (len(starts), int(column.max()) + 1)
    weighted, traded = np.zeros(shape), np.zeros(shape)
    weighted[row, column] = typical * v
    traded[row, column] = v
    weighted_sum = np.cumsum(weighted, axis=1)[row, column]
    traded_sum = np.cumsum(traded, axis=1)[row, column]
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Series = np.where(traded_sum > 0.0, weighted_sum / traded_sum, np.nan)
    return out


class VWAPStream:
    """Streaming ``vwap``: running sums reset when the bar opens in a new session."""

    __slots__ = ("_length_ms", "_session", "_traded", "_weighted")

    def __init__(self, session: str = "1d") -> None:
        self._length_ms = _session_ms(session)
        self._session = -1
        self._weighted = 0.0
        self._traded = 0.0

    def update(
        self, high: float, low: float, close: float, volume: float, timestamp_ms: float
    ) -> float:
        session = int(timestamp_ms // self._length_ms)
        if session != self._session:
            self._session = session
            self._weighted = 0.0
            self._traded = 0.0
        typical = (high + low + close) / 3.0
        self._weighted += typical * volume
        self._traded += volume
        return self._weighted / self._traded if self._traded > 0.0 else math.nan


@dataclass(frozen=True)
class VolumeProfile:
    """Volume per price bucket with its point of control and value area.

    ``edges`` has ``len(volume) + 1`` bucket bounds; prices are bucket-inclusive at the low edge
    (the top edge belongs to the last bucket). ``poc_price`` is the POC bucket's midpoint.
    """

    edges: NDArray[np.float64]
    volume: NDArray[np.float64]
    poc_index: int
    poc_price: float
    value_area_low: float
    value_area_high: float

    @property
    def total_volume(self) -> float:
        return float(self.volume.sum())


def bucket_index(edges: NDArray[np.float64], price: ArrayLike) -> NDArray[np.intp]:
    """Bucket of each price: ``edges[i] <= price < edges[i+1]``, clipped to the outer buckets."""
    index = np.searchsorted(edges, price, side="right") - 1
    return np.clip(index, 0, edges.shape[0] - 2)


def value_area(
    volume: NDArray[np.float64], poc: int, share: float = VALUE_AREA_SHARE
) -> tuple[int, int]:
    """Bucket range [low, high] of the value area, CBOT Market Profile rule.

    From the POC, compare the volume of the next two buckets above with the next two below and
    add the larger pair (ties go up), until ``share`` of the total is covered (CBOT "Market
    Profile" handbook, 1991; as documented by e.g. Sierra Chart and TradingView).
    """
    target = share * float(volume.sum())
    low = high = poc
    covered = float(volume[poc])
    last = volume.shape[0] - 1
    while covered < target and (low > 0 or high < last):
        above = float(volume[high + 1 : high + 3].sum()) if high < last else -1.0
        below = float(volume[max(low - 2, 0) : low].sum()) if low > 0 else -1.0
        if above >= below:
            step = min(2, last - high)
            covered += float(volume[high + 1 : high + 1 + step].sum())
            high += step
        else:
            step = min(2, low)
            covered += float(volume[low - step : low].sum())
            low -= step
    return low, high


def profile_from_buckets(
    edges: NDArray[np.float64], volume: NDArray[np.float64], share: float = VALUE_AREA_SHARE
) -> VolumeProfile:
    """POC (the fullest bucket, lowest on ties) and value area of bucketed volume."""
    poc = int(np.argmax(volume))
    low, high = value_area(volume, poc, share)
    return VolumeProfile(
        edges=edges,
        volume=volume,
        poc_index=poc,
        poc_price=float((edges[poc] + edges[poc + 1]) / 2.0),
        value_area_low=float(edges[low]),
        value_area_high=float(edges[high + 1]),
    )


def volume_profile(
    price: ArrayLike, volume: ArrayLike, bins: int | ArrayLike = 24, share: float = VALUE_AREA_SHARE
) -> VolumeProfile:
    """Volume by price bucket (``bins`` equal buckets over the price range, or explicit edges).

    Pass close or typical price; each bar's whole volume goes to the bucket of that price.
    """
    p, v = as_series_set(price=price, volume=volume)
    keep = ~(np.isnan(p) | np.isnan(v))
    p, v = p[keep], v[keep]
    if isinstance(bins, int | np.integer):
        if bins < 1:
            raise IndicatorInputError(f"bins: must be >= 1, got {bins}")
        if p.shape[0] == 0:
            raise IndicatorInputError("price: no bar with both price and volume")
        low, high = float(p.min()), float(p.max())
        if low == high:
            high = low + 1.0
        edges = np.linspace(low, high, int(bins) + 1)
    else:
        edges = as_series("bins", bins)
        if edges.shape[0] < 2 or not np.all(np.diff(edges) > 0):
            raise IndicatorInputError("bins: edges must be >= 2 strictly increasing values")
    if not 0.0 < share <= 1.0:
        raise IndicatorInputError(f"share: must be in (0, 1], got {share}")
    buckets = np.bincount(bucket_index(edges, p), weights=v, minlength=edges.shape[0] - 1)
    return profile_from_buckets(edges, buckets.astype(np.float64), share)


class VolumeProfileStream:
    """Streaming ``volume_profile`` over fixed bucket edges; ``update`` returns the POC price."""

    __slots__ = ("_edges", "_poc", "_share", "_volume")

    def __init__(self, edges: ArrayLike, share: float = VALUE_AREA_SHARE) -> None:
        self._edges = as_series("edges", edges)
        if self._edges.shape[0] < 2 or not np.all(np.diff(self._edges) > 0):
            raise IndicatorInputError("edges: must be >= 2 strictly increasing values")
        self._volume = np.zeros(self._edges.shape[0] - 1)
        self._share = share
        self._poc = 0

    def update(self, price: float, volume: float) -> float:
        if not (math.isnan(price) or math.isnan(volume)):
            bucket = int(bucket_index(self._edges, price))
            self._volume[bucket] += volume
            best = self._volume[self._poc]
            if self._volume[bucket] > best or (self._volume[bucket] == best and bucket < self._poc):
                self._poc = bucket
        return float((self._edges[self._poc] + self._edges[self._poc + 1]) / 2.0)

    def profile(self) -> VolumeProfile:
        return profile_from_buckets(self._edges, self._volume.copy(), self._share)
