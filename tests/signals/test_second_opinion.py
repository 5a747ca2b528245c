"""The LLM second-opinion rule in-process, with a fake opinion port at the boundary: below
``llm_min_confidence`` it never asks; it asks when the check schedule is due, at once when the
market is volatile; the blended signal is ``SymbolAnalysis.signal(opinion=...)``. A backtest
given an in-process router (no provider key: the offline analyst) runs the same rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import pytest

from tests.patterns.bars import real_bars
from trading.config import SignalSettings
from trading.contracts import Direction, MarketBar, Signal, Timeframe
from trading.execution.step import run_now
from trading.llm import AnalysisRequest, LLMOpinion
from trading.market.replay import column_bars
from trading.signals.analysis import SymbolAnalysis
from trading.signals.second_opinion import SecondOpinion

M5, M15, H1 = Timeframe.M5, Timeframe.M15, Timeframe.H1
TIMEFRAMES = (M15, H1)
NOW = datetime(2030, 1, 1, tzinfo=UTC)
BARS = 400


class FakeOpinions:
    """An opinion port that answers at once with a fixed opinion and records each request."""

    def __init__(self, direction: Direction = Direction.LONG) -> None:
        self.requests: list[AnalysisRequest] = []
        self.answer = LLMOpinion(
            direction=direction,
            confidence=0.8,
            reasons=("fake analyst",),
            source="fake",
            prompt_version="test",
            prompt_hash="0" * 64,
        )

    async def opinion(self, request: AnalysisRequest) -> LLMOpinion:
        self.requests.append(request)
        return self.answer


def _bars(shared_data: Path) -> Iterator[MarketBar]:
    return column_bars(real_bars(shared_data, "BTC", "5m"), "BTC/USDT", M5)


def _analysis(shared_data: Path, settings: SignalSettings) -> SymbolAnalysis:
    analysis = SymbolAnalysis("BTC/USDT", M5, TIMEFRAMES, signals=settings)
    for bar in islice(_bars(shared_data), BARS):
        analysis.on_bar(bar)
    return analysis


def _signal(analysis: SymbolAnalysis, confidence: float, volatile: bool = False) -> Signal:
    signal = analysis.signal(created_at=NOW)
    assert signal is not None
    return signal.model_copy(update={"confidence": confidence, "high_volatility": volatile})


def _rule(
    shared_data: Path, settings: SignalSettings, port: FakeOpinions
) -> tuple[SecondOpinion, SymbolAnalysis]:
    analysis = _analysis(shared_data, settings)
    return SecondOpinion(analysis, M15, port), analysis


def test_a_signal_below_the_threshold_is_never_asked_about(shared_data: Path) -> None:
    port = FakeOpinions()
    rule, analysis = _rule(shared_data, SignalSettings(llm_min_confidence=0.7), port)
    for k in range(12):  # every check due, and volatile: still below 0.7
        weak = _signal(analysis, 0.69, volatile=True)
        assert run_now(rule.review(weak, NOW + k * timedelta(hours=1))) is weak
    assert port.requests == []
    at_threshold = _signal(analysis, 0.7)
    assert run_now(rule.review(at_threshold, NOW)) is not at_threshold
    assert len(port.requests) == 1


def _asked(
    rule: SecondOpinion, signal: Signal, port: FakeOpinions, minutes: list[int]
) -> list[int]:
    asked = []
    for minute in minutes:
        before = len(port.requests)
        run_now(rule.review(signal, NOW + timedelta(minutes=minute)))
        if len(port.requests) > before:
            asked.append(minute)
    assert [r.as_of for r in port.requests] == [NOW + timedelta(minutes=m) for m in asked]
    return asked


MINUTES = [0, 5, 14, 15, 20, 30, 44, 45, 60, 75, 89, 90, 120, 149, 150, 180]


def test_the_schedule_asks_every_15_minutes_while_the_analyst_agrees(shared_data: Path) -> None:
    settings = SignalSettings(llm_min_confidence=0.5, llm_check_max_minutes=60)
    analysis = _analysis(shared_data, settings)
    signal = _signal(analysis, 0.9)
    port = FakeOpinions(signal.direction)
    asked = _asked(SecondOpinion(analysis, M15, port), signal, port, MINUTES)
    assert asked == [0, 15, 30, 45, 60, 75, 90, 120, 149, 180]


def test_the_schedule_backs_off_to_the_max_while_the_analyst_disagrees(shared_data: Path) -> None:
    """Intervals double from 15 min: 30, then 60 (the max), 60, ..."""
    settings = SignalSettings(llm_min_confidence=0.5, llm_check_max_minutes=60)
    analysis = _analysis(shared_data, settings)
    signal = _signal(analysis, 0.9)
    other = Direction.SHORT if signal.direction is Direction.LONG else Direction.LONG
    port = FakeOpinions(other)
    asked = _asked(SecondOpinion(analysis, M15, port), signal, port, MINUTES)
    assert asked == [0, 30, 90, 150]


def test_high_volatility_asks_at_once(shared_data: Path) -> None:
    port = FakeOpinions()
    rule, analysis = _rule(shared_data, SignalSettings(llm_min_confidence=0.5), port)
    run_now(rule.review(_signal(analysis, 0.9), NOW))
    run_now(rule.review(_signal(analysis, 0.9), NOW + timedelta(minutes=1)))
    assert len(port.requests) == 1, "the next check is not due yet"
    run_now(rule.review(_signal(analysis, 0.9, volatile=True), NOW + timedelta(minutes=2)))
    assert len(port.requests) == 2, "volatility asks at once"


def test_the_blended_signal_is_the_analysis_signal_with_the_opinion(shared_data: Path) -> None:
    settings = SignalSettings(llm_min_confidence=0.0)
    port = FakeOpinions(Direction.SHORT)
    rule, analysis = _rule(shared_data, settings, port)
    blended = run_now(rule.review(_signal(analysis, 0.9), NOW))
    expected = _analysis(shared_data, settings).signal(opinion=port.answer, created_at=NOW)
    assert blended == expected
    assert blended.analyst == "confluence+fake"
    assert blended.score != _signal(analysis, 0.9).score, "the opinion moved the score"
    request = port.requests[0]
    assert request.symbol == "BTC/USDT"
    assert request.timeframe is M15
    assert [s.timeframe for s in request.snapshots] == [M15, H1]


def test_a_backtest_with_an_in_process_offline_router_runs_the_rule(shared_data: Path) -> None:
    """No provider key: the router's offline analyst answers every request the rule makes, and
    exactly the asked steps' signals carry it."""
    from trading.backtest.data import Window, load_market
    from trading.backtest.engine import BacktestConfig, run_backtest, symbol_steps
    from trading.config import RouterSettings, load_settings
    from trading.llm import LLMRouter
    from trading.market.replay import BUNDLED_DATA

    settings = load_settings()
    start = datetime(2025, 10, 1, tzinfo=UTC)
    window = Window(start, start + timedelta(minutes=5 * 600))
    data = load_market(BUNDLED_DATA, settings.symbols[:1], M5, window)
    router = LLMRouter(RouterSettings(), clients={})
    config = BacktestConfig(settings=settings, funding=False, opinions=router)
    steps = symbol_steps(data, config)
    signals = [s for series in steps.values() for s in series.live_signals or ()]
    blended = [s for s in signals if s.analyst == "confluence+offline"]
    assert 0 < len(blended) == router.counters.requests < len(signals)
    plain_config = BacktestConfig(settings=settings, funding=False, signals="stream")
    plain = symbol_steps(data, plain_config)
    symbol = settings.symbols[0]
    plain_signals = plain[symbol].live_signals or ()
    minimum = settings.signals.llm_min_confidence
    for with_opinion, without in zip(signals, plain_signals, strict=True):
        if with_opinion.analyst == "confluence+offline":
            assert without.confidence >= minimum, "only candidates are asked about"
        else:
            assert with_opinion == without
    first = next(i for i, s in enumerate(plain_signals) if s.confidence >= minimum)
    assert signals[first].analyst == "confluence+offline", "the first candidate is asked at once"
    run_backtest(data, config)
    assert router.counters.requests == 2 * len(blended), "the engine runs the same rule"


def test_a_max_check_interval_below_the_min_is_refused() -> None:
    with pytest.raises(ValueError, match="llm_check_max_minutes 15 must not be below"):
        SignalSettings(llm_check_min_minutes=30, llm_check_max_minutes=15)
