"""The outbox relay: starts the workflows of orders the API accepted into the app database.

It runs in each API process. The API hands it every order it accepted, whose row that
process leased in the same transaction: the workflow starts within milliseconds, with no
database round trip first, and the rows of started orders are removed in batches. Every
`idle_seconds` it also leases rows no one holds: left by a process that died before starting
them, or whose start failed. Rows are leased (store/outbox.py), so replicas share the work,
and starting is idempotent by order id (workflows/starter.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.messages import OrderRequest, request_from_json
from observability.trace_context import continued, untraced
from store import outbox
from workflows.starter import start_order

logger = logging.getLogger("doms.relay")

# A relay that took rows and died leaves them to others after this long.
LEASE = timedelta(seconds=15)
# The lease an order's own API process holds from accepting it: it starts the workflow at
# once, so another relay need wait only this long after that process died.
HANDED_LEASE = timedelta(seconds=5)
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
        # Orders this process accepted, leased to it in their own transaction: started from
        # memory, their rows removed in batches.
        self._handed: dict[str, asyncio.Task[bool]] = {}
        self._started: list[str] = []
        self._failed: list[tuple[str, int]] = []

    def hand(self, request: OrderRequest, traceparent: str | None) -> None:
        """This process accepted the order and holds its row's lease: start it now."""
        start = self._start(request, traceparent, attempt=1)
        self._handed[request.order_id] = task = asyncio.create_task(start)
        task.add_done_callback(lambda done: self._settle(request.order_id, done))

    async def run(self) -> None:
        """Relay until cancelled."""
        try:
            await self._relay_until_cancelled()
        finally:
            for task in list(self._handed.values()):
                task.cancel()

    async def _relay_until_cancelled(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            self._wake.clear()  # before the pass: a notice during it is not lost
            relayed = 0
            try:
                with untraced():  # bookkeeping is no one's request; starts are (below)
                    await self._settle_handed()
                    if loop.time() >= next_sweep:
                        relayed = await self.relay_once()
                        next_sweep = loop.time() + self._idle_seconds
            except Exception:  # the database is unavailable: try again after a pause
                logger.exception("outbox relay pass failed")
            if relayed < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_seconds)

    async def relay_once(self, order_id: str | None = None) -> int:
        """Lease a batch of rows no relay holds (or the row of `order_id`), start their
        workflows: rows left by a process that died, or whose start failed.

        Returns the number of rows leased; started rows are removed, failed ones retried later.
        """
        now = datetime.now(UTC)
        async with self._sessions() as session:
            pending = await outbox.lease(session, now, LEASE, self._batch, order_id)
        if not pending:
            return 0
        outcomes = await asyncio.gather(
            *(
                self._start(request_from_json(row.request), row.traceparent, row.attempts)
                for row in pending
            )
        )
        done = list(zip(pending, outcomes, strict=True))
        started = [row.order_id for row, ok in done if ok]
        await self._forget(started, [(row.order_id, row.attempts) for row, ok in done if not ok])
        return len(pending)

    async def wait_started(self, order_id: str) -> None:
        """Return once this order is no longer waiting in the outbox: started here now, or
        by another relay. Returns at once for an order that is not in the outbox."""
        async with asyncio.timeout(WAIT_STARTED_SECONDS):
            handed = self._handed.get(order_id)
            if handed is not None and await asyncio.shield(handed):
                return
            while True:
                await self.relay_once(order_id)
                async with self._sessions() as session:
                    if not await outbox.is_pending(session, order_id):
                        return
                await asyncio.sleep(WAIT_POLL_SECONDS)  # another relay holds it: poll

    def _settle(self, order_id: str, done: asyncio.Task[bool]) -> None:
        del self._handed[order_id]
        if done.cancelled():
            return
        if done.result():
            self._started.append(order_id)
        else:
            self._failed.append((order_id, 1))
        self._wake.set()

    async def _settle_handed(self) -> None:
        started, self._started = self._started, []
        failed, self._failed = self._failed, []
        try:
            await self._forget(started, failed)
        except BaseException:  # not written: try again in the next pass
            self._started.extend(started)
            self._failed.extend(failed)
            raise

    async def _forget(self, started: list[str], failed: list[tuple[str, int]]) -> None:
        """One transaction: started rows removed, failed ones left until their retry time."""
        if not started and not failed:
            return
        now = datetime.now(UTC)
        async with self._sessions() as session:
            await outbox.remove(session, started, commit=False)
            for order_id, attempts in failed:
                wait = min(RETRY_STEP * attempts, MAX_RETRY_WAIT)
                await outbox.retry_later(session, [order_id], now + wait, commit=False)
            await session.commit()

    async def _start(self, request: OrderRequest, traceparent: str | None, attempt: int) -> bool:
        async with self._starting:
            try:
                with continued(traceparent):  # the trace of the request that placed it
                    await start_order(self._client, request, task_queue=self._task_queue)
            except Exception as error:  # any failure leaves the row for later
                logger.warning(
                    "could not start the workflow of order %s (attempt %d): %s",
                    request.order_id,
                    attempt,
                    error,
                )
                return False
            return True
