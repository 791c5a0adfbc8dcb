"""SQLite writers of one process queue for the write lock in order (store/db.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from store.db import create_engine

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
