"""Execution benchmarks: the Rust gateway's dedupe + state machine, and WAL group commit.

The intent batches are serialized to JSON once, outside the timed region: building pydantic
models and JSON in Python costs more than the gateway itself, and is not what is measured.
Timed: ``Gateway.submit`` (parse, validate, dedupe, state transition, WAL append) and
``apply_events``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import rust_exec

pytestmark = pytest.mark.bench

NOW = "2025-06-01T00:00:00Z"
INTENTS_PER_S_TARGET = 200_000
RECORDS_PER_S_TARGET = 50_000


def intents_json(start: int, count: int) -> str:
    """A JSON array of distinct market intents (client ids ``rt-b<n>``)."""
    template = (
        '{{"client_order_id":"rt-b{n}","strategy":"bench","symbol":"BTC/USDT","side":"BUY",'
        '"order_type":"MARKET","quantity":"0.01","limit_price":null,"stop_price":null,'
        '"time_in_force":"GTC","reduce_only":false,"signal_time":"{t}","created_at":"{t}"}}'
    )
    return "[" + ",".join(template.format(n=n, t=NOW) for n in range(start, start + count)) + "]"


def fill_events_json(start: int, count: int) -> str:
    events = []
    for n in range(start, start + count):
        cid = f"rt-b{n}"
        events.append(
            {
                "client_order_id": cid,
                "ts": NOW,
                "event": {"type": "ACCEPTED", "venue_order_id": str(n)},
            }
        )
        events.append(
            {
                "client_order_id": cid,
                "ts": NOW,
                "event": {
                    "type": "FILLED",
                    "trade_id": f"t{n}",
                    "quantity": "0.01",
                    "price": "60000",
                    "fee": "0.6",
                    "fee_asset": "USDT",
                    "liquidity": "TAKER",
                },
            }
        )
    return json.dumps(events)


def test_bench_gateway_dedupe_and_state_machine(tmp_path: Path) -> None:
    batch, batches = 10_000, 20
    payloads = [intents_json(i * batch, batch) for i in range(batches)]
    fills = [fill_events_json(i * batch, batch) for i in range(batches)]
    gateway = rust_exec.Gateway(str(tmp_path), "never", 10**12)

    began = time.perf_counter()
    for payload in payloads:
        gateway.submit(payload, NOW)
    new_s = time.perf_counter() - began

    began = time.perf_counter()
    for payload in payloads:
        gateway.submit(payload, NOW)
    dup_s = time.perf_counter() - began

    began = time.perf_counter()
    for payload in fills:
        gateway.apply_events(payload)
    events_s = time.perf_counter() - began

    total = batch * batches
    new_rate, dup_rate, event_rate = total / new_s, total / dup_s, 2 * total / events_s
    print(
        f"\ngateway (fsync=never, {batch} per batch): new intents {new_rate:,.0f}/s, "
        f"duplicates {dup_rate:,.0f}/s, events (ack+fill) {event_rate:,.0f}/s "
        f"[target {INTENTS_PER_S_TARGET:,}/s]"
    )
    assert len(gateway) == total
    assert max(new_rate, dup_rate) > INTENTS_PER_S_TARGET / 4  # loose: shared CI machines


@pytest.mark.parametrize("batch", [100, 1_000])
def test_bench_wal_group_commit_with_fsync_per_batch(tmp_path: Path, batch: int) -> None:
    batches = max(20, 20_000 // batch)
    payloads = [intents_json(i * batch, batch) for i in range(batches)]
    gateway = rust_exec.Gateway(str(tmp_path), "per_batch", 10**12)
    began = time.perf_counter()
    for payload in payloads:
        gateway.submit(payload, NOW)
    elapsed = time.perf_counter() - began
    records = 2 * batch * batches  # each new intent logs its intent and its SUBMITTED event
    rate = records / elapsed
    print(
        f"\nWAL group commit (fsync per batch of {batch} intents = {2 * batch} records): "
        f"{rate:,.0f} records/s, {batches / elapsed:,.0f} fsyncs/s "
        f"[target {RECORDS_PER_S_TARGET:,}/s]"
    )
    assert rate > RECORDS_PER_S_TARGET / 4
