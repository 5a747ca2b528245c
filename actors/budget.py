"""``BudgetActor``: the one LLM budget of a router pool, so its caps hold for the whole pool.

Every replica reserves each provider call's worst case here before making it and settles or
releases it after (``RemoteLedger``: one actor call each, none on a cache hit); the logic is
``trading.llm.budget.BudgetLedger``. Spending survives a restart of the actor through its own
ledger file under the data dir (``LedgerFile``), not the per-node evaluation stores, so it is
right wherever the replicas ran; the actor is stateful and pinned to the data dir's node with
the other state actors. The run's caps start afresh with each ``run_id`` (each session).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ray
from ray.actor import ActorHandle

from actors.llm_metrics import record_budget
from trading.config import Budget, ModelConfig
from trading.llm.budget import LedgerFile, Reservation, Spending

BUDGET_ACTOR = "llm-budget"
LEDGER_FILE = "llm-budget.json"
_CALL_TIMEOUT_S = 5.0  # a budget that cannot answer refuses the call (it never waives a cap)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class BudgetActor:
    """Reserve, settle, release: each one step on the actor's event loop, so atomic."""

    def __init__(self, budget: Budget, data_dir: str, run_id: str, hold_s: float) -> None:
        """``hold_s``: how long a replica may hold a reservation; one it never settles (the
        replica was lost) is dropped after that."""
        self._file = LedgerFile(Path(data_dir) / LEDGER_FILE, run_id)
        self._ledger = self._file.load(budget, lambda: datetime.now(UTC), hold_s)
        self._daily_usd = budget.daily_usd

    async def reserve_first(
        self, models: Sequence[ModelConfig], tokens_in: int, max_tokens_out: int
    ) -> Reservation | str:
        return self._ledger.reserve_first(models, tokens_in, max_tokens_out)

    async def settle(self, reservation: Reservation, usd: Decimal, tokens: int) -> None:
        self._ledger.settle(reservation, usd, tokens)
        self._file.save(self._ledger)
        record_budget(self._ledger.spending(), self._daily_usd)

    async def release(self, reservation: Reservation) -> None:
        self._ledger.release(reservation)

    async def spending(self) -> Spending:
        return self._ledger.spending()


class RemoteLedger:
    """A replica's view of the pool's ``BudgetActor`` (the router's ``Ledger``). An unreachable
    budget refuses calls; a settlement it misses is lost to the ledger (the call log keeps it)."""

    def __init__(self, actor: ActorHandle[Any], timeout_s: float = _CALL_TIMEOUT_S) -> None:
        self._actor = actor
        self._timeout_s = timeout_s

    async def reserve_first(
        self, models: Sequence[ModelConfig], tokens_in: int, max_tokens_out: int
    ) -> Reservation | str:
        ref: Any = self._actor.reserve_first.remote(list(models), tokens_in, max_tokens_out)
        try:
            answer: Reservation | str = await asyncio.wait_for(ref, timeout=self._timeout_s)
        except (TimeoutError, ray.exceptions.RayError) as exc:
            return f"budget unreachable: {type(exc).__name__}"
        return answer

    async def settle(self, reservation: Reservation, usd: Decimal, tokens: int) -> None:
        ref: Any = self._actor.settle.remote(reservation, usd, tokens)
        with contextlib.suppress(TimeoutError, ray.exceptions.RayError):
            await asyncio.wait_for(ref, timeout=self._timeout_s)

    async def release(self, reservation: Reservation) -> None:
        ref: Any = self._actor.release.remote(reservation)
        with contextlib.suppress(TimeoutError, ray.exceptions.RayError):
            await asyncio.wait_for(ref, timeout=self._timeout_s)
