"""Consistency checks of the app database after a run: every order ended once, nothing
shipped twice, and stock conserved. `doms chaos` and its tests run them after killing
processes mid-run; they only read, so they are safe on a live system too.

Stock is checked against two ledgers kept apart from the stock table: the parcels of the
orders (what each order holds, reserved or shipped, per centre and SKU) and the receipts.
Between two snapshots, per centre and SKU:

    change of shipped   = change of units in shipped parcels
    change of reserved  = change of units in reserved parcels
    change of on hand   = units received
    change of available = change of on hand - change of reserved - change of shipped

and each order's parcels are checked against its own lines, which are written once, at
placement: a delivered order shipped exactly what it ordered, a cancelled or rejected one
shipped nothing, and no ended order still holds a reservation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders import FINAL_STATUSES, OrderStatus, may_follow
from store.inventory import StockKey
from store.models import (
    AllocationRow,
    OrderLineRow,
    OrderRow,
    ParcelRow,
    ParcelState,
    ReceiptRow,
    ShipmentRow,
    StockRow,
    WorkflowOutboxRow,
)

STOCK_COLUMNS = ("on_hand", "available", "reserved", "shipped")


@dataclass(frozen=True)
class KeyLedger:
    """One centre's SKU: the stock row's columns and what the ledgers say of it."""

    on_hand: int = 0
    available: int = 0
    reserved: int = 0
    shipped: int = 0
    parcel_reserved: int = 0  # units in parcels still reserved there
    parcel_shipped: int = 0  # units in parcels shipped from there
    received: int = 0  # units of receipts into it


@dataclass(frozen=True)
class StockSnapshot:
    keys: Mapping[StockKey, KeyLedger]


@dataclass(frozen=True)
class StockMismatch:
    key: StockKey
    column: str
    expected_change: int
    actual_change: int

    @property
    def delta(self) -> int:
        return abs(self.actual_change - self.expected_change)

    def __str__(self) -> str:
        fc_id, sku = self.key
        return (
            f"{fc_id}/{sku} {self.column}: changed by {self.actual_change}, "
            f"the ledgers say {self.expected_change}"
        )


@dataclass(frozen=True)
class Audit:
    """What the checks found. `violations` is empty when the run kept every promise."""

    orders: int
    by_status: dict[str, int]
    not_final: list[str]  # order ids still in flight
    duplicate_shipments: int  # shipment rows beyond one per (order, centre)
    shipments_without_shipped_parcel: int
    shipped_parcels_without_shipment: int
    wrongly_shipped: list[str]  # orders whose shipped units disagree with their status/lines
    leaked_reservations: list[str]  # ended orders still holding reserved parcels
    pending_starts: int  # outbox rows: accepted orders whose workflow never started
    stock_mismatches: list[StockMismatch] = field(default_factory=list)
    split_orders: int = 0  # orders with parcels from more than one centre

    @property
    def stock_delta(self) -> int:
        """Units by which stock moved otherwise than the orders and receipts account for."""
        return sum(mismatch.delta for mismatch in self.stock_mismatches)

    @property
    def violations(self) -> list[str]:
        found: list[str] = []
        if self.not_final:
            found.append(f"{len(self.not_final)} orders not final: {first_few(self.not_final)}")
        if self.duplicate_shipments:
            found.append(f"{self.duplicate_shipments} duplicate shipment rows")
        if self.shipments_without_shipped_parcel:
            found.append(
                f"{self.shipments_without_shipped_parcel} shipments of parcels not shipped"
            )
        if self.shipped_parcels_without_shipment:
            found.append(
                f"{self.shipped_parcels_without_shipment} shipped parcels without a shipment"
            )
        if self.wrongly_shipped:
            found.append(f"orders shipped wrongly: {first_few(self.wrongly_shipped)}")
        if self.leaked_reservations:
            found.append(f"ended orders holding stock: {first_few(self.leaked_reservations)}")
        if self.pending_starts:
            found.append(f"{self.pending_starts} accepted orders whose workflow never started")
        if self.stock_mismatches:
            mismatches = [str(mismatch) for mismatch in self.stock_mismatches]
            found.append(f"stock delta {self.stock_delta}: {first_few(mismatches, sep='; ')}")
        return found


async def stock_snapshot(session: AsyncSession) -> StockSnapshot:
    """The stock rows with the parcel and receipt ledgers, per (centre, SKU)."""
    keys: dict[StockKey, dict[str, int]] = {}
    for row in (await session.execute(select(StockRow))).scalars():
        keys[(row.fc_id, row.sku)] = {
            "on_hand": row.on_hand,
            "available": row.available,
            "reserved": row.reserved,
            "shipped": row.shipped,
        }
    quantity = func.sum(AllocationRow.quantity)
    units = (
        select(AllocationRow.fc_id, AllocationRow.sku, ParcelRow.state, quantity)
        .join(ParcelRow, _parcel_of(AllocationRow))
        .group_by(AllocationRow.fc_id, AllocationRow.sku, ParcelRow.state)
    )
    for fc_id, sku, state, in_parcels in await session.execute(units):
        if state in (ParcelState.RESERVED, ParcelState.SHIPPED):
            keys.setdefault((fc_id, sku), {})[f"parcel_{state}"] = int(in_parcels)
    receipts = select(ReceiptRow.fc_id, ReceiptRow.sku, func.sum(ReceiptRow.quantity)).group_by(
        ReceiptRow.fc_id, ReceiptRow.sku
    )
    for fc_id, sku, received in await session.execute(receipts):
        keys.setdefault((fc_id, sku), {})["received"] = int(received)
    return StockSnapshot({key: KeyLedger(**columns) for key, columns in keys.items()})


def stock_mismatches(before: StockSnapshot, after: StockSnapshot) -> list[StockMismatch]:
    """Where the stock table changed otherwise than the parcels and receipts say it must."""
    found: list[StockMismatch] = []
    for key in sorted(before.keys.keys() | after.keys.keys()):
        old, new = before.keys.get(key, KeyLedger()), after.keys.get(key, KeyLedger())
        reserved = new.parcel_reserved - old.parcel_reserved
        shipped = new.parcel_shipped - old.parcel_shipped
        on_hand = new.received - old.received
        expected = {
            "on_hand": on_hand,
            "reserved": reserved,
            "shipped": shipped,
            "available": on_hand - reserved - shipped,
        }
        for column in STOCK_COLUMNS:
            actual = getattr(new, column) - getattr(old, column)
            if actual != expected[column]:
                found.append(StockMismatch(key, column, expected[column], actual))
    return found


async def audit_orders(session: AsyncSession, before: StockSnapshot) -> Audit:
    """Check every order, and the stock against `before`."""
    statuses = {
        order_id: OrderStatus(status)
        for order_id, status in await session.execute(select(OrderRow.order_id, OrderRow.status))
    }
    lines = await _units_by_order(
        session, select(OrderLineRow.order_id, OrderLineRow.sku, OrderLineRow.quantity)
    )
    parcel_units = select(AllocationRow.order_id, AllocationRow.sku, AllocationRow.quantity).join(
        ParcelRow, _parcel_of(AllocationRow)
    )
    shipped = await _units_by_order(
        session, parcel_units.where(ParcelRow.state == ParcelState.SHIPPED)
    )
    reserved = await _units_by_order(
        session, parcel_units.where(ParcelRow.state == ParcelState.RESERVED)
    )
    return Audit(
        orders=len(statuses),
        by_status=dict(sorted(Counter(str(status) for status in statuses.values()).items())),
        not_final=sorted(i for i, status in statuses.items() if status not in FINAL_STATUSES),
        duplicate_shipments=await _duplicate_shipments(session),
        shipments_without_shipped_parcel=await _count(
            session,
            select(ShipmentRow.shipment_id)
            .outerjoin(ParcelRow, _parcel_of(ShipmentRow))
            .where(ParcelRow.state.is_(None) | (ParcelRow.state != ParcelState.SHIPPED)),
        ),
        shipped_parcels_without_shipment=await _count(
            session,
            select(ParcelRow.order_id)
            .outerjoin(ShipmentRow, _parcel_of(ShipmentRow))
            .where(ParcelRow.state == ParcelState.SHIPPED, ShipmentRow.shipment_id.is_(None)),
        ),
        wrongly_shipped=sorted(
            order_id
            for order_id, status in statuses.items()
            if not _shipped_as_status_says(status, lines.get(order_id), shipped.get(order_id))
        ),
        leaked_reservations=sorted(
            order_id
            for order_id, status in statuses.items()
            if status in FINAL_STATUSES and reserved.get(order_id)
        ),
        pending_starts=await _count(session, select(WorkflowOutboxRow.order_id)),
        stock_mismatches=stock_mismatches(before, await stock_snapshot(session)),
        split_orders=await _count(
            session,
            select(ParcelRow.order_id)
            .group_by(ParcelRow.order_id)
            .having(func.count(ParcelRow.fc_id) > 1),
        ),
    )


def _parcel_of(row: type[AllocationRow] | type[ShipmentRow]) -> ColumnElement[bool]:
    """The join to the parcel a row of the order at one centre belongs to."""
    return and_(ParcelRow.order_id == row.order_id, ParcelRow.fc_id == row.fc_id)


def _shipped_as_status_says(
    status: OrderStatus, ordered: Counter[str] | None, shipped: Counter[str] | None
) -> bool:
    shipped = shipped or Counter()
    if status is OrderStatus.DELIVERED:
        return shipped == (ordered or Counter())
    if status not in FINAL_STATUSES:
        return True  # still in flight: reported as not final
    if may_follow(OrderStatus.SHIPPED, status):  # e.g. a failure after a partial dispatch
        return not shipped - (ordered or Counter())  # never more than it ordered
    return not shipped


async def _units_by_order(
    session: AsyncSession, query: Select[str, str, int]
) -> dict[str, Counter[str]]:
    units: dict[str, Counter[str]] = {}
    for order_id, sku, quantity in await session.execute(query):
        units.setdefault(order_id, Counter())[sku] += quantity
    return units


async def _duplicate_shipments(session: AsyncSession) -> int:
    """Shipment rows beyond the first per (order, centre); the unique constraint should
    make it 0, so this guards against that constraint ever being dropped."""
    per_parcel = (
        select(func.count().label("rows"))
        .select_from(ShipmentRow)
        .group_by(ShipmentRow.order_id, ShipmentRow.fc_id)
        .subquery()
    )
    extra = await session.scalar(select(func.coalesce(func.sum(per_parcel.c.rows - 1), 0)))
    return int(extra or 0)


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    counted = select(func.count()).select_from(query.subquery())
    return int(await session.scalar(counted) or 0)


def first_few(items: list[str], shown: int = 5, sep: str = ", ") -> str:
    """The first `shown` items and how many more: a report line stays readable however many
    orders a broken run leaves."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return sep.join(items[:shown]) + more
