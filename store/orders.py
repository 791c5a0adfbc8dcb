"""Writes of the order lifecycle. Each method is one short transaction and safe to repeat:
activities run at least once, so every write is keyed by order id (and FC for shipments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.orders import Destination, Mode, OrderLine, OrderStatus, OrderType
from domain.timings import order_hours
from store import inventory
from store.models import AllocationRow, OrderLineRow, OrderRow, ShipmentRow


@dataclass(frozen=True)
class NewOrder:
    order_id: str
    customer_id: str
    order_type: OrderType
    mode: Mode
    destination: Destination
    lines: tuple[OrderLine, ...]
    speedup: float
    placed_at: datetime


@dataclass(frozen=True)
class Promise:
    hours: float
    delivery_at: datetime


@dataclass(frozen=True)
class RecordedAllocation:
    status: OrderStatus
    reservations: dict[str, list[OrderLine]]
    failure_reason: str | None
    allocated_at: datetime | None
    promise: Promise | None


class OrderAlreadyRecorded(Exception):
    """Another attempt recorded this order first; read what it decided with `allocation_of`."""


class OrderWrites:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def allocation_of(self, order_id: str) -> RecordedAllocation | None:
        """What an earlier attempt already decided for this order, if anything."""
        async with self._sessions() as session:
            order = await session.get(OrderRow, order_id)
            if order is None:
                return None
            rows = await session.scalars(
                select(AllocationRow).where(AllocationRow.order_id == order_id)
            )
            reservations: dict[str, list[OrderLine]] = {}
            for row in rows:
                reservations.setdefault(row.fc_id, []).append(OrderLine(row.sku, row.quantity))
            promise = None
            if order.promised_hours is not None and order.promised_delivery_at is not None:
                promise = Promise(order.promised_hours, order.promised_delivery_at)
            return RecordedAllocation(
                OrderStatus(order.status),
                reservations,
                order.failure_reason,
                order.allocated_at,
                promise,
            )

    async def allocate(
        self, order: NewOrder, fc_id: str, promise: Promise, allocated_at: datetime
    ) -> bool:
        """Reserve every line at `fc_id` and record the order as allocated, or change nothing."""
        async with self._sessions() as session:
            try:
                await _add_order(session, order, OrderStatus.ALLOCATED)
            except IntegrityError as exc:
                raise OrderAlreadyRecorded(order.order_id) from exc
            if not await inventory.reserve(session, fc_id, order.lines):
                await session.rollback()
                return False
            await session.execute(
                update(OrderRow)
                .where(OrderRow.order_id == order.order_id)
                .values(
                    allocated_at=allocated_at,
                    order_hours=order_hours(order.placed_at, allocated_at, order.speedup),
                    promised_hours=promise.hours,
                    promised_delivery_at=promise.delivery_at,
                )
            )
            session.add_all(_allocation_rows(order.order_id, fc_id, order.lines))
            await session.commit()
            return True

    async def reject(self, order: NewOrder, reason: str) -> None:
        async with self._sessions() as session:
            try:
                await _add_order(session, order, OrderStatus.REJECTED, failure_reason=reason)
            except IntegrityError:
                return  # recorded by an earlier attempt
            await session.commit()

    async def record_shipment(
        self,
        order_id: str,
        fc_id: str,
        shipment_id: str,
        dispatched_at: datetime,
        shipping_hours: float,
    ) -> None:
        """Ship the units reserved at `fc_id` once; the shipment's key makes a repeat a no-op."""
        async with self._sessions() as session:
            session.add(
                ShipmentRow(
                    shipment_id=shipment_id,
                    order_id=order_id,
                    fc_id=fc_id,
                    dispatched_at=dispatched_at,
                )
            )
            try:
                await session.flush()
            except IntegrityError:
                await session.rollback()
                return
            lines = await _reserved_lines(session, order_id, fc_id)
            await inventory.move_reserved_to_shipped(session, fc_id, lines)
            await _set_status(
                session,
                order_id,
                OrderStatus.SHIPPED,
                shipped_at=dispatched_at,
                shipping_hours=shipping_hours,
            )
            await session.commit()

    async def record_delivery(
        self, order_id: str, delivered_at: datetime, delivery_hours: float
    ) -> None:
        async with self._sessions() as session:
            await _set_status(
                session,
                order_id,
                OrderStatus.DELIVERED,
                delivered_at=delivered_at,
                delivery_hours=delivery_hours,
            )
            await session.commit()


async def _add_order(
    session: AsyncSession, order: NewOrder, status: OrderStatus, failure_reason: str | None = None
) -> None:
    """Insert the order, then its lines. IntegrityError means the order id is already taken."""
    session.add(
        OrderRow(
            order_id=order.order_id,
            customer_id=order.customer_id,
            order_type=order.order_type.value,
            mode=order.mode.value,
            status=status.value,
            failure_reason=failure_reason,
            destination_country=order.destination.country,
            destination_postal_code=order.destination.postal_code,
            destination_lat=order.destination.lat,
            destination_lon=order.destination.lon,
            speedup=order.speedup,
            placed_at=order.placed_at,
        )
    )
    await session.flush()
    session.add_all(
        OrderLineRow(order_id=order.order_id, line_no=number, sku=line.sku, quantity=line.quantity)
        for number, line in enumerate(order.lines, start=1)
    )


def _allocation_rows(
    order_id: str, fc_id: str, lines: tuple[OrderLine, ...]
) -> list[AllocationRow]:
    return [
        AllocationRow(order_id=order_id, fc_id=fc_id, sku=sku, quantity=quantity)
        for sku, quantity in inventory.quantities_by_sku(lines).items()
    ]


async def _reserved_lines(session: AsyncSession, order_id: str, fc_id: str) -> list[OrderLine]:
    rows = await session.scalars(
        select(AllocationRow).where(
            AllocationRow.order_id == order_id, AllocationRow.fc_id == fc_id
        )
    )
    return [OrderLine(row.sku, row.quantity) for row in rows]


async def _set_status(
    session: AsyncSession, order_id: str, status: OrderStatus, **milestone: datetime | float
) -> None:
    await session.execute(
        update(OrderRow)
        .where(OrderRow.order_id == order_id)
        .values(status=status.value, **milestone)
    )
