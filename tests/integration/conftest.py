"""Integration fixtures: a fresh app database per test, once on SQLite and once on PostgreSQL.

Each backend's database is migrated and seeded once per session; every test gets a copy.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from warehouse import OrderDesk, Stockroom

from store.db import create_engine, session_factory
from store.migrate import upgrade_to_head
from store.seed import seed_network_spec

POSTGRES_URL = os.environ.get(
    "DOMS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_REQUIRED = os.environ.get("DOMS_REQUIRE_POSTGRES") == "1"
BACKENDS = (
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
)
POOL_SIZE = 20  # the most transactions a test runs at once; the rest queue for a connection


class PostgresServer:
    """The test server: hands out throwaway databases, made through its maintenance database."""

    def __init__(self, url: str) -> None:
        self._url = make_url(url)
        self._engine = create_async_engine(
            url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"timeout": 5}
        )
        self._unreachable: str | None = None

    @asynccontextmanager
    async def throwaway_database(self, template: str | None = None) -> AsyncIterator[str]:
        """A new database, empty or a copy of the `template` database."""
        await self._ensure_reachable()
        name = f"doms_test_{uuid.uuid4().hex}"
        copy_of = f' TEMPLATE "{template}"' if template else ""
        await self._execute(f'CREATE DATABASE "{name}"{copy_of}')
        try:
            yield self._url.set(database=name).render_as_string(hide_password=False)
        finally:
            await self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def close(self) -> None:
        await self._engine.dispose()

    async def _ensure_reachable(self) -> None:
        if self._unreachable is None:
            try:
                await self._execute("SELECT 1")
                self._unreachable = ""
            except (OSError, SQLAlchemyError) as exc:
                self._unreachable = f"{type(exc).__name__}: {exc}".strip()
        if self._unreachable:
            where = f"{self._url.host}:{self._url.port or 5432}"
            if POSTGRES_REQUIRED:
                pytest.fail(f"PostgreSQL at {where} is required in CI: {self._unreachable}")
            pytest.skip(
                f"!!! PostgreSQL at {where} is unreachable, its tests did NOT run "
                f"(set DOMS_TEST_POSTGRES_URL, or DOMS_REQUIRE_POSTGRES=1 to fail): "
                f"{self._unreachable}"
            )

    async def _execute(self, statement: str) -> None:
        async with self._engine.connect() as connection:
            await asyncio.wait_for(connection.execute(text(statement)), timeout=30)


@pytest.fixture(scope="session")
async def postgres_server() -> AsyncIterator[PostgresServer]:
    server = PostgresServer(POSTGRES_URL)
    yield server
    await server.close()


class SeededDatabases:
    """Migrates and seeds one database per backend, once; each test starts from a copy of it."""

    def __init__(self, server: PostgresServer, directory: Path) -> None:
        self._server = server
        self._directory = directory
        self._templates = AsyncExitStack()
        self._sqlite: Path | None = None
        self._postgres: str | None = None  # the template database's name

    @asynccontextmanager
    async def copy(self, backend: str, directory: Path) -> AsyncIterator[str]:
        if backend == "sqlite":
            copy = directory / "doms.db"
            shutil.copyfile(await self._sqlite_template(), copy)
            yield f"sqlite+aiosqlite:///{copy}"
        else:
            template = await self._postgres_template()
            async with self._server.throwaway_database(template) as url:
                yield url

    async def close(self) -> None:
        await self._templates.aclose()

    async def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self._directory / "template.db"
            await migrated_and_seeded(f"sqlite+aiosqlite:///{path}")
            self._sqlite = path  # the last connection closed, so its WAL is checkpointed
        return self._sqlite

    async def _postgres_template(self) -> str:
        if self._postgres is None:
            url = await self._templates.enter_async_context(self._server.throwaway_database())
            await migrated_and_seeded(url)
            self._postgres = make_url(url).database
        assert self._postgres is not None
        return self._postgres


async def migrated_and_seeded(url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, url)
    await seed_network_spec(url)


@pytest.fixture(scope="session")
async def seeded_databases(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SeededDatabases]:
    databases = SeededDatabases(postgres_server, tmp_path_factory.mktemp("seeded"))
    yield databases
    await databases.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def empty_database_url(
    backend: str, tmp_path: Path, postgres_server: PostgresServer
) -> AsyncIterator[str]:
    """A fresh database with no tables: a file for SQLite, a throwaway database on PostgreSQL."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'doms.db'}"
    else:
        async with postgres_server.throwaway_database() as url:
            yield url


@pytest.fixture
async def database_url(
    backend: str, tmp_path: Path, seeded_databases: SeededDatabases
) -> AsyncIterator[str]:
    """A fresh app database at the newest schema, seeded with the default network."""
    async with seeded_databases.copy(backend, tmp_path) as url:
        yield url


@pytest.fixture
async def db_sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=POOL_SIZE, max_overflow=0)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def desk(db_sessions: async_sessionmaker[AsyncSession]) -> OrderDesk:
    return OrderDesk(db_sessions)


@pytest.fixture
def stockroom(db_sessions: async_sessionmaker[AsyncSession]) -> Stockroom:
    return Stockroom(db_sessions)
