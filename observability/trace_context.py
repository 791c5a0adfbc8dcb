"""The current trace, for what outlives a request: the trace id an order keeps, and the W3C
`traceparent` its workflow is started under, so that later steps join the request's trace.

Only the OpenTelemetry API: with tracing off there is no current span, and each of these
answers None (or does nothing) for the price of a context lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
# A W3C traceparent whose flags say "not sampled". A client that sends it keeps its requests
# out of traces wherever the sampler honours the parent's decision (parent-based samplers,
# OpenTelemetry's default): `doms bench system` polls the order counts with it.
UNSAMPLED_TRACEPARENT = f"00-{1:032x}-{1:016x}-00"
_W3C = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span; None outside any span."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT)


def current_trace_id() -> str | None:
    """The current trace's id (32 hex digits) if the trace is recorded (sampled), else None."""
    span_context = trace.get_current_span().get_span_context()
    if not (span_context.is_valid and span_context.trace_flags.sampled):
        return None
    return trace.format_trace_id(span_context.trace_id)


@contextmanager
def continued(traceparent: str | None) -> Iterator[None]:
    """Run the block in the trace of `traceparent`: its spans become children of that span."""
    if traceparent is None:
        yield
        return
    token = context.attach(_W3C.extract({TRACEPARENT: traceparent}))
    try:
        yield
    finally:
        context.detach(token)


@contextmanager
def untraced() -> Iterator[None]:
    """Housekeeping that belongs to no request (a relay's polling): instrumented libraries
    record no spans for it, rather than one trace per statement."""
    with suppress_instrumentation():
        yield
