"""Writes of the order lifecycle. Each method is one short transaction and safe to repeat:
activities run at least once, so every write is keyed by order id (and FC for shipments).
A new order is recorded by the functions below the class instead, as part of the placing
service's transaction (placing/service.py): a repeat raises OrderAlreadyRecorded.

Lock order, the same in every transaction so that none waits for another in a cycle on
PostgreSQL: the order's row, then its parcels, then stock rows in (fc_id, sku) order.
On SQLite a transaction begins at its first write, which waits for the database's write
lock (busy timeout); so each method reads before that write only what never changes (an
order's lines), and everything it decides on after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.orders import (
    FINAL_STATUSES,
    MAY_CHANGE_DESTINATION,
    Destination,
    Mode,
    OrderLine,
    OrderStatus,
    OrderType,
    statuses_before,
)
from domain.timings import Timings, order_hours
from store import inventory, reservations
from store.db import BULK, changed_one_row
from store.models import OrderLineRow, OrderRow, ParcelState, ShipmentRow, UTCDateTime
from store.reservations import ParcelReservation

__all__ = [
    "DeliveredOrder",
    "NewOrder",
    "OrderAlreadyRecorded",
    "OrderNotFound",
    "OrderWrites",
    "ParcelReservation",
    "Promise",
    "RecordedAllocation",
    "add_allocated",
    "add_backordered",
    "add_rejected",
    "reserve",
]

ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]  # a Table at runtime
# The order path's statements, built once (see store/inventory.py).
_ADD_ORDER = insert(ORDERS)
LINES: Table = OrderLineRow.__table__  # type: ignore[assignment]
SHIPMENTS: Table = ShipmentRow.__table__  # type: ignore[assignment]
_ADD_LINES = insert(LINES)
_ADD_SHIPMENT = insert(SHIPMENTS)
_THIS_ORDER = ORDERS.c.order_id == bindparam("b_order")
# Allocated, or shipped already: a split order's next parcel ships too.
_MAY_SHIP = statuses_before(OrderStatus.SHIPPED) | {OrderStatus.SHIPPED}
_SHIP_ORDER = (
    update(ORDERS)
    .where(_THIS_ORDER, ORDERS.c.status.in_(_MAY_SHIP))
    .values(
        status=OrderStatus.SHIPPED.value,
        shipped_at=bindparam("b_at", type_=UTCDateTime()),
        shipping_hours=bindparam("b_hours", type_=Float()),
    )
)
_DELIVER_ORDER = (
    update(ORDERS)
    .where(_THIS_ORDER, ORDERS.c.status != OrderStatus.DELIVERED.value)
    .values(
        status=OrderStatus.DELIVERED.value,
        delivered_at=bindparam("b_at", type_=UTCDateTime()),
        delivery_hours=bindparam("b_hours", type_=Float()),
    )
    .returning(ORDERS.c.order_type, ORDERS.c.mode, ORDERS.c.order_hours, ORDERS.c.shipping_hours)
)

ENDED_BY_RELEASE = frozenset({OrderStatus.CANCELLED, OrderStatus.FAILED})
_ALLOCATED_OR_LATER = frozenset({OrderStatus.ALLOCATED, OrderStatus.SHIPPED, OrderStatus.DELIVERED})


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
    trace_id: str | None = None  # the trace the order was placed in, when it was traced


@dataclass(frozen=True)
class Promise:
    hours: float
    delivery_at: datetime


@dataclass(frozen=True)
class DeliveredOrder:
    """An order as its delivery was recorded: what the delivery metrics are labelled by."""

    order_type: OrderType
    mode: Mode
    timings: Timings


@dataclass(frozen=True)
class RecordedAllocation:
    status: OrderStatus
    reservations: dict[str, list[OrderLine]]  # per FC; after a release, what it had
    failure_reason: str | None
    allocated_at: datetime | None
    promise: Promise | None
    sourcing: dict[str, Any] | None = None
    backordered_until: datetime | None = None
    placed_at: datetime | None = None

    @property
    def parcels(self) -> tuple[ParcelReservation, ...]:
        return tuple(
            ParcelReservation(fc_id, tuple(lines)) for fc_id, lines in self.reservations.items()
        )


class OrderAlreadyRecorded(Exception):
    """Another attempt recorded this order first; read what it decided with `allocation_of`."""


class OrderNotFound(LookupError):
    """No order with this id was ever recorded."""


class OrderWrites:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def allocation_of(self, order_id: str) -> RecordedAllocation | None:
        """What an earlier attempt already decided for this order, if anything."""
        async with self._sessions() as session:
            order = await session.get(OrderRow, order_id)
            if order is None:
                return None
            promise = None
            if order.promised_hours is not None and order.promised_delivery_at is not None:
                promise = Promise(order.promised_hours, order.promised_delivery_at)
            return RecordedAllocation(
                OrderStatus(order.status),
                await reservations.lines_by_centre(session, order_id),
                order.failure_reason,
                order.allocated_at,
                promise,
                order.sourcing,
                order.backordered_until,
                order.placed_at,
            )

    async def allocate_backordered(
        self,
        order_id: str,
        parcels: Sequence[ParcelReservation],
        promise: Promise,
        allocated_at: datetime,
        sourcing: Mapping[str, Any],
    ) -> bool:
        """Allocate a backordered order, all parcels or none.

        False when a parcel is short or the order was cancelled meanwhile; True when this or
        an earlier attempt allocated it. Raises OrderNotFound for an unknown order id.
        """
        async with self._sessions() as session:
            placed = await session.execute(
                select(OrderRow.placed_at, OrderRow.speedup).where(OrderRow.order_id == order_id)
            )
            found = placed.one_or_none()
            if found is None:
                raise OrderNotFound(order_id)
            units = reservations.units_of(await _lines_of(session, order_id), parcels)
            placed_at, speedup = found
            taken = await session.execute(
                update(OrderRow)
                .where(OrderRow.order_id == order_id, OrderRow.status == OrderStatus.BACKORDERED)
                .values(
                    status=OrderStatus.ALLOCATED,
                    sourcing=dict(sourcing),
                    allocated_at=allocated_at,
                    order_hours=order_hours(placed_at, allocated_at, speedup),
                    promised_hours=promise.hours,
                    promised_delivery_at=promise.delivery_at,
                ),
                execution_options=BULK,
            )
            if not changed_one_row(taken):
                await session.rollback()
                return await _status_of(session, order_id) in _ALLOCATED_OR_LATER
            return await _reserve_and_commit(session, order_id, units)

    async def release(self, order_id: str, status: OrderStatus, reason: str, at: datetime) -> bool:
        """End the order as cancelled or failed and return its unshipped units to available.

        Shipped parcels stay shipped. True when this call ended the order; False when it had
        already ended (or never existed), and then nothing changes.
        """
        if status not in ENDED_BY_RELEASE:
            raise ValueError(f"release ends an order as cancelled or failed, not {status}")
        async with self._sessions() as session:
            ended = await session.execute(
                update(OrderRow)
                .where(OrderRow.order_id == order_id, OrderRow.status.not_in(FINAL_STATUSES))
                .values(status=status, failure_reason=reason, closed_at=at),
                execution_options=BULK,
            )
            if not changed_one_row(ended):
                await session.rollback()
                return False
            units = await reservations.release(session, order_id)
            await inventory.change_reservations(session, {k: -n for k, n in units.items()})
            await session.commit()
            return True

    async def ending_of(self, order_id: str) -> tuple[OrderStatus, str | None] | None:
        """The final status and reason of an order that has ended; None while it runs."""
        async with self._sessions() as session:
            found = await session.execute(
                select(OrderRow.status, OrderRow.failure_reason).where(
                    OrderRow.order_id == order_id, OrderRow.status.in_(FINAL_STATUSES)
                )
            )
            row = found.one_or_none()
        return None if row is None else (OrderStatus(row[0]), row[1])

    async def reallocate(
        self,
        order_id: str,
        destination: Destination,
        parcels: Sequence[ParcelReservation],
        promise: Promise,
        sourcing: Mapping[str, Any],
    ) -> bool:
        """Send an allocated order elsewhere: swap its reservations for `parcels` at once.

        False, and nothing changed, when the order is not allocated (unknown, backordered,
        shipped in part, ended) or a new parcel is short.
        """
        async with self._sessions() as session:
            lines = await _lines_of(session, order_id)
            if not lines:
                return False
            units = reservations.units_of(lines, parcels)
            moved = await session.execute(
                update(OrderRow)
                .where(OrderRow.order_id == order_id, OrderRow.status.in_(MAY_CHANGE_DESTINATION))
                .values(
                    destination_country=destination.country,
                    destination_postal_code=destination.postal_code,
                    destination_lat=destination.lat,
                    destination_lon=destination.lon,
                    promised_hours=promise.hours,
                    promised_delivery_at=promise.delivery_at,
                    sourcing=dict(sourcing),
                ),
                execution_options=BULK,
            )
            if not changed_one_row(moved):
                await session.rollback()
                return False
            previous = await reservations.remove(session, order_id)
            if previous is None:
                await session.rollback()
                return False
            if not await inventory.change_reservations(session, _difference(units, previous)):
                await session.rollback()
                return False
            await reservations.add(session, order_id, units)
            await session.commit()
            return True

    async def record_shipment(
        self,
        order_id: str,
        fc_id: str,
        shipment_id: str,
        dispatched_at: datetime,
        shipping_hours: float,
    ) -> bool:
        """Ship the parcel reserved at `fc_id` once; a repeat changes nothing.

        True when the parcel is shipped, by this call or an earlier one; False when it is no
        longer reserved there (the order was cancelled, failed or sent elsewhere).
        """
        async with self._sessions() as session:
            shipped = {"b_order": order_id, "b_at": dispatched_at, "b_hours": shipping_hours}
            await session.execute(_SHIP_ORDER, shipped)
            if not await reservations.mark_shipped(session, order_id, fc_id):
                await session.rollback()
                return await reservations.state_of(session, order_id, fc_id) is ParcelState.SHIPPED
            shipment = {
                "shipment_id": shipment_id,
                "order_id": order_id,
                "fc_id": fc_id,
                "dispatched_at": dispatched_at,
            }
            await session.execute(_ADD_SHIPMENT, shipment)
            lines = await reservations.lines_at(session, order_id, fc_id)
            await inventory.move_reserved_to_shipped(session, fc_id, lines)
            await session.commit()
            return True

    async def record_delivery(
        self, order_id: str, delivered_at: datetime, delivery_hours: float
    ) -> DeliveredOrder | None:
        """Record the order delivered once; None when it already was (a repeat changes nothing)."""
        async with self._sessions() as session:
            delivered = await session.execute(
                _DELIVER_ORDER,
                {"b_order": order_id, "b_at": delivered_at, "b_hours": delivery_hours},
            )
            row = delivered.one_or_none()
            await session.commit()
        if row is None:
            return None
        order_type, mode, ordering, shipping = row
        timings = Timings(ordering, shipping, delivery_hours)
        return DeliveredOrder(OrderType(order_type), Mode(mode), timings)


async def add_allocated(
    session: AsyncSession,
    order: NewOrder,
    promise: Promise,
    allocated_at: datetime,
    sourcing: Mapping[str, Any],
) -> None:
    """Record a new order as allocated; its stock is reserved by `reserve`, in the same
    transaction. Raises OrderAlreadyRecorded when the order id is taken."""
    await _add_order(
        session,
        order,
        OrderStatus.ALLOCATED,
        sourcing=dict(sourcing),
        allocated_at=allocated_at,
        order_hours=order_hours(order.placed_at, allocated_at, order.speedup),
        promised_hours=promise.hours,
        promised_delivery_at=promise.delivery_at,
    )


async def reserve(
    session: AsyncSession, order: NewOrder, parcels: Sequence[ParcelReservation]
) -> bool:
    """Reserve every parcel of a new order, or none: False when one is short, and the caller
    must roll back what its transaction changed."""
    return await _reserved(session, order.order_id, reservations.units_of(order.lines, parcels))


async def add_backordered(
    session: AsyncSession, order: NewOrder, sourcing: Mapping[str, Any], wait_until: datetime
) -> None:
    """Record a new order as waiting for stock until `wait_until`. Raises
    OrderAlreadyRecorded when the order id is taken."""
    await _add_order(
        session,
        order,
        OrderStatus.BACKORDERED,
        sourcing=dict(sourcing),
        backordered_until=wait_until,
    )


async def add_rejected(session: AsyncSession, order: NewOrder, reason: str) -> None:
    """Record a new order as rejected. Raises OrderAlreadyRecorded when the order id is taken."""
    await _add_order(session, order, OrderStatus.REJECTED, failure_reason=reason)


async def _add_order(
    session: AsyncSession, order: NewOrder, status: OrderStatus, **columns: Any
) -> None:
    """Insert the order, then its lines; part of the caller's transaction."""
    row = {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "order_type": order.order_type.value,
        "mode": order.mode.value,
        "status": status.value,
        "destination_country": order.destination.country,
        "destination_postal_code": order.destination.postal_code,
        "destination_lat": order.destination.lat,
        "destination_lon": order.destination.lon,
        "speedup": order.speedup,
        "placed_at": order.placed_at,
        "trace_id": order.trace_id,
        **columns,
    }
    try:
        await session.execute(_ADD_ORDER, row)
    except IntegrityError as exc:
        raise OrderAlreadyRecorded(order.order_id) from exc
    await session.execute(
        _ADD_LINES,
        [
            {"order_id": order.order_id, "line_no": n, "sku": line.sku, "quantity": line.quantity}
            for n, line in enumerate(order.lines, start=1)
        ],
    )


async def _reserve_and_commit(
    session: AsyncSession, order_id: str, units: Mapping[inventory.StockKey, int]
) -> bool:
    if not await _reserved(session, order_id, units):
        await session.rollback()
        return False
    await session.commit()
    return True


async def _reserved(
    session: AsyncSession, order_id: str, units: Mapping[inventory.StockKey, int]
) -> bool:
    if not await inventory.change_reservations(session, units):
        return False
    await reservations.add(session, order_id, units)
    return True


def _difference(
    after: Mapping[inventory.StockKey, int], before: Mapping[inventory.StockKey, int]
) -> dict[inventory.StockKey, int]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in after.keys() | before.keys()}


async def _lines_of(session: AsyncSession, order_id: str) -> list[OrderLine]:
    rows = await session.execute(
        select(OrderLineRow.sku, OrderLineRow.quantity)
        .where(OrderLineRow.order_id == order_id)
        .order_by(OrderLineRow.line_no)
    )
    return [OrderLine(sku, quantity) for sku, quantity in rows]


async def _status_of(session: AsyncSession, order_id: str) -> OrderStatus | None:
    status = await session.scalar(select(OrderRow.status).where(OrderRow.order_id == order_id))
    return None if status is None else OrderStatus(status)
