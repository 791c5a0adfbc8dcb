"""observability/sql_spans.py: one client span per statement, in the caller's trace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from observability.sql_spans import SqlSpans
from observability.trace_context import untraced


@pytest.fixture
def engine(tmp_path: Path, provider: TracerProvider) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'spans.db'}")
    SqlSpans(provider.get_tracer(__name__), engine)
    yield engine
    engine.dispose()


def test_each_statement_is_a_client_span_named_by_its_operation_and_database(
    engine: Engine, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (a INTEGER)"))
        connection.execute(text("insert into t (a) values (1)"))
        connection.execute(text("SELECT a FROM t"))

    spans = exporter.get_finished_spans()
    database = str(tmp_path / "spans.db")
    assert [span.name for span in spans] == [
        f"CREATE {database}",
        f"INSERT {database}",
        f"SELECT {database}",
    ]
    select = spans[-1]
    assert select.kind is SpanKind.CLIENT
    assert dict(select.attributes or {}) == {
        "db.system": "sqlite",
        "db.name": database,
        "db.statement": "SELECT a FROM t",
    }
    assert select.status.status_code is StatusCode.UNSET


def test_a_statement_runs_in_the_span_that_issued_it(
    engine: Engine, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracer = provider.get_tracer(__name__)
    with tracer.start_as_current_span("RunActivity:allocate") as parent, engine.connect() as c:
        c.execute(text("SELECT 1"))

    (statement,) = [span for span in exporter.get_finished_spans() if span.name != parent.name]
    assert statement.parent is not None
    assert statement.parent.span_id == parent.get_span_context().span_id
    assert statement.context is not None
    assert statement.context.trace_id == parent.get_span_context().trace_id


def test_a_failing_statement_ends_its_span_with_an_error(
    engine: Engine, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(OperationalError), engine.connect() as connection:
        connection.execute(text("SELECT missing FROM nowhere"))

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert "nowhere" in (span.status.description or "")


def test_untraced_work_records_no_statement(engine: Engine, exporter: InMemorySpanExporter) -> None:
    with untraced(), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with engine.connect() as connection:
        connection.execute(text("SELECT 2"))

    assert [
        dict(span.attributes or {})["db.statement"] for span in exporter.get_finished_spans()
    ] == ["SELECT 2"]


def test_a_server_database_names_its_host_port_and_user(provider: TracerProvider) -> None:
    engine = create_async_engine("postgresql+asyncpg://doms@db.internal:6432/orders")
    spans = SqlSpans(provider.get_tracer(__name__), engine.sync_engine)
    assert spans.engine_attributes == {
        "db.system": "postgresql",
        "db.name": "orders",
        "db.user": "doms",
        "net.peer.name": "db.internal",
        "net.peer.port": 6432,
    }
