"""A journal from a short real session, in-process: bundled bars through ``SymbolStepper``, the
desk, the risk gate and the bar-matching venue by ``trade_step``, journaled step by step with
``step_events`` as the orchestrator does; a hot reload mid-run, a refused one, and a manual
order through ``place_manual_order`` that risk denies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from trading.backtest.data import Window, load_market, parse_day
from trading.backtest.engine import BacktestConfig, with_params
from trading.backtest.venues import BacktestVenuePort, BarMatchingVenue
from trading.contracts import OrderIntent, OrderType, Side, Timeframe
from trading.execution.desk import OrderUpdate, SymbolStepper, TradingDesk
from trading.execution.gateway import SubmitOutcome
from trading.execution.manual import DenialLog, ManualPlacement, ManualPorts, place_manual_order
from trading.execution.progress import step_events
from trading.execution.step import LocalRisk, run_now, trade_step
from trading.journal.chain import Journal
from trading.journal.recorder import ConfigChange, Recordable, Recorder
from trading.journal.store import Store
from trading.market.instruments import BINANCE_SPOT
from trading.market.replay import column_bars
from trading.risk.engine import RiskPolicy
from trading.risk.gate import RiskGate, RiskRequest
from trading.risk.portfolio import Portfolio
from trading.signals.analysis import SymbolAnalysis

SYMBOLS = ("BTC/USDT", "ETH/USDT")
WINDOW = Window(parse_day("2025-01-01"), parse_day("2025-01-05"))
MANUAL_ID = "rt-m" + "ab" * 16
RELOAD = {"risk.max_gross_exposure_pct": {"old": 20.0, "new": 15.0}}


@dataclass(frozen=True)
class Session:
    journal: Path
    key: bytes
    reload_at: datetime
    manual: ManualPlacement
    steps: int


class _Journal:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def record(self, events: Sequence[Recordable], ts: datetime | None) -> int:
        return self.recorder.record(events, ts)


class _NoSend:
    """A manual order that risk denies never reaches the gateway."""

    async def submit(
        self, intents: Sequence[OrderIntent], reference_prices: Mapping[str, Decimal] | None
    ) -> list[SubmitOutcome]:
        raise AssertionError(f"denied orders are never sent: {intents}")

    async def updates(self, client_order_ids: Sequence[str]) -> list[OrderUpdate]:
        raise AssertionError("denied orders have no updates")


def run_session(spot_dir: Path, directory: Path, key: bytes) -> Session:
    """Step the window, journaling every step; returns where the journal is and what was done."""
    config = with_params(BacktestConfig(), {"lifecycle.min_confidence": 0.52})
    settings = config.settings
    data = load_market(spot_dir, SYMBOLS, Timeframe.M5, WINDOW)
    instruments = {s: BINANCE_SPOT[s] for s in SYMBOLS}
    step = min(settings.timeframes, key=lambda tf: tf.seconds)
    steppers = [
        SymbolStepper(
            SymbolAnalysis(s, Timeframe.M5, settings.timeframes, signals=settings.signals),
            column_bars(data.bars[s], s, Timeframe.M5),
            step,
        )
        for s in SYMBOLS
    ]
    desk = TradingDesk.from_settings(settings, instruments, config.lifecycle_or_default())
    gate = RiskGate(
        RiskPolicy.from_settings(settings, instruments), Portfolio(balance=Decimal(100_000))
    )
    venue = BarMatchingVenue(data.bars, instruments, config.fills_or_default())
    recorder = Recorder(Journal(directory / "journal.jsonl", key), Store.open(directory / "db"))
    clock = WINDOW.start + timedelta(seconds=step.seconds)
    count, reload_at, manual = 0, WINDOW.start, None
    while not all(s.exhausted for s in steppers):
        venue.advance_to(int(clock.timestamp() * 1000))
        steps = [s.advance(clock) for s in steppers]
        done = run_now(trade_step(desk, LocalRisk(gate), BacktestVenuePort(venue), steps, clock))
        recorder.record(step_events(steps, done, clock), clock)
        count += 1
        if count == 200:
            reload_at = clock
            settings = settings.model_copy(
                update={"risk": settings.risk.model_copy(update={"max_gross_exposure_pct": 15.0})}
            )
            gate.policy = RiskPolicy.from_settings(settings, instruments)
            recorder.record([ConfigChange(clock, "api:/v1/config/reload", "d1" * 32, RELOAD)])
            refused = ConfigChange(
                clock, "api:/v1/config/reload", "e2" * 32, {}, False, "risk.max_leverage: > 0"
            )
            recorder.record([refused], clock)
        if count == 300:
            manual = _manual_order(gate, recorder, clock)
        clock += timedelta(seconds=step.seconds)
    recorder.close()
    assert manual is not None, "the window is long enough for the manual order"
    return Session(directory / "journal.jsonl", key, reload_at, manual, count)


def _manual_order(gate: RiskGate, recorder: Recorder, clock: datetime) -> ManualPlacement:
    """A manual buy far beyond the exposure cap, without a stop: risk denies it."""
    intent = OrderIntent(
        client_order_id=MANUAL_ID,
        strategy="manual",
        symbol="BTC/USDT",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        quantity=Decimal(1000),
        signal_time=clock,
        created_at=clock,
    )
    ports = ManualPorts(LocalRisk(gate), _NoSend(), _Journal(recorder))
    request = replace(RiskRequest(intent), confidence=0.5)
    return run_now(place_manual_order(request, Decimal(95_000), ports, DenialLog()))
