"""The order lifecycle's writes are safe to repeat, and the read model shows what they wrote."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.orders import Mode, OrderLine, OrderStatus, OrderType
from domain.timings import Timings
from store import queries
from store.models import ShipmentRow
from store.orders import OrderAlreadyRecorded, ParcelReservation, Promise
from store.queries import OrderFilter
from store.surveys import SurveyAnswers, SurveyOutcome, record_survey

SOFA, LAMP = "SKU-0001", "SKU-0002"
DISPATCH = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
HAPPY = SurveyAnswers(delivery_time=5, accuracy=5, overall=4, comment="quick")


async def shipments_of(sessions: async_sessionmaker[AsyncSession], order_id: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(ShipmentRow).where(ShipmentRow.order_id == order_id)
        )
        return count or 0


async def status_of(sessions: async_sessionmaker[AsyncSession], order_id: str) -> str:
    async with sessions() as session:
        view = await queries.get_order(session, order_id)
        assert view is not None
        return view.status


async def survey(sessions: async_sessionmaker[AsyncSession], order_id: str) -> SurveyOutcome:
    async with sessions() as session:
        return await record_survey(session, order_id, HAPPY, DISPATCH + timedelta(days=2))


@pytest.mark.parametrize("retry_shipment_id", ["parcel-1", "parcel-2"])
async def test_shipping_an_order_twice_from_one_centre_ships_it_once(
    db_sessions: async_sessionmaker[AsyncSession], desk, stockroom, retry_shipment_id: str
) -> None:
    await stockroom.put(SOFA, units=5)
    order = desk.order(OrderLine(SOFA, 2))
    assert await desk.allocate(order)

    six_hours_later = order.placed_at + timedelta(hours=6)

    first = await desk.writes.record_shipment(
        order.order_id, "ewr", "parcel-1", six_hours_later, 6.0
    )
    repeat = await desk.writes.record_shipment(
        order.order_id, "ewr", retry_shipment_id, six_hours_later + timedelta(hours=1), 7.0
    )

    assert (first, repeat) == (True, True)

    assert await shipments_of(db_sessions, order.order_id) == 1
    assert await stockroom.units(SOFA) == {
        "on_hand": 5,
        "available": 3,
        "reserved": 0,
        "shipped": 2,
    }
    assert await stockroom.rows_off_balance() == []
    async with db_sessions() as session:
        view = await queries.get_order(session, order.order_id)
    assert view is not None
    assert view.status == OrderStatus.SHIPPED
    assert view.timings.shipping_hours == 6.0


async def test_rejecting_an_order_twice_keeps_the_first_reason(desk, stockroom) -> None:
    order = desk.order(OrderLine(SOFA, 1))

    await desk.reject(order, "out of stock")
    with pytest.raises(OrderAlreadyRecorded):
        await desk.reject(order, "no fulfilment centre can serve the whole order")

    recorded = await desk.writes.allocation_of(order.order_id)
    assert recorded is not None
    assert recorded.status is OrderStatus.REJECTED
    assert recorded.failure_reason == "out of stock"
    assert recorded.reservations == {}
    assert recorded.promise is None
    assert await stockroom.units(SOFA) == {
        "on_hand": 500,
        "available": 500,
        "reserved": 0,
        "shipped": 0,
    }


async def test_allocation_of_reports_what_allocate_decided(desk) -> None:
    order = desk.order(OrderLine(SOFA, 2), OrderLine(LAMP, 1), OrderLine(SOFA, 1))
    promise = Promise(hours=30.5, delivery_at=order.placed_at + timedelta(hours=30.5))
    allocated_at = order.placed_at + timedelta(seconds=2)

    sourcing = {"policy": "nearest", "reason": "ord is the only centre with every line"}
    parcels = [ParcelReservation("ord", order.lines)]

    assert await desk.record_allocation(order, parcels, promise, allocated_at, sourcing)

    recorded = await desk.writes.allocation_of(order.order_id)
    assert recorded is not None
    assert recorded.status is OrderStatus.ALLOCATED
    assert {fc: sorted(lines, key=str) for fc, lines in recorded.reservations.items()} == {
        "ord": [OrderLine(SOFA, 3), OrderLine(LAMP, 1)]
    }
    assert recorded.failure_reason is None
    assert recorded.allocated_at == allocated_at
    assert recorded.promise == promise
    assert recorded.sourcing == sourcing


async def test_allocation_of_an_unknown_order_is_nothing(desk) -> None:
    assert await desk.writes.allocation_of("no-such-order") is None


async def test_a_survey_is_taken_once_and_only_after_delivery(
    db_sessions: async_sessionmaker[AsyncSession], desk
) -> None:
    order = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(order)
    await desk.writes.record_shipment(order.order_id, "ewr", "parcel-1", DISPATCH, 2.0)

    assert await survey(db_sessions, order.order_id) is SurveyOutcome.NOT_DELIVERED

    await desk.writes.record_delivery(order.order_id, DISPATCH + timedelta(days=1), 24.0)
    assert await status_of(db_sessions, order.order_id) == OrderStatus.DELIVERED
    assert await survey(db_sessions, order.order_id) is SurveyOutcome.RECORDED
    assert await survey(db_sessions, order.order_id) is SurveyOutcome.ALREADY_ANSWERED


async def test_a_delivery_is_recorded_once_with_the_phase_hours_of_the_order(
    db_sessions: async_sessionmaker[AsyncSession], desk
) -> None:
    order = desk.order(OrderLine(SOFA, 1), order_type=OrderType.EXPEDITED, mode=Mode.HYBRID)
    assert await desk.allocate(order)
    await desk.writes.record_shipment(order.order_id, "ewr", "parcel-1", DISPATCH, 2.5)
    delivered_at = DISPATCH + timedelta(days=1)

    first = await desk.writes.record_delivery(order.order_id, delivered_at, 24.0)
    repeat = await desk.writes.record_delivery(order.order_id, delivered_at, 24.0)

    assert first is not None and repeat is None
    assert (first.order_type, first.mode) == (OrderType.EXPEDITED, Mode.HYBRID)
    assert first.timings == Timings(0.0, 2.5, 24.0)
    assert await status_of(db_sessions, order.order_id) == OrderStatus.DELIVERED


async def test_a_survey_of_an_unknown_order_is_refused(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await survey(db_sessions, "no-such-order") is SurveyOutcome.NO_SUCH_ORDER


async def test_orders_are_listed_newest_first_one_page_at_a_time(
    db_sessions: async_sessionmaker[AsyncSession], desk
) -> None:
    orders = [desk.order(OrderLine(SOFA, 1)) for _ in range(5)]
    for order in orders:
        assert await desk.allocate(order)
    newest_first = [order.order_id for order in reversed(orders)]

    pages: list[list[str]] = []
    cursor: str | None = None
    async with db_sessions() as session:
        while True:
            page = await queries.list_orders(session, OrderFilter(), limit=2, after=cursor)
            pages.append([view.order_id for view in page.items])
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:]]


async def test_a_full_last_page_has_no_cursor(
    db_sessions: async_sessionmaker[AsyncSession], desk
) -> None:
    for order in [desk.order(OrderLine(SOFA, 1)) for _ in range(2)]:
        assert await desk.allocate(order)

    async with db_sessions() as session:
        page = await queries.list_orders(session, OrderFilter(), limit=2)

    assert len(page.items) == 2
    assert page.next_cursor is None


async def test_listed_orders_carry_their_allocations(
    db_sessions: async_sessionmaker[AsyncSession], desk
) -> None:
    order = desk.order(OrderLine(SOFA, 2))
    assert await desk.allocate(order)

    async with db_sessions() as session:
        page = await queries.list_orders(session, OrderFilter(), limit=10)

    assert [view.allocations for view in page.items] == [{"ewr": [OrderLine(SOFA, 2)]}]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (OrderFilter(customer_id="c-2"), ["expedited", "centralized"]),
        (OrderFilter(status=OrderStatus.REJECTED), ["rejected"]),
        (OrderFilter(order_type=OrderType.EXPEDITED), ["expedited"]),
        (OrderFilter(mode=Mode.CENTRALIZED), ["centralized"]),
        (OrderFilter(customer_id="c-2", mode=Mode.CENTRALIZED), ["centralized"]),
        (OrderFilter(customer_id="c-9"), []),
    ],
    ids=["customer", "status", "order_type", "mode", "customer_and_mode", "no_match"],
)
async def test_listed_orders_can_be_filtered(
    db_sessions: async_sessionmaker[AsyncSession],
    desk,
    where: OrderFilter,
    expected: list[str],
) -> None:
    named = {
        "plain": desk.order(OrderLine(SOFA, 1)),
        "rejected": desk.order(OrderLine(SOFA, 1)),
        "expedited": desk.order(
            OrderLine(SOFA, 1), customer_id="c-2", order_type=OrderType.EXPEDITED
        ),
        "centralized": desk.order(OrderLine(SOFA, 1), customer_id="c-2", mode=Mode.CENTRALIZED),
    }
    for name, order in named.items():
        if name == "rejected":
            await desk.reject(order, "out of stock")
        else:
            assert await desk.allocate(order)
    names_by_id = {order.order_id: name for name, order in named.items()}

    async with db_sessions() as session:
        page = await queries.list_orders(session, where, limit=10)

    assert sorted(names_by_id[view.order_id] for view in page.items) == sorted(expected)


async def test_two_attempts_shipping_at_once_ship_once(
    db_sessions: async_sessionmaker[AsyncSession], desk, stockroom
) -> None:
    await stockroom.put(SOFA, units=5)
    order = desk.order(OrderLine(SOFA, 2))
    assert await desk.allocate(order)

    await asyncio.gather(
        desk.writes.record_shipment(order.order_id, "ewr", "parcel-1", DISPATCH, 2.0),
        desk.writes.record_shipment(order.order_id, "ewr", "parcel-1", DISPATCH, 2.0),
    )

    assert await shipments_of(db_sessions, order.order_id) == 1
    assert (await stockroom.units(SOFA))["shipped"] == 2


async def test_two_answers_to_one_survey_at_once_record_one(
    db_sessions: async_sessionmaker[AsyncSession], desk
) -> None:
    order = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(order)
    await desk.writes.record_shipment(order.order_id, "ewr", "parcel-1", DISPATCH, 2.0)
    await desk.writes.record_delivery(order.order_id, DISPATCH + timedelta(days=1), 24.0)

    outcomes = await asyncio.gather(
        survey(db_sessions, order.order_id), survey(db_sessions, order.order_id)
    )

    assert sorted(outcomes) == [SurveyOutcome.ALREADY_ANSWERED, SurveyOutcome.RECORDED]


async def test_a_rating_outside_the_scale_is_refused_by_the_database_not_taken_for_a_repeat(
    db_sessions: async_sessionmaker[AsyncSession], desk, stockroom
) -> None:
    await stockroom.put(SOFA, units=1)
    order = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(order)
    await desk.writes.record_shipment(order.order_id, "ewr", "parcel-1", DISPATCH, 2.0)
    await desk.writes.record_delivery(order.order_id, DISPATCH + timedelta(days=1), 24.0)

    async with db_sessions() as session:
        with pytest.raises(IntegrityError):
            await record_survey(session, order.order_id, SurveyAnswers(9, 5, 5, None), DISPATCH)
