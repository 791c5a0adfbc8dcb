"""SQLite's statements run on the event loop's thread: a transaction runs in one go, holding
the write lock for no turn of the loop, so a busy loop cannot stretch it
(store/sqlite_inline.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import create_engine, session_factory

STATEMENTS = 20


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE scratch (n INTEGER PRIMARY KEY)"))
    yield engine
    await engine.dispose()


async def test_a_transaction_of_many_statements_gives_the_loop_no_turn(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:  # the first write of the process takes its writer turn
        await session.execute(text("INSERT INTO scratch (n) VALUES (0)"))
        await session.commit()
    turns = 0
    stop = asyncio.Event()

    async def count_turns() -> None:
        nonlocal turns
        while not stop.is_set():
            turns += 1
            await asyncio.sleep(0)  # one turn of the loop, counted

    counter = asyncio.create_task(count_turns())
    await asyncio.sleep(0)  # the counter is running
    async with sessions() as session:
        before = turns
        for n in range(1, STATEMENTS + 1):
            await session.execute(text("INSERT INTO scratch (n) VALUES (:n)"), {"n": n})
        await session.execute(text("SELECT count(*) FROM scratch"))
        await session.commit()
        during = turns - before
    stop.set()
    await counter

    assert during == 0  # with a thread per statement (aiosqlite) each one costs a turn or more
    async with sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM scratch"))).scalar() == 21


async def test_two_engines_on_one_file_take_turns_and_lose_no_write(tmp_path: Path) -> None:
    """Two writers of one process (as the API's and a test's engines) each writing in one go."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
    first, second = create_engine(url), create_engine(url)
    try:
        async with first.begin() as connection:
            await connection.execute(text("CREATE TABLE scratch (n INTEGER PRIMARY KEY)"))

        async def write(engine: AsyncEngine, start: int) -> None:
            for n in range(start, start + 50):
                async with session_factory(engine)() as session:
                    await session.execute(text("INSERT INTO scratch (n) VALUES (:n)"), {"n": n})
                    await asyncio.sleep(0)  # hand the loop over inside the transaction
                    await session.commit()

        await asyncio.gather(write(first, 0), write(second, 1000))
        async with first.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM scratch"))).scalar()
        assert count == 100
    finally:
        await first.dispose()
        await second.dispose()
