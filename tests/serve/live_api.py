"""A small live session for the API tests: every actor, a few steps of real data, Serve."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ray

from actors.orchestrator import Handles
from actors.serving import start_serve
from actors.session import SessionOptions, start_actors, stop_actors
from serve.app import start_api, stop_api
from trading.config import load_settings

FIRST_CLOCK = datetime(2025, 10, 1, 0, 15, tzinfo=UTC)
STEP = timedelta(minutes=15)


@dataclass(frozen=True)
class LiveApi:
    url: str
    handles: Handles
    orchestrator: Any
    data_dir: Path
    steps: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def live_api(data_dir: Path, steps: int = 4) -> Iterator[LiveApi]:
    """Start the actors, run ``steps`` 15m steps from 2025-10-01T00:15Z, serve the API."""
    port = free_port()
    start_serve(port)  # the API's address, before the LLM router pool starts Serve without one
    handles, orchestrator = start_actors(
        SessionOptions(settings=load_settings(), data_dir=data_dir, max_bars=steps * 3 + 3)
    )
    try:
        for i in range(steps):
            ray.get(orchestrator.step.remote(FIRST_CLOCK + i * STEP))
        url = start_api(handles, orchestrator, port)
        try:
            yield LiveApi(url, handles, orchestrator, data_dir, steps)
        finally:
            stop_api()
    finally:
        stop_actors(handles, orchestrator)
