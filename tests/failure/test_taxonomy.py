"""Error classes, their recovery policies and the guarded step that journals incidents."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trading.execution.retry import Timeout, VenueError
from trading.failure.guard import guarded
from trading.failure.taxonomy import (
    DataError,
    ErrorClass,
    ExecError,
    Incident,
    InfraError,
    LLMError,
    Recovery,
    RecoveryAction,
    RiskError,
    classify,
    read_incidents,
)
from trading.journal.chain import Journal
from trading.journal.recorder import Recorder
from trading.journal.store import Store
from trading.llm.opinion import AnswerError
from trading.market.frames import BarFileError

NOW = datetime(2025, 10, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (DataError("gap", "BTC/USDT"), ErrorClass.DATA),
        (RiskError("book"), ErrorClass.RISK),
        (ExecError("send"), ErrorClass.EXEC),
        (LLMError("outage"), ErrorClass.LLM),
        (InfraError("disk"), ErrorClass.INFRA),
        (BarFileError(Path("x.csv"), "missing"), ErrorClass.DATA),
        (AnswerError("not JSON", "<html>"), ErrorClass.LLM),
        (KeyError("anything else"), ErrorClass.INFRA),
    ],
)
def test_each_failure_has_its_class(error: BaseException, expected: ErrorClass) -> None:
    assert classify(error) is expected


def test_a_venue_error_is_an_exec_failure_even_wrapped_by_a_subclass() -> None:
    class WrappedError(VenueError):  # Ray re-raises an actor's error as a subclass of its cause
        pass

    assert classify(WrappedError(Timeout(), outcome_unknown=True)) is ErrorClass.EXEC


@pytest.mark.parametrize(
    ("error", "actions"),
    [
        (DataError("gap", "ETH/USDT"), ["PAUSE_SYMBOL", "PAUSE_SYMBOL"]),
        (RiskError("book"), ["SAFE_MODE", "SAFE_MODE"]),
        (ExecError("send"), ["RETRY", "RETRY", "SAFE_MODE"]),
        (LLMError("outage"), ["DEGRADE"]),
        (InfraError("actor lost"), ["RETRY", "RETRY", "HALT"]),
    ],
)
def test_consecutive_failures_escalate_by_policy(error: BaseException, actions: list[str]) -> None:
    recovery = Recovery()
    assert [recovery.on_failure(error)[1] for _ in actions] == actions


def test_a_success_clears_the_streak() -> None:
    recovery = Recovery()
    recovery.on_failure(InfraError("a"))
    recovery.on_failure(InfraError("b"))
    recovery.on_success()
    assert recovery.on_failure(InfraError("c")) == (ErrorClass.INFRA, RecoveryAction.RETRY, 1)


def _run(
    failures: list[BaseException], max_attempts: int = 5
) -> tuple[str | BaseException, list[Incident], list[str]]:
    """Guard work that raises ``failures`` in turn, then answers "done"."""
    pending, reported, acted = list(failures), [], []

    async def work() -> str:
        if pending:
            raise pending.pop(0)
        return "done"

    async def act(incident: Incident, _: BaseException) -> str:
        acted.append(incident.action)
        return f"{incident.action} taken"

    async def report(incident: Incident) -> None:
        reported.append(incident)

    try:
        result: str | BaseException = asyncio.run(
            guarded(work, Recovery(), act, report, NOW, max_attempts)
        )
    except Exception as exc:
        result = exc
    return result, reported, acted


def test_a_guarded_step_retries_then_succeeds_and_journals_each_failure() -> None:
    result, reported, acted = _run([ExecError("timeout"), LLMError("garbage")])
    assert result == "done"
    assert acted == [RecoveryAction.RETRY, RecoveryAction.DEGRADE]
    assert [(i.error_class, i.outcome, i.attempt) for i in reported] == [
        (ErrorClass.EXEC, "RETRY taken", 1),
        (ErrorClass.LLM, "DEGRADE taken", 1),
    ]
    assert reported[0].cause == "ExecError: timeout"


def test_a_guarded_step_halts_and_raises_when_infra_keeps_failing() -> None:
    result, reported, acted = _run([InfraError(f"lost {n}") for n in range(3)])
    assert isinstance(result, InfraError)
    assert str(result) == "lost 2"
    assert acted == [RecoveryAction.RETRY, RecoveryAction.RETRY, RecoveryAction.HALT]
    assert reported[-1].outcome == "HALT taken"


def test_the_last_attempt_halts_whatever_the_class() -> None:
    result, _, acted = _run([LLMError("x")] * 3, max_attempts=3)
    assert isinstance(result, LLMError)
    assert acted == [RecoveryAction.DEGRADE, RecoveryAction.DEGRADE, RecoveryAction.HALT]


def test_incidents_are_journaled_and_read_back_last_first_limited(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    recorder = Recorder(Journal(path), Store.open(tmp_path / "raytrader.db"))
    recovery = Recovery()
    incidents = [
        recovery.incident(NOW, DataError(f"bad bar {n}", "BTC/USDT")).model_copy(
            update={"outcome": "symbol paused"}
        )
        for n in range(3)
    ]
    recorder.record(incidents[:2], NOW)
    recorder.record([incidents[2]], NOW)
    recorder.close()
    assert read_incidents(path, limit=2) == incidents[1:]
    assert read_incidents(path)[0].symbol == "BTC/USDT"
    assert read_incidents(tmp_path / "none.jsonl") == []


def test_safe_mode_on_an_incident_holds_until_reset_and_never_lifts_a_halt() -> None:
    from datetime import timedelta
    from decimal import Decimal

    from trading.risk.drawdown import DrawdownGuard, TradingState

    guard = DrawdownGuard()
    guard.safe_mode(NOW, "EXEC incident")
    assert (guard.state, guard.note) == (TradingState.REDUCING, "EXEC incident")
    later = NOW + timedelta(days=40)
    guard.observe(Decimal(100_000), later, Decimal("0.97"), Decimal("0.9"), timedelta(0))
    states = [guard.state]  # a list: mypy narrows attributes across calls it cannot see into
    guard.reset(later, Decimal(100_000))
    states.append(guard.state)
    guard.halt(later, "kill switch")
    guard.safe_mode(later, "incident")
    states.append(guard.state)
    assert states == [TradingState.REDUCING, TradingState.ACTIVE, TradingState.HALTED]
