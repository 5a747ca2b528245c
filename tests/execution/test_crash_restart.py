"""Crash-restart: SIGKILL the gateway process at random points; the venue never sees a repeat.

The gateway runs as its own process against the paper exchange (another process). It is killed
at seeded random moments (during reconciliation, mid-batch, mid-send), restarted from its WAL,
and finally runs to completion. The exchange refuses and counts every repeated client id.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.execution.conftest import REPO, child_env, ids, make_intents, venue_net
from trading.contracts import OrderStatus
from trading.execution.gateway import OrderGateway
from trading.execution.paper import PaperBar
from trading.market.instruments import venue_symbol

FAULTS = {
    "latency_ms": 2,
    "timeout_after_accept": 0.03,
    "hang_s": 5.0,
    "duplicate_events": 0.1,
    "shuffle_events": True,
}


def _spawn(wal: Path, url: str, intents_file: Path, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.execution.gateway_process",
            "--wal",
            str(wal),
            "--venue",
            url,
            "--intents",
            str(intents_file),
            "--seed",
            str(seed),
        ],
        cwd=REPO,
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )


def _kill_at_random_point(process: subprocess.Popen[str], rng: random.Random) -> tuple[bool, int]:
    """SIGKILL during start-up/reconciliation or after a random number of progress lines.

    Returns whether the run finished first, and how many orders it had to reconcile.
    """
    assert process.stdout is not None
    guard = threading.Timer(30.0, process.kill)  # a hung child cannot hang the test
    guard.start()
    lines_before_kill = rng.randint(0, 30)
    finished, reconciled = False, 0
    if lines_before_kill == 0:
        time.sleep(rng.uniform(0.3, 1.2))
        process.send_signal(signal.SIGKILL)
    else:
        for seen, line in enumerate(process.stdout, start=1):
            if line.startswith("RECONCILED"):
                reconciled = int(line.split()[1])
            if line.startswith("DONE"):
                finished = True
                break
            if seen >= lines_before_kill:
                time.sleep(rng.uniform(0.0, 0.05))
                process.send_signal(signal.SIGKILL)
                break
    guard.cancel()
    process.wait(10)
    return finished, reconciled


def run_crash_campaign(
    paper_process: Any,
    bars: dict[str, list[PaperBar]],
    tmp_path: Path,
    seed: int,
    kills: int,
    count: int,
) -> dict[str, Any]:
    paper = paper_process(FAULTS, seed=seed)
    intents = make_intents(count, seed, bars)
    intents_file = tmp_path / "intents.json"
    intents_file.write_text("[" + ",".join(i.model_dump_json() for i in intents) + "]")
    wal = tmp_path / "wal"
    rng = random.Random(seed)
    killed = reconciled = 0
    while killed < kills:
        finished, pending = _kill_at_random_point(
            _spawn(wal, paper.url, intents_file, seed + killed), rng
        )
        if finished:
            break
        killed += 1
        reconciled += pending
    final = _spawn(wal, paper.url, intents_file, seed + 10_000)
    out, _ = final.communicate(timeout=60)
    assert final.returncode == 0, out
    assert "DONE" in out, out
    return {
        "paper": paper.stats(),
        "intents": intents,
        "wal": wal,
        "kills": killed,
        "reconciled": reconciled,
    }


def check_exactly_once(result: dict[str, Any]) -> None:
    stats, intents = result["paper"], result["intents"]
    assert stats["duplicate_attempts"] == 0
    assert set(stats["orders"]) <= set(ids(intents))
    gateway = OrderGateway(result["wal"])
    assert gateway.awaiting_reconciliation() == []
    for intent in intents:
        state = gateway.state(intent.client_order_id)
        assert state is not None
        assert state.status in (
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        )
        assert state.status is not OrderStatus.REJECTED or state.reject_reason
        fills = gateway.fills(intent.client_order_id)
        assert (
            sum((f.quantity for f in fills), Decimal(0)) == state.filled_quantity <= state.quantity
        )
        venue_order = stats["orders"].get(intent.client_order_id)
        if venue_order is not None:
            assert Decimal(venue_order["executed"]) == state.filled_quantity
    positions = gateway.positions()
    net = venue_net(stats)
    for symbol in {i.symbol for i in intents}:
        assert positions.get(symbol, Decimal(0)) == net.get(venue_symbol(symbol), Decimal(0))
        base = symbol.split("/")[0]
        assert Decimal(stats["balances"][base]) == positions.get(symbol, Decimal(0))


def test_sigkilled_gateway_never_sends_a_client_id_twice(
    paper_process: Any, paper_bars: dict[str, list[PaperBar]], tmp_path: Path
) -> None:
    result = run_crash_campaign(paper_process, paper_bars, tmp_path, seed=7, kills=12, count=150)
    print(
        f"crash-restart: {result['kills']} kills, {result['paper']['accepted']} orders accepted, "
        f"{result['paper']['duplicate_attempts']} duplicate attempts, "
        f"{result['reconciled']} orders reconciled after restarts"
    )
    assert result["kills"] >= 8
    check_exactly_once(result)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
def test_hundreds_of_sigkills_never_duplicate_an_order(
    paper_process: Any, paper_bars: dict[str, list[PaperBar]], tmp_path: Path, seed: int
) -> None:
    result = run_crash_campaign(
        paper_process, paper_bars, tmp_path, seed=100 + seed, kills=30, count=300
    )
    print(
        f"\ncrash-restart seed {seed}: {result['kills']} kills, "
        f"{result['paper']['accepted']} accepted, "
        f"{result['paper']['duplicate_attempts']} duplicate attempts"
    )
    check_exactly_once(result)
