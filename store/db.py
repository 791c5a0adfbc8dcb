"""Engine and session setup. SQLite gets WAL and a busy timeout: the API and the worker share
it, and their writers take turns (store/sqlite_writers.py). Its statements run on the event
loop's thread, so a transaction holds the write lock for microseconds (store/sqlite_inline.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Result, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from store import sqlite_inline
from store.sqlite_writers import BUSY_TIMEOUT_SECONDS, queue_writers

# For bulk UPDATE and DELETE: the sessions that run them hold no objects to keep in sync, and
# the ORM's default sync of them costs more than the statement does.
BULK = {"synchronize_session": False}

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}",
    "PRAGMA foreign_keys=ON",
)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if not is_sqlite(url):
        return create_async_engine(url, **kwargs)
    database = _database_file(url)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    inline = sqlite_inline.opener(str(database) if database is not None else ":memory:")
    engine = create_async_engine(url, async_creator=inline, **kwargs)
    event.listen(engine.sync_engine, "connect", _apply_sqlite_pragmas)
    queue_writers(engine, database)
    return engine


def _database_file(url: str) -> Path | None:
    """The SQLite file of `url`; None for an in-memory database."""
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def _apply_sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def changed_one_row(result: Result[Any]) -> bool:
    """Whether a guarded UPDATE matched its row: the guard is how we reserve without locks.

    SQLAlchemy types execute()'s result as a plain Result; for DML it is a CursorResult.
    """
    return isinstance(result, CursorResult) and result.rowcount == 1
