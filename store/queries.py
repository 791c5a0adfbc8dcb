"""Reads of the order read model for the API: one order, and filtered keyset pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders import Destination, OrderLine
from domain.timings import Timings
from store.models import AllocationRow, OrderRow


@dataclass(frozen=True)
class OrderView:
    order_id: str
    customer_id: str
    order_type: str
    mode: str
    status: str
    failure_reason: str | None
    destination: Destination
    allocations: dict[str, list[OrderLine]]
    promised_hours: float | None
    promised_delivery_at: datetime | None
    placed_at: datetime
    timings: Timings


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
    allocations = await _allocations_of(session, [order_id])
    return _view(row, allocations.get(order_id, {}))


async def list_orders(
    session: AsyncSession, where: OrderFilter, limit: int, after: str | None = None
) -> OrderPage:
    """Newest first. Order ids grow with time, so the last id of a page is the next cursor."""
    query = _filtered(select(OrderRow), where).order_by(OrderRow.order_id.desc()).limit(limit + 1)
    if after is not None:
        query = query.where(OrderRow.order_id < after)
    rows = list(await session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    allocations = await _allocations_of(session, [row.order_id for row in page])
    items = [_view(row, allocations.get(row.order_id, {})) for row in page]
    return OrderPage(items, page[-1].order_id if more else None)


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


def _view(row: OrderRow, allocations: dict[str, list[OrderLine]]) -> OrderView:
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
        promised_hours=row.promised_hours,
        promised_delivery_at=row.promised_delivery_at,
        placed_at=row.placed_at,
        timings=Timings(row.order_hours, row.shipping_hours, row.delivery_hours),
    )
