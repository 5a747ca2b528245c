"""Coverage after the README's test run: the HTML report in build/coverage, one line per
package, and a non-zero exit when a financial module falls below its floor.

The data is what pytest collected in-process (``--cov`` in pyproject's addopts); Ray worker
processes are not measured, so the floors sit on code the tests drive in the test process.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import coverage

HTML_DIR = Path("build/coverage")


@dataclass(frozen=True)
class Gate:
    """A floor in percent (statements and branches together) over the files ``include`` names."""

    name: str
    floor_pct: float
    include: tuple[str, ...]
    omit: tuple[str, ...] = ()

    def covers(self, path: str) -> bool:
        return any(fnmatch(path, p) for p in self.include) and not any(
            fnmatch(path, p) for p in self.omit
        )


GATES = (
    Gate("data models", 100.0, ("trading/contracts.py",)),
    Gate("risk", 90.0, ("trading/risk/*",)),
    # The money paths: orders, fills, fees, the venues and the paper exchange (its aiohttp
    # server included: the tests run it in-process). Left out: the paper exchange's CLI (the
    # tests start it as a subprocess), the session's clock and its progress counters (no
    # money), and the ccxt venue: its calls into ccxt need the optional ccxt package, which
    # is not a dependency and not installed here (its order mapping is tested all the same).
    Gate(
        "execution",
        90.0,
        ("trading/execution/*",),
        (
            "trading/execution/paper/__main__.py",
            "trading/execution/clock.py",
            "trading/execution/progress.py",
            "trading/execution/ccxt_venue.py",
        ),
    ),
    Gate("matching", 90.0, ("trading/execution/matching.py",)),
    Gate("backtest metrics", 90.0, ("trading/backtest/metrics.py",)),
    Gate("backtest fees and funding", 90.0, ("trading/backtest/venues.py",)),
    Gate("round-trip PnL", 90.0, ("trading/backtest/trades.py",)),
)


@dataclass
class Tally:
    """Covered and total statements and branches of a set of files."""

    lines: int = 0
    lines_hit: int = 0
    branches: int = 0
    branches_hit: int = 0

    def add(self, summary: dict[str, int]) -> None:
        self.lines += summary["num_statements"]
        self.lines_hit += summary["covered_lines"]
        self.branches += summary.get("num_branches", 0)
        self.branches_hit += summary.get("covered_branches", 0)

    @property
    def pct(self) -> float:
        total = self.lines + self.branches
        return 100.0 * (self.lines_hit + self.branches_hit) / total if total else 100.0

    def line(self, name: str) -> str:
        return (
            f"{name:<40} {self.pct:6.1f} %  lines {self.lines_hit:>5}/{self.lines:<5}"
            f" branches {self.branches_hit:>4}/{self.branches:<4}"
        )


def file_summaries(cov: coverage.Coverage) -> dict[str, dict[str, int]]:
    """Per measured file, coverage.py's own summary (relative path -> counts)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(out))
        files = json.loads(out.read_text())["files"]
    return {path: data["summary"] for path, data in files.items()}


def main() -> int:
    cov = coverage.Coverage()
    data_file = Path(cov.config.data_file)
    if not data_file.exists():
        print(f"no coverage data at {data_file}: did pytest run with --cov?", file=sys.stderr)
        return 1
    cov.load()
    summaries = file_summaries(cov)
    cov.html_report(directory=str(HTML_DIR))

    packages: dict[str, Tally] = defaultdict(Tally)
    for path, summary in summaries.items():
        packages[str(Path(path).parent)].add(summary)
    print("coverage per package (statements and branches):")
    for name, tally in sorted(packages.items()):
        print("  " + tally.line(name))

    failed = []
    print("coverage gates:")
    for gate in GATES:
        tally = Tally()
        for path, summary in summaries.items():
            if gate.covers(path):
                tally.add(summary)
        ok = tally.lines > 0 and tally.pct >= gate.floor_pct
        print(f"  {'ok  ' if ok else 'FAIL'} {tally.line(gate.name)} floor {gate.floor_pct:.0f} %")
        if not ok:
            failed.append(gate.name)
    print(f"HTML report: {HTML_DIR}/index.html")
    if failed:
        print(f"coverage below its floor: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
