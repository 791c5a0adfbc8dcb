"""Engine and session setup. SQLite gets WAL and a busy timeout: the API and the worker share it.

SQLite has one writer at a time, and a connection that finds the database locked sleeps
and polls (up to 100 ms a time) until its busy timeout. With dozens of transactions of one
process waiting that way, the lock sits idle between polls and a waiter can starve for
the whole timeout ("database is locked") while the others take turns. So writers of one
process queue for a process-wide asyncio lock first, in order, and only one of them at a
time meets the other processes at SQLite's lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Result, event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import await_, in_greenlet

# For bulk UPDATE and DELETE: the sessions that run them hold no objects to keep in sync, and
# the ORM's default sync of them costs more than the statement does.
BULK = {"synchronize_session": False}

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)
BUSY_TIMEOUT_SECONDS = 10.0  # the busy_timeout above: a writer of this process waits as long
# The first word of a statement that takes SQLite's write lock.
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"})
_HOLDS_WRITE_LOCK = "doms_sqlite_write_lock"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        _make_parent_dir(url)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _apply_sqlite_pragmas)
        _queue_writers(engine)
    return engine


def _make_parent_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _apply_sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _queue_writers(engine: AsyncEngine) -> None:
    """Before a connection's first write of a transaction, wait for this process's writer
    lock; release it when the transaction ends, however it ends."""
    locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
        weakref.WeakKeyDictionary()
    )

    def before_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if _HOLDS_WRITE_LOCK in conn.info or not _is_write(statement):
            return
        if not in_greenlet():  # plain sync use, with no event loop: SQLite's own lock only
            return
        lock = locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        try:
            await_(asyncio.wait_for(lock.acquire(), BUSY_TIMEOUT_SECONDS))
        except TimeoutError as error:
            cause = sqlite3.OperationalError("database is locked (this process's writers queue)")
            raise OperationalError(statement, None, cause) from error
        conn.info[_HOLDS_WRITE_LOCK] = lock

    def release(info: dict[Any, Any]) -> None:
        lock = info.pop(_HOLDS_WRITE_LOCK, None)
        if lock is not None and lock.locked():
            lock.release()

    def on_reset(dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
        release(connection_record.info)

    def on_checkin_or_close(dbapi_connection: Any, connection_record: Any) -> None:
        if connection_record is not None:
            release(connection_record.info)

    def on_invalidate(dbapi_connection: Any, connection_record: Any, exception: Any) -> None:
        release(connection_record.info)

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", before_execute)
    event.listen(sync_engine, "commit", lambda conn: release(conn.info))
    event.listen(sync_engine, "rollback", lambda conn: release(conn.info))
    event.listen(sync_engine.pool, "reset", on_reset)
    event.listen(sync_engine.pool, "checkin", on_checkin_or_close)
    event.listen(sync_engine.pool, "close", on_checkin_or_close)
    event.listen(sync_engine.pool, "invalidate", on_invalidate)


def _is_write(statement: str) -> bool:
    words = statement.lstrip().split(None, 1)
    return bool(words) and words[0].upper() in _WRITES


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def changed_one_row(result: Result[Any]) -> bool:
    """Whether a guarded UPDATE matched its row: the guard is how we reserve without locks.

    SQLAlchemy types execute()'s result as a plain Result; for DML it is a CursorResult.
    """
    return isinstance(result, CursorResult) and result.rowcount == 1
