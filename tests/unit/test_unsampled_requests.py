"""A client can keep its requests out of traces: what `doms bench system` does with its polling,
so that the traced stack is measured on its orders alone."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from doms.bench_tracing import traced_settings
from observability.trace_context import TRACEPARENT, UNSAMPLED_TRACEPARENT
from observability.tracing import trace_app


async def test_every_request_without_trace_context_is_traced_and_unsampled_ones_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in traced_settings("http://127.0.0.1:1").items():
        monkeypatch.setenv(name, value)
    provider = TracerProvider()  # its sampler from OTEL_TRACES_SAMPLER, as in the stack
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    app = FastAPI()

    @app.get("/reports/performance")
    async def performance() -> dict[str, int]:
        return {"orders": 0}

    trace_app(app, provider)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://doms") as http:
        placed_like = await http.get("/reports/performance")
        polled = await http.get(
            "/reports/performance", headers={TRACEPARENT: UNSAMPLED_TRACEPARENT}
        )

    assert placed_like.status_code == polled.status_code == 200
    [span] = exported.get_finished_spans()
    assert span.name == "GET /reports/performance" and span.parent is None
    assert span.context is not None and span.context.trace_flags.sampled
    assert sampled(placed_like.headers[TRACEPARENT])  # the client may look its trace up
    assert not sampled(polled.headers[TRACEPARENT])


def sampled(traceparent: str) -> bool:
    return bool(int(traceparent.rsplit("-", 1)[1], 16) & 0x01)
