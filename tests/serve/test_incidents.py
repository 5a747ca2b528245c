"""``GET /v1/incidents``: the failures the session handled, as journaled (viewer role)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx2
import ray

from tests.serve.live_api import LiveApi
from trading.failure.taxonomy import DataError, ExecError, Incident, Recovery
from trading.security.tokens import Role


def _journal(live: LiveApi, incidents: list[Incident]) -> None:
    ray.get(live.handles.journal.record.remote(incidents))


def test_incidents_list_the_journaled_failures_last_ones_first_limited(live: LiveApi) -> None:
    recovery, now = Recovery(), datetime(2025, 10, 1, 12, tzinfo=UTC)
    incidents = [
        recovery.incident(now, DataError("bar high below low", "ETH/USDT")).model_copy(
            update={"outcome": "ETH/USDT paused, the other symbols trade on; step retried"}
        ),
        recovery.incident(now, ExecError("read timed out")).model_copy(
            update={"outcome": "step retried"}
        ),
    ]
    _journal(live, incidents)
    with httpx2.Client(
        base_url=live.url, timeout=10, trust_env=False, headers=live.headers(Role.VIEWER)
    ) as http:
        answer = http.get("/v1/incidents", params={"limit": 2})
        too_many = http.get("/v1/incidents", params={"limit": 5000})
    assert answer.status_code == 200, answer.text
    assert answer.json()["incidents"] == [
        {
            "ts": "2025-10-01T12:00:00Z",
            "error_class": "DATA",
            "cause": "DataError: bar high below low",
            "action": "PAUSE_SYMBOL",
            "outcome": "ETH/USDT paused, the other symbols trade on; step retried",
            "attempt": 1,
            "symbol": "ETH/USDT",
            "source": "orchestrator",
        },
        {
            "ts": "2025-10-01T12:00:00Z",
            "error_class": "EXEC",
            "cause": "ExecError: read timed out",
            "action": "RETRY",
            "outcome": "step retried",
            "attempt": 1,
            "symbol": None,
            "source": "orchestrator",
        },
    ]
    assert too_many.status_code == 422
    assert "limit" in too_many.text
