"""SQLite statements run on the event loop's own thread: a transaction runs in one go.

aiosqlite runs each statement on a thread of its own and hands the result back through the
event loop, so a transaction of eight statements holds SQLite's write lock for eight turns of
a busy loop, and everyone else waits that long (a lock convoy). SQLite on a local file answers
in microseconds, so here each statement runs where it is awaited: its coroutine finishes
without suspending, and a transaction runs from its first statement to its commit without
giving the loop away.

That never blocks the loop on a lock: in WAL mode readers never wait, and a writer only
writes once it holds this process's writer turn and the file lock of all processes
(store/sqlite_writers.py), awaited before its first write; with that turn SQLite's own lock is
free. A statement does block the loop for as long as SQLite computes it: the API's reads are
keyed lookups and bounded pages.

These classes stand in for aiosqlite's connection and cursor under SQLAlchemy's aiosqlite
dialect (`create_async_engine(..., async_creator=...)`), which is all that knows them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, operation: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(operation, parameters)
        return self

    async def executemany(self, operation: str, rows: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(operation, rows)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _RunNow:
    """aiosqlite's work queue, as SQLAlchemy's adapter uses it to set the isolation level."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _RunNow()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._live().cursor())

    async def execute(self, operation: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        return await self.cursor().execute(operation, parameters)

    async def commit(self) -> None:
        self._live().commit()

    async def rollback(self) -> None:
        self._live().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live().create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _live(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection


def opener(database: str) -> Callable[[], Any]:
    """The `async_creator` of an engine on this SQLite file (":memory:" for none)."""

    async def connect() -> InlineConnection:
        return InlineConnection(sqlite3.connect(database, check_same_thread=False))

    return connect
