"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from postgres import PostgresServer
from system import RunningSystem, app_database, system_env


@pytest.fixture(scope="module")
async def fast_system(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
) -> AsyncIterator[RunningSystem]:
    """The system with time compressed 36,000 times: an order lives a few real seconds.

    Its app database is SQLite, in its var dir; a module marked `on_sqlite_and_postgres`
    (system.py) runs once on that and once on a throwaway PostgreSQL database.
    """
    backend = getattr(request, "param", "sqlite")
    var_dir = tmp_path_factory.mktemp(f"doms-var-{backend}")
    async with app_database(backend, postgres_server) as settings:
        system = RunningSystem(var_dir, system_env(var_dir, speedup=36_000, **settings))
        await system.start()
        yield system
        assert system.stop() == 0, system.log_tail()
