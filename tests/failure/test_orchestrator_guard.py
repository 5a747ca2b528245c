"""The orchestrator's step under the failure policies: bad data from one symbol actor is a
DATA failure naming that symbol (its policy pauses the symbol); other failures pass as they are."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actors.orchestrator import _symbol_steps
from trading.execution.desk import SymbolStep
from trading.failure.taxonomy import DataError, Recovery, RecoveryAction
from trading.market.frames import BarFileError

CLOCK = SymbolStep("BTC/USDT", datetime(2025, 10, 1, tzinfo=UTC))


async def _answer(value: Any) -> Any:
    if isinstance(value, BaseException):
        raise value
    return value


def _steps(answers: dict[str, Any]) -> list[SymbolStep]:
    calls = [_answer(a) for a in answers.values()]
    return asyncio.run(_symbol_steps(dict.fromkeys(answers), calls))


def test_every_symbol_answering_gives_their_steps_in_order() -> None:
    assert _steps({"BTC/USDT": CLOCK, "ETH/USDT": CLOCK}) == [CLOCK, CLOCK]


def test_bad_data_from_one_symbol_is_a_data_error_naming_it_and_pauses_it() -> None:
    bad = BarFileError(Path("ETH_USDT-5m.csv"), "column close missing")
    with pytest.raises(DataError) as raised:
        _steps({"BTC/USDT": CLOCK, "ETH/USDT": bad})
    assert raised.value.symbol == "ETH/USDT"
    assert raised.value.__cause__ is bad
    assert Recovery().on_failure(raised.value)[1] is RecoveryAction.PAUSE_SYMBOL


def test_a_failure_that_is_not_about_data_passes_unchanged() -> None:
    lost = ConnectionError("actor lost")
    with pytest.raises(ConnectionError) as raised:
        _steps({"BTC/USDT": lost, "ETH/USDT": CLOCK})
    assert raised.value is lost
