"""The LLM second opinion on a symbol's signals, written once over an ``OpinionPort``: ask about
a signal at least ``llm_min_confidence`` confident when the check schedule says so (at once on
high volatility), then re-compose the signal with the opinion blended in.

Live symbol actors ask the router pool; a backtest asks an in-process ``LLMRouter`` (with no
provider key: the offline analyst) through the very same ``SecondOpinion``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from trading.config import SignalSettings
from trading.contracts import IndicatorSnapshot, Regime, Signal, Timeframe
from trading.signals.analysis import SymbolAnalysis
from trading.signals.schedule import CheckSchedule

if TYPE_CHECKING:  # trading.llm loads the provider SDKs: only a run that asks pays for them
    from trading.llm import AnalysisRequest, LLMOpinion


class OpinionPort(Protocol):
    """Where second opinions come from: the router pool's client, or an ``LLMRouter``."""

    async def opinion(self, request: AnalysisRequest) -> LLMOpinion: ...


def opinion_request(
    symbol: str,
    timeframe: Timeframe,
    regime: Regime,
    snapshots: Mapping[Timeframe, IndicatorSnapshot],
    as_of: datetime,
) -> AnalysisRequest:
    """What the analyst is shown: every timeframe's snapshot, finest first."""
    from trading.llm.prompt import AnalysisRequest

    return AnalysisRequest(
        symbol=symbol,
        timeframe=timeframe,
        regime=regime,
        snapshots=tuple(snapshots[tf] for tf in sorted(snapshots, key=lambda t: t.seconds)),
        as_of=as_of,
    )


def check_bounds(settings: SignalSettings) -> tuple[timedelta, timedelta]:
    """The shortest and longest interval between two checks."""
    return (
        timedelta(minutes=settings.llm_check_min_minutes),
        timedelta(minutes=settings.llm_check_max_minutes),
    )


class SecondOpinion:
    """One symbol's second opinions: its check schedule over its analysis (whose current, hot
    reloaded, settings hold the thresholds) and the port that answers."""

    def __init__(self, analysis: SymbolAnalysis, timeframe: Timeframe, port: OpinionPort) -> None:
        shortest, longest = check_bounds(analysis.settings)
        self.schedule = CheckSchedule(shortest, longest, interval=shortest)
        self._analysis = analysis
        self._timeframe = timeframe
        self._port = port

    def wanted(self, signal: Signal, now: datetime) -> bool:
        """A candidate (confident enough) whose check is due, or urgent (high volatility)."""
        if signal.confidence < self._analysis.settings.llm_min_confidence:
            return False
        return self.schedule.due(now, urgent=signal.high_volatility)

    async def review(self, signal: Signal, now: datetime) -> Signal:
        """``signal`` with the port's opinion blended in when one is wanted, else as it is."""
        if not self.wanted(signal, now):
            return signal
        analysis = self._analysis
        request = opinion_request(
            signal.symbol, self._timeframe, signal.regime, analysis.snapshots(), now
        )
        opinion = await self._port.opinion(request)
        self.schedule.shortest, self.schedule.longest = check_bounds(analysis.settings)
        self.schedule.checked(now, eventful=opinion.direction is signal.direction)
        return analysis.signal(opinion=opinion, created_at=now) or signal
