"""Every decision the system makes goes through ``Recorder``: journal first, then the SQL store.

The journal line is the audit truth (hash-chained); the store is the queryable copy. Each
record's ``kind`` names its contract, so ``replay`` turns a journal back into the same typed
events, in order, for re-running the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from trading.contracts import (
    Fill,
    MarketBar,
    OrderDecision,
    OrderIntent,
    OrderState,
    Position,
    Signal,
)
from trading.failure.taxonomy import INCIDENT_KIND, Incident
from trading.journal.chain import Journal, read
from trading.journal.store import LLMCall, Store


@dataclass(frozen=True)
class EquityPoint:
    ts: datetime
    equity: Decimal
    cash: Decimal
    gross_exposure: Decimal


@dataclass(frozen=True)
class ConfigChange:
    """A hot reload, applied or not, with who/what asked for it (``api:<path>``,
    ``file:<path>``), the file's sha256, and each changed dotted key as
    ``{"old": ..., "new": ...}``; a refused or invalid reload has ``applied`` False and the
    ``error`` naming the key."""

    ts: datetime
    source: str
    digest: str
    changes: dict[str, Any]
    applied: bool = True
    error: str | None = None


@dataclass(frozen=True)
class AccessDenied:
    """The HTTP API refused a request: the route, the token id (never the token; None when
    absent or malformed), the caller's address, the status and why."""

    ts: datetime
    method: str
    route: str
    token_id: str | None
    address: str
    status: int
    reason: str


Recordable = (
    MarketBar
    | Signal
    | OrderDecision
    | OrderIntent
    | OrderState
    | Fill
    | Position
    | LLMCall
    | EquityPoint
    | ConfigChange
    | AccessDenied
    | Incident
)

_CONTRACTS: dict[str, type[BaseModel]] = {
    "bar": MarketBar,
    "signal": Signal,
    "decision": OrderDecision,
    "order": OrderState,
    "fill": Fill,
    "position": Position,
}
_KIND_OF: dict[type[Any], str] = {cls: kind for kind, cls in _CONTRACTS.items()} | {
    OrderIntent: "intent",  # journaled with a denial: what was refused (symbol, side, qty)
    LLMCall: "llm_call",
    EquityPoint: "equity",
    ConfigChange: "config",
    AccessDenied: "access_denied",
    Incident: INCIDENT_KIND,
}


def _payload(event: Recordable) -> dict[str, Any]:
    if isinstance(event, BaseModel):
        return event.model_dump(mode="json")
    document = asdict(event)
    for key, value in document.items():
        if isinstance(value, datetime):
            document[key] = value.isoformat().replace("+00:00", "Z")
        elif isinstance(value, Decimal):
            document[key] = format(value, "f")
    return document


class Recorder:
    """Journal + store, written together; the journal line always comes first."""

    def __init__(
        self,
        journal: Journal,
        store: Store,
        on_append: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        """``on_append`` sees each journal record as written (the signed checkpoints)."""
        self.journal = journal
        self.store = store
        self.on_append = on_append

    def record(self, events: Sequence[Recordable], ts: datetime | None = None) -> int:
        """Append a batch (one bar's worth); returns the journal's record count after it."""
        moment = ts or datetime.now(UTC)
        for event in events:
            written = self.journal.append(_KIND_OF[type(event)], _payload(event), ts=moment)
            if self.on_append is not None:
                self.on_append(written)
        self._store(events)
        return self.journal.records

    def anchor(self, ts: datetime | None = None) -> None:
        """Store the journal's head so a later truncation of the journal is detectable."""
        self.store.record_journal_head(
            ts or datetime.now(UTC), self.journal.records, self.journal.last_hash
        )

    def _store(self, events: Sequence[Recordable]) -> None:
        store = self.store
        store.record_bars(e for e in events if isinstance(e, MarketBar))
        store.upsert_orders(e for e in events if isinstance(e, OrderState))
        store.record_fills(e for e in events if isinstance(e, Fill))
        for event in events:
            if isinstance(event, Signal):
                store.record_signal(event)
            elif isinstance(event, OrderDecision):
                store.record_decision(event)
            elif isinstance(event, Position):
                store.record_position(event)
            elif isinstance(event, LLMCall):
                store.record_llm_call(event)
            elif isinstance(event, EquityPoint):
                store.record_equity(event.ts, event.equity, event.cash, event.gross_exposure)

    def close(self) -> None:
        self.journal.close()
        self.store.close()


def replay(path: Path, kinds: frozenset[str] | None = None) -> Iterator[BaseModel]:
    """The journal's contract events, in order, re-validated (verify the chain first)."""
    for record in read(path):
        cls = _CONTRACTS.get(record["kind"])
        if cls is not None and (kinds is None or record["kind"] in kinds):
            yield cls.model_validate_json(json.dumps(record["payload"]))
