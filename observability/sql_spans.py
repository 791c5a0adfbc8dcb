"""A client span for each SQL statement an engine runs, in the trace of whatever ran it.

The spans carry what OpenTelemetry's SQLAlchemy instrumentation (EngineTracer) records with
its default conventions — name `<operation> <database>`, db.system, db.name, db.user,
net.peer.name, net.peer.port, db.statement — for about two thirds of its cost per statement
(40-50 against 55-90 µs here), which counts: SQL statements are 18 of an order's ~29 spans.
EngineTracer asks the URL and the cursor for the connection's attributes on every statement,
then sets each attribute on the started span one call (and one lock) at a time; here what
never changes for an engine is read once, and every attribute is handed to the SDK when the
span starts. Statements run under `suppress_instrumentation`
(observability.trace_context.untraced) are not traced.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

_SPAN = "_doms_sql_span"  # the attribute of an execution context holding its span


class SqlSpans:
    """Listens to one engine's statements; see the module's docstring."""

    def __init__(self, tracer: Tracer, engine: Engine) -> None:
        self._tracer = tracer
        url = engine.url
        self._database = url.database or ""
        self._system = engine.dialect.name
        fixed: dict[str, AttributeValue] = {"db.system": self._system}
        if url.database:
            fixed["db.name"] = url.database
        if url.username:
            fixed["db.user"] = url.username
        if url.host:
            fixed["net.peer.name"] = url.host
        if url.port:
            fixed["net.peer.port"] = url.port
        self.engine_attributes = fixed  # the same for every statement
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "handle_error", self._failed)

    def _before(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if context is None or not is_instrumentation_enabled():
            return
        words = statement.split(None, 1)
        operation = words[0].upper() if words else ""
        span = self._tracer.start_span(
            " ".join(part for part in (operation, self._database) if part) or self._system,
            kind=SpanKind.CLIENT,
            attributes={**self.engine_attributes, "db.statement": statement},
        )
        setattr(context, _SPAN, span)

    def _after(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        span = getattr(context, _SPAN, None)
        if span is not None:
            span.end()
            setattr(context, _SPAN, None)

    def _failed(self, failure: ExceptionContext) -> None:
        span = getattr(failure.execution_context, _SPAN, None)
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, str(failure.original_exception)))
            span.end()
            setattr(failure.execution_context, _SPAN, None)
