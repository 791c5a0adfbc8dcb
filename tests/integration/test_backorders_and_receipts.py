"""Orders that wait for stock, and the receipts of stock that end their wait."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import CHICAGO, NEWARK, OPENING, PROMISE, parcel

from domain.orders import OrderLine, OrderStatus
from store import inventory, queries
from store.orders import OrderAlreadyRecorded, OrderNotFound

SOFA, LAMP = "SKU-0001", "SKU-0002"
WAIT_UNTIL = OPENING + timedelta(hours=48)
SHORT = {"policy": "nearest", "reason": "out of stock", "short": [{"sku": SOFA, "missing": 1}]}
FOUND = {"policy": "nearest", "reason": "ewr has it now"}


async def receive(
    sessions: async_sessionmaker[AsyncSession],
    receipt_id: str,
    units: int,
    sku: str = SOFA,
    fc_id: str = NEWARK,
) -> bool:
    async with sessions() as session:
        return await inventory.receive(session, receipt_id, fc_id, sku, units, OPENING)


async def backordered_ids(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return await queries.backordered_order_ids(session)


async def test_a_receipt_adds_its_units_once(db_sessions, stockroom) -> None:
    await stockroom.put(SOFA, units=2)

    first = await receive(db_sessions, "asn-1", units=5)
    repeat = await receive(db_sessions, "asn-1", units=5)

    assert (first, repeat) == (True, False)
    assert await stockroom.units(SOFA) == {
        "on_hand": 7,
        "available": 7,
        "reserved": 0,
        "shipped": 0,
    }


async def test_the_same_receipt_five_times_at_once_adds_its_units_once(
    db_sessions, stockroom
) -> None:
    await stockroom.put(SOFA, units=0)

    results = await asyncio.gather(*(receive(db_sessions, "asn-1", units=4) for _ in range(5)))

    assert sorted(results) == [False, False, False, False, True]
    assert (await stockroom.units(SOFA))["available"] == 4


@pytest.mark.parametrize(
    ("fc_id", "sku"), [("nowhere", SOFA), (NEWARK, "SKU-9999")], ids=["centre", "sku"]
)
async def test_a_receipt_for_stock_nobody_keeps_is_refused(
    db_sessions, stockroom, fc_id: str, sku: str
) -> None:
    with pytest.raises(inventory.UnknownStockItem, match=sku) as refused:
        await receive(db_sessions, "asn-1", units=5, sku=sku, fc_id=fc_id)

    assert (refused.value.fc_id, refused.value.sku) == (fc_id, sku)
    assert await receive(db_sessions, "asn-1", units=5) is True  # the id was not used up


async def test_a_receipt_of_no_units_is_refused(db_sessions, stockroom) -> None:
    with pytest.raises(ValueError, match="positive"):
        await receive(db_sessions, "asn-1", units=0)

    assert (await stockroom.units(SOFA))["on_hand"] == 500


async def test_a_backordered_order_waits_without_taking_stock(db_sessions, desk, stockroom) -> None:
    await stockroom.put(SOFA, units=0)
    order = desk.order(OrderLine(SOFA, 1))

    await desk.backorder(order, SHORT, WAIT_UNTIL)
    with pytest.raises(OrderAlreadyRecorded):  # a retry: what was recorded stays
        await desk.backorder(order, {"reason": "a retry"}, WAIT_UNTIL)

    recorded = await desk.writes.allocation_of(order.order_id)
    assert recorded.status is OrderStatus.BACKORDERED
    assert recorded.sourcing == SHORT
    assert recorded.backordered_until == WAIT_UNTIL
    assert recorded.reservations == {}
    assert await backordered_ids(db_sessions) == [order.order_id]
    assert (await stockroom.units(SOFA))["reserved"] == 0


async def test_a_backordered_order_is_allocated_once_stock_arrives(
    db_sessions, desk, stockroom
) -> None:
    await stockroom.put(SOFA, units=0)
    order = desk.order(OrderLine(SOFA, 2))
    await desk.backorder(order, SHORT, WAIT_UNTIL)
    at_newark = [parcel(NEWARK, OrderLine(SOFA, 2))]
    allocated_at = order.placed_at + timedelta(hours=3)

    async def allocate() -> bool:
        return await desk.writes.allocate_backordered(
            order.order_id, at_newark, PROMISE, allocated_at, FOUND
        )

    assert await allocate() is False
    assert (await desk.writes.allocation_of(order.order_id)).status is OrderStatus.BACKORDERED

    await receive(db_sessions, "asn-1", units=3)
    assert await allocate() is True
    assert await allocate() is True  # a repeat: already allocated, nothing more reserved

    assert await stockroom.units(SOFA) == {
        "on_hand": 3,
        "available": 1,
        "reserved": 2,
        "shipped": 0,
    }
    recorded = await desk.writes.allocation_of(order.order_id)
    assert recorded.status is OrderStatus.ALLOCATED
    assert recorded.reservations == {NEWARK: [OrderLine(SOFA, 2)]}
    assert recorded.sourcing == FOUND
    assert recorded.allocated_at == allocated_at
    assert recorded.promise == PROMISE
    assert await backordered_ids(db_sessions) == []
    async with db_sessions() as session:
        view = await queries.get_order(session, order.order_id)
    assert view.timings.order_hours == 3.0


async def test_two_attempts_at_a_backordered_order_at_once_reserve_once(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=5)
    order = desk.order(OrderLine(SOFA, 2))
    await desk.backorder(order, SHORT, WAIT_UNTIL)

    results = await asyncio.gather(
        *(
            desk.writes.allocate_backordered(
                order.order_id, [parcel(NEWARK, OrderLine(SOFA, 2))], PROMISE, OPENING, FOUND
            )
            for _ in range(2)
        )
    )

    assert results == [True, True]
    assert (await stockroom.units(SOFA))["reserved"] == 2


async def test_a_split_backorder_takes_every_parcel_or_none(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=1, fc_id=NEWARK)
    await stockroom.put(LAMP, units=0, fc_id=CHICAGO)
    order = desk.order(OrderLine(SOFA, 1), OrderLine(LAMP, 1))
    await desk.backorder(order, SHORT, WAIT_UNTIL)

    allocated = await desk.writes.allocate_backordered(
        order.order_id,
        [parcel(NEWARK, OrderLine(SOFA, 1)), parcel(CHICAGO, OrderLine(LAMP, 1))],
        PROMISE,
        OPENING,
        FOUND,
    )

    assert allocated is False
    assert (await stockroom.units(SOFA, NEWARK))["available"] == 1


async def test_a_cancelled_backorder_is_not_allocated(desk, stockroom) -> None:
    order = desk.order(OrderLine(SOFA, 1))
    await desk.backorder(order, SHORT, WAIT_UNTIL)
    await desk.writes.release(order.order_id, OrderStatus.CANCELLED, "waited too long", OPENING)

    allocated = await desk.writes.allocate_backordered(
        order.order_id, [parcel(NEWARK, OrderLine(SOFA, 1))], PROMISE, OPENING, FOUND
    )

    assert allocated is False
    assert (await stockroom.units(SOFA))["reserved"] == 0


async def test_allocating_an_unknown_backorder_is_an_error(desk) -> None:
    with pytest.raises(OrderNotFound):
        await desk.writes.allocate_backordered(
            "no-such-order", [parcel(NEWARK, OrderLine(SOFA, 1))], PROMISE, OPENING, FOUND
        )


async def test_backordered_orders_are_listed_in_the_order_they_arrived(
    db_sessions, desk, stockroom
) -> None:
    first, second, third, fourth = (desk.order(OrderLine(SOFA, 1)) for _ in range(4))
    for order in (third, first, fourth, second):
        await desk.backorder(order, SHORT, WAIT_UNTIL)
    await desk.writes.allocate_backordered(
        second.order_id, [parcel(NEWARK, OrderLine(SOFA, 1))], PROMISE, OPENING, FOUND
    )
    await desk.writes.release(fourth.order_id, OrderStatus.CANCELLED, "expired", OPENING)

    assert await backordered_ids(db_sessions) == [first.order_id, third.order_id]


async def test_a_backorder_cancelled_while_it_is_allocated_keeps_no_stock(desk, stockroom) -> None:
    rounds = 30
    await stockroom.put(SOFA, units=rounds)
    orders = [desk.order(OrderLine(SOFA, 1)) for _ in range(rounds)]
    for order in orders:
        await desk.backorder(order, SHORT, WAIT_UNTIL)
    at_newark = [parcel(NEWARK, OrderLine(SOFA, 1))]

    await asyncio.gather(
        *(
            call
            for order in orders
            for call in (
                desk.writes.allocate_backordered(
                    order.order_id, at_newark, PROMISE, OPENING, FOUND
                ),
                desk.writes.release(order.order_id, OrderStatus.CANCELLED, "expired", OPENING),
            )
        )
    )

    assert await stockroom.units(SOFA) == {
        "on_hand": rounds,
        "available": rounds,
        "reserved": 0,
        "shipped": 0,
    }
    for order in orders:
        assert (await desk.writes.allocation_of(order.order_id)).status is OrderStatus.CANCELLED
