"""Cancelling, failing and re-sourcing an order give back exactly the units it has not shipped."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import CHICAGO, MANHATTAN, NEWARK, OPENING, PROMISE, parcel

from domain.orders import Destination, OrderLine, OrderStatus
from store import queries
from store.orders import Promise
from store.queries import OrderView

SOFA, LAMP = "SKU-0001", "SKU-0002"
BROOKLYN = Destination("US", "11201", 40.69, -73.99)
LATER = OPENING + timedelta(hours=2)
NEW_PROMISE = Promise(hours=30.0, delivery_at=OPENING + timedelta(hours=30))
RESOURCED = {"policy": "nearest", "reason": "the new address is nearer Chicago"}


def units(on_hand: int, available: int, reserved: int = 0, shipped: int = 0) -> dict[str, int]:
    return {"on_hand": on_hand, "available": available, "reserved": reserved, "shipped": shipped}


async def view_of(sessions: async_sessionmaker[AsyncSession], order_id: str) -> OrderView:
    async with sessions() as session:
        view = await queries.get_order(session, order_id)
    assert view is not None
    return view


@pytest.fixture
async def split_order(desk, stockroom):
    """Two sofas from Newark and one lamp from Chicago, out of ten of each."""
    await stockroom.put(SOFA, units=10, fc_id=NEWARK)
    await stockroom.put(LAMP, units=10, fc_id=CHICAGO)
    order = desk.order(OrderLine(SOFA, 2), OrderLine(LAMP, 1))
    assert await desk.split(
        order, parcel(NEWARK, OrderLine(SOFA, 2)), parcel(CHICAGO, OrderLine(LAMP, 1))
    )
    return order


async def test_cancelling_returns_the_units_of_every_parcel(
    db_sessions, desk, stockroom, split_order
) -> None:
    released = await desk.writes.release(
        split_order.order_id, OrderStatus.CANCELLED, "customer changed their mind", LATER
    )

    assert released is True
    assert await stockroom.units(SOFA, NEWARK) == units(10, 10)
    assert await stockroom.units(LAMP, CHICAGO) == units(10, 10)
    view = await view_of(db_sessions, split_order.order_id)
    assert view.status == OrderStatus.CANCELLED
    assert view.failure_reason == "customer changed their mind"
    assert view.closed_at == LATER


async def test_a_second_release_changes_nothing(db_sessions, desk, stockroom, split_order) -> None:
    assert await desk.writes.release(split_order.order_id, OrderStatus.FAILED, "WMS down", LATER)

    again = await desk.writes.release(
        split_order.order_id, OrderStatus.CANCELLED, "customer", LATER + timedelta(hours=1)
    )

    assert again is False
    assert await stockroom.units(SOFA, NEWARK) == units(10, 10)
    view = await view_of(db_sessions, split_order.order_id)
    assert (view.status, view.failure_reason, view.closed_at) == (
        OrderStatus.FAILED,
        "WMS down",
        LATER,
    )


async def test_two_releases_at_once_release_once(desk, stockroom, split_order) -> None:
    results = await asyncio.gather(
        desk.writes.release(split_order.order_id, OrderStatus.CANCELLED, "customer", LATER),
        desk.writes.release(split_order.order_id, OrderStatus.FAILED, "carrier", LATER),
    )

    assert sorted(results) == [False, True]
    assert await stockroom.units(SOFA, NEWARK) == units(10, 10)
    assert await stockroom.units(LAMP, CHICAGO) == units(10, 10)
    assert await stockroom.rows_off_balance() == []


async def test_a_release_keeps_what_was_shipped_and_returns_the_rest(
    db_sessions, desk, stockroom, split_order
) -> None:
    assert await desk.writes.record_shipment(split_order.order_id, NEWARK, "parcel-ewr", LATER, 2.0)

    assert await desk.writes.release(split_order.order_id, OrderStatus.FAILED, "lost", LATER)

    assert await stockroom.units(SOFA, NEWARK) == units(10, 8, shipped=2)
    assert await stockroom.units(LAMP, CHICAGO) == units(10, 10)
    view = await view_of(db_sessions, split_order.order_id)
    assert [(s.fc_id, s.shipment_id) for s in view.shipments] == [(NEWARK, "parcel-ewr")]


async def test_a_parcel_released_first_is_never_shipped(
    db_sessions, desk, stockroom, split_order
) -> None:
    assert await desk.writes.release(split_order.order_id, OrderStatus.CANCELLED, "c", LATER)

    shipped = await desk.writes.record_shipment(
        split_order.order_id, NEWARK, "parcel-ewr", LATER, 2.0
    )

    assert shipped is False
    assert await stockroom.units(SOFA, NEWARK) == units(10, 10)
    view = await view_of(db_sessions, split_order.order_id)
    assert view.status == OrderStatus.CANCELLED
    assert view.shipments == []


async def test_a_release_racing_a_shipment_never_returns_shipped_units(desk, stockroom) -> None:
    rounds = 50
    await stockroom.put(SOFA, units=rounds)
    orders = [desk.order(OrderLine(SOFA, 1)) for _ in range(rounds)]
    for order in orders:
        assert await desk.allocate(order)

    outcomes = await asyncio.gather(
        *(
            asyncio.gather(
                desk.writes.record_shipment(order.order_id, NEWARK, f"p-{n}", LATER, 1.0),
                desk.writes.release(order.order_id, OrderStatus.CANCELLED, "c", LATER),
            )
            for n, order in enumerate(orders)
        )
    )

    shipped = sum(1 for was_shipped, _ in outcomes if was_shipped)
    assert all(released for _, released in outcomes)  # an order shipped is still open to end
    assert await stockroom.units(SOFA) == units(rounds, rounds - shipped, shipped=shipped)


async def test_releasing_a_backordered_order_ends_it(db_sessions, desk, stockroom) -> None:
    order = desk.order(OrderLine(SOFA, 1))
    await desk.backorder(order, {"reason": "none left"}, LATER)

    assert await desk.writes.release(order.order_id, OrderStatus.CANCELLED, "expired", LATER)

    assert (await view_of(db_sessions, order.order_id)).status == OrderStatus.CANCELLED
    assert await stockroom.units(SOFA) == units(500, 500)


async def test_releasing_an_unknown_or_delivered_order_changes_nothing(
    desk, stockroom, split_order
) -> None:
    for fc_id in (NEWARK, CHICAGO):
        await desk.writes.record_shipment(split_order.order_id, fc_id, f"p-{fc_id}", LATER, 1.0)
    await desk.writes.record_delivery(split_order.order_id, LATER + timedelta(days=1), 20.0)

    assert await desk.writes.release("no-such-order", OrderStatus.CANCELLED, "c", LATER) is False
    assert await desk.writes.release(split_order.order_id, OrderStatus.FAILED, "f", LATER) is False
    assert await stockroom.units(SOFA, NEWARK) == units(10, 8, shipped=2)


async def test_release_ends_an_order_only_as_cancelled_or_failed(desk, split_order) -> None:
    with pytest.raises(ValueError, match="cancelled or failed"):
        await desk.writes.release(split_order.order_id, OrderStatus.DELIVERED, "no", LATER)


async def test_reallocating_moves_the_reservation_between_centres_at_once(
    db_sessions, desk, stockroom
) -> None:
    for fc_id in (NEWARK, CHICAGO):
        await stockroom.put(SOFA, units=10, fc_id=fc_id)
    order = desk.order(OrderLine(SOFA, 3))
    assert await desk.allocate(order, NEWARK)

    moved = await desk.writes.reallocate(
        order.order_id, BROOKLYN, [parcel(CHICAGO, OrderLine(SOFA, 3))], NEW_PROMISE, RESOURCED
    )

    assert moved is True
    assert await stockroom.units(SOFA, NEWARK) == units(10, 10)
    assert await stockroom.units(SOFA, CHICAGO) == units(10, 7, reserved=3)
    view = await view_of(db_sessions, order.order_id)
    assert view.allocations == {CHICAGO: [OrderLine(SOFA, 3)]}
    assert view.destination == BROOKLYN
    assert (view.promised_hours, view.promised_delivery_at) == (30.0, NEW_PROMISE.delivery_at)
    assert view.sourcing == RESOURCED
    assert view.status == OrderStatus.ALLOCATED


async def test_reallocating_counts_the_units_the_order_already_holds(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=3, fc_id=NEWARK)
    await stockroom.put(SOFA, units=1, fc_id=CHICAGO)
    order = desk.order(OrderLine(SOFA, 3))
    assert await desk.allocate(order, NEWARK)

    moved = await desk.writes.reallocate(
        order.order_id,
        BROOKLYN,
        [parcel(NEWARK, OrderLine(SOFA, 2)), parcel(CHICAGO, OrderLine(SOFA, 1))],
        NEW_PROMISE,
        RESOURCED,
    )

    assert moved is True
    assert await stockroom.units(SOFA, NEWARK) == units(3, 1, reserved=2)
    assert await stockroom.units(SOFA, CHICAGO) == units(1, 0, reserved=1)


async def test_a_reallocation_short_of_stock_changes_nothing(db_sessions, desk, stockroom) -> None:
    await stockroom.put(SOFA, units=10, fc_id=NEWARK)
    await stockroom.put(SOFA, units=2, fc_id=CHICAGO)
    order = desk.order(OrderLine(SOFA, 3))
    assert await desk.allocate(order, NEWARK)

    moved = await desk.writes.reallocate(
        order.order_id, BROOKLYN, [parcel(CHICAGO, OrderLine(SOFA, 3))], NEW_PROMISE, RESOURCED
    )

    assert moved is False
    assert await stockroom.units(SOFA, NEWARK) == units(10, 7, reserved=3)
    assert await stockroom.units(SOFA, CHICAGO) == units(2, 2)
    view = await view_of(db_sessions, order.order_id)
    assert (view.destination, view.promised_hours) == (MANHATTAN, PROMISE.hours)
    assert view.allocations == {NEWARK: [OrderLine(SOFA, 3)]}


async def test_a_reallocation_is_refused_once_a_parcel_has_shipped(
    db_sessions, desk, stockroom, split_order
) -> None:
    await desk.writes.record_shipment(split_order.order_id, CHICAGO, "parcel-ord", LATER, 1.0)

    moved = await desk.writes.reallocate(
        split_order.order_id,
        BROOKLYN,
        [parcel(NEWARK, OrderLine(SOFA, 2), OrderLine(LAMP, 1))],
        NEW_PROMISE,
        RESOURCED,
    )

    assert moved is False
    assert await stockroom.units(SOFA, NEWARK) == units(10, 8, reserved=2)
    assert await stockroom.units(LAMP, CHICAGO) == units(10, 9, shipped=1)
    assert (await view_of(db_sessions, split_order.order_id)).destination == MANHATTAN


async def test_a_reallocation_is_refused_for_an_order_not_allocated(desk, stockroom) -> None:
    backordered, cancelled = desk.order(OrderLine(SOFA, 1)), desk.order(OrderLine(SOFA, 1))
    await desk.backorder(backordered, {"reason": "none"}, LATER)
    assert await desk.allocate(cancelled)
    await desk.writes.release(cancelled.order_id, OrderStatus.CANCELLED, "c", LATER)
    elsewhere = [parcel(CHICAGO, OrderLine(SOFA, 1))]

    for order_id in (backordered.order_id, cancelled.order_id, "no-such-order"):
        assert not await desk.writes.reallocate(
            order_id, BROOKLYN, elsewhere, NEW_PROMISE, RESOURCED
        )

    assert await stockroom.units(SOFA, CHICAGO) == units(500, 500)


async def test_a_shipment_racing_a_reallocation_ships_from_where_the_units_are(
    db_sessions, desk, stockroom
) -> None:
    rounds = 50
    for fc_id in (NEWARK, CHICAGO):
        await stockroom.put(SOFA, units=rounds, fc_id=fc_id)
    orders = [desk.order(OrderLine(SOFA, 1)) for _ in range(rounds)]
    for order in orders:
        assert await desk.allocate(order, NEWARK)
    to_chicago = [parcel(CHICAGO, OrderLine(SOFA, 1))]

    outcomes = await asyncio.gather(
        *(
            asyncio.gather(
                desk.writes.record_shipment(order.order_id, NEWARK, f"p-{n}", LATER, 1.0),
                desk.writes.reallocate(order.order_id, BROOKLYN, to_chicago, PROMISE, RESOURCED),
            )
            for n, order in enumerate(orders)
        )
    )

    assert all(shipped != moved for shipped, moved in outcomes)
    moved = sum(1 for _, was_moved in outcomes if was_moved)
    assert await stockroom.units(SOFA, NEWARK) == units(rounds, moved, shipped=rounds - moved)
    assert await stockroom.units(SOFA, CHICAGO) == units(rounds, rounds - moved, reserved=moved)


async def test_reallocations_crossing_two_centres_never_deadlock(desk, stockroom) -> None:
    pairs = 100
    for fc_id in (NEWARK, CHICAGO):
        await stockroom.put(SOFA, units=2 * pairs, fc_id=fc_id)
        await stockroom.put(LAMP, units=2 * pairs, fc_id=fc_id)
    lines = (OrderLine(SOFA, 1), OrderLine(LAMP, 1))
    in_newark = [desk.order(*lines) for _ in range(pairs)]
    in_chicago = [desk.order(*lines) for _ in range(pairs)]
    placed = await asyncio.gather(
        *(desk.allocate(order, NEWARK) for order in in_newark),
        *(desk.allocate(order, CHICAGO) for order in in_chicago),
    )
    assert all(placed)

    def move(order_id: str, fc_id: str):
        return desk.writes.reallocate(order_id, BROOKLYN, [parcel(fc_id, *lines)], PROMISE, {})

    results = await asyncio.gather(
        *(
            call
            for east, west in zip(in_newark, in_chicago, strict=True)
            for call in (move(east.order_id, CHICAGO), move(west.order_id, NEWARK))
        )
    )

    assert results == [True] * 2 * pairs
    for fc_id in (NEWARK, CHICAGO):
        assert await stockroom.units(SOFA, fc_id) == units(2 * pairs, pairs, reserved=pairs)
    assert await stockroom.rows_off_balance() == []
