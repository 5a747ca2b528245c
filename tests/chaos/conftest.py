"""Chaos scenarios: each injects faults, checks the invariants and writes a JSON report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.execution.conftest import paper_bars as paper_bars  # the same real bars

REPORTS = Path(__file__).resolve().parents[2] / "build" / "chaos"


@pytest.fixture
def chaos_report(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The scenario's report: filled by the test, written to build/chaos/<test>.json after."""
    report: dict[str, Any] = {"scenario": request.node.name}
    yield report
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{request.node.name}.json").write_text(json.dumps(report, indent=2, default=str))
