"""Reserving stock stays correct when orders race for the same units, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import CHICAGO, NEWARK, parcel

from domain.orders import OrderLine
from store.models import StockRow
from store.orders import OrderAlreadyRecorded

SOFA, LAMP, RUG = "SKU-0001", "SKU-0002", "SKU-0003"


def untouched(units: int) -> dict[str, int]:
    return {"on_hand": units, "available": units, "reserved": 0, "shipped": 0}


def all_reserved(units: int) -> dict[str, int]:
    return {"on_hand": units, "available": 0, "reserved": units, "shipped": 0}


async def test_two_orders_for_the_last_unit_exactly_one_wins(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=1)
    first, second = desk.order(OrderLine(SOFA, 1)), desk.order(OrderLine(SOFA, 1))

    results = await asyncio.gather(desk.allocate(first), desk.allocate(second))

    assert sorted(results) == [False, True]
    assert await stockroom.units(SOFA) == {
        "on_hand": 1,
        "available": 0,
        "reserved": 1,
        "shipped": 0,
    }
    assert await stockroom.rows_off_balance() == []


async def test_the_loser_of_a_race_leaves_no_trace_of_its_order(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=1)
    first, second = desk.order(OrderLine(SOFA, 1)), desk.order(OrderLine(SOFA, 1))

    won_first, _ = await asyncio.gather(desk.allocate(first), desk.allocate(second))

    winner, loser = (first, second) if won_first else (second, first)
    assert (await desk.writes.allocation_of(winner.order_id)).reservations == {
        "ewr": [OrderLine(SOFA, 1)]
    }
    assert await desk.writes.allocation_of(loser.order_id) is None


async def test_a_thousand_orders_for_a_hundred_units_allocate_exactly_a_hundred(
    desk, stockroom
) -> None:
    await stockroom.put(SOFA, units=100)
    orders = [desk.order(OrderLine(SOFA, 1)) for _ in range(1000)]

    async with stockroom.watching_balance() as watch:
        results = await asyncio.gather(*(desk.allocate(order) for order in orders))

    assert results.count(True) == 100
    assert results.count(False) == 900
    assert await stockroom.units(SOFA) == {
        "on_hand": 100,
        "available": 0,
        "reserved": 100,
        "shipped": 0,
    }
    assert watch.looks
    assert watch.rows_ever_off_balance() == []
    assert await stockroom.rows_off_balance() == []


async def test_a_multi_line_order_with_one_short_line_reserves_nothing(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=5)
    await stockroom.put(LAMP, units=1)
    await stockroom.put(RUG, units=5)
    order = desk.order(OrderLine(SOFA, 2), OrderLine(LAMP, 2), OrderLine(RUG, 2))

    assert await desk.allocate(order) is False

    assert await stockroom.units(SOFA) == untouched(5)
    assert await stockroom.units(LAMP) == untouched(1)
    assert await stockroom.units(RUG) == untouched(5)
    assert await desk.writes.allocation_of(order.order_id) is None


async def test_lines_of_the_same_sku_are_reserved_together(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=3)
    order = desk.order(OrderLine(SOFA, 2), OrderLine(SOFA, 2))

    assert await desk.allocate(order) is False

    assert await stockroom.units(SOFA) == untouched(3)


async def test_a_split_order_with_one_short_parcel_reserves_nothing_anywhere(
    desk, stockroom
) -> None:
    await stockroom.put(SOFA, units=5, fc_id=NEWARK)
    await stockroom.put(LAMP, units=5, fc_id=NEWARK)
    await stockroom.put(RUG, units=1, fc_id=CHICAGO)
    order = desk.order(OrderLine(SOFA, 2), OrderLine(LAMP, 2), OrderLine(RUG, 2))

    allocated = await desk.split(
        order,
        parcel(NEWARK, OrderLine(SOFA, 2), OrderLine(LAMP, 2)),
        parcel(CHICAGO, OrderLine(RUG, 2)),
    )

    assert allocated is False
    assert await stockroom.units(SOFA, NEWARK) == untouched(5)
    assert await stockroom.units(LAMP, NEWARK) == untouched(5)
    assert await stockroom.units(RUG, CHICAGO) == untouched(1)
    assert await desk.writes.allocation_of(order.order_id) is None


async def test_a_split_order_reserves_each_parcel_at_its_centre(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=5, fc_id=NEWARK)
    await stockroom.put(RUG, units=5, fc_id=CHICAGO)
    order = desk.order(OrderLine(SOFA, 2), OrderLine(RUG, 3))

    assert await desk.split(
        order, parcel(CHICAGO, OrderLine(RUG, 3)), parcel(NEWARK, OrderLine(SOFA, 2))
    )

    assert (await stockroom.units(SOFA, NEWARK))["reserved"] == 2
    assert (await stockroom.units(RUG, CHICAGO))["reserved"] == 3
    recorded = await desk.writes.allocation_of(order.order_id)
    assert recorded.reservations == {NEWARK: [OrderLine(SOFA, 2)], CHICAGO: [OrderLine(RUG, 3)]}


@pytest.mark.parametrize(
    "parcels",
    [
        [parcel(NEWARK, OrderLine(SOFA, 1))],
        [parcel(NEWARK, OrderLine(SOFA, 2)), parcel(CHICAGO, OrderLine(SOFA, 1))],
        [parcel(NEWARK, OrderLine(SOFA, 2)), parcel(CHICAGO)],
        [],
    ],
    ids=["too_few", "too_many", "empty_parcel", "no_parcels"],
)
async def test_parcels_that_are_not_exactly_the_order_are_refused(desk, stockroom, parcels) -> None:
    order = desk.order(OrderLine(SOFA, 2))

    with pytest.raises(ValueError, match="parcel"):
        await desk.split(order, *parcels)

    assert await desk.writes.allocation_of(order.order_id) is None
    assert await stockroom.units(SOFA) == untouched(500)


async def test_orders_crossing_the_same_skus_in_opposite_order_never_deadlock(
    desk, stockroom
) -> None:
    rounds = 500
    await stockroom.put(SOFA, units=2 * rounds)
    await stockroom.put(LAMP, units=2 * rounds)

    pairs = [
        (
            desk.order(OrderLine(SOFA, 1), OrderLine(LAMP, 1)),
            desk.order(OrderLine(LAMP, 1), OrderLine(SOFA, 1)),
        )
        for _ in range(rounds)
    ]

    # Each pair runs at once, and as many pairs at once as the connection pool allows.
    results = await asyncio.gather(*(desk.allocate(order) for pair in pairs for order in pair))

    assert results == [True] * 2 * rounds
    assert await stockroom.units(SOFA) == all_reserved(2 * rounds)
    assert await stockroom.units(LAMP) == all_reserved(2 * rounds)
    assert await stockroom.rows_off_balance() == []


async def test_split_orders_crossing_two_centres_in_opposite_order_never_deadlock(
    desk, stockroom
) -> None:
    rounds = 500
    for fc_id in (NEWARK, CHICAGO):
        await stockroom.put(SOFA, units=2 * rounds, fc_id=fc_id)
        await stockroom.put(LAMP, units=2 * rounds, fc_id=fc_id)
    lines = (OrderLine(SOFA, 1), OrderLine(LAMP, 1))

    def opposite_pair() -> list[Awaitable[bool]]:
        newark_first, chicago_first = desk.order(*lines, *lines), desk.order(*lines, *lines)
        return [
            desk.split(newark_first, parcel(NEWARK, *lines), parcel(CHICAGO, *reversed(lines))),
            desk.split(chicago_first, parcel(CHICAGO, *lines), parcel(NEWARK, *reversed(lines))),
        ]

    results = await asyncio.gather(*(call for _ in range(rounds) for call in opposite_pair()))

    assert results == [True] * 2 * rounds
    for fc_id in (NEWARK, CHICAGO):
        assert await stockroom.units(SOFA, fc_id) == all_reserved(2 * rounds)
        assert await stockroom.units(LAMP, fc_id) == all_reserved(2 * rounds)
    assert await stockroom.rows_off_balance() == []


@pytest.mark.parametrize(
    "change",
    [
        {"available": StockRow.available - 2, "reserved": StockRow.reserved + 2},
        {"reserved": StockRow.reserved - 1, "available": StockRow.available + 1},
        {"shipped": StockRow.shipped - 1, "available": StockRow.available + 1},
        {"on_hand": StockRow.on_hand + 1},
    ],
    ids=["negative_available", "negative_reserved", "negative_shipped", "unbalanced"],
)
async def test_the_database_refuses_stock_that_breaks_the_invariant(
    db_sessions: async_sessionmaker[AsyncSession], stockroom, change
) -> None:
    await stockroom.put(SOFA, units=1)

    async with db_sessions() as session:
        with pytest.raises(IntegrityError):
            await session.execute(
                update(StockRow)
                .where(StockRow.fc_id == "ewr", StockRow.sku == SOFA)
                .values(**change)
            )

    assert await stockroom.units(SOFA) == untouched(1)


async def test_two_attempts_at_the_same_order_reserve_its_stock_once(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=5)
    order = desk.order(OrderLine(SOFA, 2))

    results = await asyncio.gather(
        desk.allocate(order), desk.allocate(order), return_exceptions=True
    )

    assert True in results
    assert [type(result) for result in results if result is not True] == [OrderAlreadyRecorded]
    assert await stockroom.units(SOFA) == {
        "on_hand": 5,
        "available": 3,
        "reserved": 2,
        "shipped": 0,
    }
