"""Reads for the API: one order, filtered keyset pages of orders, the backorder queue, centres."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders import Destination, OrderLine, OrderStatus
from domain.timings import Timings
from store.models import AllocationRow, FulfilmentCentreRow, OrderRow, ShipmentRow


@dataclass(frozen=True)
class ShipmentView:
    fc_id: str
    shipment_id: str
    dispatched_at: datetime


@dataclass(frozen=True)
class CentreView:
    id: str
    name: str
    region: str
    country: str
    lat: float
    lon: float
    central: bool
    capacity_per_hour: float
    handling_hours: dict[str, float] | None


@dataclass(frozen=True)
class OrderView:
    order_id: str
    customer_id: str
    order_type: str
    mode: str
    status: str
    failure_reason: str | None
    destination: Destination
    allocations: dict[str, list[OrderLine]]  # per FC; after a cancel, what it had
    shipments: list[ShipmentView]
    sourcing: dict[str, Any] | None
    backordered_until: datetime | None
    closed_at: datetime | None
    promised_hours: float | None
    promised_delivery_at: datetime | None
    placed_at: datetime
    timings: Timings
    trace_id: str | None = None


@dataclass(frozen=True)
class OrderFilter:
    customer_id: str | None = None
    status: str | None = None
    order_type: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class OrderPage:
    items: list[OrderView]
    next_cursor: str | None = field(default=None)


async def get_order(session: AsyncSession, order_id: str) -> OrderView | None:
    row = await session.get(OrderRow, order_id)
    if row is None:
        return None
    return (await _views(session, [row]))[0]


async def customer_of(session: AsyncSession, order_id: str) -> str | None:
    """The customer who placed the order; None when there is no such order."""
    customer: str | None = await session.scalar(
        select(OrderRow.customer_id).where(OrderRow.order_id == order_id)
    )
    return customer


async def list_orders(
    session: AsyncSession, where: OrderFilter, limit: int, after: str | None = None
) -> OrderPage:
    """Newest first. Order ids grow with time, so the last id of a page is the next cursor."""
    query = _filtered(select(OrderRow), where).order_by(OrderRow.order_id.desc()).limit(limit + 1)
    if after is not None:
        query = query.where(OrderRow.order_id < after)
    rows = list(await session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    return OrderPage(await _views(session, page), page[-1].order_id if more else None)


async def backordered_order_ids(session: AsyncSession) -> list[str]:
    """Orders waiting for stock, in the order they arrived."""
    rows = await session.scalars(
        select(OrderRow.order_id)
        .where(OrderRow.status == OrderStatus.BACKORDERED)
        .order_by(OrderRow.placed_at, OrderRow.order_id)
    )
    return list(rows)


async def list_centres(session: AsyncSession) -> list[CentreView]:
    rows = await session.scalars(select(FulfilmentCentreRow).order_by(FulfilmentCentreRow.id))
    return [
        CentreView(
            id=row.id,
            name=row.name,
            region=row.region,
            country=row.country,
            lat=row.lat,
            lon=row.lon,
            central=row.central,
            capacity_per_hour=row.capacity_per_hour,
            handling_hours=row.handling_hours,
        )
        for row in rows
    ]


def _filtered(query: Select[OrderRow], where: OrderFilter) -> Select[OrderRow]:
    for column, value in (
        (OrderRow.customer_id, where.customer_id),
        (OrderRow.status, where.status),
        (OrderRow.order_type, where.order_type),
        (OrderRow.mode, where.mode),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


async def _allocations_of(
    session: AsyncSession, order_ids: Sequence[str]
) -> dict[str, dict[str, list[OrderLine]]]:
    if not order_ids:
        return {}
    rows = await session.scalars(
        select(AllocationRow)
        .where(AllocationRow.order_id.in_(order_ids))
        .order_by(AllocationRow.fc_id, AllocationRow.sku)
    )
    found: dict[str, dict[str, list[OrderLine]]] = {}
    for row in rows:
        found.setdefault(row.order_id, {}).setdefault(row.fc_id, []).append(
            OrderLine(row.sku, row.quantity)
        )
    return found


async def _shipments_of(
    session: AsyncSession, order_ids: Sequence[str]
) -> dict[str, list[ShipmentView]]:
    if not order_ids:
        return {}
    rows = await session.scalars(
        select(ShipmentRow)
        .where(ShipmentRow.order_id.in_(order_ids))
        .order_by(ShipmentRow.dispatched_at, ShipmentRow.fc_id)
    )
    found: dict[str, list[ShipmentView]] = {}
    for row in rows:
        found.setdefault(row.order_id, []).append(
            ShipmentView(row.fc_id, row.shipment_id, row.dispatched_at)
        )
    return found


async def _views(session: AsyncSession, rows: Sequence[OrderRow]) -> list[OrderView]:
    order_ids = [row.order_id for row in rows]
    allocations = await _allocations_of(session, order_ids)
    shipments = await _shipments_of(session, order_ids)
    return [
        _view(row, allocations.get(row.order_id, {}), shipments.get(row.order_id, []))
        for row in rows
    ]


def _view(
    row: OrderRow, allocations: dict[str, list[OrderLine]], shipments: list[ShipmentView]
) -> OrderView:
    return OrderView(
        order_id=row.order_id,
        customer_id=row.customer_id,
        order_type=row.order_type,
        mode=row.mode,
        status=row.status,
        failure_reason=row.failure_reason,
        destination=Destination(
            row.destination_country,
            row.destination_postal_code,
            row.destination_lat,
            row.destination_lon,
        ),
        allocations=allocations,
        shipments=shipments,
        sourcing=row.sourcing,
        backordered_until=row.backordered_until,
        closed_at=row.closed_at,
        promised_hours=row.promised_hours,
        promised_delivery_at=row.promised_delivery_at,
        placed_at=row.placed_at,
        timings=Timings(row.order_hours, row.shipping_hours, row.delivery_hours),
        trace_id=row.trace_id,
    )
