"""One trace follows an order: POST /orders, the start of its workflow, the workflow, each
activity, and their SQL statements. The API and a worker run in this process against the
time-skipping test server, their spans collected in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from lifecycle import running_workers
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.orders import OrderActivities
from api.app import create_app
from domain.access import Role
from domain.network_spec import NetworkSpec
from doms.settings import Settings
from observability.trace_context import untraced
from observability.tracing import temporal_interceptors, trace_engine
from store import api_keys
from store.db import create_engine, session_factory
from workflows.starter import order_workflow_id

ORDER = {
    "customer_id": "c-42",
    "order_type": "standard",
    "destination": {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99},
    "lines": [{"sku": "SKU-0001", "quantity": 2}],
}
# The placement is in the workflow's input (the API sourced and reserved): no `allocate`.
ACTIVITIES = ("ship", "record_delivery")
START_SPAN = "StartWorkflow:Order"  # the relay's start, in the trace of the POST


@pytest.fixture
async def traced_task_queue(
    time_skipping_env: WorkflowEnvironment,
    sqlite_url: str,
    network_spec: NetworkSpec,
    provider: TracerProvider,
    worker_stack: AsyncExitStack,
) -> str:
    """Workers as `doms worker` runs them with tracing on: the interceptor on their client,
    their engine traced."""
    config = time_skipping_env.client.config()
    client = Client(**{**config, "interceptors": temporal_interceptors(provider)})
    engine = create_engine(sqlite_url)
    worker_stack.push_async_callback(engine.dispose)
    trace_engine(engine, provider)
    return await running_workers(
        client, OrderActivities(session_factory(engine), network_spec), worker_stack
    )


@asynccontextmanager
async def traced_api(
    settings: Settings, provider: TracerProvider
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The API as `doms api` runs it with tracing on, served in this process, and a client
    sending an operator key (made on an untraced engine: no part of any trace)."""
    headers = {"Authorization": f"Bearer {await operator_key(settings.app_database_url)}"}
    app = create_app(settings, provider)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://doms", headers=headers) as http,
    ):
        yield app, http


async def operator_key(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            issued = await api_keys.create_key(session, Role.OPERATOR, datetime.now(UTC))
    finally:
        await engine.dispose()
    return issued.token


def api_settings(env: WorkflowEnvironment, sqlite_url: str, task_queue: str) -> Settings:
    return Settings(
        database_url=sqlite_url,
        temporal_address=env.client.service_client.config.target_host,
        task_queue=task_queue,
        speedup=1.0,  # real hours: the test server skips them
    )


async def place_and_deliver(
    env: WorkflowEnvironment, settings: Settings, provider: TracerProvider
) -> tuple[httpx.Response, httpx.Response]:
    """POST an order, let it run to delivery, GET it: (the POST's answer, the GET's)."""
    async with traced_api(settings, provider) as (app, http):
        placed = await http.post("/orders", json=ORDER)
        order_id = placed.json()["order_id"]
        with untraced():  # the test's own wait is no part of the order's trace
            await app.state.intake.relay.wait_started(order_id)
        handle = env.client.get_workflow_handle(order_workflow_id(order_id))
        async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
            await handle.result()
        return placed, await http.get(f"/orders/{order_id}")


class Trace:
    """The finished spans of one trace: the one whose root is a POST /orders."""

    def __init__(self, spans: Sequence[ReadableSpan]) -> None:
        self.root = next(span for span in spans if span.name == "POST /orders")
        assert self.root.context is not None
        self.trace_id = format_trace_id(self.root.context.trace_id)
        self.spans = [
            span
            for span in spans
            if span.context and span.context.trace_id == self.root.context.trace_id
        ]
        self._by_id = {span.context.span_id: span for span in self.spans if span.context}

    def named(self, name: str) -> ReadableSpan:
        found = [span for span in self.spans if span.name == name]
        assert len(found) == 1, (name, self.render())
        return found[0]

    def parent_of(self, name: str) -> str | None:
        return self._parent_name(self.named(name))

    def sql_parents(self) -> set[str | None]:
        """The spans that issued SQL statements."""
        return {self._parent_name(span) for span in self.spans if _is_sql(span)}

    def orphans(self) -> list[ReadableSpan]:
        return [
            span for span in self.spans if span.parent and span.parent.span_id not in self._by_id
        ]

    def _parent_name(self, span: ReadableSpan) -> str | None:
        return self._by_id[span.parent.span_id].name if span.parent else None

    def render(self, parent: int | None = None, depth: int = 0) -> str:
        """The spans as an indented tree, children in start order."""
        lines = []
        for span in sorted(self.spans, key=lambda span: span.start_time or 0):
            if (span.parent.span_id if span.parent else None) == parent and span.context:
                lines.append(f"{'  ' * depth}{span.name} [{span.kind.name.lower()}]")
                if below := self.render(span.context.span_id, depth + 1):
                    lines.append(below)
        return "\n".join(lines)


def _is_sql(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return span.kind is SpanKind.CLIENT and any(key.startswith("db.") for key in attributes)


async def test_an_order_is_one_trace_from_its_post_to_its_delivery(
    time_skipping_env: WorkflowEnvironment,
    sqlite_url: str,
    traced_task_queue: str,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    settings = api_settings(time_skipping_env, sqlite_url, traced_task_queue)

    placed, read = await place_and_deliver(time_skipping_env, settings, provider)

    spans = exporter.get_finished_spans()
    trace = Trace(spans)
    # The relay's polling is no one's trace: the only traces are the order's and the read's.
    assert sorted(span.name for span in spans if span.parent is None) == [
        "GET /orders/{order_id}",
        "POST /orders",
    ]
    print(f"\ntrace {trace.trace_id}:\n{trace.render()}")
    assert trace.root.kind is SpanKind.SERVER and trace.root.parent is None
    assert trace.orphans() == []
    assert trace.parent_of(START_SPAN) == "POST /orders"
    # TracingInterceptor: the workflow's spans are children of the span that started it.
    assert trace.parent_of("RunWorkflow:Order") == START_SPAN
    for activity in ACTIVITIES:
        assert trace.parent_of(f"StartActivity:{activity}") == START_SPAN
        assert trace.parent_of(f"RunActivity:{activity}") == f"StartActivity:{activity}"
    assert {f"RunActivity:{activity}" for activity in ACTIVITIES} <= trace.sql_parents()
    # The workflow did not source the order again: its placement came in its input.
    allocating = {"StartActivity:allocate", "RunActivity:allocate"}
    assert [span.name for span in spans if span.name in allocating] == []
    # The API sources and reserves: those statements are the request's.
    assert "POST /orders" in trace.sql_parents()

    assert trace.root.context is not None
    _, header_trace_id, header_span_id, _ = placed.headers["traceparent"].split("-")
    assert header_trace_id == trace.trace_id
    assert header_span_id == format_span_id(trace.root.context.span_id)
    assert placed.json()["trace_id"] == read.json()["trace_id"] == trace.trace_id
    assert read.json()["status"] == "delivered"
    assert read.headers["traceparent"].split("-")[1] != trace.trace_id  # a read: its own trace
