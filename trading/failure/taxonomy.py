"""The error taxonomy: five classes of failure, each with its recovery policy, and the incident
journaled for every failure handled (cause, action, outcome).

A policy retries a failure up to ``retries`` times in a row, then escalates to its action:
DATA pauses the symbol whose data is bad, RISK enters SAFE_MODE, EXEC retries then enters
SAFE_MODE (the gateway's exactly-once log makes a retry safe), LLM degrades to the signal
without the second opinion, INFRA retries then halts. Known exceptions of the libraries and of
``trading`` are classified by type; anything else is INFRA (the conservative choice)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from trading.contracts import UtcDatetime
from trading.journal.chain import read


class ErrorClass(StrEnum):
    DATA = "DATA"
    RISK = "RISK"
    EXEC = "EXEC"
    LLM = "LLM"
    INFRA = "INFRA"


class RecoveryAction(StrEnum):
    """What the session does about a failure, mildest first."""

    RETRY = "RETRY"
    DEGRADE = "DEGRADE"
    PAUSE_SYMBOL = "PAUSE_SYMBOL"
    SAFE_MODE = "SAFE_MODE"
    HALT = "HALT"


@dataclass(frozen=True)
class RecoveryPolicy:
    retries: int  # consecutive retries before ``action``
    action: RecoveryAction


POLICIES: Mapping[ErrorClass, RecoveryPolicy] = {
    ErrorClass.DATA: RecoveryPolicy(0, RecoveryAction.PAUSE_SYMBOL),
    ErrorClass.RISK: RecoveryPolicy(0, RecoveryAction.SAFE_MODE),
    ErrorClass.EXEC: RecoveryPolicy(2, RecoveryAction.SAFE_MODE),
    ErrorClass.LLM: RecoveryPolicy(0, RecoveryAction.DEGRADE),
    ErrorClass.INFRA: RecoveryPolicy(2, RecoveryAction.HALT),
}


class TradingError(Exception):
    """A failure raised by the session's own code, with its class; ``symbol`` when one symbol's
    data or orders are at fault."""

    error_class = ErrorClass.INFRA

    def __init__(self, message: str, symbol: str | None = None) -> None:
        super().__init__(message)
        self.symbol = symbol


class DataError(TradingError):
    """Bad or missing market data (a malformed bar, a stale or unavailable feed)."""

    error_class = ErrorClass.DATA


class RiskError(TradingError):
    """The risk gate cannot decide (its book or marks are inconsistent)."""

    error_class = ErrorClass.RISK


class ExecError(TradingError):
    """An order could not be sent or its outcome is unknown."""

    error_class = ErrorClass.EXEC


class LLMError(TradingError):
    """The second opinion failed: provider outage, garbage answer, budget exhausted."""

    error_class = ErrorClass.LLM


class InfraError(TradingError):
    """The machinery failed: an actor lost, a disk full, a call that timed out."""

    error_class = ErrorClass.INFRA


# Exception type names of our modules and dependencies, by class (matched along the MRO, so
# ``trading`` needs no import of the modules that raise them).
_KNOWN: Mapping[str, ErrorClass] = {
    "BarFileError": ErrorClass.DATA,
    "BarError": ErrorClass.DATA,
    "StaleStreamError": ErrorClass.DATA,
    "FeedUnavailableError": ErrorClass.DATA,
    "OhlcvRowError": ErrorClass.DATA,
    "IndicatorInputError": ErrorClass.DATA,
    "VenueError": ErrorClass.EXEC,
    "BinanceError": ErrorClass.EXEC,
    "ClientIdConflictError": ErrorClass.EXEC,
    "ProviderError": ErrorClass.LLM,
    "AnswerError": ErrorClass.LLM,
    "JournalError": ErrorClass.INFRA,
    "StoreError": ErrorClass.INFRA,
}


def classify(error: BaseException) -> ErrorClass:
    """The class of ``error``: its own for a ``TradingError``, else by its type's name."""
    if isinstance(error, TradingError):
        return error.error_class
    for cls in type(error).__mro__:
        if cls.__name__ in _KNOWN:
            return _KNOWN[cls.__name__]
    return ErrorClass.INFRA


class Incident(BaseModel):
    """One failure handled: what failed (``cause``), what was done, and how it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ts: UtcDatetime
    error_class: ErrorClass
    cause: str
    action: str  # a ``RecoveryAction``, or the watchdog's ``Repair``
    outcome: str
    attempt: int = 1
    symbol: str | None = None
    source: str = "orchestrator"


class Recovery:
    """Counts consecutive failures per class and picks each one's action from its policy;
    a success of the guarded work clears the counts."""

    def __init__(self, policies: Mapping[ErrorClass, RecoveryPolicy] = POLICIES) -> None:
        self._policies = policies
        self._streak: dict[ErrorClass, int] = {}

    def on_failure(self, error: BaseException) -> tuple[ErrorClass, RecoveryAction, int]:
        """The failure's class, the action to take and which consecutive attempt this is."""
        error_class = classify(error)
        attempt = self._streak.get(error_class, 0) + 1
        self._streak[error_class] = attempt
        policy = self._policies[error_class]
        action = RecoveryAction.RETRY if attempt <= policy.retries else policy.action
        return error_class, action, attempt

    def on_success(self) -> None:
        self._streak.clear()

    def incident(
        self, now: datetime, error: BaseException, source: str = "orchestrator"
    ) -> Incident:
        """Classify ``error`` and pick its action; ``outcome`` is left for the caller to fill
        in once it has acted (``Incident.model_copy``)."""
        error_class, action, attempt = self.on_failure(error)
        symbol = error.symbol if isinstance(error, TradingError) else None
        cause = f"{type(error).__name__}: {error}"[:500]
        return Incident(
            ts=now,
            error_class=error_class,
            cause=cause,
            action=action,
            outcome="pending",
            attempt=attempt,
            symbol=symbol,
            source=source,
        )


INCIDENT_KIND = "incident"


def read_incidents(journal: Path, limit: int = 100) -> list[Incident]:
    """The last ``limit`` incidents in the journal, oldest first."""
    if not journal.exists():
        return []
    kept: deque[Incident] = deque(maxlen=limit)
    for record in read(journal):
        if record["kind"] == INCIDENT_KIND:
            kept.append(Incident.model_validate(record["payload"]))
    return list(kept)
