"""An order's parcels: what it takes from each FC, line by line, and whether that is still
reserved there, shipped, or released. Helpers of one transaction in store/orders.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders import OrderLine
from store.db import BULK, changed_one_row
from store.inventory import StockKey, quantities_by_sku
from store.models import AllocationRow, ParcelRow, ParcelState

PARCELS: Table = ParcelRow.__table__  # type: ignore[assignment]  # a Table at runtime
ALLOCATIONS: Table = AllocationRow.__table__  # type: ignore[assignment]
# The order path's statements, built once (see store/inventory.py).
_ADD_PARCELS = insert(PARCELS)
_ADD_LINES = insert(ALLOCATIONS)
_MARK_SHIPPED = (
    update(PARCELS)
    .where(
        PARCELS.c.order_id == bindparam("b_order"),
        PARCELS.c.fc_id == bindparam("b_fc"),
        PARCELS.c.state == ParcelState.RESERVED.value,
    )
    .values(state=ParcelState.SHIPPED.value)
)
_LINES_AT = (
    select(ALLOCATIONS.c.sku, ALLOCATIONS.c.quantity)
    .where(ALLOCATIONS.c.order_id == bindparam("b_order"), ALLOCATIONS.c.fc_id == bindparam("b_fc"))
    .order_by(ALLOCATIONS.c.sku)
)


@dataclass(frozen=True)
class ParcelReservation:
    """The lines of an order to reserve at one fulfilment centre."""

    fc_id: str
    lines: tuple[OrderLine, ...]


def units_of(
    order_lines: Iterable[OrderLine], parcels: Sequence[ParcelReservation]
) -> dict[StockKey, int]:
    """Units per (fc_id, sku) of the parcels, which must together be exactly the order's lines."""
    units: dict[StockKey, int] = {}
    for parcel in parcels:
        if not parcel.lines:
            raise ValueError(f"the parcel from {parcel.fc_id} has no lines")
        for sku, quantity in quantities_by_sku(parcel.lines).items():
            units[parcel.fc_id, sku] = units.get((parcel.fc_id, sku), 0) + quantity
    in_parcels = quantities_by_sku(OrderLine(sku, n) for (_, sku), n in units.items())
    ordered = quantities_by_sku(order_lines)
    if in_parcels != ordered:
        raise ValueError(f"the parcels hold {in_parcels}, but the order is for {ordered}")
    return units


async def add(session: AsyncSession, order_id: str, units: Mapping[StockKey, int]) -> None:
    """Record the order's reserved parcels and their lines."""
    await session.execute(
        _ADD_PARCELS,
        [
            {"order_id": order_id, "fc_id": fc_id, "state": ParcelState.RESERVED.value}
            for fc_id in sorted({fc_id for fc_id, _ in units})
        ],
    )
    await session.execute(
        _ADD_LINES,
        [
            {"order_id": order_id, "fc_id": fc_id, "sku": sku, "quantity": quantity}
            for (fc_id, sku), quantity in sorted(units.items())
        ],
    )


async def release(session: AsyncSession, order_id: str) -> dict[StockKey, int]:
    """Mark the order's reserved parcels released; the units they held, to return to stock."""
    released = await session.scalars(
        update(ParcelRow)
        .where(ParcelRow.order_id == order_id, ParcelRow.state == ParcelState.RESERVED)
        .values(state=ParcelState.RELEASED)
        .returning(ParcelRow.fc_id),
        execution_options=BULK,
    )
    return await _units_at(session, order_id, list(released))


async def remove(session: AsyncSession, order_id: str) -> dict[StockKey, int] | None:
    """Delete the order's parcels, all still reserved; None, and nothing deleted, otherwise."""
    units = {
        (fc_id, sku): quantity
        for fc_id, sku, quantity in await session.execute(
            delete(AllocationRow)
            .where(AllocationRow.order_id == order_id)
            .returning(AllocationRow.fc_id, AllocationRow.sku, AllocationRow.quantity),
            execution_options=BULK,
        )
    }
    states = await session.scalars(
        delete(ParcelRow).where(ParcelRow.order_id == order_id).returning(ParcelRow.state),
        execution_options=BULK,
    )
    return units if set(states) <= {ParcelState.RESERVED} else None


async def mark_shipped(session: AsyncSession, order_id: str, fc_id: str) -> bool:
    """Move the parcel from reserved to shipped; False when it is not reserved."""
    result = await session.execute(_MARK_SHIPPED, {"b_order": order_id, "b_fc": fc_id})
    return changed_one_row(result)


async def lines_at(session: AsyncSession, order_id: str, fc_id: str) -> list[OrderLine]:
    """The lines of the order's parcel from `fc_id`."""
    rows = await session.execute(_LINES_AT, {"b_order": order_id, "b_fc": fc_id})
    return [OrderLine(sku, quantity) for sku, quantity in rows]


async def state_of(session: AsyncSession, order_id: str, fc_id: str) -> ParcelState | None:
    state = await session.scalar(
        select(ParcelRow.state).where(ParcelRow.order_id == order_id, ParcelRow.fc_id == fc_id)
    )
    return None if state is None else ParcelState(state)


async def lines_by_centre(session: AsyncSession, order_id: str) -> dict[str, list[OrderLine]]:
    """The order's lines, per centre it takes them from (one centre's: `lines_at`)."""
    query = (
        select(AllocationRow.fc_id, AllocationRow.sku, AllocationRow.quantity)
        .where(AllocationRow.order_id == order_id)
        .order_by(AllocationRow.fc_id, AllocationRow.sku)
    )
    found: dict[str, list[OrderLine]] = {}
    for centre, sku, quantity in await session.execute(query):
        found.setdefault(centre, []).append(OrderLine(sku, quantity))
    return found


async def _units_at(
    session: AsyncSession, order_id: str, fc_ids: Sequence[str]
) -> dict[StockKey, int]:
    if not fc_ids:
        return {}
    rows = await session.execute(
        select(AllocationRow.fc_id, AllocationRow.sku, AllocationRow.quantity).where(
            AllocationRow.order_id == order_id, AllocationRow.fc_id.in_(fc_ids)
        )
    )
    return {(fc_id, sku): quantity for fc_id, sku, quantity in rows}
