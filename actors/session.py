"""The embedded session behind ``raytrader run``: symbol actors over replayed real data."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import ray

from actors.symbol import SymbolActor, SymbolProgress, actor_name
from trading.contracts import IndicatorSnapshot, Timeframe
from trading.market.replay import BUNDLED_DATA, data_file


@dataclass(frozen=True)
class SessionOptions:
    symbols: tuple[str, ...]
    base: Timeframe
    timeframes: tuple[Timeframe, ...]
    market_data: Path = BUNDLED_DATA
    data_dir: Path = Path("raytrader-data")
    speed: float = 0.0
    duration_s: float | None = None
    max_bars: int | None = None
    poll_s: float = 1.0


@dataclass
class SessionSummary:
    elapsed_s: float
    progress: list[SymbolProgress]
    snapshots: dict[str, dict[str, IndicatorSnapshot]]
    summary_path: Path

    @property
    def base_bars(self) -> int:
        return sum(p.base_bars for p in self.progress)


ProgressCallback = Callable[[Sequence[SymbolProgress], float], None]


def run_session(
    options: SessionOptions, on_progress: ProgressCallback | None = None
) -> SessionSummary:
    """Start one actor per symbol, replay until the data, ``duration_s`` or Ctrl-C ends it."""
    files = {s: data_file(options.market_data, s, options.base) for s in options.symbols}
    actors = [
        SymbolActor.options(name=actor_name(symbol)).remote(
            symbol, options.base, options.timeframes, str(path), options.speed
        )
        for symbol, path in files.items()
    ]
    runs = [actor.run.remote(options.max_bars) for actor in actors]
    started = time.monotonic()
    try:
        while True:
            ready, _ = ray.wait(runs, num_returns=len(runs), timeout=options.poll_s)
            elapsed = time.monotonic() - started
            if on_progress is not None:
                on_progress(ray.get([a.progress.remote() for a in actors]), elapsed)
            if len(ready) == len(runs):
                break
            if options.duration_s is not None and elapsed >= options.duration_s:
                ray.get([a.stop.remote() for a in actors])
    except KeyboardInterrupt:
        ray.get([a.stop.remote() for a in actors])
    progress: list[SymbolProgress] = ray.get(runs)
    snapshots = dict(
        zip(options.symbols, ray.get([a.snapshots.remote() for a in actors]), strict=True)
    )
    for actor in actors:
        ray.kill(actor)
    summary = SessionSummary(
        elapsed_s=time.monotonic() - started,
        progress=progress,
        snapshots=snapshots,
        summary_path=options.data_dir / "run-summary.json",
    )
    _write_summary(summary)
    return summary


def _write_summary(summary: SessionSummary) -> None:
    summary.summary_path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "elapsed_s": round(summary.elapsed_s, 3),
        "symbols": [asdict(p) for p in summary.progress],
        "snapshots": {
            symbol: {tf: snap.model_dump(mode="json") for tf, snap in by_tf.items()}
            for symbol, by_tf in summary.snapshots.items()
        },
    }
    summary.summary_path.write_text(json.dumps(document, indent=2) + "\n")


def format_summary(summary: SessionSummary) -> str:
    """A plain-text table: one row per symbol with bar counts and headline indicators."""
    header = ["symbol", "5m bars", "15m", "1h", "4h", "1d", "last close", "1h RSI", "4h ADX"]
    rows = [header]
    for p in summary.progress:
        snaps = summary.snapshots.get(p.symbol, {})
        rsi = snaps.get("1h")
        adx = snaps.get("4h")
        rows.append(
            [
                p.symbol,
                f"{p.base_bars:,}",
                *(f"{p.closed_bars.get(tf, 0):,}" for tf in ("15m", "1h", "4h", "1d")),
                p.last_close or "-",
                f"{rsi.values['rsi_14']:.1f}" if rsi and "rsi_14" in rsi.values else "-",
                f"{adx.values['adx_14']:.1f}" if adx and "adx_14" in adx.values else "-",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    errors = [f"{p.symbol}: {p.error}" for p in summary.progress if p.error]
    footer = [
        f"{summary.base_bars:,} base bars in {summary.elapsed_s:.1f} s; "
        f"summary written to {summary.summary_path}",
        *errors,
    ]
    return "\n".join([*lines, "", *footer])
