"""Stock: reads, receipts, and the atomic moves of units between available, reserved and shipped.

Every row keeps on_hand = available + reserved + shipped: each UPDATE moves units between two
columns of one row. Rows are always written in (fc_id, sku) order, the one lock order of the
whole store, so that two orders over the same rows never wait for each other on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, Table, bindparam, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders import OrderLine
from store.db import BULK, changed_one_row
from store.models import (
    FulfilmentCentreRow,
    ParcelRow,
    ParcelState,
    ProductRow,
    ReceiptRow,
    StockRow,
)

StockKey = tuple[str, str]  # (fc_id, sku)

# The order path's statements, built once: building one costs more than SQLite takes to run
# it, and a statement built once keeps its cache key.
STOCK: Table = StockRow.__table__  # type: ignore[assignment]  # a Table at runtime
PARCELS: Table = ParcelRow.__table__  # type: ignore[assignment]
PRODUCTS: Table = ProductRow.__table__  # type: ignore[assignment]
_THIS_ROW = (STOCK.c.fc_id == bindparam("b_fc"), STOCK.c.sku == bindparam("b_sku"))
_UNITS = bindparam("b_units", type_=Integer())
_RELEASE = (
    update(STOCK)
    .where(*_THIS_ROW)
    .values(available=STOCK.c.available - _UNITS, reserved=STOCK.c.reserved + _UNITS)
)
_RESERVE = _RELEASE.where(STOCK.c.available >= _UNITS)
_SHIP = (
    update(STOCK)
    .where(*_THIS_ROW)
    .values(reserved=STOCK.c.reserved - _UNITS, shipped=STOCK.c.shipped + _UNITS)
)
_STOCK_LEVELS = select(STOCK.c.fc_id, STOCK.c.sku, STOCK.c.available).where(
    STOCK.c.sku.in_(bindparam("b_skus", expanding=True)),
    STOCK.c.fc_id.in_(bindparam("b_fcs", expanding=True)),
)
_KNOWN_SKUS = select(PRODUCTS.c.sku).where(PRODUCTS.c.sku.in_(bindparam("b_skus", expanding=True)))
_BACKLOG = (
    select(PARCELS.c.fc_id, func.count())
    .where(
        PARCELS.c.fc_id.in_(bindparam("b_fcs", expanding=True)),
        PARCELS.c.state == ParcelState.RESERVED.value,
    )
    .group_by(PARCELS.c.fc_id)
)


class UnknownStockItem(LookupError):
    """No stock row for this SKU at this fulfilment centre."""

    def __init__(self, fc_id: str, sku: str) -> None:
        super().__init__(f"fulfilment centre {fc_id!r} stocks no SKU {sku!r}")
        self.fc_id = fc_id
        self.sku = sku


class UnknownCentre(LookupError):
    """No fulfilment centre has this id."""

    def __init__(self, fc_id: str) -> None:
        super().__init__(f"no fulfilment centre {fc_id!r}")
        self.fc_id = fc_id


@dataclass(frozen=True)
class StockItem:
    fc_id: str
    sku: str
    on_hand: int
    available: int
    reserved: int
    shipped: int


@dataclass(frozen=True)
class StockPage:
    items: list[StockItem]
    next_cursor: StockKey | None  # `after` for the next page; None on the last page


async def stock_levels(
    session: AsyncSession, skus: Collection[str], fc_ids: Collection[str]
) -> dict[StockKey, int]:
    rows = await session.execute(_STOCK_LEVELS, {"b_skus": list(skus), "b_fcs": list(fc_ids)})
    return {(fc_id, sku): available for fc_id, sku, available in rows}


async def known_skus(session: AsyncSession, skus: Collection[str]) -> set[str]:
    rows = await session.scalars(_KNOWN_SKUS, {"b_skus": list(skus)})
    return set(rows)


async def change_reservations(session: AsyncSession, changes: Mapping[StockKey, int]) -> bool:
    """Reserve (positive) or release (negative) units per row, all or none.

    A reservation is one conditional UPDATE (SQLite has no SELECT ... FOR UPDATE); on False
    some row was short and the caller must roll back what was already changed.
    """
    for (fc_id, sku), units in sorted(changes.items()):
        if units == 0:
            continue
        row = {"b_fc": fc_id, "b_sku": sku, "b_units": units}
        result = await session.execute(_RESERVE if units > 0 else _RELEASE, row)
        if not changed_one_row(result):
            return False
    return True


async def move_reserved_to_shipped(
    session: AsyncSession, fc_id: str, lines: Iterable[OrderLine]
) -> None:
    rows = [
        {"b_fc": fc_id, "b_sku": sku, "b_units": quantity}
        for sku, quantity in sorted(quantities_by_sku(lines).items())
    ]
    if rows:
        await session.execute(_SHIP, rows)


async def receive(
    session: AsyncSession,
    receipt_id: str,
    fc_id: str,
    sku: str,
    quantity: int,
    received_at: datetime,
) -> bool:
    """Add received units to on hand and available once per receipt id; False for a repeat.

    Commits (or rolls back) the session's transaction.
    """
    if quantity < 1:
        raise ValueError(f"a receipt needs a positive quantity, got {quantity}")
    result = await session.execute(
        update(StockRow)
        .where(StockRow.fc_id == fc_id, StockRow.sku == sku)
        .values(on_hand=StockRow.on_hand + quantity, available=StockRow.available + quantity),
        execution_options=BULK,
    )
    if not changed_one_row(result):
        await session.rollback()
        raise UnknownStockItem(fc_id, sku)
    session.add(
        ReceiptRow(
            receipt_id=receipt_id, fc_id=fc_id, sku=sku, quantity=quantity, received_at=received_at
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        if await session.get(ReceiptRow, receipt_id) is None:
            raise
        return False
    return True


async def backlog_by_centre(session: AsyncSession, fc_ids: Collection[str]) -> dict[str, int]:
    """Orders per centre with units reserved there and not yet shipped."""
    rows = await session.execute(_BACKLOG, {"b_fcs": list(fc_ids)})
    backlog = dict.fromkeys(fc_ids, 0)
    backlog.update({fc_id: count for fc_id, count in rows})
    return backlog


async def available_by_centre(session: AsyncSession, fc_ids: Collection[str]) -> dict[str, int]:
    """Units available per centre, over all its SKUs."""
    rows = await session.execute(
        select(StockRow.fc_id, func.sum(StockRow.available))
        .where(StockRow.fc_id.in_(fc_ids))
        .group_by(StockRow.fc_id)
    )
    available = dict.fromkeys(fc_ids, 0)
    available.update({fc_id: int(units) for fc_id, units in rows})
    return available


async def list_stock(
    session: AsyncSession,
    fc_id: str | None,
    sku: str | None,
    limit: int,
    after: StockKey | None,
) -> StockPage:
    """Stock rows by (fc_id, sku), one keyset page at a time; UnknownCentre for an fc_id
    that names no centre (a centre that exists may still answer an empty page)."""
    if limit < 1:
        raise ValueError(f"a page holds at least one item, got limit={limit}")
    query = select(StockRow).order_by(StockRow.fc_id, StockRow.sku).limit(limit + 1)
    if fc_id is not None:
        query = query.where(StockRow.fc_id == fc_id)
    if sku is not None:
        query = query.where(StockRow.sku == sku)
    if after is not None:
        query = query.where(tuple_(StockRow.fc_id, StockRow.sku) > tuple_(*after))
    rows = list(await session.scalars(query))
    items = [
        StockItem(row.fc_id, row.sku, row.on_hand, row.available, row.reserved, row.shipped)
        for row in rows[:limit]
    ]
    if not rows and fc_id is not None and await session.get(FulfilmentCentreRow, fc_id) is None:
        raise UnknownCentre(fc_id)
    more = len(rows) > limit
    return StockPage(items, (items[-1].fc_id, items[-1].sku) if more else None)


def quantities_by_sku(lines: Iterable[OrderLine]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return totals
