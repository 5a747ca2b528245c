"""Structured logs: JSON lines with the current trace and span ids, the actor and the symbol;
the CLI's flags set the format, the OTLP endpoint and the sampling ratio."""

from __future__ import annotations

import argparse
import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider

from actors.cli import _observability, build_parser
from trading.config import load_settings
from trading.observability.logs import configure_logging, log_handler


def _logged(log_format: str, emit: object) -> str:
    stream = io.StringIO()
    handler = log_handler(log_format, "risk")  # type: ignore[arg-type]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logger = logging.getLogger("raytrader.test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        assert callable(emit)
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_json_line_carries_the_current_trace_and_span_ids() -> None:
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("risk.decide") as span:
        context = span.get_span_context()
        line = _logged(
            "json", lambda log: log.warning("denied %s", "rt-1", extra={"symbol": "BTC/USDT"})
        )
    record = json.loads(line)
    assert record["message"] == "denied rt-1"
    assert record["level"] == "WARNING"
    assert record["actor"] == "risk"
    assert record["symbol"] == "BTC/USDT"
    assert record["trace_id"] == f"{context.trace_id:032x}"
    assert record["span_id"] == f"{context.span_id:016x}"
    assert record["ts"].endswith("+00:00")


def test_outside_a_span_the_ids_are_empty_and_text_shows_them_too() -> None:
    record = json.loads(_logged("json", lambda log: log.error("no span")))
    assert (record["trace_id"], record["span_id"]) == ("", "")
    text = _logged("text", lambda log: log.error("plain"))
    assert text.rstrip().endswith("raytrader.test [risk trace= span=] plain")


def test_an_exception_is_one_json_line() -> None:
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("bad mark")
        except ValueError:
            log.exception("failed")

    lines = _logged("json", emit).splitlines()
    assert len(lines) == 1
    assert "ValueError: bad mark" in json.loads(lines[0])["exc"]


def test_configure_logging_installs_one_handler_per_process() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        configure_logging("json", "orchestrator")
        configure_logging("text", "orchestrator")
        ours = [h for h in root.handlers if h.get_name() == "raytrader"]
        assert len(ours) == 1
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)


def test_run_flags_set_log_format_otlp_endpoint_and_sampling() -> None:
    args = build_parser().parse_args(
        [
            "run",
            "--log-format",
            "json",
            "--otlp-endpoint",
            "http://127.0.0.1:4318/v1/traces",
            "--trace-sample-ratio",
            "0.25",
        ]
    )
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        observability = _observability(args, load_settings()).observability
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
    assert observability.log_format == "json"
    assert observability.otlp_endpoint == "http://127.0.0.1:4318/v1/traces"
    assert observability.sample_ratio == 0.25
    default = build_parser().parse_args(["run"])
    assert isinstance(default, argparse.Namespace)
    assert default.otlp_endpoint is None  # tracing stays off unless asked


@pytest.mark.parametrize(
    ("flag", "value", "error"),
    [
        ("--otlp-endpoint", "127.0.0.1:4318", "not an http(s) URL: '127.0.0.1:4318'"),
        ("--trace-sample-ratio", "1.5", "must be a number from 0 to 1, got '1.5'"),
        ("--log-format", "xml", "invalid choice: 'xml'"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(
    flag: str, value: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", flag, value])
    assert exit_.value.code == 2
    assert error in capsys.readouterr().err.splitlines()[-1]
