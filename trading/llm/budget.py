"""Token and money caps per UTC day and per run; a call is only made if its worst case fits.

The worst case is the prompt's estimated tokens in plus ``max_tokens_out``, priced by the model,
so spending can never pass a cap; what was really used (the provider's usage) is charged after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from trading.config import Budget, ModelConfig
from trading.llm.evaluation import call_cost_usd

Now = Callable[[], datetime]


class BudgetLedger:
    """Spent USD and tokens today and in this run, against the configured caps."""

    def __init__(
        self,
        budget: Budget,
        now: Now,
        *,
        spent_today_usd: Decimal = Decimal(0),
        spent_today_tokens: int = 0,
    ) -> None:
        self.budget = budget
        self._now = now
        self._day: date = now().date()
        self.day_usd = spent_today_usd
        self.day_tokens = spent_today_tokens
        self.run_usd = Decimal(0)
        self.run_tokens = 0

    def _roll_day(self) -> None:
        today = self._now().date()
        if today != self._day:
            self._day, self.day_usd, self.day_tokens = today, Decimal(0), 0

    def refusal(self, model: ModelConfig, tokens_in: int, max_tokens_out: int) -> str | None:
        """Which cap a worst-case call to ``model`` would break, or None if it fits."""
        self._roll_day()
        tokens = tokens_in + max_tokens_out
        usd = call_cost_usd(model, tokens_in, max_tokens_out)
        caps = self.budget
        if self.day_tokens + tokens > caps.daily_tokens:
            return f"daily_tokens {caps.daily_tokens} spent ({self.day_tokens} used)"
        if self.run_tokens + tokens > caps.run_tokens:
            return f"run_tokens {caps.run_tokens} spent ({self.run_tokens} used)"
        if self.day_usd + usd > Decimal(repr(caps.daily_usd)):
            return f"daily_usd {caps.daily_usd} spent ({self.day_usd:.4f} used)"
        if self.run_usd + usd > Decimal(repr(caps.run_usd)):
            return f"run_usd {caps.run_usd} spent ({self.run_usd:.4f} used)"
        return None

    def charge(self, usd: Decimal, tokens: int) -> None:
        self._roll_day()
        self.day_usd += usd
        self.run_usd += usd
        self.day_tokens += tokens
        self.run_tokens += tokens
