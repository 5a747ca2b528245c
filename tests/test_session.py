"""The paper session end to end on Ray: real data through every actor to the paper venue."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import ray
import talib

from actors.run_loop import run_session
from actors.session import SessionOptions
from trading.config import Settings, load_settings
from trading.contracts import Fill, MarketBar
from trading.execution.progress import SessionProgress
from trading.journal.chain import verify
from trading.journal.recorder import replay
from trading.report.summary import format_summary

pytestmark = pytest.mark.ray

BARS = 600  # 5m bars per symbol: 2025-10-01 00:00 .. 2025-10-03 01:55


def _settings(llm: bool = False) -> Settings:
    """The bundled config; the LLM second opinion off unless asked (backtests run ex-LLM)."""
    settings = load_settings()
    features = settings.features.model_copy(update={"llm_opinion": llm})
    return settings.model_copy(update={"features": features})


def _options(data_dir: Path, llm: bool = False) -> SessionOptions:
    return SessionOptions(settings=_settings(llm), data_dir=data_dir, max_bars=BARS, poll_s=0.2)


@pytest.fixture(scope="module")
def baseline(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir = tmp_path_factory.mktemp("baseline")
    return run_session(_options(data_dir))


def test_session_trades_through_every_actor_and_journals_it(
    baseline: Any, shared_data: Path
) -> None:
    summary = baseline
    assert summary.progress.error is None
    assert summary.progress.steps == BARS // 3
    for symbol in summary.symbols:
        assert symbol.base_bars == BARS
        assert symbol.closed_bars == {"15m": 200, "1h": 50, "4h": 12, "1d": 2}
    assert summary.progress.orders > 0
    assert summary.progress.fills >= summary.progress.orders
    assert summary.venue["accepted"] == summary.progress.orders
    assert summary.venue["duplicate_attempts"] == 0
    assert summary.journal.ok
    assert verify(summary.journal_path).records == summary.journal.records
    fills = list(replay(summary.journal_path, frozenset({"fill"})))
    assert len(fills) == summary.progress.fills
    net: dict[str, Decimal] = {}
    for fill in fills:
        assert isinstance(fill, Fill)
        net[fill.symbol] = net.get(fill.symbol, Decimal(0)) + fill.quantity * fill.side.sign
    assert {s: q for s, q in net.items() if q} == {
        s: q for s, q in summary.positions.items() if q
    }, "positions derive from the journaled fills"

    hourly = pl.read_csv(
        shared_data / "binance_spot_2024_2026" / "BTC_USDT-1h.csv", try_parse_dates=True
    ).filter(pl.col("date") >= datetime(2025, 10, 1, tzinfo=UTC))
    close = hourly["close"].to_numpy()[:50].astype(np.float64)
    rsi = summary.snapshots["BTC/USDT"]["1h"].values["rsi_14"]
    assert rsi == pytest.approx(talib.RSI(close, 14)[-1], rel=1e-9)
    table = format_summary(summary)
    assert re.search(r"BTC/USDT\s+600\s+200\s+50\s+12\s+2\s", table), table
    assert "duplicate client ids 0" in table


def _kill_during(options: SessionOptions, name: str, at_step: int = 80) -> tuple[Any, int | None]:
    """Run a session and SIGKILL-equivalent ``name`` once ``at_step`` steps are done (Ray
    restarts it)."""
    import threading
    import time

    killed_at: list[int] = []

    def kill_later() -> None:
        deadline = time.monotonic() + 300  # the actors' start-up counts on a loaded box
        while time.monotonic() < deadline and not killed_at:
            try:
                orchestrator = ray.get_actor("orchestrator")
                current: ray.ObjectRef[SessionProgress] = orchestrator.progress.remote()
                progress = ray.get(current)
            except (ValueError, ray.exceptions.RayActorError):
                time.sleep(0.02)
                continue
            if progress.done:
                return
            if progress.steps >= at_step:
                ray.kill(ray.get_actor(name), no_restart=False)
                killed_at.append(progress.steps)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_later)
    killer.start()
    summary = run_session(options)
    killer.join()
    return summary, killed_at[0] if killed_at else None


@pytest.mark.parametrize("actor", ["execution", "risk"])
def test_killed_actor_restarts_from_checkpoint_and_the_run_ends_the_same(
    baseline: Any, actor: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp(f"kill-{actor}")
    summary, killed_at = _kill_during(_options(data_dir), actor)
    assert killed_at is not None, "the actor was never killed"
    assert killed_at < summary.progress.steps, "killed mid-run, not after it"
    assert summary.progress.error is None
    assert summary.venue["duplicate_attempts"] == 0
    assert summary.venue["accepted"] == baseline.venue["accepted"]
    assert summary.positions == baseline.positions
    assert summary.risk.balance == baseline.risk.balance
    assert summary.risk.state == baseline.risk.state
    assert summary.journal.ok


SHORT_BARS = 240  # 80 steps: a kill at step 30 leaves 50 to run after the restart


@pytest.mark.parametrize("actor", ["orchestrator", "journal"])
def test_killed_orchestrator_or_journal_resumes_without_a_step_done_twice(
    ray_session: Any, actor: str, tmp_path: Path
) -> None:
    """The actor killed mid-session: every step runs once (each bar journaled once), no
    order is sent twice, positions equal the journaled fills and the chain verifies."""
    options = SessionOptions(
        settings=_settings(), data_dir=tmp_path, max_bars=SHORT_BARS, poll_s=0.2
    )
    summary, killed_at = _kill_during(options, actor, at_step=30)
    assert killed_at is not None, "the actor was never killed"
    assert _restarts(actor) >= 1, "the kill landed after the session ended"
    assert summary.progress.error is None
    assert summary.progress.steps == SHORT_BARS // 3
    assert summary.venue["duplicate_attempts"] == 0
    assert summary.venue["accepted"] == summary.progress.orders
    assert summary.journal.ok
    journaled = replay(summary.journal_path, frozenset({"bar"}))
    bars = [(b.symbol, b.open_time) for b in journaled if isinstance(b, MarketBar)]
    assert len(set(bars)) == len(bars) == 3 * SHORT_BARS, "a step journaled twice or never"
    fills = [f for f in replay(summary.journal_path, frozenset({"fill"})) if isinstance(f, Fill)]
    assert len(fills) == summary.progress.fills
    net: dict[str, Decimal] = {}
    for fill in fills:
        net[fill.symbol] = net.get(fill.symbol, Decimal(0)) + fill.quantity * fill.side.sign
    assert {s: q for s, q in net.items() if q} == {
        s: q for s, q in summary.positions.items() if q
    }, "positions derive from the journaled fills"


def _restarts(name: str) -> int:
    """How often Ray restarted the actor named ``name`` (the GCS actor table)."""
    from ray._private.state import actors

    return max(int(a["NumRestarts"]) for a in actors().values() if a["Name"] == name)


def test_rerunning_the_journal_reproduces_every_decision(baseline: Any) -> None:
    from trading.journal.rerun import rerun

    report = rerun(baseline.journal_path, _settings(), Decimal("100000"))
    assert report.steps == baseline.progress.steps
    assert report.decisions == sum(baseline.progress.decisions.values())
    assert report.decisions > 0
    assert report.signals_recomputed > 0
    assert report.identical, (report.mismatches[:2], report.signal_mismatches[:2])


def test_backtest_sends_exactly_the_orders_the_live_actors_sent(baseline: Any) -> None:
    """The backtester on the same bars and config must produce the live run's orders: same
    client ids, sides and quantities, in the same order (issue 10's parity check)."""
    from datetime import timedelta

    from trading.backtest.data import Window, load_market
    from trading.backtest.engine import BacktestConfig, run_backtest
    from trading.contracts import OrderState, Timeframe
    from trading.market.replay import BUNDLED_DATA

    start = datetime(2025, 10, 1, tzinfo=UTC)
    settings = _settings()
    data = load_market(
        BUNDLED_DATA,
        settings.symbols,
        Timeframe.M5,
        Window(start, start + timedelta(minutes=5 * BARS)),
    )
    result = run_backtest(data, BacktestConfig(settings=settings, funding=False))
    live: dict[str, tuple[str, Decimal]] = {}
    for state in replay(baseline.journal_path, frozenset({"order"})):
        assert isinstance(state, OrderState)
        live.setdefault(state.client_order_id, (state.side, state.quantity))
    backtest = {o.client_order_id: (o.side, o.quantity) for o in result.orders}
    assert len(live) == baseline.progress.orders > 0
    assert list(backtest.items()) == list(live.items())


def test_llm_second_opinions_blend_into_signals_and_replay_still_matches(
    ray_session: Any, tmp_path: Path
) -> None:
    """With no API keys the router answers with the offline analyst, labelled; the blended
    signals say so, and a journal replay still reproduces every decision."""
    from trading.contracts import Signal
    from trading.journal.rerun import rerun

    options = SessionOptions(
        settings=_settings(llm=True), data_dir=tmp_path, max_bars=300, poll_s=0.2
    )
    summary = run_session(options)
    signals = [s for s in replay(summary.journal_path, frozenset({"signal"}))]
    assert all(isinstance(s, Signal) for s in signals)
    analysts = {s.analyst for s in signals if isinstance(s, Signal)}
    assert "confluence+offline" in analysts
    report = rerun(summary.journal_path, options.settings, Decimal("100000"))
    assert report.identical, (report.mismatches[:1], report.signal_mismatches[:1])


def test_killed_symbol_actor_resumes_at_the_clock_with_the_same_signals_and_decisions(
    baseline: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A restarted SymbolActor replays its file silently up to the last close it served: no
    bar is journaled twice and every signal and decision equals the uninterrupted run's."""
    data_dir = tmp_path_factory.mktemp("kill-symbol")
    summary, killed_at = _kill_during(_options(data_dir), "symbol:BTC/USDT")
    assert killed_at is not None, "the actor was never killed"
    from ray._private.state import actors  # the GCS actor table: no dashboard needed

    restarts = [a["NumRestarts"] for a in actors().values() if a["Name"] == "symbol:BTC/USDT"]
    assert max(restarts) >= 1, "the kill landed after the session ended"
    assert killed_at < summary.progress.steps, "killed mid-run, not after it"
    assert summary.progress.error is None
    assert summary.progress.steps == baseline.progress.steps
    assert summary.progress.base_bars == baseline.progress.base_bars == 3 * BARS

    def journaled(path: Path, kind: str) -> list[Any]:
        return [e.model_dump(mode="json") for e in replay(path, frozenset({kind}))]

    bars = journaled(summary.journal_path, "bar")
    assert len({(b["symbol"], b["open_time"]) for b in bars}) == len(bars) == 3 * BARS
    for kind in ("bar", "signal", "decision"):
        assert journaled(summary.journal_path, kind) == journaled(baseline.journal_path, kind)
    assert summary.positions == baseline.positions
    assert summary.risk.balance == baseline.risk.balance
    assert summary.journal.ok
