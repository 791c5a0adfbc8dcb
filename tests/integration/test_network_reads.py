"""What the API reads about the network: centres, stock pages, backlogs, and an order's story."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import ATLANTA, CHICAGO, NEWARK, OPENING, PROMISE, SOURCING, parcel

from domain.catalogue import default_skus
from domain.network import DEFAULT_NETWORK
from domain.orders import OrderLine, OrderStatus
from store import inventory, queries
from store.inventory import StockItem
from store.queries import ShipmentView
from store.seed import seed_network

SOFA, LAMP = "SKU-0001", "SKU-0002"
DISPATCH = OPENING + timedelta(hours=5)


async def backlog(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return await inventory.backlog_by_centre(session, [NEWARK, CHICAGO, ATLANTA])


async def test_the_backlog_counts_orders_with_units_waiting_at_each_centre(
    db_sessions, desk
) -> None:
    split = desk.order(OrderLine(SOFA, 1), OrderLine(LAMP, 1))
    assert await desk.split(
        split, parcel(NEWARK, OrderLine(SOFA, 1)), parcel(CHICAGO, OrderLine(LAMP, 1))
    )
    whole = desk.order(OrderLine(SOFA, 2), OrderLine(LAMP, 1))
    assert await desk.allocate(whole, NEWARK)
    assert await backlog(db_sessions) == {NEWARK: 2, CHICAGO: 1, ATLANTA: 0}

    await desk.writes.record_shipment(split.order_id, NEWARK, "p-1", DISPATCH, 5.0)
    assert await backlog(db_sessions) == {NEWARK: 1, CHICAGO: 1, ATLANTA: 0}

    await desk.writes.release(split.order_id, OrderStatus.CANCELLED, "customer", DISPATCH)
    assert await backlog(db_sessions) == {NEWARK: 1, CHICAGO: 0, ATLANTA: 0}

    await desk.writes.reallocate(
        whole.order_id, whole.destination, [parcel(ATLANTA, *whole.lines)], PROMISE, {}
    )
    assert await backlog(db_sessions) == {NEWARK: 0, CHICAGO: 0, ATLANTA: 1}


async def test_the_centres_are_listed_as_the_network_describes_them(db_sessions) -> None:
    async with db_sessions() as session:
        centres = await queries.list_centres(session)

    described = sorted(DEFAULT_NETWORK.centres, key=lambda fc: fc.id)
    assert [c.id for c in centres] == [fc.id for fc in described]
    for listed, fc in zip(centres, described, strict=True):
        assert (listed.name, listed.region, listed.country) == (fc.name, fc.region, fc.country)
        assert (listed.lat, listed.lon, listed.central) == (fc.lat, fc.lon, fc.central)
        assert listed.capacity_per_hour == fc.capacity_per_hour
        assert listed.handling_hours == {str(k): v for k, v in fc.handling_hours.items()}


async def test_seeding_again_rewrites_the_centres_and_keeps_the_stock(db_sessions, desk) -> None:
    assert await desk.allocate(desk.order(OrderLine(SOFA, 3)), NEWARK)
    newark = DEFAULT_NETWORK.get(NEWARK)
    busier = replace(newark, capacity_per_hour=newark.capacity_per_hour * 2)

    async with db_sessions() as session:
        result = await seed_network(session, [busier], default_skus(), {(NEWARK, SOFA): 500})
        centres = {c.id: c for c in await queries.list_centres(session)}
        page = await inventory.list_stock(session, NEWARK, SOFA, limit=1, after=None)

    assert (result.centres, result.products, result.stock_rows) == (0, 0, 0)
    assert centres[NEWARK].capacity_per_hour == busier.capacity_per_hour
    assert page.items == [StockItem(NEWARK, SOFA, 500, 497, 3, 0)]


async def test_stock_is_listed_one_keyset_page_at_a_time(db_sessions) -> None:
    keys: list[tuple[str, str]] = []
    pages = 0
    after = None
    async with db_sessions() as session:
        while True:
            page = await inventory.list_stock(session, None, SOFA, limit=4, after=after)
            keys += [(item.fc_id, item.sku) for item in page.items]
            pages += 1
            if page.next_cursor is None:
                break
            after = page.next_cursor

    centres = sorted(fc.id for fc in DEFAULT_NETWORK.centres)
    assert keys == [(fc_id, SOFA) for fc_id in centres]
    assert pages == -(-len(centres) // 4)


async def test_stock_of_one_centre_is_listed_by_sku(db_sessions, desk) -> None:
    order = desk.order(OrderLine(LAMP, 2))
    assert await desk.allocate(order, CHICAGO)
    await desk.writes.record_shipment(order.order_id, CHICAGO, "p-1", DISPATCH, 5.0)

    async with db_sessions() as session:
        first = await inventory.list_stock(session, CHICAGO, None, limit=2, after=None)
        second = await inventory.list_stock(session, CHICAGO, None, 2, first.next_cursor)

    assert first.items == [
        StockItem(CHICAGO, SOFA, 500, 500, 0, 0),
        StockItem(CHICAGO, LAMP, 500, 498, 0, 2),
    ]
    assert first.next_cursor == (CHICAGO, LAMP)
    assert [item.sku for item in second.items] == ["SKU-0003", "SKU-0004"]


async def test_stock_of_a_centre_that_does_not_exist_is_refused(db_sessions) -> None:
    async with db_sessions() as session:
        with pytest.raises(inventory.UnknownCentre) as refused:
            await inventory.list_stock(session, "nowhere", None, limit=10, after=None)
        past_the_last_row = await inventory.list_stock(
            session, CHICAGO, None, limit=10, after=(CHICAGO, "SKU-9999")
        )
        no_such_sku = await inventory.list_stock(session, CHICAGO, "SKU-9999", 10, None)

    assert refused.value.fc_id == "nowhere"
    assert past_the_last_row == no_such_sku == inventory.StockPage([], None)


async def test_an_order_shows_its_sourcing_parcels_and_shipments(db_sessions, desk) -> None:
    order = desk.order(OrderLine(SOFA, 1), OrderLine(LAMP, 2))
    assert await desk.split(
        order, parcel(NEWARK, OrderLine(SOFA, 1)), parcel(CHICAGO, OrderLine(LAMP, 2))
    )
    await desk.writes.record_shipment(order.order_id, CHICAGO, "p-ord", DISPATCH, 5.0)

    async with db_sessions() as session:
        view = await queries.get_order(session, order.order_id)

    assert view is not None
    assert view.status == OrderStatus.SHIPPED
    assert view.sourcing == SOURCING
    assert view.allocations == {NEWARK: [OrderLine(SOFA, 1)], CHICAGO: [OrderLine(LAMP, 2)]}
    assert view.shipments == [ShipmentView(CHICAGO, "p-ord", DISPATCH)]


async def test_available_units_per_centre_add_up_every_sku_and_drop_as_orders_reserve(
    db_sessions, desk, stockroom
) -> None:
    await stockroom.put(SOFA, units=7, fc_id=CHICAGO)
    await stockroom.put(LAMP, units=3, fc_id=CHICAGO)
    async with db_sessions() as session:
        before = await inventory.available_by_centre(session, [NEWARK, CHICAGO, "nowhere"])
        others = sum(
            item.available
            for item in (await inventory.list_stock(session, CHICAGO, None, 1000, None)).items
            if item.sku not in {SOFA, LAMP}
        )

    assert await desk.allocate(desk.order(OrderLine(SOFA, 2), OrderLine(LAMP, 1)), CHICAGO)
    async with db_sessions() as session:
        after = await inventory.available_by_centre(session, [NEWARK, CHICAGO, "nowhere"])

    assert before[CHICAGO] == 10 + others and before["nowhere"] == 0
    assert after == before | {CHICAGO: before[CHICAGO] - 3}
