"""Recorder: every event lands in the hash-chained journal and its table; replay gives it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests import strategies as gen
from trading.contracts import (
    Fill,
    Liquidity,
    MarketBar,
    OrderDecision,
    OrderState,
    Position,
    Side,
    Signal,
)
from trading.journal.chain import Journal, verify
from trading.journal.recorder import ConfigChange, EquityPoint, Recordable, Recorder, replay
from trading.journal.store import LLMCall, Store

T0 = datetime(2025, 10, 1, tzinfo=UTC)


def _recorder(tmp_path: Path) -> Recorder:
    return Recorder(Journal(tmp_path / "journal.jsonl"), Store.open(tmp_path / "store.db"))


@settings(max_examples=10, deadline=None)
@given(
    st.lists(
        st.one_of(
            gen.market_bars(),
            gen.signals(),
            gen.order_decisions(),
            gen.order_states(),
            gen.fills,
            gen.positions(),
        ),
        max_size=12,
    )
)
def test_replay_returns_exactly_the_recorded_contracts(
    events: list[MarketBar | Signal | OrderDecision | OrderState | Fill | Position],
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        recorder = _recorder(Path(scratch))
        extras: list[Recordable] = [
            EquityPoint(T0, Decimal("10000"), Decimal("9000"), Decimal("1000")),
            ConfigChange(T0, "api", "ab" * 32, {"risk.max_leverage": 5}),
        ]
        recorder.record([*events, *extras], ts=T0)
        recorder.close()
        path = Path(scratch) / "journal.jsonl"
        assert verify(path).records == len(events) + 2
        assert list(replay(path)) == events


def test_each_kind_lands_in_its_table_and_the_head_is_anchored(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path)
    fill = Fill(
        trade_id="T1",
        client_order_id="rt-1",
        symbol="BTC/USDT",
        side=Side.SELL,
        price=Decimal("60000"),
        quantity=Decimal("0.5"),
        fee=Decimal("12"),
        fee_asset="USDT",
        liquidity=Liquidity.TAKER,
        ts=T0,
    )
    call = LLMCall(T0, "offline", "cd" * 32, 0, 0, Decimal(0), 0.1, True, "LONG")
    count = recorder.record([fill, fill, call], ts=T0 + timedelta(seconds=1))
    recorder.anchor(T0 + timedelta(seconds=2))
    assert count == 3
    assert recorder.store.count("fills") == 1, "the store dedupes; the journal keeps both lines"
    assert recorder.store.count("llm_calls") == 1
    assert recorder.store.journal_head() == (3, recorder.journal.last_hash)
    recorder.close()
    assert list(replay(tmp_path / "journal.jsonl", kinds=frozenset({"fill"}))) == [fill, fill]
