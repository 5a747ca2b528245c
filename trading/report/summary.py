"""The end-of-session summary: a table (``rich``; one row per symbol, a bar-count column per
configured timeframe) with orders, risk and the journal, and the same as ``run-summary.json``."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from trading.config import Settings
from trading.contracts import IndicatorSnapshot
from trading.indicators.engine import IndicatorConfig
from trading.journal.chain import VerifyReport
from trading.market.live import VenueFeed
from trading.report.progress import RunProgress, SymbolProgress
from trading.risk.gate import RiskSummary

SUMMARY_FILE = "run-summary.json"


@dataclass
class SessionSummary:
    """Everything a session reports when it ends, and the settings it ran with (the table's
    columns are their timeframes; its RSI is the regime timeframe's)."""

    elapsed_s: float
    progress: RunProgress
    symbols: list[SymbolProgress]
    snapshots: dict[str, dict[str, IndicatorSnapshot]]
    risk: RiskSummary
    venue: dict[str, Any]
    journal: VerifyReport
    data_dir: Path
    settings: Settings
    positions: dict[str, Decimal] = field(default_factory=dict)
    feed: VenueFeed | None = None

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.jsonl"


def symbol_table(summary: SessionSummary) -> list[str]:
    """One row per symbol: base bars, closed bars per timeframe, last close, position, RSI."""
    settings, rsi_key = summary.settings, f"rsi_{IndicatorConfig().rsi_period}"
    rsi_timeframe = str(settings.signals.regime_timeframe)
    columns = [str(tf) for tf in settings.timeframes]
    header = ["symbol", f"{settings.base_timeframe} bars", *columns]
    header += ["last close", "position", f"{rsi_timeframe} RSI"]
    rows = [header]
    for p in summary.symbols:
        snapshot = summary.snapshots.get(p.symbol, {}).get(rsi_timeframe)
        rsi = snapshot.values.get(rsi_key) if snapshot is not None else None
        rows.append(
            [
                p.symbol,
                f"{p.base_bars:,}",
                *(f"{p.closed_bars.get(tf, 0):,}" for tf in columns),
                p.last_close or "-",
                format(summary.positions.get(p.symbol, Decimal(0)), "f"),
                f"{rsi:.1f}" if rsi is not None else "-",
            ]
        )
    return render(rows)


def render(rows: list[list[str]]) -> list[str]:
    """A header row and data rows as a ``rich`` table's text lines (header, rule, rows)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in rows[0]:
        table.add_column(name, justify="right", no_wrap=True)
    for row in rows[1:]:
        table.add_row(*row)
    console = Console(file=io.StringIO(), record=True, width=240, force_terminal=False)
    console.print(table)
    return [line.rstrip() for line in console.export_text().splitlines()]


def totals(summary: SessionSummary) -> list[str]:
    """Signals, decisions, orders and fills; equity and risk state; bars, time and journal."""
    progress, risk = summary.progress, summary.risk
    decisions = ", ".join(f"{k.lower()} {v}" for k, v in progress.decisions.items())
    return [
        f"signals {progress.signals:,}; risk decisions: {decisions}; "
        f"orders sent {progress.orders}; fills {progress.fills}; "
        f"venue accepted {summary.venue.get('accepted', 0)}, "
        f"duplicate client ids {summary.venue.get('duplicate_attempts', 0)}",
        f"equity {risk.equity:.2f} (balance {risk.balance:.2f}, gross exposure "
        f"{risk.gross_exposure:.2f}); trading state {risk.state}",
        f"{progress.base_bars:,} base bars in {progress.steps:,} steps, {summary.elapsed_s:.1f} s; "
        f"journal {summary.journal_path} ({summary.journal.records:,} records, "
        f"{'intact' if summary.journal.ok else 'BROKEN'})",
    ]


def live_lines(summary: SessionSummary, feed: VenueFeed) -> list[str]:
    """The live session's label and each symbol's feed health."""
    lines = [
        f"LIVE feed {feed.rest_url} ({feed.stream_url}): paper trading; orders "
        "go to the built-in paper venue and fill on the live bars each step consumed "
        "(no real account)"
    ]
    for p in summary.symbols:
        f = p.feed
        if f is not None:
            lines.append(
                f"  {p.symbol}: {f.received_bars} closed bars ({f.warmup_bars} warm-up), "
                f"last close {f.last_close or '-'}; connects {f.connects}, disconnects "
                f"{f.disconnects}, backfilled {f.backfilled_bars}, unfilled {f.unfilled_bars}, "
                f"rejected {f.rejected}, refused for skew {f.refused_for_skew}"
                + (f"; STOPPED: {f.stopped}" if f.stopped else "")
            )
    return lines


def format_summary(summary: SessionSummary) -> str:
    """A plain-text report: one row per symbol, then orders, risk and the journal."""
    lines = [*symbol_table(summary), "", *totals(summary)]
    if summary.feed is not None:
        lines += live_lines(summary, summary.feed)
    if summary.progress.error:
        lines.append(f"error: {summary.progress.error}")
    return "\n".join(lines)


def summary_document(summary: SessionSummary) -> dict[str, Any]:
    """The summary as JSON-ready data (``run-summary.json``)."""
    return {
        "elapsed_s": round(summary.elapsed_s, 3),
        "progress": asdict(summary.progress),
        "symbols": [asdict(p) for p in summary.symbols],
        "risk": {k: str(v) for k, v in asdict(summary.risk).items()},
        "venue": summary.venue,
        "positions": {s: format(q, "f") for s, q in summary.positions.items()},
        "live_feed": asdict(summary.feed) if summary.feed is not None else None,
        "journal": {
            "path": str(summary.journal_path),
            "records": summary.journal.records,
            "intact": summary.journal.ok,
        },
        "snapshots": {
            symbol: {tf: snap.model_dump(mode="json") for tf, snap in by_tf.items()}
            for symbol, by_tf in summary.snapshots.items()
        },
    }


def write_summary(summary: SessionSummary) -> Path:
    """Write ``run-summary.json`` into the session's data dir."""
    path = summary.data_dir / SUMMARY_FILE
    path.write_text(json.dumps(summary_document(summary), indent=2, default=str) + "\n")
    return path
