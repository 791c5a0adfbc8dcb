"""Fixtures of the end-to-end tests.

Starting `doms up` is the dearest step of these tests, so the modules that only need a
running system share one per kind for the whole session (started on first use, stopped,
checking a clean exit, at the end). A module whose tests need a system of their own
(other settings, kills, restarts, fuzzing) starts one itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from postgres import PostgresServer
from system import FAST_SPEEDUP, RunningSystem, app_database, every_order_final, running_system


@pytest.fixture(scope="session")
async def shared_sqlite_system(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningSystem]:
    var_dir = tmp_path_factory.mktemp("doms-var-sqlite")
    async with running_system(var_dir, speedup=FAST_SPEEDUP) as system:
        yield system


@pytest.fixture(scope="session")
async def shared_postgres_system(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> AsyncIterator[RunningSystem]:
    var_dir = tmp_path_factory.mktemp("doms-var-postgres")
    async with (
        app_database("postgres", postgres_server) as settings,
        running_system(var_dir, speedup=FAST_SPEEDUP, **settings) as system,
    ):
        yield system


@pytest.fixture(scope="module")
def fast_system(request: pytest.FixtureRequest) -> RunningSystem:
    """The system with time compressed 36,000 times: an order lives a few real seconds.

    Its app database is SQLite, in its var dir; a module marked `on_sqlite_and_postgres`
    (system.py) runs once on that and once on a throwaway PostgreSQL database.
    """
    backend = getattr(request, "param", "sqlite")
    # Not async: an async fixture cannot set up another one (the event loop is running).
    system: RunningSystem = request.getfixturevalue(f"settled_{backend}_system")
    return system


@pytest.fixture(scope="module")
async def settled_sqlite_system(shared_sqlite_system: RunningSystem) -> RunningSystem:
    """The shared system once every order of earlier modules is final, so that what a
    module measures (stock, counters) moves only by what it does."""
    await every_order_final(shared_sqlite_system)
    return shared_sqlite_system


@pytest.fixture(scope="module")
async def settled_postgres_system(shared_postgres_system: RunningSystem) -> RunningSystem:
    """As settled_sqlite_system, on PostgreSQL."""
    await every_order_final(shared_postgres_system)
    return shared_postgres_system


@pytest.fixture(scope="session")
async def slow_system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    """The system at speedup 60: nothing dispatches while a test looks at its stock. Its
    users (backorders, customer actions) each keep to SKUs of their own."""
    async with running_system(tmp_path_factory.mktemp("doms-slow"), speedup=60) as system:
        yield system
