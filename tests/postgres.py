"""The PostgreSQL server the tests use: throwaway databases, and a loud skip when it is missing.

Tests that need PostgreSQL skip on a machine without it, saying so, but fail when
DOMS_REQUIRE_POSTGRES=1 (CI sets it). DOMS_TEST_POSTGRES_URL points them at another server.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

POSTGRES_URL = os.environ.get(
    "DOMS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_REQUIRED = os.environ.get("DOMS_REQUIRE_POSTGRES") == "1"
# The app database backends, as the parameters of a fixture or test that runs on both.
BACKENDS = (
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
)


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
