"""SQLite's writers take turns: in order within a process, and through a file lock between
processes.

SQLite has one writer at a time, and a connection that finds the database locked sleeps
and polls (up to 100 ms a time) until its busy timeout. With dozens of transactions waiting
that way, the lock sits idle between polls and a waiter can starve for the whole timeout
("database is locked") while the others take turns. So:

- the writers of one process queue for a process-wide asyncio lock first, in order;
- the one writer of each process at the head of its queue then takes an exclusive `flock`
  on a file beside the database (`<database>-writer.lock`). A process waiting for it sleeps
  in the kernel, which wakes it as soon as the holder lets go, instead of polling: the API
  and the worker, both writing one file, hand the lock to each other without idle gaps.

Both are held from a transaction's first write statement until it ends, however it ends, and
released together. A writer that cannot have both within BUSY_TIMEOUT_SECONDS gets SQLite's
own "database is locked" error. Writers outside an event loop (alembic's migrations, plain
sync use) meet SQLite's lock only, as before.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import await_, in_greenlet

BUSY_TIMEOUT_SECONDS = 10.0  # SQLite's busy_timeout (store/db.py): a writer waits as long
# The first word of a statement that takes SQLite's write lock.
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"})
_HOLDS_WRITE_LOCK = "doms_sqlite_write_lock"
logger = logging.getLogger("doms.store")


def lock_file_of(database: Path) -> Path:
    return database.with_name(f"{database.name}-writer.lock")


class ProcessesLock:
    """An exclusive `flock` on one file, for the writers of this process (one at a time:
    they hold the process's asyncio lock first)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        # One thread waits in the kernel for the lock, so waiting never blocks the event loop;
        # one only, so a waiter given up on (timed out, cancelled) is always served first.
        self._waiter = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer-lock")

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd

    def try_acquire(self) -> bool:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def wait_for_it(self) -> asyncio.Future[None]:
        """The lock, taken by the waiting thread; the future is done once it holds it."""
        return asyncio.get_running_loop().run_in_executor(
            self._waiter, fcntl.flock, self._file(), fcntl.LOCK_EX
        )

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._waiter.shutdown(wait=False, cancel_futures=True)
        if self._fd is not None:
            os.close(self._fd)  # the kernel lets go of a lock still held
            self._fd = None


class WriterLock:
    """The writer turn on one event loop: its asyncio lock, then the file lock (a file
    descriptor of its own, so that two event loops of one process exclude each other too)."""

    def __init__(self, lock_file: Path | None) -> None:
        self.queue = asyncio.Lock()
        self.processes = ProcessesLock(lock_file) if lock_file is not None else None
        if self.processes is not None:
            weakref.finalize(self, self.processes.close)

    async def acquire(self, within: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        if self.queue.locked():
            await asyncio.wait_for(self.queue.acquire(), within)
        else:  # free: taken at once, without wait_for's task and the loop turns it costs
            await self.queue.acquire()
        if self.processes is None:
            return
        try:
            if self.processes.try_acquire():
                return
            waiting = self.processes.wait_for_it()
        except BaseException:  # no lock file (e.g. it cannot be created): no turn at all
            self.queue.release()
            raise
        try:
            await asyncio.wait_for(asyncio.shield(waiting), max(0.0, deadline - loop.time()))
        except BaseException:
            # Timed out or cancelled: the thread will take the file lock all the same, later.
            # Keep this process's queue until then and hand both back at once, so no other
            # writer of this process believes it holds a file lock that is then let go.
            waiting.add_done_callback(lambda _: self.release())
            raise

    def release(self) -> None:
        if self.processes is not None:
            self.processes.release()
        if self.queue.locked():
            self.queue.release()


def queue_writers(engine: AsyncEngine, database: Path | None) -> None:
    """Before a connection's first write of a transaction, wait for this process's writer
    turn; end it when the transaction ends, however it ends. `database`: the SQLite file, if
    any (an in-memory database is one process's own: no file lock)."""
    lock_file = lock_file_of(database) if database is not None else None
    locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriterLock] = (
        weakref.WeakKeyDictionary()
    )

    def before_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if _HOLDS_WRITE_LOCK in conn.info or not is_write(statement):
            return
        if not in_greenlet():  # plain sync use, with no event loop: SQLite's own lock only
            return
        lock = locks.setdefault(asyncio.get_running_loop(), WriterLock(lock_file))
        try:
            await_(lock.acquire(BUSY_TIMEOUT_SECONDS))
        except TimeoutError as error:
            cause = sqlite3.OperationalError("database is locked (waiting for the writer turn)")
            raise OperationalError(statement, None, cause) from error
        conn.info[_HOLDS_WRITE_LOCK] = lock

    def release(info: dict[Any, Any]) -> None:
        lock = info.pop(_HOLDS_WRITE_LOCK, None)
        if lock is not None:
            lock.release()

    def on_reset(dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
        release(connection_record.info)

    def on_checkin_or_close(dbapi_connection: Any, connection_record: Any) -> None:
        if connection_record is not None:
            release(connection_record.info)

    def on_invalidate(dbapi_connection: Any, connection_record: Any, exception: Any) -> None:
        try:
            if in_greenlet():  # not when the garbage collector discards a connection
                _roll_back_before_close(dbapi_connection)
        finally:
            release(connection_record.info)

    def on_transaction_end(conn: Any) -> None:
        # An invalidated connection (a statement interrupted, e.g. by a cancel) has no info
        # to read: reading it raises PendingRollbackError inside the rollback. Its turn, if
        # it had one, was handed back by the pool's invalidate event below.
        if not conn.invalidated:
            release(conn.info)

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", before_execute)
    event.listen(sync_engine, "commit", on_transaction_end)
    event.listen(sync_engine, "rollback", on_transaction_end)
    event.listen(sync_engine.pool, "reset", on_reset)
    event.listen(sync_engine.pool, "checkin", on_checkin_or_close)
    event.listen(sync_engine.pool, "close", on_checkin_or_close)
    event.listen(sync_engine.pool, "invalidate", on_invalidate)


def _roll_back_before_close(dbapi_connection: Any) -> None:
    """End the transaction of a connection about to be discarded, and with it SQLite's lock.

    A statement cancelled midway leaves its sqlite3 statement unfinished, and closing a
    connection with an unfinished statement only marks it closed: its transaction, and
    the write lock if it wrote, stay until the garbage collector finalizes the statement,
    and other writers meet "database is locked" meanwhile. A rollback ends them now.
    Shielded: another cancellation must not leave the transaction open after all.
    """
    try:
        await_(asyncio.shield(dbapi_connection.driver_connection.rollback()))
    except (sqlite3.Error, ValueError, OSError):  # ValueError: aiosqlite's "no connection"
        logger.warning("could not roll back a discarded SQLite connection", exc_info=True)


def is_write(statement: str) -> bool:
    words = statement.lstrip().split(None, 1)
    return bool(words) and words[0].upper() in _WRITES
