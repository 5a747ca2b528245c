"""What risk sees of the market: each symbol's latest ``Mark`` and the ``MarketView`` at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from trading.risk.correlation import Correlations


@dataclass(frozen=True, slots=True)
class Mark:
    """Latest price of a symbol and when it was observed."""

    price: Decimal
    ts: datetime


def _is_valid_mark(mark: object) -> bool:
    return (
        isinstance(mark, Mark)
        and isinstance(mark.price, Decimal)
        and mark.price.is_finite()
        and mark.price > 0
        and isinstance(mark.ts, datetime)
    )


@dataclass(frozen=True, slots=True)
class MarketView:
    """What risk sees of the market at ``now``: marks and the per-bar correlation table.

    Marks are checked once here (``invalid``: not a positive finite Decimal price with a time),
    so ``evaluate`` can deny on them without re-checking every mark per call.
    """

    now: datetime
    marks: Mapping[str, Mark]
    correlations: Correlations = field(default_factory=Correlations)
    invalid: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        bad = frozenset(s for s, m in self.marks.items() if not _is_valid_mark(m))
        object.__setattr__(self, "invalid", bad)
