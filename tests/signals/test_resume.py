"""The resume rule of a restarted symbol, in-process: each hot reload is applied after the close
it followed, then the analysis is stepped to the last served close; bars closed by then are not
served again; a live source is waited for until it reaches that close or fails."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trading.config import SignalSettings
from trading.contracts import MarketBar, Timeframe
from trading.signals.analysis import SymbolAnalysis
from trading.signals.resume import Resume, live_reaches, replay_reloads

M5, M15 = Timeframe.M5, Timeframe.M15
T0 = datetime(2025, 10, 1, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


class RecordingAnalysis(SymbolAnalysis):
    def __init__(self, log: list[str]) -> None:
        super().__init__("BTC/USDT", M5, (M15,))
        self.log = log

    def apply_signal_settings(self, settings: SignalSettings) -> bool:
        self.log.append(f"apply {settings.direction_threshold}")
        return False


class RecordingStepper:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.analysis: SymbolAnalysis = RecordingAnalysis(self.log)

    def advance(self, until: datetime) -> None:
        self.log.append(f"advance {int((until - T0).total_seconds() // 60)}")


def _reload(threshold: float) -> SignalSettings:
    return SignalSettings(direction_threshold=threshold)


def test_reloads_replay_after_the_close_they_followed_then_the_served_close() -> None:
    stepper = RecordingStepper()
    reloads = [(None, _reload(0.2)), (_at(15), _reload(0.3)), (_at(60), _reload(0.4))]
    replay_reloads(stepper, reloads, served=_at(45))
    assert stepper.log == ["apply 0.2", "advance 15", "apply 0.3", "apply 0.4", "advance 45"]


def _bar(close_minutes: int) -> MarketBar:
    price = Decimal(100)
    return MarketBar(
        symbol="BTC/USDT",
        timeframe=M5,
        open_time=_at(close_minutes - 5),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
        closed=True,
    )


def test_bars_closed_by_the_resumed_close_are_not_served_twice() -> None:
    bars = (_bar(40), _bar(45), _bar(50))
    resume = Resume(pending=True)
    assert resume.unserved(bars) is bars, "not resumed yet: everything is new"

    async def no_reloads() -> list[tuple[datetime | None, SignalSettings]]:
        return []

    stepper = RecordingStepper()
    asyncio.run(resume.run(stepper, _at(45), no_reloads))
    assert not resume.pending
    assert resume.resumed_to == _at(45)
    assert stepper.log == ["advance 45"]
    assert resume.unserved(bars) == (bars[2],)
    later = (_bar(55),)
    assert resume.unserved(later) is later


class Live:
    def __init__(self, last_close: datetime | None, error: str | None = None) -> None:
        self.last_close = last_close
        self.error = error


def test_a_live_source_is_waited_for_until_it_reaches_the_close_or_fails() -> None:
    async def waited(live: Live, wait_s: float) -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await live_reaches(live, _at(45), wait_s)
        return loop.time() - started

    assert asyncio.run(waited(Live(_at(45)), 5.0)) < 0.05, "already there"
    assert asyncio.run(waited(Live(None, error="closed"), 5.0)) < 0.05, "failed: no wait"
    assert 0.2 <= asyncio.run(waited(Live(_at(40)), 0.2)) < 2.0, "gives up after wait_s"
