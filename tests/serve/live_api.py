"""A small live session for the API tests: every actor, a few steps of real data, Serve, and
one API token per role in the session's token store."""

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
from serve.app import guard_config, start_api, stop_api
from trading.config import SecuritySettings, load_settings
from trading.security.tls import Tls
from trading.security.tokens import Role, TokenStore

FIRST_CLOCK = datetime(2025, 10, 1, 0, 15, tzinfo=UTC)
STEP = timedelta(minutes=15)


@dataclass(frozen=True)
class LiveApi:
    url: str
    handles: Handles
    orchestrator: Any
    data_dir: Path
    steps: int
    tokens: dict[Role, str]
    security: SecuritySettings

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def role_tokens(data_dir: Path) -> dict[Role, str]:
    """One token per role in ``<data_dir>/tokens.json``."""
    store = TokenStore(data_dir / "tokens.json")
    return {role: store.create(role)[1] for role in Role}


@contextmanager
def live_api(
    data_dir: Path,
    steps: int = 4,
    security: SecuritySettings | None = None,
    tls: Tls | None = None,
) -> Iterator[LiveApi]:
    """Start the actors, run ``steps`` 15m steps from 2025-10-01T00:15Z, serve the API (reloads
    allowed from ``<data_dir>/configs`` unless ``security`` says otherwise; HTTPS with ``tls``)."""
    security = security or SecuritySettings(reload_dir=str(data_dir / "configs"))
    tokens = role_tokens(data_dir)
    port = free_port()
    # the API's address, before the LLM router pool starts Serve without one
    start_serve(port, tls=tls)
    handles, orchestrator = start_actors(
        SessionOptions(settings=load_settings(), data_dir=data_dir, max_bars=steps * 3 + 12)
    )
    try:
        for i in range(steps):
            ray.get(orchestrator.step.remote(FIRST_CLOCK + i * STEP))
        guard = guard_config(security, data_dir)
        url = start_api(handles, orchestrator, port, guard=guard, tls=tls)
        try:
            yield LiveApi(url, handles, orchestrator, data_dir, steps, tokens, security)
        finally:
            stop_api()
    finally:
        stop_actors(handles, orchestrator)
