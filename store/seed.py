"""Idempotent seed of a fulfilment network, its catalogue and initial stock.

Only missing products and stock rows are added, so a restart never resets stock that orders
have taken. Centres are descriptions, not state: each seed writes them as given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.network import FulfilmentCentre
from domain.network_spec import NetworkSpec, default_network_spec
from store.db import create_engine, session_factory
from store.models import FulfilmentCentreRow, ProductRow, StockRow


@dataclass(frozen=True)
class SeedResult:
    centres: int
    products: int
    stock_rows: int


async def seed_network(
    session: AsyncSession,
    centres: Sequence[FulfilmentCentre],
    skus: Sequence[str],
    stock: Mapping[tuple[str, str], int],
) -> SeedResult:
    existing_centres = set(await session.scalars(select(FulfilmentCentreRow.id)))
    for fc in centres:
        await session.merge(_centre_row(fc))
    existing_products = set(await session.scalars(select(ProductRow.sku)))
    existing_stock = {
        (fc_id, sku) for fc_id, sku in await session.execute(select(StockRow.fc_id, StockRow.sku))
    }
    new_centres = {fc.id for fc in centres} - existing_centres
    products = [
        ProductRow(sku=sku, name=f"Product {sku}") for sku in skus if sku not in existing_products
    ]
    session.add_all(products)
    await session.flush()
    stock_rows = [
        StockRow(fc_id=fc_id, sku=sku, on_hand=units, available=units, reserved=0, shipped=0)
        for (fc_id, sku), units in stock.items()
        if (fc_id, sku) not in existing_stock
    ]
    session.add_all(stock_rows)
    await session.commit()
    return SeedResult(len(new_centres), len(products), len(stock_rows))


def _centre_row(fc: FulfilmentCentre) -> FulfilmentCentreRow:
    return FulfilmentCentreRow(
        id=fc.id,
        name=fc.name,
        region=fc.region,
        country=fc.country,
        lat=fc.lat,
        lon=fc.lon,
        central=fc.central,
        capacity_per_hour=fc.capacity_per_hour,
        handling_hours={str(kind): hours for kind, hours in fc.handling_hours.items()},
    )


async def seed_network_spec(url: str, spec: NetworkSpec | None = None) -> SeedResult:
    """Seed the database at `url` with a network description (the default one if None)."""
    spec = spec or default_network_spec()
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return await seed_network(session, spec.network.centres, spec.skus, spec.initial_stock)
    finally:
        await engine.dispose()
