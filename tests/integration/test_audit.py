"""The audit `doms chaos` relies on passes a correct history and catches each kind of harm."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import NEWARK, OPENING, OrderDesk, Stockroom, parcel

from domain.orders import OrderLine, OrderStatus
from store.audit import Audit, StockSnapshot, audit_orders, stock_snapshot
from store.models import OrderRow, ShipmentRow, StockRow

SOFA, LAMP = "SKU-0001", "SKU-0002"
CHICAGO = "ord"
DISPATCH = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> StockSnapshot:
    async with sessions() as session:
        return await stock_snapshot(session)


async def audit(sessions: async_sessionmaker[AsyncSession], before: StockSnapshot) -> Audit:
    async with sessions() as session:
        return await audit_orders(session, before)


async def delivered_split_order(desk: OrderDesk) -> str:
    order = desk.order(OrderLine(SOFA, 2), OrderLine(LAMP, 1))
    assert await desk.split(
        order, parcel(NEWARK, OrderLine(SOFA, 2)), parcel(CHICAGO, OrderLine(LAMP, 1))
    )
    for fc_id in (NEWARK, CHICAGO):
        shipment = f"{order.order_id}-{fc_id}"
        assert await desk.writes.record_shipment(order.order_id, fc_id, shipment, DISPATCH, 1.0)
    await desk.writes.record_delivery(order.order_id, DISPATCH, 2.0)
    return order.order_id


async def test_a_clean_history_has_no_violations(db_sessions, desk, stockroom: Stockroom) -> None:
    await stockroom.put(SOFA, units=5)
    await stockroom.put(LAMP, units=5, fc_id=CHICAGO)
    before = await snapshot(db_sessions)
    delivered = await delivered_split_order(desk)
    cancelled = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(cancelled)
    await desk.writes.release(cancelled.order_id, OrderStatus.CANCELLED, "asked", OPENING)

    found = await audit(db_sessions, before)

    assert found.violations == []
    assert found.by_status == {"cancelled": 1, "delivered": 1}
    assert found.split_orders == 1 and found.stock_delta == 0
    assert delivered not in found.wrongly_shipped


async def test_an_order_in_flight_and_its_reservation_are_reported(db_sessions, desk) -> None:
    before = await snapshot(db_sessions)
    order = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(order)

    found = await audit(db_sessions, before)

    assert found.not_final == [order.order_id]
    assert found.stock_delta == 0  # reserved, and the parcel says so


async def test_stock_moved_behind_the_ledgers_back_is_a_stock_delta(db_sessions, desk) -> None:
    before = await snapshot(db_sessions)
    await delivered_split_order(desk)
    async with db_sessions() as session:  # a second shipment of the same units, by stock only
        await session.execute(
            update(StockRow)
            .where(StockRow.fc_id == NEWARK, StockRow.sku == SOFA)
            .values(available=StockRow.available - 2, shipped=StockRow.shipped + 2)
        )
        await session.commit()

    found = await audit(db_sessions, before)

    assert found.stock_delta == 4  # available and shipped each 2 off
    assert any("stock delta 4" in violation for violation in found.violations)


async def test_a_leaked_reservation_and_a_wrong_shipment_are_reported(db_sessions, desk) -> None:
    before = await snapshot(db_sessions)
    leaked = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(leaked)
    shipped_then_cancelled = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(shipped_then_cancelled)
    ids = leaked.order_id, shipped_then_cancelled.order_id
    await desk.writes.record_shipment(ids[1], NEWARK, f"{ids[1]}-{NEWARK}", DISPATCH, 1.0)
    async with db_sessions() as session:  # ended without giving their stock back
        for order_id in ids:
            await session.execute(
                update(OrderRow).where(OrderRow.order_id == order_id).values(status="cancelled")
            )
        await session.commit()

    found = await audit(db_sessions, before)

    assert found.leaked_reservations == [ids[0]]
    assert found.wrongly_shipped == [ids[1]]


async def test_a_shipment_row_without_its_parcel_shipped_is_reported(db_sessions, desk) -> None:
    before = await snapshot(db_sessions)
    order = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(order)
    async with db_sessions() as session:
        session.add(ShipmentRow(shipment_id="ghost", order_id=order.order_id, fc_id=NEWARK,
                                dispatched_at=DISPATCH))  # fmt: skip
        await session.commit()

    found = await audit(db_sessions, before)

    assert found.shipments_without_shipped_parcel == 1


async def test_a_workflow_never_started_and_a_shipment_lost_are_reported(db_sessions, desk) -> None:
    before = await snapshot(db_sessions)
    unstarted = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(unstarted, queued=True)  # its row stays: no relay runs here
    shipped = desk.order(OrderLine(SOFA, 1))
    assert await desk.allocate(shipped)
    shipment = f"{shipped.order_id}-{NEWARK}"
    assert await desk.writes.record_shipment(shipped.order_id, NEWARK, shipment, DISPATCH, 1.0)
    async with db_sessions() as session:  # the parcel says shipped, the shipment row is gone
        await session.execute(delete(ShipmentRow).where(ShipmentRow.shipment_id == shipment))
        await session.commit()

    found = await audit(db_sessions, before)

    assert found.pending_starts == 1
    assert found.shipped_parcels_without_shipment == 1
    assert "1 accepted orders whose workflow never started" in found.violations
    assert "1 shipped parcels without a shipment" in found.violations


def test_a_violation_names_a_few_and_counts_the_rest() -> None:
    """Pure: a broken run may leave thousands of orders, and the report stays one line each."""
    stuck = [f"o-{n}" for n in range(7)]
    found = Audit(
        orders=7,
        by_status={"allocated": 7},
        not_final=stuck,
        duplicate_shipments=0,
        shipments_without_shipped_parcel=0,
        shipped_parcels_without_shipment=0,
        wrongly_shipped=[],
        leaked_reservations=[],
        pending_starts=0,
    )

    assert found.violations == ["7 orders not final: o-0, o-1, o-2, o-3, o-4 and 2 more"]
