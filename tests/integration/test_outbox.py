"""The workflow outbox on SQLite and PostgreSQL: leased so that relays never take the same
row at once. That a row is written with its order or not at all is the placing service's
(tests/integration/test_placing.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import TRACEPARENT, OrderDesk, Stockroom

from domain.orders import OrderLine
from store import outbox

LEASE = timedelta(seconds=15)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def test_a_queued_start_is_leased_with_its_input_as_the_json_text_stored(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk, stockroom: Stockroom
) -> None:
    await stockroom.put("SKU-0001", 5)
    order = desk.order(OrderLine("SKU-0001", 2))

    assert await desk.allocate(order, queued=True)

    async with db_sessions() as session:
        waiting = await outbox.has_free(session, NOW)
        [row] = await outbox.lease(session, NOW, LEASE, limit=10)
        after_lease = await outbox.has_free(session, NOW)
    assert waiting and not after_lease
    # The stored JSON text, which the relay passes to Temporal as it is.
    assert (row.order_id, json.loads(row.request), row.traceparent) == (
        order.order_id,
        {"order_id": order.order_id},
        TRACEPARENT,
    )


async def test_a_leased_row_is_not_leased_again_until_its_lease_ends(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk, stockroom: Stockroom
) -> None:
    await stockroom.put("SKU-0001", 10)
    orders = [desk.order(OrderLine("SKU-0001", 1)) for _ in range(3)]
    for order in orders:
        assert await desk.allocate(order, queued=True)

    async with db_sessions() as session:
        first = await outbox.lease(session, NOW, LEASE, limit=2)
        second = await outbox.lease(session, NOW, LEASE, limit=10)
        after_expiry = await outbox.lease(session, NOW + LEASE * 2, LEASE, limit=10)

    assert [r.order_id for r in first] == [o.order_id for o in orders[:2]]  # oldest first
    assert [r.order_id for r in second] == [orders[2].order_id]
    assert sorted(r.order_id for r in after_expiry) == sorted(o.order_id for o in orders)
    assert {r.attempts for r in after_expiry} == {2}


async def test_concurrent_relays_share_the_rows_without_overlap(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk, stockroom: Stockroom
) -> None:
    await stockroom.put("SKU-0001", 60)
    for _ in range(60):
        assert await desk.allocate(desk.order(OrderLine("SKU-0001", 1)), queued=True)

    async def relay() -> list[str]:
        taken: list[str] = []
        while True:
            async with db_sessions() as session:
                rows = await outbox.lease(session, NOW, LEASE, limit=7)
            if not rows:
                return taken
            taken += [row.order_id for row in rows]

    shares = await asyncio.gather(*(relay() for _ in range(4)))

    every = [order_id for share in shares for order_id in share]
    assert len(every) == len(set(every)) == 60


async def test_started_rows_go_and_failed_ones_wait(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk, stockroom: Stockroom
) -> None:
    await stockroom.put("SKU-0001", 10)
    started, failed = (desk.order(OrderLine("SKU-0001", 1)) for _ in range(2))
    for order in (started, failed):
        assert await desk.allocate(order, queued=True)

    async with db_sessions() as session:
        await outbox.lease(session, NOW, LEASE, limit=10)
        await outbox.remove(session, [started.order_id])
        await outbox.retry_later(session, [failed.order_id], NOW + timedelta(seconds=30))
        assert await outbox.is_pending(session, failed.order_id)
        assert not await outbox.is_pending(session, started.order_id)
        too_soon = await outbox.lease(session, NOW + LEASE * 1.5, LEASE, limit=10)
        in_time = await outbox.lease(session, NOW + timedelta(seconds=31), LEASE, limit=10)

    assert too_soon == []
    assert [row.order_id for row in in_time] == [failed.order_id]
