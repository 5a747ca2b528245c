"""The cluster's one Ray Serve instance, shared by the HTTP API and the LLM router pool.

Serve's HTTP options are fixed by whoever starts it first: the API starts it with its proxy on
loopback, the router pool (handle-only) with no proxy when it comes first, so a session that
serves the API starts Serve with the API's port before the pool. Each application is deleted on
its own; Serve shuts down with the last one, so the next start may choose other HTTP options.
"""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.context import _get_global_client

from trading.security.tls import Tls

LOOPBACK = "127.0.0.1"
SERVE_LOGGING = {"log_level": "WARNING", "enable_access_log": False}


class ServeHttpError(RuntimeError):
    """Serve runs already without the HTTP proxy asked for (its HTTP options are fixed at start)."""


def start_serve(port: int | None = None, host: str = LOOPBACK, tls: Tls | None = None) -> None:
    """Start Serve unless it runs: with its HTTP proxy on ``host:port`` (HTTPS with ``tls``),
    or with no proxy when ``port`` is None (handle-only applications)."""
    running = _serve_details()
    if running is None:
        if port is None:
            serve.start(proxy_location="Disabled", logging_config=SERVE_LOGGING)
        else:
            options = {"host": host, "port": port, **(tls.http_options() if tls else {})}
            serve.start(http_options=options, logging_config=SERVE_LOGGING)
        return
    if port is None:
        return
    _check_proxy(running, host, port)


def _check_proxy(running: dict[str, Any], host: str, port: int) -> None:
    """A running Serve must already proxy HTTP on ``host:port``: its address cannot change."""
    http, location = running["http_options"], running["proxy_location"]
    if location == "Disabled" or (http["host"], http["port"]) != (host, port):
        serving = (
            "no HTTP proxy" if location == "Disabled" else f"HTTP on {http['host']}:{http['port']}"
        )
        raise ServeHttpError(
            f"Serve runs with {serving}, not on {host}:{port}: start Serve with the API's "
            "address (actors.serving.start_serve) before the router pool"
        )


def delete_app(name: str) -> None:
    """Delete one Serve application (and its replicas); shut Serve down once none is left."""
    if _serve_details() is None:
        return
    serve.delete(name)
    if not serve.status().applications:
        serve.shutdown()  # type: ignore[no-untyped-call]


def _serve_details() -> dict[str, Any] | None:
    """What the running Serve controller reports (HTTP options, proxy location), or None."""
    client = _get_global_client(raise_if_no_controller_running=False)
    if client is None:
        return None
    details: dict[str, Any] = client.get_serve_details()
    return details
