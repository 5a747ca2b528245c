"""Backoff bounds, the skew guard and the dedupe sequencer, as plain objects."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.contracts import MarketBar, Timeframe
from trading.market.binance import Backoff, BarSequencer, SkewGuard

START = datetime(2026, 3, 23, tzinfo=UTC)


def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling() -> None:
    backoff = Backoff(base_s=0.5, cap_s=30.0, rng=random.Random(1))
    assert [backoff.ceiling_s(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    for attempt in range(12):
        delays = [backoff.delay_s(attempt) for _ in range(200)]
        assert all(0 <= delay <= backoff.ceiling_s(attempt) for delay in delays)
        assert max(delays) > 0.8 * backoff.ceiling_s(attempt)
        assert min(delays) < 0.2 * backoff.ceiling_s(attempt)


def test_backoff_with_the_same_seed_repeats_its_delays() -> None:
    first = Backoff(rng=random.Random(99))
    second = Backoff(rng=random.Random(99))
    assert [first.delay_s(n) for n in range(10)] == [second.delay_s(n) for n in range(10)]


@given(st.integers(min_value=0, max_value=10_000), st.integers())
def test_backoff_never_exceeds_the_cap(attempt: int, seed: int) -> None:
    backoff = Backoff(base_s=0.1, cap_s=5.0, rng=random.Random(seed))
    assert 0 <= backoff.delay_s(attempt) <= 5.0


def test_backoff_rejects_impossible_bounds() -> None:
    with pytest.raises(ValueError, match="base_s"):
        Backoff(base_s=2.0, cap_s=1.0)


def test_skew_guard_takes_the_round_trip_midpoint() -> None:
    guard = SkewGuard(max_skew_ms=250)
    guard.observe_server_time(server_ms=10_300, sent_ms=10_000, received_ms=10_020)
    assert guard.skew_ms == 290
    assert guard.rtt_ms == 20
    assert guard.exceeded


def test_event_time_can_only_raise_the_skew_estimate() -> None:
    guard = SkewGuard(max_skew_ms=250)
    guard.observe_server_time(server_ms=1_000, sent_ms=1_000, received_ms=1_000)
    guard.observe_event(event_ms=900, received_ms=1_000)  # 100 ms of latency: no evidence
    assert guard.skew_ms == 0
    guard.observe_event(event_ms=1_400, received_ms=1_000)  # an event from our future
    assert guard.skew_ms == 400
    assert guard.exceeded
    guard.observe_server_time(server_ms=1_000, sent_ms=1_000, received_ms=1_000)
    assert not guard.exceeded


def test_a_round_trip_too_slow_to_decide_is_ignored() -> None:
    guard = SkewGuard(max_skew_ms=250)
    assert not guard.observe_server_time(server_ms=20_000, sent_ms=0, received_ms=20_000)
    assert guard.skew_ms is None
    assert guard.inconclusive == 1
    assert guard.observe_server_time(server_ms=10_100, sent_ms=10_000, received_ms=10_000)
    assert guard.skew_ms == 100


def test_network_latency_alone_is_no_evidence_of_skew() -> None:
    guard = SkewGuard(max_skew_ms=250)
    guard.observe_event(event_ms=1_000, received_ms=1_600)
    assert guard.skew_ms is None
    assert not guard.exceeded


def _bar(symbol: str, index: int, closed: bool) -> MarketBar:
    price = Decimal(100 + index)
    return MarketBar(
        symbol=symbol,
        timeframe=Timeframe.M1,
        open_time=START + timedelta(minutes=index),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
        closed=closed,
    )


updates = st.lists(
    st.tuples(st.sampled_from(["BTC/USDT", "ETH/USDT"]), st.integers(0, 30), st.booleans()),
    max_size=80,
)


@given(updates)
def test_sequencer_emits_each_closed_bar_once_in_increasing_order(
    stream: list[tuple[str, int, bool]],
) -> None:
    sequencer = BarSequencer()
    last_closed: dict[str, int] = {}
    for symbol, index, closed in stream:
        admitted = sequencer.admit(_bar(symbol, index, closed))
        assert admitted == (index > last_closed.get(symbol, -1))
        if admitted and closed:
            last_closed[symbol] = index
    for symbol, index in last_closed.items():
        expected = START + timedelta(minutes=index + 1)
        assert sequencer.next_open((symbol, Timeframe.M1)) == expected
