"""A transaction cancelled midway (a step's timeout) is rolled back, and the engine stays usable.

Cancelling a statement makes SQLAlchemy discard its connection. On SQLite that used to fail
twice: the writers' queue read the discarded connection in the rollback and raised
PendingRollbackError instead of the cancellation, and the discarded connection kept its
transaction, and SQLite's write lock, until the garbage collector freed its statement.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.db import BUSY_TIMEOUT_SECONDS, create_engine, session_factory

# Less than SQLite's busy timeout: a write that waits on a leftover lock fails this test
# instead of eventually succeeding.
NEXT_WRITE_SECONDS = BUSY_TIMEOUT_SECONDS / 2
BLOCK_SECONDS = 30.0  # how long a blocked statement waits at most, should the test fail


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=3, max_overflow=0)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE scratch (n INTEGER PRIMARY KEY)"))
        await connection.execute(text("INSERT INTO scratch (n) VALUES (0)"))
    yield engine
    await engine.dispose()


def when_statement_starts(engine: AsyncEngine, marker: str, started: asyncio.Event) -> None:
    """Set `started` as a statement containing `marker` is about to run."""

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if marker in statement:
            started.set()

    event.listen(engine.sync_engine, "before_cursor_execute", before)


async def write_after_cancel(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    """A new write commits promptly; the rows then in the table."""
    async with asyncio.timeout(NEXT_WRITE_SECONDS), sessions() as session:
        await session.execute(text("INSERT INTO scratch (n) VALUES (3)"))
        await session.commit()
        rows = await session.execute(text("SELECT n FROM scratch ORDER BY n"))
        return list(rows.scalars())


async def cancel(task: asyncio.Task[None], then: Callable[[], object] = lambda: None) -> object:
    """Cancel `task`, call `then`, and return how the task ended: its exception or result."""
    task.cancel()
    then()
    (ending,) = await asyncio.gather(task, return_exceptions=True)
    return ending


async def test_a_write_cancelled_while_another_holds_the_lock_is_rolled_back(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    holding, done, writing = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with sessions() as session:  # SQLite's write lock, and row 0's on PostgreSQL
            await session.execute(text("UPDATE scratch SET n = 0 WHERE n = 0"))
            holding.set()
            await done.wait()
            await session.commit()

    async def step() -> None:
        async with sessions() as session:
            await session.execute(text("SELECT n FROM scratch"))  # in a transaction now
            writing.set()  # seen once this task waits inside the UPDATE, which cannot finish
            await session.execute(text("UPDATE scratch SET n = 2 WHERE n = 0"))
            await session.commit()

    holding_task = asyncio.create_task(holder())
    await holding.wait()
    step_task = asyncio.create_task(step())
    await writing.wait()
    ending = await cancel(step_task)
    done.set()
    await holding_task

    assert isinstance(ending, asyncio.CancelledError), ending  # not PendingRollbackError
    assert await write_after_cancel(sessions) == [0, 3]


# On SQLite a statement runs on the event loop's thread (store/sqlite_inline.py): nothing can
# cancel it midway, so only PostgreSQL's statements can be cancelled inside.
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_transaction_cancelled_inside_a_statement_after_its_write_is_rolled_back(
    engine: AsyncEngine, backend: str
) -> None:
    sessions = session_factory(engine)
    blocking, unblock = asyncio.Event(), threading.Event()
    block = await blocking_statement(engine, backend, blocking, unblock)

    async def step() -> None:
        async with sessions() as session:
            await session.execute(text("INSERT INTO scratch (n) VALUES (1)"))
            await session.execute(text(block))
            await session.commit()

    async with holding_advisory_lock(engine, backend):
        step_task = asyncio.create_task(step())
        await blocking.wait()
        ending = await cancel(step_task, then=unblock.set)  # SQLite cannot stop a statement

    assert isinstance(ending, asyncio.CancelledError), ending  # not PendingRollbackError
    assert await write_after_cancel(sessions) == [0, 3]


ADVISORY_LOCK = 4242


async def blocking_statement(
    engine: AsyncEngine, backend: str, started: asyncio.Event, unblock: threading.Event
) -> str:
    """A statement that waits until the test lets it go, setting `started` once it waits."""
    if backend == "postgres":
        when_statement_starts(engine, "pg_advisory_xact_lock", started)
        return f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})"
    loop = asyncio.get_running_loop()
    block = _blocking_function(lambda: loop.call_soon_threadsafe(started.set), unblock)
    event.listen(
        engine.sync_engine,
        "connect",
        lambda connection, _: connection.create_function("block", 0, block),
    )
    await engine.dispose()  # the connections made from now on have the function
    return "SELECT block()"


def _blocking_function(signal: Callable[[], object], unblock: threading.Event) -> Callable[[], int]:
    def block() -> int:  # runs in the driver's thread
        signal()
        unblock.wait(BLOCK_SECONDS)
        return 1

    return block


@asynccontextmanager
async def holding_advisory_lock(engine: AsyncEngine, backend: str) -> AsyncIterator[None]:
    """On PostgreSQL, hold the advisory lock that the blocking statement waits for."""
    if backend != "postgres":
        yield
        return
    async with engine.connect() as connection:
        await connection.execute(text(f"SELECT pg_advisory_lock({ADVISORY_LOCK})"))
        yield
        await connection.execute(text(f"SELECT pg_advisory_unlock({ADVISORY_LOCK})"))
