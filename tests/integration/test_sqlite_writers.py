"""SQLite writers take turns: in order within a process, through a file lock between
processes (store/sqlite_writers.py)."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from store import sqlite_writers
from store.db import create_engine
from store.sqlite_writers import lock_file_of

WAITING = 20


async def test_writers_of_one_process_commit_in_the_order_they_asked(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}", pool_size=WAITING + 1)
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE log (n INTEGER PRIMARY KEY AUTOINCREMENT, w INT)")
        )

    async def writer(number: int, asking: asyncio.Event) -> None:
        async with engine.begin() as connection:
            asking.set()  # the INSERT below asks for the lock before this task yields
            await connection.execute(text("INSERT INTO log (w) VALUES (:w)"), {"w": number})

    try:
        async with engine.connect() as holder:
            await holder.execute(text("INSERT INTO log (w) VALUES (-1)"))  # holds the write lock
            writers = []
            for number in range(WAITING):  # each writer waits before the next one starts
                asking = asyncio.Event()
                writers.append(asyncio.create_task(writer(number, asking)))
                await asking.wait()
            assert not any(task.done() for task in writers)
            await holder.commit()
        await asyncio.gather(*writers)
        async with engine.connect() as connection:
            order = (await connection.execute(text("SELECT w FROM log ORDER BY n"))).scalars().all()
    finally:
        await engine.dispose()

    assert order == [-1, *range(WAITING)]


# --- between processes: a file lock beside the database -------------------------------------
# "Another process" below is a file descriptor of the test's own: flock excludes open files,
# so it meets the engine's lock exactly as a second process's would.

WAITS_AT_LEAST = 0.3  # a writer shown waiting: not done within this long


@contextmanager
def other_process_holding(database: Path) -> Iterator[int]:
    fd = os.open(lock_file_of(database), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield fd
    finally:
        os.close(fd)


def file_lock_free(database: Path) -> bool:
    try:
        with other_process_holding(database):
            return True
    except BlockingIOError:
        return False


@pytest.fixture
async def engine_on_file(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, Path]]:
    database = tmp_path / "processes.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE log (w INT)"))
    yield engine, database
    await engine.dispose()


async def insert(engine: AsyncEngine, number: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO log (w) VALUES (:w)"), {"w": number})


async def waiting_insert(engine: AsyncEngine, number: int) -> asyncio.Task[None]:
    """An insert started, and shown still waiting for its turn a while later."""
    writing = asyncio.create_task(insert(engine, number))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(writing), WAITS_AT_LEAST)
    return writing


async def cancelled(writing: asyncio.Task[None]) -> None:
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing


async def assert_turns_go_on(engine: AsyncEngine, database: Path) -> None:
    """The next write commits, nothing of the one given up stayed, no turn is left held."""
    await insert(engine, 2)
    assert await logged(engine) == [2]
    assert file_lock_free(database)


async def logged(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        return list((await connection.execute(text("SELECT w FROM log"))).scalars())


async def test_a_write_transaction_holds_the_file_lock_until_it_ends(
    engine_on_file: tuple[AsyncEngine, Path],
) -> None:
    engine, database = engine_on_file
    async with engine.connect() as connection:
        await connection.execute(text("SELECT count(*) FROM log"))
        assert file_lock_free(database)  # reading takes no turn
        await connection.execute(text("INSERT INTO log (w) VALUES (1)"))
        assert not file_lock_free(database)
        await connection.commit()
        assert file_lock_free(database)
        await connection.execute(text("INSERT INTO log (w) VALUES (2)"))
        await connection.rollback()
        assert file_lock_free(database)


async def test_a_writer_waits_while_another_process_holds_the_turn(
    engine_on_file: tuple[AsyncEngine, Path],
) -> None:
    engine, database = engine_on_file
    with other_process_holding(database):  # SQLite's own lock is free: only the turn is not
        writing = await waiting_insert(engine, 1)
    await writing  # let go: the waiting thread is woken at once

    assert await logged(engine) == [1]
    assert file_lock_free(database)


async def test_a_writer_that_waited_too_long_leaves_no_turn_behind(
    engine_on_file: tuple[AsyncEngine, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, database = engine_on_file
    monkeypatch.setattr(sqlite_writers, "BUSY_TIMEOUT_SECONDS", 0.2)
    with other_process_holding(database), pytest.raises(OperationalError, match="locked"):
        await insert(engine, 1)
    # The given-up waiter takes the file lock once it is free, and hands it back at once.
    await assert_turns_go_on(engine, database)


async def test_a_writer_cancelled_while_waiting_leaves_no_turn_behind(
    engine_on_file: tuple[AsyncEngine, Path],
) -> None:
    engine, database = engine_on_file
    with other_process_holding(database):
        writing = await waiting_insert(engine, 1)
        await cancelled(writing)
    await assert_turns_go_on(engine, database)


async def test_two_engines_on_one_file_take_turns(tmp_path: Path) -> None:
    database = tmp_path / "two.db"
    first = create_engine(f"sqlite+aiosqlite:///{database}")
    second = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with first.begin() as connection:
            await connection.execute(text("CREATE TABLE log (w INT)"))
        async with first.connect() as holder:
            await holder.execute(text("INSERT INTO log (w) VALUES (1)"))
            writing = await waiting_insert(second, 2)
            await holder.commit()
        await writing
        assert await logged(second) == [1, 2]
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_writer_cancelled_mid_transaction_hands_its_turn_back(
    engine_on_file: tuple[AsyncEngine, Path],
) -> None:
    engine, database = engine_on_file
    wrote = asyncio.Event()

    async def long_transaction() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO log (w) VALUES (1)"))
            wrote.set()
            await asyncio.Event().wait()  # a step that awaits something else mid-transaction

    writing = asyncio.create_task(long_transaction())
    await wrote.wait()
    assert not file_lock_free(database)
    await cancelled(writing)
    await assert_turns_go_on(engine, database)


async def test_a_lock_file_that_cannot_be_opened_fails_the_write_and_holds_no_turn(
    engine_on_file: tuple[AsyncEngine, Path],
) -> None:
    _, database = engine_on_file
    lock_file_of(database).unlink()
    lock_file_of(database).mkdir()  # in the way of the lock file: a directory cannot be opened
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        with pytest.raises(IsADirectoryError):
            await insert(engine, 1)
        lock_file_of(database).rmdir()

        await assert_turns_go_on(engine, database)
    finally:
        await engine.dispose()
