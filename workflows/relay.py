"""The outbox relay: starts the workflows of orders the API accepted into the app database.

It runs in each API process. The API wakes it after every accepted order, so a workflow
usually starts within milliseconds; it also looks for rows left by a process that died
before starting them, every `idle_seconds`. Rows are leased (store/outbox.py), so
replicas share the work, and starting is idempotent by order id (workflows/starter.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.messages import request_from_json
from observability.trace_context import continued, untraced
from store import outbox
from store.outbox import PendingStart
from workflows.starter import start_order

logger = logging.getLogger("doms.relay")

# A relay that took rows and died leaves them to others after this long.
LEASE = timedelta(seconds=15)
# After a failed start (Temporal unreachable), wait this long times the attempts, at most MAX.
RETRY_STEP = timedelta(seconds=1)
MAX_RETRY_WAIT = timedelta(seconds=30)
WAIT_POLL_SECONDS = 0.02
WAIT_STARTED_SECONDS = 10.0


class OutboxRelay:
    def __init__(
        self,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        task_queue: str,
        *,
        batch: int = 100,
        concurrency: int = 32,
        idle_seconds: float = 1.0,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._task_queue = task_queue
        self._batch = batch
        self._starting = asyncio.Semaphore(concurrency)
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """An order was accepted: start its workflow soon."""
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled."""
        while True:
            self._wake.clear()  # before leasing: a notice during the pass is not lost
            try:
                with untraced():  # polling the outbox is no one's request; starts are (below)
                    relayed = await self.relay_once()
            except Exception:  # the database is unavailable: try again after a pause
                logger.exception("outbox relay pass failed")
                relayed = 0
            if relayed < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_seconds)

    async def relay_once(self, order_id: str | None = None) -> int:
        """Lease a batch of rows (or the row of `order_id`) and start their workflows.

        Returns the number of rows leased; started rows are removed, failed ones retried later.
        """
        now = datetime.now(UTC)
        async with self._sessions() as session:
            pending = await outbox.lease(session, now, LEASE, self._batch, order_id)
        if not pending:
            return 0
        outcomes = await asyncio.gather(*(self._start(row) for row in pending))
        started = [row.order_id for row, ok in zip(pending, outcomes, strict=True) if ok]
        failed = [row for row, ok in zip(pending, outcomes, strict=True) if not ok]
        async with self._sessions() as session:
            await outbox.remove(session, started)
            for row in failed:
                wait = min(RETRY_STEP * row.attempts, MAX_RETRY_WAIT)
                await outbox.retry_later(session, [row.order_id], datetime.now(UTC) + wait)
        return len(pending)

    async def wait_started(self, order_id: str) -> None:
        """Return once this order is no longer waiting in the outbox: started here now, or
        by another relay. Returns at once for an order that is not in the outbox."""
        async with asyncio.timeout(WAIT_STARTED_SECONDS):
            while True:
                await self.relay_once(order_id)
                async with self._sessions() as session:
                    if not await outbox.is_pending(session, order_id):
                        return
                await asyncio.sleep(WAIT_POLL_SECONDS)  # another relay holds it: poll

    async def _start(self, row: PendingStart) -> bool:
        async with self._starting:
            try:
                request = request_from_json(row.request)
                with continued(row.traceparent):  # the trace of the request that placed it
                    await start_order(self._client, request, task_queue=self._task_queue)
            except Exception as error:  # any failure leaves the row for later
                logger.warning(
                    "could not start the workflow of order %s (attempt %d): %s",
                    row.order_id,
                    row.attempts,
                    error,
                )
                return False
            return True
