"""One call per process (each actor's constructor, the CLI's driver): its structured logs and
its traces, from ``ObservabilitySettings``."""

from __future__ import annotations

from trading.config import ObservabilitySettings
from trading.observability.logs import configure_logging
from trading.observability.tracing import configure_tracing


def configure_observability(settings: ObservabilitySettings, actor: str) -> bool:
    """Logs in ``settings.log_format`` stamped with ``actor`` and the current trace; traces
    exported when ``settings.otlp_endpoint`` is set (returns whether they are)."""
    configure_logging(settings.log_format, actor)
    return configure_tracing(settings, actor)
