"""OpenTelemetry traces of the API and the worker, configured by the standard OTEL_* variables.

Tracing is on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER=otlp; OTEL_TRACES_EXPORTER=none
or OTEL_SDK_DISABLED=true turns it off. Spans leave in batches over OTLP/HTTP (protobuf).
The SDK reads the rest itself: the sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG),
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, the exporter's headers, timeout and compression.

Off, nothing is installed: no SDK provider, no instrumentation, no interceptor, so a request
costs what it did without tracing. On, one trace follows an order: POST /orders, the start of
its workflow (Temporal's TracingInterceptor carries the context through the workflow's
headers), each activity and each SQL statement.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from observability.sql_spans import SqlSpans
from observability.trace_context import TRACEPARENT, current_traceparent, untraced

ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
PROTOCOL = "http/protobuf"  # the only one exported here (docker-compose.yml sets it too)
# Probes and scrapes: frequent, and part of no order's story; not even their SQL is traced.
UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics")
# Tracing is about traces: metrics come from observability/metrics.py, not from here.
NO_METRICS = NoOpMeterProvider()


def tracing_requested(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return "otlp" in [name.strip() for name in exporters.split(",")]
    return any(environ.get(name) for name in ENDPOINTS)


def tracer_provider_from_env(service_name: str) -> TracerProvider | None:
    """A provider exporting to the configured OTLP endpoint; None when tracing is off.

    `service_name` unless OTEL_SERVICE_NAME names the process otherwise."""
    if not tracing_requested(os.environ):
        return None
    for name in PROTOCOLS:
        if os.environ.get(name, PROTOCOL) != PROTOCOL:
            raise SystemExit(f"doms: {name}={os.environ[name]}: DOMS exports {PROTOCOL} only")
    service = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=service_resource(service))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def service_resource(service: str) -> Resource:
    """The resource Resource.create makes (OTEL_RESOURCE_ATTRIBUTES, the SDK's own
    attributes, `service` as service.name), hashed once."""
    return OnceHashedResource(Resource.create({SERVICE_NAME: service}))


class OnceHashedResource(Resource):
    """A resource that computes its hash once, when made.

    The OTLP encoder groups a batch's spans by their resource, hashing it once a span, and
    Resource.__hash__ serialises every attribute of the resource to JSON each time: a fifth
    of the encoding's CPU (36 against 45 µs a span of an order). A resource never changes
    once made.
    """

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.attributes, resource.schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


def configure_tracing(service_name: str) -> TracerProvider | None:
    """Install the provider the OTEL_* variables ask for as the global one, if any."""
    provider = tracer_provider_from_env(service_name)
    if provider is not None:
        trace.set_tracer_provider(provider)
    return provider


async def flush_spans(provider: TracerProvider | None) -> None:
    """Export the spans still queued. For the API as it stops: uvicorn ends the process by
    the signal that stopped it, so the provider's exit handler never runs."""
    if provider is not None:
        await asyncio.to_thread(provider.force_flush)


def temporal_interceptors(provider: TracerProvider | None) -> list[Interceptor]:
    """For Client.connect: spans for each start, update and query, and in the workers of
    that client for each workflow and activity, all in the caller's trace."""
    return [TracingInterceptor(provider.get_tracer(__name__))] if provider else []


def trace_engine(engine: AsyncEngine, provider: TracerProvider | None) -> None:
    """A span for each SQL statement on this engine (observability/sql_spans.py).

    Per engine, not SQLAlchemyInstrumentor's way: that one is a process-wide singleton
    patching every engine made after it.
    """
    if provider is None:
        return
    SqlSpans(provider.get_tracer("doms.sql"), engine.sync_engine)


def trace_app(app: FastAPI, provider: TracerProvider | None) -> None:
    """A server span for each request but probes and scrapes, and its traceparent sent back
    in the response."""
    if provider is None:
        return
    app.add_middleware(RequestTracing)  # inside the instrumentation: sees its span
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=NO_METRICS,
        excluded_urls=",".join(f"{path}$" for path in UNTRACED_PATHS),
        exclude_spans=["receive", "send"],
    )


class RequestTracing:
    """Answers a traced request with the `traceparent` of its server span, so the client can
    find its trace (an order's, for POST /orders); runs probes and scrapes untraced."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] in UNTRACED_PATHS:
            with untraced():
                await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, _with_traceparent(send, current_traceparent()))


def _with_traceparent(send: Send, traceparent: str | None) -> Send:
    if traceparent is None:
        return send
    header = (TRACEPARENT.encode(), traceparent.encode())

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), header]}
        await send(message)

    return sending
