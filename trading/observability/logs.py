"""Structured logs: ``json`` lines (one object per record) carrying the trace and span ids of the
span current when the record was made, the actor and, where given (``extra={"symbol": ...}``),
the symbol; or the ``text`` format with the same ids appended. Each process (actor) installs
its handler once (``configure_logging``); its lines land in Ray's worker log files.

Not Ray's ``LoggingConfig(encoding="JSON")``: it is set once per job at ``ray.init`` (a Serve
replica or a detached actor of another driver keeps its own), and it knows Ray's ids, not the
OpenTelemetry span a record was made in; a handler installed by each actor from its settings
is the same in the driver, the actors and the router replicas."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

from opentelemetry import trace

LogFormat = Literal["text", "json"]
TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [%(actor)s trace=%(trace_id)s span=%(span_id)s] %(message)s"
)
_CONTEXT_FIELDS = ("symbol", "client_order_id", "timeframe")
_HANDLER_NAME = "raytrader"


class TraceContextFilter(logging.Filter):
    """Sets ``trace_id``, ``span_id`` (hex; empty outside a recorded span) and ``actor`` on
    every record it sees."""

    def __init__(self, actor: str) -> None:
        super().__init__()
        self.actor = actor

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = f"{context.trace_id:032x}" if context.is_valid else ""
        record.span_id = f"{context.span_id:016x}" if context.is_valid else ""
        record.actor = getattr(record, "actor", self.actor)
        return True


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, message, actor, trace_id,
    span_id, the context fields a record carries, and the exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "actor": getattr(record, "actor", ""),
            "trace_id": getattr(record, "trace_id", ""),
            "span_id": getattr(record, "span_id", ""),
        }
        line.update({k: str(v) for k in _CONTEXT_FIELDS if (v := getattr(record, k, None))})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def log_handler(log_format: LogFormat, actor: str) -> logging.Handler:
    """A stderr handler in ``log_format`` that stamps trace context and ``actor``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(TraceContextFilter(actor))
    handler.setFormatter(
        JsonLineFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    return handler


def configure_logging(log_format: LogFormat, actor: str, level: int = logging.INFO) -> None:
    """Install this process's handler on the root logger once (a later call replaces it)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
    root.addHandler(log_handler(log_format, actor))
    root.setLevel(level)
