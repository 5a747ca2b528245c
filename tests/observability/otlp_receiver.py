"""A tiny OTLP/HTTP trace receiver on 127.0.0.1: decodes each ``ExportTraceServiceRequest``
(protobuf, as ``opentelemetry-exporter-otlp-proto-http`` posts it) into ``ReceivedSpan``s."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    actor: str
    attributes: dict[str, object]
    events: tuple[tuple[str, dict[str, object]], ...] = ()


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind is not None else None


def decode(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        actor=str(resource.get("raytrader.actor", "")),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        events=tuple(
                            (e.name, {a.key: _value(a.value) for a in e.attributes})
                            for e in span.events
                        ),
                    )
                )
    return spans


class Receiver:
    """Spans received so far (thread-safe) and the endpoint URL to export to; with ``decode``
    off (a benchmark's collector: no CPU taken from the box measured) only requests count."""

    def __init__(self, decode: bool = True) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self.decode = decode
        self.lock = threading.Lock()
        self.url = ""

    def take(self, body: bytes) -> None:
        spans = decode(body) if self.decode else []
        with self.lock:
            self.spans.extend(spans)
            self.requests += 1

    def snapshot(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces" or (
                self.headers.get("Content-Type") != "application/x-protobuf"
            ):
                self.send_error(404)
                return
            receiver.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads the spans, not the access log."""

    return Handler


@contextmanager
def otlp_receiver(decode: bool = True) -> Iterator[Receiver]:
    receiver = Receiver(decode)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
