"""Refactoring risk changes no decision: the decision set recorded before ``_evaluate`` was split
into named checks equals the one the engine makes now.

``decisions_before_refactor.json.gz`` is a pre-refactor oracle: it was written by
``python -m tests.risk.record_decisions`` against the old monolithic ``_evaluate`` (commit
message says so), not produced by the new code and pasted back. It holds every decision of two
backtests over the bundled real data, hand-built adversarial requests reaching every
``DenialReason``, and a seeded fuzz of books, marks and request sequences.

Re-recorded once, deliberately, after the in-flight cap fix (6d2e98f): the old engine ignored
orders in flight for a symbol traded back to flat in every cap. A counterfactual replay of the old
path (each request decided by the old and the new checks on the same book) found 105 decisions
that differ, every one with a flat symbol in flight and none looser (96 tightened, 9 only in
their exposure numbers); the backtest paths diverge after the first of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.risk.record_decisions import read, record
from trading.contracts import DenialReason

FIXTURE = Path(__file__).with_name("decisions_before_refactor.json.gz")


def _first_difference(before: list[dict[str, Any]], now: list[dict[str, Any]]) -> str:
    for n, (a, b) in enumerate(zip(before, now, strict=False)):
        if a != b:
            return f"decision {n}: before {a} now {b}"
    return f"{len(before)} decisions before, {len(now)} now"


def test_decisions_equal_the_pre_refactor_recording() -> None:
    before = read(FIXTURE)
    now = record()
    assert before.keys() == now.keys()
    for source in before:
        assert before[source] == now[source], (
            source,
            _first_difference(before[source], now[source]),
        )


def test_recording_reaches_every_denial_reason() -> None:
    reasons = {r["reason"] for r in read(FIXTURE)["adversarial"]}
    assert {reason.value for reason in DenialReason} <= reasons
