"""Reserving stock stays correct when orders race for the same units, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.orders import OrderLine
from store.models import StockRow
from store.orders import OrderAlreadyRecorded

SOFA, LAMP, RUG = "SKU-0001", "SKU-0002", "SKU-0003"


def untouched(units: int) -> dict[str, int]:
    return {"on_hand": units, "available": units, "reserved": 0, "shipped": 0}


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


async def test_sixty_orders_for_twenty_units_allocate_exactly_twenty(desk, stockroom) -> None:
    await stockroom.put(SOFA, units=20)
    orders = [desk.order(OrderLine(SOFA, 1)) for _ in range(60)]

    results = await asyncio.gather(*(desk.allocate(order) for order in orders))

    assert results.count(True) == 20
    assert results.count(False) == 40
    assert await stockroom.units(SOFA) == {
        "on_hand": 20,
        "available": 0,
        "reserved": 20,
        "shipped": 0,
    }
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


async def test_orders_crossing_the_same_skus_in_opposite_order_never_deadlock(
    desk, stockroom
) -> None:
    rounds = 50
    await stockroom.put(SOFA, units=2 * rounds)
    await stockroom.put(LAMP, units=2 * rounds)

    for _ in range(rounds):
        sofa_first = desk.order(OrderLine(SOFA, 1), OrderLine(LAMP, 1))
        lamp_first = desk.order(OrderLine(LAMP, 1), OrderLine(SOFA, 1))
        results = await asyncio.gather(desk.allocate(sofa_first), desk.allocate(lamp_first))
        assert results == [True, True]

    assert await stockroom.units(SOFA) == {
        "on_hand": 2 * rounds,
        "available": 0,
        "reserved": 2 * rounds,
        "shipped": 0,
    }
    assert await stockroom.units(LAMP) == await stockroom.units(SOFA)
    assert await stockroom.rows_off_balance() == []


async def test_the_database_refuses_negative_available_stock(
    db_sessions: async_sessionmaker[AsyncSession], stockroom
) -> None:
    await stockroom.put(SOFA, units=1)

    async with db_sessions() as session:
        with pytest.raises(IntegrityError):
            await session.execute(
                update(StockRow)
                .where(StockRow.fc_id == "ewr", StockRow.sku == SOFA)
                .values(available=StockRow.available - 2)
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
