"""Integration fixtures: a fresh app database per test, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import make_url, or_, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from domain.orders import Destination, Mode, OrderLine, OrderType
from store.db import create_engine, session_factory
from store.migrate import upgrade_to_head
from store.models import StockRow
from store.orders import NewOrder, OrderWrites, Promise
from store.seed import seed_default_network

POSTGRES_URL = os.environ.get(
    "DOMS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_REQUIRED = os.environ.get("DOMS_REQUIRE_POSTGRES") == "1"
BACKENDS = (
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
)
POOL_SIZE = 20  # the most transactions a test runs at once; the rest queue for a connection

NEWARK = "ewr"
MANHATTAN = Destination("US", "10001", 40.75, -73.99)
OPENING = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PROMISE = Promise(hours=24.0, delivery_at=OPENING + timedelta(hours=24))


class PostgresServer:
    """The test server: hands out throwaway databases, made through its maintenance database."""

    def __init__(self, url: str) -> None:
        self._url = make_url(url)
        self._engine = create_async_engine(
            url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"timeout": 5}
        )
        self._unreachable: str | None = None

    @asynccontextmanager
    async def throwaway_database(self) -> AsyncIterator[str]:
        await self._ensure_reachable()
        name = f"doms_test_{uuid.uuid4().hex}"
        await self._execute(f'CREATE DATABASE "{name}"')
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


@pytest.fixture(params=BACKENDS)
async def empty_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: PostgresServer
) -> AsyncIterator[str]:
    """A fresh database with no tables: a file for SQLite, a throwaway database on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'doms.db'}"
    else:
        async with postgres_server.throwaway_database() as url:
            yield url


@pytest.fixture
async def database_url(empty_database_url: str) -> str:
    """A fresh app database at the newest schema, seeded with the default network."""
    await asyncio.to_thread(upgrade_to_head, empty_database_url)
    await seed_default_network(empty_database_url)
    return empty_database_url


@pytest.fixture
async def db_sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=POOL_SIZE, max_overflow=0)
    yield session_factory(engine)
    await engine.dispose()


class OrderDesk:
    """Builds orders to Manhattan, with ids that grow like the API's, and allocates them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.writes = OrderWrites(sessions)
        self._numbers = itertools.count(1)

    def order(
        self,
        *lines: OrderLine,
        customer_id: str = "c-1",
        order_type: OrderType = OrderType.STANDARD,
        mode: Mode = Mode.DISTRIBUTED,
    ) -> NewOrder:
        number = next(self._numbers)
        return NewOrder(
            order_id=f"{number:06d}-{uuid.uuid4().hex[:8]}",
            customer_id=customer_id,
            order_type=order_type,
            mode=mode,
            destination=MANHATTAN,
            lines=lines,
            speedup=1.0,
            placed_at=OPENING + timedelta(minutes=number),
        )

    async def allocate(self, order: NewOrder, fc_id: str = NEWARK) -> bool:
        return await self.writes.allocate(order, fc_id, PROMISE, order.placed_at)


class Stockroom:
    """Sets and reads stock rows directly, bypassing the code under test."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def put(self, sku: str, units: int, fc_id: str = NEWARK) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(StockRow)
                .where(StockRow.fc_id == fc_id, StockRow.sku == sku)
                .values(on_hand=units, available=units, reserved=0, shipped=0)
            )
            await session.commit()

    async def units(self, sku: str, fc_id: str = NEWARK) -> dict[str, int]:
        async with self._sessions() as session:
            row = await session.get_one(StockRow, (fc_id, sku))
            return {
                "on_hand": row.on_hand,
                "available": row.available,
                "reserved": row.reserved,
                "shipped": row.shipped,
            }

    async def rows_off_balance(self) -> list[tuple[str, str]]:
        """Rows where on_hand != available + reserved + shipped, or a count is negative."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(StockRow.fc_id, StockRow.sku).where(
                    or_(
                        StockRow.on_hand
                        != StockRow.available + StockRow.reserved + StockRow.shipped,
                        StockRow.available < 0,
                        StockRow.reserved < 0,
                        StockRow.shipped < 0,
                    )
                )
            )
            return [(fc_id, sku) for fc_id, sku in rows]


@pytest.fixture
def desk(db_sessions: async_sessionmaker[AsyncSession]) -> OrderDesk:
    return OrderDesk(db_sessions)


@pytest.fixture
def stockroom(db_sessions: async_sessionmaker[AsyncSession]) -> Stockroom:
    return Stockroom(db_sessions)
