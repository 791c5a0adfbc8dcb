"""Helpers of the integration tests: an order desk that places orders, a stockroom that sets
and reads stock behind the store's back, and the places and dates they use."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.orders import Destination, Mode, OrderLine, OrderType
from store import orders, outbox
from store.models import StockRow
from store.orders import NewOrder, OrderWrites, ParcelReservation, Promise

NEWARK, CHICAGO, ATLANTA = "ewr", "ord", "atl"
MANHATTAN = Destination("US", "10001", 40.75, -73.99)
OPENING = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PROMISE = Promise(hours=24.0, delivery_at=OPENING + timedelta(hours=24))
SOURCING = {"policy": "test", "reason": "chosen by the test"}
TRACEPARENT = "00-abc-def-01"


def parcel(fc_id: str, *lines: OrderLine) -> ParcelReservation:
    return ParcelReservation(fc_id, lines)


@dataclass
class BalanceWatch:
    """What each look at the stock table saw: the rows off balance at that moment."""

    looks: list[list[tuple[str, str]]] = field(default_factory=list)

    def rows_ever_off_balance(self) -> list[tuple[str, str]]:
        return sorted({row for look in self.looks for row in look})


class OrderDesk:
    """Builds orders to Manhattan, with ids that grow like the API's, and records them new as
    the placing service does (placing/service.py), in one transaction each, but as the test
    sources them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.writes = OrderWrites(sessions)
        self._sessions = sessions
        self._numbers = itertools.count(1)

    def order(
        self,
        *lines: OrderLine,
        customer_id: str = "c-1",
        order_type: OrderType = OrderType.STANDARD,
        mode: Mode = Mode.DISTRIBUTED,
    ) -> NewOrder:
        number = next(self._numbers)
        return NewOrder(
            order_id=f"{number:06d}-{uuid.uuid4().hex[:8]}",
            customer_id=customer_id,
            order_type=order_type,
            mode=mode,
            destination=MANHATTAN,
            lines=lines,
            speedup=1.0,
            placed_at=OPENING + timedelta(minutes=number),
        )

    async def allocate(self, order: NewOrder, fc_id: str = NEWARK, *, queued: bool = False) -> bool:
        """The whole order from one centre."""
        return await self.split(order, ParcelReservation(fc_id, order.lines), queued=queued)

    async def split(
        self, order: NewOrder, *parcels: ParcelReservation, queued: bool = False
    ) -> bool:
        return await self.record_allocation(
            order, parcels, PROMISE, order.placed_at, SOURCING, queued=queued
        )

    async def record_allocation(
        self,
        order: NewOrder,
        parcels: Sequence[ParcelReservation],
        promise: Promise,
        allocated_at: datetime,
        sourcing: Mapping[str, Any],
        *,
        queued: bool = False,
    ) -> bool:
        """Allocated as `parcels`, or nothing recorded (False) when one is short. `queued`:
        with its workflow's start in the outbox, as the API accepts an order."""
        async with self._sessions() as session:
            await orders.add_allocated(session, order, promise, allocated_at, sourcing)
            if queued:
                start = {"order_id": order.order_id}
                await outbox.add(session, order.order_id, start, order.placed_at, TRACEPARENT)
            if not await orders.reserve(session, order, parcels):
                return False  # rolled back as the session closes
            await session.commit()
        return True

    async def backorder(
        self, order: NewOrder, sourcing: Mapping[str, Any], wait_until: datetime
    ) -> None:
        async with self._sessions() as session:
            await orders.add_backordered(session, order, sourcing, wait_until)
            await session.commit()

    async def reject(self, order: NewOrder, reason: str) -> None:
        async with self._sessions() as session:
            await orders.add_rejected(session, order, reason)
            await session.commit()


class Stockroom:
    """Sets and reads stock rows directly, bypassing the code under test."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def put(self, sku: str, units: int, fc_id: str = NEWARK) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(StockRow)
                .where(StockRow.fc_id == fc_id, StockRow.sku == sku)
                .values(on_hand=units, available=units, reserved=0, shipped=0)
            )
            await session.commit()

    async def units(self, sku: str, fc_id: str = NEWARK) -> dict[str, int]:
        async with self._sessions() as session:
            row = await session.get_one(StockRow, (fc_id, sku))
            return {
                "on_hand": row.on_hand,
                "available": row.available,
                "reserved": row.reserved,
                "shipped": row.shipped,
            }

    @asynccontextmanager
    async def watching_balance(self) -> AsyncIterator[BalanceWatch]:
        """Look at every stock row again and again, for as long as the block runs."""
        watch = BalanceWatch()
        done = asyncio.Event()

        async def look_until_done() -> None:
            while not done.is_set():
                watch.looks.append(await self.rows_off_balance())

        looking = asyncio.create_task(look_until_done())
        try:
            yield watch
        finally:
            done.set()
            await looking

    async def rows_off_balance(self) -> list[tuple[str, str]]:
        """Rows where on_hand != available + reserved + shipped, or a count is negative."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(StockRow.fc_id, StockRow.sku).where(
                    or_(
                        StockRow.on_hand
                        != StockRow.available + StockRow.reserved + StockRow.shipped,
                        StockRow.available < 0,
                        StockRow.reserved < 0,
                        StockRow.shipped < 0,
                    )
                )
            )
            return [(fc_id, sku) for fc_id, sku in rows]
