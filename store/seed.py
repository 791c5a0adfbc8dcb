"""Idempotent seed of a fulfilment network, its catalogue and initial stock.

Only what is missing is added, so a restart never resets stock that orders have taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.catalogue import default_skus, initial_stock
from domain.network import DEFAULT_NETWORK, Network
from store.db import create_engine, session_factory
from store.models import FulfilmentCentreRow, ProductRow, StockRow


@dataclass(frozen=True)
class SeedResult:
    centres: int
    products: int
    stock_rows: int


async def seed_network(
    session: AsyncSession,
    network: Network,
    skus: Sequence[str],
    stock: Mapping[tuple[str, str], int],
) -> SeedResult:
    existing_centres = set(await session.scalars(select(FulfilmentCentreRow.id)))
    existing_products = set(await session.scalars(select(ProductRow.sku)))
    existing_stock = {
        (fc_id, sku) for fc_id, sku in await session.execute(select(StockRow.fc_id, StockRow.sku))
    }
    centres = [
        FulfilmentCentreRow(
            id=fc.id,
            name=fc.name,
            region=fc.region,
            country=fc.country,
            lat=fc.lat,
            lon=fc.lon,
            central=fc.central,
        )
        for fc in network.centres
        if fc.id not in existing_centres
    ]
    products = [
        ProductRow(sku=sku, name=f"Product {sku}") for sku in skus if sku not in existing_products
    ]
    session.add_all(centres)
    session.add_all(products)
    await session.flush()
    stock_rows = [
        StockRow(fc_id=fc_id, sku=sku, on_hand=units, available=units, reserved=0, shipped=0)
        for (fc_id, sku), units in stock.items()
        if (fc_id, sku) not in existing_stock
    ]
    session.add_all(stock_rows)
    await session.commit()
    return SeedResult(len(centres), len(products), len(stock_rows))


async def seed_default_network(url: str) -> SeedResult:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            skus = default_skus()
            return await seed_network(
                session, DEFAULT_NETWORK, skus, initial_stock(DEFAULT_NETWORK, skus)
            )
    finally:
        await engine.dispose()
