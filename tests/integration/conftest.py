"""Integration fixtures: a fresh app database per test, once on SQLite and once on PostgreSQL.

Each backend's database is migrated and seeded once per session; every test gets a copy.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from postgres import BACKENDS, PostgresServer
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import OrderDesk, Stockroom

from store.db import create_engine, session_factory
from store.migrate import upgrade_to_head
from store.seed import seed_network_spec

POOL_SIZE = 20  # the most transactions a test runs at once; the rest queue for a connection


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
