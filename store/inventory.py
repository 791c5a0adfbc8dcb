"""Stock reads and the atomic reservation, release and shipment of units."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders import OrderLine
from store.models import ProductRow, StockRow


async def stock_levels(
    session: AsyncSession, skus: Collection[str], fc_ids: Collection[str]
) -> dict[tuple[str, str], int]:
    rows = await session.execute(
        select(StockRow.fc_id, StockRow.sku, StockRow.available).where(
            StockRow.sku.in_(skus), StockRow.fc_id.in_(fc_ids)
        )
    )
    return {(fc_id, sku): available for fc_id, sku, available in rows}


async def known_skus(session: AsyncSession, skus: Collection[str]) -> set[str]:
    rows = await session.scalars(select(ProductRow.sku).where(ProductRow.sku.in_(skus)))
    return set(rows)


async def reserve(session: AsyncSession, fc_id: str, lines: Iterable[OrderLine]) -> bool:
    """Take units from `available` into `reserved`, all lines or none (the caller rolls back).

    One conditional UPDATE per SKU, in SKU order: SQLite has no SELECT ... FOR UPDATE, and a
    fixed order means two multi-line orders on PostgreSQL lock rows the same way round.
    """
    for sku, quantity in sorted(quantities_by_sku(lines).items()):
        result = await session.execute(
            update(StockRow)
            .where(StockRow.fc_id == fc_id, StockRow.sku == sku, StockRow.available >= quantity)
            .values(available=StockRow.available - quantity, reserved=StockRow.reserved + quantity)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
    return True


async def move_reserved_to_shipped(
    session: AsyncSession, fc_id: str, lines: Iterable[OrderLine]
) -> None:
    for sku, quantity in sorted(quantities_by_sku(lines).items()):
        await session.execute(
            update(StockRow)
            .where(StockRow.fc_id == fc_id, StockRow.sku == sku)
            .values(reserved=StockRow.reserved - quantity, shipped=StockRow.shipped + quantity)
        )


def quantities_by_sku(lines: Iterable[OrderLine]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return totals
