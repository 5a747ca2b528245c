"""Backoff bounds, the skew guard and the dedupe sequencer, as plain objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trading.contracts import MarketBar, Timeframe
from trading.execution.retry import Backoff, Network
from trading.market.binance import NEVER, BarSequencer, SkewGuard

START = datetime(2026, 3, 23, tzinfo=UTC)


def test_reconnect_backoff_is_full_jitter_under_a_doubling_capped_ceiling() -> None:
    """The feed reconnects on the execution core's backoff: failure n waits uniform(0, window)
    with window = min(30 s, 0.5 s x 2^(n-1))."""
    backoff = Backoff(base_delay_ms=500, max_delay_ms=30_000, max_attempts=NEVER, seed=1)
    windows_ms = [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
    for failures, window_ms in enumerate(windows_ms, start=1):
        delays = [backoff.next_delay_ms(Network(), failures) for _ in range(200)]
        assert all(d is not None and 0 <= d <= window_ms for d in delays)
        assert max(d for d in delays if d is not None) > 0.8 * window_ms
        assert min(d for d in delays if d is not None) < 0.2 * window_ms


def test_reconnect_backoff_with_the_same_seed_repeats_its_delays() -> None:
    first = Backoff(max_attempts=NEVER, seed=99)
    second = Backoff(max_attempts=NEVER, seed=99)
    assert [first.next_delay_ms(Network(), n) for n in range(1, 11)] == [
        second.next_delay_ms(Network(), n) for n in range(1, 11)
    ]


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=2**64 - 1))
def test_reconnect_backoff_never_exceeds_the_cap(failures: int, seed: int) -> None:
    backoff = Backoff(base_delay_ms=100, max_delay_ms=5_000, max_attempts=NEVER, seed=seed)
    delay_ms = backoff.next_delay_ms(Network(), failures)
    assert delay_ms is not None
    assert 0 <= delay_ms <= 5_000


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
