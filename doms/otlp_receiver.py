"""A small OTLP/HTTP trace receiver: where `doms bench system` sends its traced stack's spans.

It takes POST /v1/traces as a collector does (protobuf, gzip or not), counts the spans and
answers with an empty ExportTraceServiceResponse; GET /counts says how many arrived. It runs
as a process of its own, so receiving costs neither the stack nor the load generator:

    python -m doms.otlp_receiver PORT
"""

from __future__ import annotations

import gzip
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

TRACES_PATH = "/v1/traces"
COUNTS_PATH = "/counts"
PROTOBUF = "application/x-protobuf"


def span_count(body: bytes) -> int:
    """The spans in one export request."""
    request = ExportTraceServiceRequest.FromString(body)
    return sum(len(scope.spans) for spans in request.resource_spans for scope in spans.scope_spans)


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self._lock = threading.Lock()
        self.requests = 0
        self.spans = 0

    def received(self, spans: int) -> None:
        with self._lock:
            self.requests += 1
            self.spans += spans

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self.requests, "spans": self.spans}


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"  # the exporter keeps its connection open

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != TRACES_PATH:
            self._answer(404, b"", "text/plain")
            return
        try:
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            spans = span_count(body)
        except (DecodeError, OSError) as error:
            self._answer(400, str(error).encode(), "text/plain")
            return
        self.server.received(spans)
        self._answer(200, ExportTraceServiceResponse().SerializeToString(), PROTOBUF)

    def do_GET(self) -> None:
        if self.path != COUNTS_PATH:
            self._answer(404, b"", "text/plain")
            return
        self._answer(200, json.dumps(self.server.counts()).encode(), "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: one line per export request would only be noise."""


def main(argv: list[str]) -> int:
    receiver = Receiver(int(argv[0]))
    stop = threading.Thread(target=receiver.shutdown, daemon=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.start())
    receiver.serve_forever()
    receiver.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
