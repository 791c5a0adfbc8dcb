"""The outbox relay: starts the workflows of orders the API accepted into the app database.

It runs in a process of its own (`doms relay`), so starting workflows takes no CPU from the
API's requests. Each pass leases a batch of rows in one transaction, starts their workflows
at once, and removes the started rows in one more: two write transactions per batch, not per
order. Rows are leased (store/outbox.py), so relay replicas share the work, and starting is
idempotent by order id (workflows/starter.py). While the outbox is empty the relay only reads
(WAL readers take no lock), every `poll_seconds`.

The API keeps one too, never running: a customer action on an order accepted a moment ago
asks it to start that one order now (`wait_started`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from observability.trace_context import continued, untraced
from store import outbox
from workflows.starter import start_queued

logger = logging.getLogger("doms.relay")

# A relay that took rows and died leaves them to others after this long.
LEASE = timedelta(seconds=15)
# After a failed start (Temporal unreachable), wait this long times the attempts, at most MAX.
RETRY_STEP = timedelta(seconds=1)
MAX_RETRY_WAIT = timedelta(seconds=30)
POLL_SECONDS = 0.05  # an order waits for its start at most this long while the relay idles
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
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._task_queue = task_queue
        self._batch = batch
        self._starting = asyncio.Semaphore(concurrency)
        self._poll_seconds = poll_seconds

    async def run(self) -> None:
        """Relay until cancelled: batch after batch while there are rows, else poll."""
        while True:
            relayed = 0
            try:
                with untraced():  # bookkeeping is no one's request; starts are (below)
                    relayed = await self.relay_once()
            except Exception:  # the database is unavailable: try again after a pause
                logger.exception("outbox relay pass failed")
            if relayed < self._batch:
                await asyncio.sleep(self._poll_seconds)  # the polling interval

    async def relay_once(self, order_id: str | None = None) -> int:
        """Lease a batch of rows no relay holds (or the row of `order_id`) and start their
        workflows. Returns the number of rows leased; started rows are removed, failed ones
        retried later."""
        now = datetime.now(UTC)
        async with self._sessions() as session:
            if order_id is None and not await outbox.has_free(session, now):
                return 0  # read only: an idle relay takes no write lock
            pending = await outbox.lease(session, now, LEASE, self._batch, order_id)
        if not pending:
            return 0
        outcomes = await asyncio.gather(*(self._start(row) for row in pending))
        done = list(zip(pending, outcomes, strict=True))
        started = [row.order_id for row, ok in done if ok]
        await self._forget(started, [(row.order_id, row.attempts) for row, ok in done if not ok])
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

    async def _forget(self, started: list[str], failed: list[tuple[str, int]]) -> None:
        """One transaction: started rows removed, failed ones left until their retry time."""
        now = datetime.now(UTC)
        async with self._sessions() as session:
            await outbox.remove(session, started, commit=False)
            for order_id, attempts in failed:
                wait = min(RETRY_STEP * attempts, MAX_RETRY_WAIT)
                await outbox.retry_later(session, [order_id], now + wait, commit=False)
            await session.commit()

    async def _start(self, row: outbox.PendingStart) -> bool:
        async with self._starting:
            try:
                with continued(row.traceparent):  # the trace of the request that placed it
                    await start_queued(self._client, row.request, task_queue=self._task_queue)
            except Exception as error:  # any failure leaves the row for later
                logger.warning(
                    "could not start the workflow of order %s (attempt %d): %s",
                    row.order_id,
                    row.attempts,
                    error,
                )
                return False
            return True
