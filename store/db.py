"""Engine and session setup. SQLite gets WAL and a busy timeout: the API and the worker share it."""

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

# For bulk UPDATE and DELETE: the sessions that run them hold no objects to keep in sync, and
# the ORM's default sync of them costs more than the statement does.
BULK = {"synchronize_session": False}

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        _make_parent_dir(url)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _apply_sqlite_pragmas)
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


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def changed_one_row(result: Result[Any]) -> bool:
    """Whether a guarded UPDATE matched its row: the guard is how we reserve without locks.

    SQLAlchemy types execute()'s result as a plain Result; for DML it is a CursorResult.
    """
    return isinstance(result, CursorResult) and result.rowcount == 1
