"""The engine against the in-process paper exchange: partial fills, cancel/replace, amend, and
faults (timeouts after accept, rate-limit storms, duplicate and out-of-order events)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tests.execution.conftest import check_books_agree, make_intents, session, settle
from trading.contracts import OrderIntent, OrderStatus, OrderType, Side
from trading.execution.paper import Faults, PaperBar


def test_stream_of_orders_fills_and_positions_match_venue_balances(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    async def run() -> None:
        intents = make_intents(60, 1, paper_bars, strategy="stream")
        async with session(paper_bars, tmp_path) as s:
            await s.engine.submit(intents)
            await settle(s.engine, intents, 10)
            check_books_agree(s, intents)
            assert await s.engine.position_drift({}) == dict.fromkeys(s.gateway.positions(), 0)

    asyncio.run(run())


def test_partial_fill_storm_splits_orders_and_avg_price_is_the_vwap(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    async def run() -> None:
        intents = make_intents(20, 2, paper_bars, strategy="storm")
        faults = Faults(partial_fill_storm=True)
        async with session(paper_bars, tmp_path, faults) as s:
            await s.engine.submit(intents)
            states = await settle(s.engine, intents, 15)
            check_books_agree(s, intents)
            filled = [st for st in states if st.status is OrderStatus.FILLED]
            assert filled
            for state in filled:
                fills = s.gateway.fills(state.client_order_id)
                assert len(fills) > 1
                vwap = sum(f.price * f.quantity for f in fills) / state.filled_quantity
                assert state.avg_fill_price is not None
                assert abs(state.avg_fill_price - vwap) < Decimal("1e-12")

    asyncio.run(run())


def _limit(bars: dict[str, list[PaperBar]], seq: int, quantity: str, away: str) -> OrderIntent:
    close = bars["BTC/USDT"][0].close
    return OrderIntent.for_signal(
        strategy="amend",
        symbol="BTC/USDT",
        signal_time=bars_time(bars),
        seq=seq,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal(quantity),
        limit_price=(close * Decimal(away)).quantize(Decimal("0.01")),
        created_at=bars_time(bars),
    )


def bars_time(bars: dict[str, list[PaperBar]]) -> datetime:
    return datetime.fromtimestamp(bars["BTC/USDT"][0].open_time_ms / 1000, UTC)


def test_partial_fill_then_cancel_replace_of_the_remainder(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    async def run() -> None:
        # bars stand still (no steps) so the order keeps exactly its first partial fill
        faults = Faults(partial_fill_storm=True)
        async with session(paper_bars, tmp_path, faults, bar_interval_ms=60_000) as s:
            order = _limit(paper_bars, 0, "0.05", "1.01")  # marketable: fills a piece on arrival
            await s.engine.submit([order])
            for _ in range(200):
                state = s.gateway.state(order.client_order_id)
                if state is not None and state.status is OrderStatus.PARTIALLY_FILLED:
                    break
                await asyncio.sleep(0.01)
            replacement = _limit(paper_bars, 1, "0.05", "0.98")
            outcomes = await s.engine.cancel_replace(order.client_order_id, replacement)
            canceled = s.gateway.state(order.client_order_id)
            assert canceled is not None
            assert canceled.status is OrderStatus.CANCELED
            assert 0 < canceled.filled_quantity < canceled.quantity
            (outcome,) = outcomes
            assert outcome.action == "send"
            assert outcome.state.quantity == canceled.remaining_quantity
            await asyncio.sleep(0.2)
            resting = s.gateway.state(replacement.client_order_id)
            assert resting is not None
            assert resting.status is OrderStatus.ACCEPTED
            amended = await s.engine.amend(replacement.client_order_id, Decimal("0.001"))
            assert amended.quantity == Decimal("0.001")
            assert s.exchange.orders[replacement.client_order_id].quantity == Decimal("0.001")
            check_books_agree(s, [order, replacement])

    asyncio.run(run())


def test_timeouts_after_accept_are_resolved_by_query_not_resent(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    async def run() -> None:
        intents = make_intents(40, 4, paper_bars, strategy="timeouts")
        faults = Faults(timeout_after_accept=0.3, hang_s=3.0)
        async with session(paper_bars, tmp_path, faults, request_timeout_s=0.3) as s:
            await s.engine.submit(intents)
            await settle(s.engine, intents, 20)
            assert s.engine.stats.unknown_outcomes > 0
            assert s.engine.stats.resends == 0
            assert len(s.exchange.orders) == len(intents)
            check_books_agree(s, intents)

    asyncio.run(run())


def test_rate_limit_storm_is_retried_after_retry_after_and_nothing_is_lost(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    async def run() -> None:
        intents = make_intents(40, 5, paper_bars, strategy="ratelimit")
        faults = Faults(rate_limit=0.4, retry_after_s=0)
        async with session(paper_bars, tmp_path, faults) as s:
            await s.engine.submit(intents)
            states = await settle(s.engine, intents, 20)
            assert s.engine.stats.send_failures > 0
            for state in states:
                assert state.status is not OrderStatus.REJECTED or state.reject_reason
            check_books_agree(s, intents)

    asyncio.run(run())


def test_duplicate_and_out_of_order_events_change_nothing(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    async def run() -> None:
        intents = make_intents(40, 6, paper_bars, strategy="events")
        faults = Faults(duplicate_events=0.5, shuffle_events=True, partial_fill_storm=True)
        async with session(paper_bars, tmp_path, faults) as s:
            await s.engine.submit(intents)
            await settle(s.engine, intents, 20)
            check_books_agree(s, intents)

    asyncio.run(run())


def test_orders_sent_right_after_start_learn_their_fills_from_the_stream(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    """Binance's 5 s recvWindow: an order resolved by a query would wait that long, so the
    engine connects the user stream before it sends; the fill arrives pushed, within 1 s."""

    async def run() -> None:
        intents = make_intents(3, 1, paper_bars, strategy="first")
        async with session(paper_bars, tmp_path, recv_window_ms=5_000) as s:
            await s.engine.submit(intents)
            states = await settle(s.engine, intents, 1.0)
            assert [st.status for st in states] == [OrderStatus.FILLED] * 3
            assert s.engine.stats.queries == 0

    asyncio.run(run())


def test_submit_settled_returns_once_every_sent_order_is_answered(
    paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    """The step's send: market orders come back with their fills, limits at least accepted, so
    the step that sent them books them; a repeat of the batch sends nothing, waits for nothing."""

    async def run() -> None:
        intents = make_intents(6, 3, paper_bars, strategy="settled")
        async with session(paper_bars, tmp_path) as s:
            await s.engine.submit_settled(intents, settle_timeout_s=5.0)
            states = [s.gateway.state(i.client_order_id) for i in intents]
            for intent, state in zip(intents, states, strict=True):
                assert state is not None
                assert state.status not in (OrderStatus.NEW, OrderStatus.SUBMITTED)
                if intent.order_type is OrderType.MARKET:
                    assert state.filled_quantity > 0 or state.status.is_terminal
            started = asyncio.get_running_loop().time()
            repeats = await s.engine.submit_settled(intents, settle_timeout_s=5.0)
            assert {o.action for o in repeats} == {"duplicate"}
            assert asyncio.get_running_loop().time() - started < 1.0

    asyncio.run(run())
