"""Data-quality report of a bar series: gaps, duplicates, out-of-order and bad rows.

Order and duplicates are judged in file order; gaps on the sorted, de-duplicated good open
times, so a shuffled file shows as out-of-order rows, not as holes. A bad row's bar is absent,
so it shows as a gap too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trading.contracts import Timeframe, utc_from_ms
from trading.market.frames import BadRow, IntArray, read_bars


def iso_utc(open_time_ms: int) -> str:
    """RFC 3339 text of an epoch-ms instant, ``Z``-suffixed (``2024-09-14T00:00:00Z``)."""
    moment = utc_from_ms(open_time_ms)
    text = moment.isoformat(timespec="milliseconds" if open_time_ms % 1000 else "seconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Gap:
    """A hole: ``start`` is the last bar before it, ``end`` the first bar after it."""

    start_ms: int
    end_ms: int
    missing_bars: int

    def to_json(self) -> dict[str, Any]:
        return {
            "start": iso_utc(self.start_ms),
            "end": iso_utc(self.end_ms),
            "missing_bars": self.missing_bars,
        }


@dataclass(frozen=True, slots=True)
class QualityReport:
    """What is wrong with a bar series; ``to_json`` is the stable, documented shape."""

    timeframe: Timeframe
    rows: int
    first_ms: int | None
    last_ms: int | None
    gaps: tuple[Gap, ...]
    duplicates: tuple[int, ...]
    out_of_order: tuple[int, ...]
    bad_rows: tuple[BadRow, ...]

    @property
    def missing_bars(self) -> int:
        return sum(gap.missing_bars for gap in self.gaps)

    @property
    def clean(self) -> bool:
        return not (self.gaps or self.duplicates or self.out_of_order or self.bad_rows)

    def to_json(self) -> dict[str, Any]:
        """Keys: rows, first, last, gaps, duplicates, out_of_order, bad_rows (times as ISO UTC)."""
        return {
            "rows": self.rows,
            "first": None if self.first_ms is None else iso_utc(self.first_ms),
            "last": None if self.last_ms is None else iso_utc(self.last_ms),
            "gaps": [gap.to_json() for gap in self.gaps],
            "duplicates": [iso_utc(ms) for ms in self.duplicates],
            "out_of_order": [iso_utc(ms) for ms in self.out_of_order],
            "bad_rows": [bad.to_json() for bad in self.bad_rows],
        }


def check_bars(
    open_time_ms: IntArray,
    timeframe: Timeframe,
    *,
    rows: int | None = None,
    bad_rows: tuple[BadRow, ...] = (),
) -> QualityReport:
    """Report on the good rows' open times (file order); ``rows`` counts good and bad rows."""
    times = np.asarray(open_time_ms, dtype=np.int64)
    total = len(times) + len(bad_rows) if rows is None else rows
    if len(times) == 0:
        return QualityReport(timeframe, total, None, None, (), (), (), bad_rows)
    _, first_seen = np.unique(times, return_index=True)
    repeated = np.ones(len(times), dtype=bool)
    repeated[first_seen] = False
    backwards = np.flatnonzero(times[1:] < times[:-1]) + 1
    ordered = np.unique(times)
    step_ms = timeframe.seconds * 1000
    holes = np.flatnonzero(np.diff(ordered) > step_ms)
    gaps = tuple(
        Gap(
            int(ordered[i]),
            int(ordered[i + 1]),
            int((ordered[i + 1] - ordered[i]) // step_ms) - 1,
        )
        for i in holes
    )
    return QualityReport(
        timeframe,
        total,
        int(ordered[0]),
        int(ordered[-1]),
        gaps,
        tuple(int(ms) for ms in times[repeated]),
        tuple(int(ms) for ms in times[backwards]),
        bad_rows,
    )


def check_file(path: Path | str, timeframe: Timeframe) -> QualityReport:
    """Read a CSV/Parquet bar file and report on it; raises ``BarFileError`` if unreadable."""
    bar_file = read_bars(path, timeframe)
    return check_bars(
        bar_file.columns().open_time_ms,
        timeframe,
        rows=bar_file.rows,
        bad_rows=bar_file.bad_rows,
    )


def timeframe_of(path: Path | str) -> Timeframe | None:
    """The timeframe a shared-data file name carries (``BTC_USDT-5m.parquet``,
    ``BTC_USDT_USDT-1h-futures.csv``), or None."""
    for part in reversed(Path(path).name.split(".")[0].split("-")):
        if part in {tf.value for tf in Timeframe}:
            return Timeframe(part)
    return None


def summary_lines(report: QualityReport, path: Path | str, first: int = 5) -> list[str]:
    """A readable report: one line of counts, then the first ``first`` of each problem."""
    span = (
        "no bars"
        if report.first_ms is None or report.last_ms is None
        else f"{iso_utc(report.first_ms)} .. {iso_utc(report.last_ms)}"
    )
    lines = [
        f"{path}: {report.rows} rows at {report.timeframe}, {span}; {len(report.gaps)} gaps "
        f"({report.missing_bars} missing bars), {len(report.duplicates)} duplicates, "
        f"{len(report.out_of_order)} out of order, {len(report.bad_rows)} bad rows"
    ]
    problems: list[tuple[str, list[str]]] = [
        ("gap", [f"{g.to_json()['start']} -> {g.to_json()['end']}" for g in report.gaps]),
        ("duplicate", [iso_utc(ms) for ms in report.duplicates]),
        ("out of order", [iso_utc(ms) for ms in report.out_of_order]),
        ("bad row", [str(bad.to_json()) for bad in report.bad_rows]),
    ]
    for name, items in problems:
        lines += [f"  {name}: {item}" for item in items[:first]]
        if len(items) > first:
            lines.append(f"  ... {len(items) - first} more {name}s (--json lists all)")
    return lines
