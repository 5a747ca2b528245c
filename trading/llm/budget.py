"""Token and money caps per UTC day and per run, held as hard caps under concurrency.

Before a call the router *reserves* its worst case (the prompt's estimated tokens in plus
``max_tokens_out``, priced by the model); reserving is one atomic step, and in-flight
reservations count against every cap, so concurrent calls can never together pass one. After
the call the reservation is *settled* with what was really used (the provider's usage), or
*released* when the call failed, was cancelled or lost a hedge race. The cap holds as far as the
prompt's token estimate does (providers stop output at ``max_tokens_out``).

``Ledger`` is the async face the router holds: ``InProcessLedger`` for one router (tests,
backtests, standalone use); a router pool shares one remote ledger (``actors.budget``), whose
spending survives its restarts through ``LedgerFile``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from trading.config import Budget, ModelConfig
from trading.llm.evaluation import call_cost_usd

Now = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Reservation:
    """A call's worst case, held against the caps until the call is settled or released."""

    id: str
    model: str
    usd: Decimal
    tokens: int
    at: datetime  # when the ledger made it (by its own clock)


@dataclass(frozen=True, slots=True)
class Spending:
    """What a ledger holds now: spent today and in this run, and reserved by calls in flight."""

    day_usd: Decimal
    day_tokens: int
    run_usd: Decimal
    run_tokens: int
    reserved_usd: Decimal
    reserved_tokens: int
    reservations: int
    expired: int  # reservations dropped unsettled after ``hold_s`` (their holder was lost)


class BudgetLedger:
    """Spent and reserved USD and tokens, today and in this run, against the configured caps."""

    def __init__(
        self,
        budget: Budget,
        now: Now,
        *,
        spent_today_usd: Decimal = Decimal(0),
        spent_today_tokens: int = 0,
        spent_run_usd: Decimal = Decimal(0),
        spent_run_tokens: int = 0,
        hold_s: float | None = None,
    ) -> None:
        """``hold_s``: how long a reservation may stay unsettled before it is dropped (a call
        cannot outlive its request deadline; the holder of an older one was lost). None: never."""
        self.budget = budget
        self.hold_s = hold_s
        self.expired = 0
        self._now = now
        self.day: date = now().date()
        self.day_usd = spent_today_usd
        self.day_tokens = spent_today_tokens
        self.run_usd = spent_run_usd
        self.run_tokens = spent_run_tokens
        self.reserved: dict[str, Reservation] = {}

    @property
    def reserved_usd(self) -> Decimal:
        return sum((r.usd for r in self.reserved.values()), Decimal(0))

    @property
    def reserved_tokens(self) -> int:
        return sum(r.tokens for r in self.reserved.values())

    def spending(self) -> Spending:
        self._roll_day()
        return Spending(
            self.day_usd,
            self.day_tokens,
            self.run_usd,
            self.run_tokens,
            self.reserved_usd,
            self.reserved_tokens,
            len(self.reserved),
            self.expired,
        )

    def _expire(self) -> None:
        if self.hold_s is None:
            return
        cutoff = self._now() - timedelta(seconds=self.hold_s)
        for held in [r for r in self.reserved.values() if r.at < cutoff]:
            del self.reserved[held.id]
            self.expired += 1

    def _roll_day(self) -> None:
        self._expire()
        today = self._now().date()
        if today != self.day:
            self.day, self.day_usd, self.day_tokens = today, Decimal(0), 0

    def refusal(self, model: ModelConfig, tokens_in: int, max_tokens_out: int) -> str | None:
        """Which cap a worst-case call to ``model`` would break on top of what is spent and
        reserved, or None if it fits."""
        self._roll_day()
        tokens = tokens_in + max_tokens_out
        usd = call_cost_usd(model, tokens_in, max_tokens_out)
        held_usd, held_tokens = self.reserved_usd, self.reserved_tokens
        caps = self.budget
        checks: tuple[tuple[str, Decimal | int, Decimal | int, Decimal | int, Decimal | int], ...]
        checks = (  # cap, limit, spent, reserved, this call's worst case
            ("daily_tokens", caps.daily_tokens, self.day_tokens, held_tokens, tokens),
            ("run_tokens", caps.run_tokens, self.run_tokens, held_tokens, tokens),
            ("daily_usd", Decimal(repr(caps.daily_usd)), self.day_usd, held_usd, usd),
            ("run_usd", Decimal(repr(caps.run_usd)), self.run_usd, held_usd, usd),
        )
        for cap, limit, spent, held, wanted in checks:
            if spent + held + wanted > limit:
                return f"{cap} {limit} spent ({spent} used, {held} reserved)"
        return None

    def reserve(self, model: ModelConfig, tokens_in: int, max_tokens_out: int) -> Reservation | str:
        """Hold a worst-case call to ``model`` against the caps, or say which cap refuses it."""
        why = self.refusal(model, tokens_in, max_tokens_out)
        if why is not None:
            return why
        held = Reservation(
            uuid.uuid4().hex,
            model.name,
            call_cost_usd(model, tokens_in, max_tokens_out),
            tokens_in + max_tokens_out,
            self._now(),
        )
        self.reserved[held.id] = held
        return held

    def reserve_first(
        self, models: Sequence[ModelConfig], tokens_in: int, max_tokens_out: int
    ) -> Reservation | str:
        """A reservation for the first of ``models`` that fits, or the last refusal."""
        why = "no model to reserve"
        for model in models:
            held = self.reserve(model, tokens_in, max_tokens_out)
            if isinstance(held, Reservation):
                return held
            why = held
        return why

    def settle(self, reservation: Reservation, usd: Decimal, tokens: int) -> None:
        """Replace the reservation by the real usage (charged even if the reservation is
        unknown, e.g. made before a restart of the ledger's holder)."""
        self.reserved.pop(reservation.id, None)
        self.charge(usd, tokens)

    def release(self, reservation: Reservation) -> None:
        """Drop the reservation of a call that used nothing we know of."""
        self.reserved.pop(reservation.id, None)

    def charge(self, usd: Decimal, tokens: int) -> None:
        self._roll_day()
        self.day_usd += usd
        self.run_usd += usd
        self.day_tokens += tokens
        self.run_tokens += tokens


class Ledger(Protocol):
    """What the router needs of a budget: reserve before a call, settle or release after."""

    async def reserve_first(
        self, models: Sequence[ModelConfig], tokens_in: int, max_tokens_out: int
    ) -> Reservation | str: ...

    async def settle(self, reservation: Reservation, usd: Decimal, tokens: int) -> None: ...

    async def release(self, reservation: Reservation) -> None: ...


class InProcessLedger:
    """A ``BudgetLedger`` of this process behind the async ``Ledger`` face (one router)."""

    def __init__(self, ledger: BudgetLedger) -> None:
        self.ledger = ledger

    async def reserve_first(
        self, models: Sequence[ModelConfig], tokens_in: int, max_tokens_out: int
    ) -> Reservation | str:
        return self.ledger.reserve_first(models, tokens_in, max_tokens_out)

    async def settle(self, reservation: Reservation, usd: Decimal, tokens: int) -> None:
        self.ledger.settle(reservation, usd, tokens)

    async def release(self, reservation: Reservation) -> None:
        self.ledger.release(reservation)


class LedgerFile:
    """Today's and this run's spending as a small JSON file, rewritten atomically on change.

    A ledger loaded for another day starts the day at zero; for another ``run_id``, the run.
    Reservations are not stored: a call in flight across a restart is charged when it settles.
    """

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id

    def load(self, budget: Budget, now: Now, hold_s: float | None = None) -> BudgetLedger:
        ledger = BudgetLedger(budget, now, hold_s=hold_s)
        if not self.path.exists():
            return ledger
        saved = json.loads(self.path.read_text())
        if saved["day"] == ledger.day.isoformat():
            ledger.day_usd, ledger.day_tokens = Decimal(saved["day_usd"]), int(saved["day_tokens"])
        if saved["run_id"] == self.run_id:
            ledger.run_usd, ledger.run_tokens = Decimal(saved["run_usd"]), int(saved["run_tokens"])
        return ledger

    def save(self, ledger: BudgetLedger) -> None:
        state = {
            "day": ledger.day.isoformat(),
            "day_usd": str(ledger.day_usd),
            "day_tokens": ledger.day_tokens,
            "run_id": self.run_id,
            "run_usd": str(ledger.run_usd),
            "run_tokens": ledger.run_tokens,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_suffix(".tmp")
        staged.write_text(json.dumps(state))
        os.replace(staged, self.path)
