"""Compliance reports from the audit journal: every order with risk's decision and reasons, UTC
timestamps to the microsecond, venue ids, manual orders and config changes, and the journal hash
range the report covers with whether the chain verified. CSV (``csv``) and escaped HTML, with
column sets and labels per template: ``generic``, ``eu`` and ``us``.

Only the records of the chain's verified prefix are read; a broken chain is stated, not hidden.
An order is manual when its client id is not one the strategies derive (``rt-`` + 32 hex).
"""

from __future__ import annotations

import csv
import html
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from trading.contracts import (
    CLIENT_ID_PREFIX,
    Fill,
    OrderDecision,
    OrderIntent,
    OrderState,
    Signal,
)
from trading.journal.chain import GENESIS, read, verify
from trading.security.signing import Checkpoint, PublicKeys, SignatureError, verify_checkpoints

_STRATEGY_ID = re.compile(rf"^{re.escape(CLIENT_ID_PREFIX)}[0-9a-f]{{32}}$")


class UnknownTemplateError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown report template {name!r}; templates: {', '.join(TEMPLATES)}")
        self.name = name


def utc_text(moment: datetime | None) -> str:
    """``2025-01-03T10:15:00.000000Z``: UTC, always six fractional digits."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_manual(client_order_id: str) -> bool:
    return _STRATEGY_ID.match(client_order_id) is None


@dataclass
class OrderRow:
    """One order as the journal tells it, from risk's decision to its last fill."""

    client_order_id: str
    first_seq: int
    last_seq: int = 0
    decision: OrderDecision | None = None
    state: OrderState | None = None
    fills: list[Fill] = field(default_factory=list)
    signal_reasons: tuple[str, ...] = ()
    intent: OrderIntent | None = None  # journaled with a denial

    @property
    def symbol(self) -> str:
        for source in (self.state, *self.fills, self.intent):
            if source is not None:
                return source.symbol
        return ""

    @property
    def side(self) -> str:
        for source in (self.state, *self.fills, self.intent):
            if source is not None:
                return str(source.side)
        return ""

    def values(self) -> dict[str, str]:
        decision, state, fills = self.decision, self.state, self.fills
        filled = sum((f.quantity for f in fills), Decimal(0))
        return {
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "decision": str(decision.outcome) if decision else "",
            "denial_reason": str(decision.reason or "") if decision else "",
            "evidence": _pairs(decision.evidence) if decision else "",
            "signal_reasons": " | ".join(self.signal_reasons),
            "requested_quantity": _number(decision.requested_quantity if decision else None),
            "approved_quantity": _number(decision.approved_quantity if decision else None),
            "decided_at": utc_text(decision.decided_at if decision else None),
            "status": str(state.status) if state else "",
            "filled_quantity": _number(state.filled_quantity if state else filled or None),
            "avg_fill_price": _number(state.avg_fill_price if state else None),
            "venue_order_id": (state.venue_order_id or "") if state else "",
            "venue_trade_ids": " ".join(f.trade_id for f in fills),
            "first_fill_at": utc_text(fills[0].ts if fills else None),
            "last_fill_at": utc_text(fills[-1].ts if fills else None),
            "fees": " ".join(f"{_number(f.fee)} {f.fee_asset}" for f in fills),
            "reject_reason": (state.reject_reason or "") if state else "",
            "updated_at": utc_text(state.updated_at if state else None),
            "manual": "yes" if is_manual(self.client_order_id) else "no",
            "journal_seq": f"{self.first_seq}-{self.last_seq}",
        }


@dataclass(frozen=True)
class ConfigRow:
    seq: int
    ts: datetime
    source: str
    digest: str
    applied: bool
    error: str | None
    changes: Mapping[str, Any]

    def values(self) -> dict[str, str]:
        changes = "; ".join(
            f"{key}: {json.dumps(v.get('old'))} -> {json.dumps(v.get('new'))}"
            for key, v in self.changes.items()
        )
        return {
            "journal_seq": str(self.seq),
            "ts": utc_text(self.ts),
            "source": self.source,
            "sha256": self.digest,
            "applied": "yes" if self.applied else "no",
            "error": self.error or "",
            "changes": changes,
        }


@dataclass(frozen=True)
class Coverage:
    """Which records the report covers and whether the chain verified up to them."""

    journal: str
    period_from: datetime | None
    period_to: datetime | None
    chain_verified: bool
    chain_records: int
    chain_problem: str | None
    first_seq: int | None
    last_seq: int | None
    hash_before: str
    hash_last: str
    hmac_checked: bool
    signed_checkpoints: str = "not checked"

    def values(self) -> dict[str, str]:
        return {
            "journal": self.journal,
            "period_from": utc_text(self.period_from) or "start of journal",
            "period_to": utc_text(self.period_to) or "end of journal",
            "chain_verified": "yes" if self.chain_verified else "no",
            "hmac_checked": "yes" if self.hmac_checked else "no",
            "chain_records": str(self.chain_records),
            "chain_problem": self.chain_problem or "",
            "first_seq": "" if self.first_seq is None else str(self.first_seq),
            "last_seq": "" if self.last_seq is None else str(self.last_seq),
            "hash_before_first": self.hash_before,
            "hash_of_last": self.hash_last,
            "signed_checkpoints": self.signed_checkpoints,
        }


@dataclass(frozen=True)
class ComplianceReport:
    generated_at: datetime
    coverage: Coverage
    orders: list[OrderRow]
    config_changes: list[ConfigRow]


def build_report(
    journal: Path,
    key: bytes | None = None,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
    now: datetime | None = None,
    checkpoints: tuple[list[Checkpoint], PublicKeys] | None = None,
) -> ComplianceReport:
    """The report of the journal's records stamped in ``[period_from, period_to)``; with
    ``checkpoints`` (and the public keys by id) it also states whether they verify."""
    check = verify(journal, key)
    orders: dict[str, OrderRow] = {}
    signals: dict[tuple[str, str], Signal] = {}
    changes: list[ConfigRow] = []
    first: int | None = None
    last: int | None = None
    hash_before, hash_last, prev = GENESIS, GENESIS, GENESIS
    for record in itertools.islice(read(journal), check.records):
        ts = datetime.fromisoformat(record["ts"])
        inside = (period_from is None or ts >= period_from) and (
            period_to is None or ts < period_to
        )
        if inside:
            seq = int(record["seq"])
            if first is None:
                first, hash_before = seq, prev
            last, hash_last = seq, str(record["hash"])
            _take(record, orders, signals, changes)
        prev = str(record["hash"])
    for row in orders.values():
        if row.decision is not None:
            signal = signals.get((row.symbol, _decided_step(row)))
            row.signal_reasons = tuple(signal.reasons) if signal else ()
    coverage = Coverage(
        journal=str(journal),
        period_from=period_from,
        period_to=period_to,
        chain_verified=check.ok,
        chain_records=check.records,
        chain_problem=str(check.first_bad) if check.first_bad else None,
        first_seq=first,
        last_seq=last,
        hash_before=hash_before,
        hash_last=hash_last,
        hmac_checked=key is not None,
        signed_checkpoints=_checkpoints_verdict(journal, checkpoints),
    )
    return ComplianceReport(now or datetime.now(UTC), coverage, list(orders.values()), changes)


def _checkpoints_verdict(
    journal: Path, checkpoints: tuple[list[Checkpoint], PublicKeys] | None
) -> str:
    if checkpoints is None:
        return "not checked"
    signed, keys = checkpoints
    try:
        done = verify_checkpoints(read(journal), signed, keys)
    except SignatureError as exc:
        return f"FAILED: {exc}"
    last = done.covered - 1
    return f"verified: {done.checkpoints} signed checkpoint(s) vouch for records 0-{last}"


def _decided_step(row: OrderRow) -> str:
    """The step time the order was decided at, as the signal of that step is keyed."""
    return utc_text(row.decision.decided_at) if row.decision else ""


def _take(
    record: Mapping[str, Any],
    orders: dict[str, OrderRow],
    signals: dict[tuple[str, str], Signal],
    changes: list[ConfigRow],
) -> None:
    kind, payload, seq = record["kind"], record["payload"], int(record["seq"])
    text = json.dumps(payload)
    if kind == "signal":
        signal = Signal.model_validate_json(text)
        signals[(signal.symbol, utc_text(datetime.fromisoformat(record["ts"])))] = signal
    elif kind == "config":
        changes.append(
            ConfigRow(
                seq,
                datetime.fromisoformat(payload["ts"]),
                payload["source"],
                payload["digest"],
                bool(payload["applied"]),
                payload.get("error"),
                payload["changes"],
            )
        )
    elif kind in ("intent", "decision", "order", "fill"):
        client_order_id = payload["client_order_id"]
        row = orders.setdefault(client_order_id, OrderRow(client_order_id, seq))
        row.last_seq = seq
        if kind == "intent":
            row.intent = OrderIntent.model_validate_json(text)
        elif kind == "decision":
            row.decision = OrderDecision.model_validate_json(text)
        elif kind == "order":
            row.state = OrderState.model_validate_json(text)
        else:
            row.fills.append(Fill.model_validate_json(text))


def _number(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _pairs(evidence: Mapping[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(evidence.items()))


# --------------------------------------------------------------------------- templates

Columns = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Template:
    """Which order and config columns a report shows, in order, under which labels."""

    name: str
    title: str
    orders: Columns
    config: Columns


_CONFIG_COLUMNS: Columns = (
    ("journal_seq", "Journal seq"),
    ("ts", "Time (UTC)"),
    ("source", "Requested by"),
    ("sha256", "Config SHA-256"),
    ("applied", "Applied"),
    ("error", "Refusal"),
    ("changes", "Changes (old -> new)"),
)

TEMPLATES: dict[str, Template] = {
    "generic": Template(
        "generic",
        "Order audit report",
        (
            ("client_order_id", "Client order id"),
            ("symbol", "Symbol"),
            ("side", "Side"),
            ("manual", "Manual"),
            ("decision", "Risk decision"),
            ("denial_reason", "Denial reason"),
            ("signal_reasons", "Signal reasons"),
            ("evidence", "Risk evidence"),
            ("requested_quantity", "Requested qty"),
            ("approved_quantity", "Approved qty"),
            ("decided_at", "Decided at (UTC)"),
            ("status", "Status"),
            ("filled_quantity", "Filled qty"),
            ("avg_fill_price", "Avg fill price"),
            ("fees", "Fees"),
            ("venue_order_id", "Venue order id"),
            ("venue_trade_ids", "Venue trade ids"),
            ("first_fill_at", "First fill (UTC)"),
            ("last_fill_at", "Last fill (UTC)"),
            ("reject_reason", "Reject reason"),
            ("updated_at", "Last update (UTC)"),
            ("journal_seq", "Journal seq"),
        ),
        _CONFIG_COLUMNS,
    ),
    "eu": Template(
        "eu",
        "Order record keeping (EU, MiFID II style labels)",
        (
            ("client_order_id", "Client order identification code"),
            ("symbol", "Instrument"),
            ("side", "Buy/sell indicator"),
            ("manual", "Human intervention"),
            ("decision", "Pre-trade control outcome"),
            ("denial_reason", "Pre-trade control triggered"),
            ("signal_reasons", "Investment decision rationale"),
            ("evidence", "Pre-trade control evidence"),
            ("requested_quantity", "Initial quantity"),
            ("approved_quantity", "Quantity after controls"),
            ("decided_at", "Decision timestamp (UTC, us)"),
            ("status", "Order status"),
            ("filled_quantity", "Executed quantity"),
            ("avg_fill_price", "Price"),
            ("venue_order_id", "Trading venue order id"),
            ("venue_trade_ids", "Trading venue transaction id code"),
            ("first_fill_at", "First execution timestamp (UTC, us)"),
            ("last_fill_at", "Trading date time (UTC, us)"),
            ("journal_seq", "Audit journal seq"),
        ),
        _CONFIG_COLUMNS,
    ),
    "us": Template(
        "us",
        "Order event report (US, CAT style labels)",
        (
            ("client_order_id", "Order key"),
            ("symbol", "Symbol"),
            ("side", "Side"),
            ("manual", "Manual flag"),
            ("decision", "Risk check result"),
            ("denial_reason", "Rejection reason"),
            ("evidence", "Risk check evidence"),
            ("requested_quantity", "Quantity"),
            ("approved_quantity", "Routed quantity"),
            ("decided_at", "Event timestamp (UTC)"),
            ("status", "Order status"),
            ("filled_quantity", "Fill quantity"),
            ("avg_fill_price", "Fill price"),
            ("venue_order_id", "Exchange order id"),
            ("venue_trade_ids", "Trade ids"),
            ("last_fill_at", "Fill timestamp (UTC)"),
            ("journal_seq", "Audit trail seq"),
        ),
        _CONFIG_COLUMNS,
    ),
}


def template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise UnknownTemplateError(name) from None


# --------------------------------------------------------------------------- writers


def _table(rows: Iterable[Mapping[str, str]], columns: Columns) -> list[list[str]]:
    return [[label for _, label in columns]] + [[row[key] for key, _ in columns] for row in rows]


def write_csv(report: ComplianceReport, template_name: str, directory: Path) -> list[Path]:
    """``coverage.csv``, ``orders.csv`` and ``config_changes.csv`` in ``directory``."""
    chosen = template(template_name)
    directory.mkdir(parents=True, exist_ok=True)
    coverage = [["field", "value"], *map(list, report.coverage.values().items())]
    coverage.append(["generated_at", utc_text(report.generated_at)])
    coverage.append(["template", chosen.name])
    tables: dict[str, list[list[str]]] = {
        "coverage.csv": coverage,
        "orders.csv": _table((o.values() for o in report.orders), chosen.orders),
        "config_changes.csv": _table((c.values() for c in report.config_changes), chosen.config),
    }
    paths = []
    for name, rows in tables.items():
        path = directory / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
        paths.append(path)
    return paths


def _html_table(rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: ComplianceReport, template_name: str) -> str:
    """One self-contained page; every value is escaped."""
    chosen = template(template_name)
    coverage = report.coverage
    verdict = (
        "The journal's hash chain verified over every record read."
        if coverage.chain_verified
        else f"The journal's hash chain is BROKEN: {coverage.chain_problem}; "
        f"only the {coverage.chain_records} records before it are reported."
    )
    sections = [
        f"<h1>{html.escape(chosen.title)}</h1>",
        f"<p>Generated {html.escape(utc_text(report.generated_at))}. {html.escape(verdict)}</p>",
        "<h2>Coverage</h2>",
        _html_table([["Field", "Value"], *map(list, coverage.values().items())]),
        f"<h2>Orders ({len(report.orders)})</h2>",
        _html_table(_table((o.values() for o in report.orders), chosen.orders)),
        f"<h2>Configuration changes ({len(report.config_changes)})</h2>",
        _html_table(_table((c.values() for c in report.config_changes), chosen.config)),
    ]
    style = (
        "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(chosen.title)}</title><style>{style}</style></head>"
        f"<body>{''.join(sections)}</body></html>"
    )


def write_html(report: ComplianceReport, template_name: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, template_name), encoding="utf-8")
    return path
