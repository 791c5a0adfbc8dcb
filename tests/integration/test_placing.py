"""The placing service's unit of work, on SQLite and PostgreSQL: an order, its stock, its
workflow's start and its Idempotency-Key's answer are committed together, in one session and
one transaction, or not at all."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from warehouse import MANHATTAN, Stockroom

from activities.messages import OrderRequest, Placement, request_to_json
from domain.orders import Mode, OrderLine, OrderStatus, OrderType
from doms.network_file import load_network_spec
from placing.service import Placing, StartTerms
from store import idempotency, outbox
from store.idempotency import ClaimTerms, IdempotencyKey, KeyRecord
from store.models import OrderRow, StockRow
from store.orders import OrderAlreadyRecorded, OrderWrites

SPEC = load_network_spec(None)
KEY = IdempotencyKey("anonymous", "key-1")
START = StartTerms("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
SOFA, LAMP = "SKU-0001", "SKU-0002"


def a_request(*lines: OrderLine, backorder_hours: float | None = None) -> OrderRequest:
    return OrderRequest(
        order_id=uuid.uuid4().hex,
        customer_id="c-1",
        order_type=OrderType.STANDARD,
        destination=MANHATTAN,
        lines=list(lines),
        mode=Mode.DISTRIBUTED,
        speedup=1.0,
        backorder_hours=backorder_hours,
        placed_at=datetime.now(UTC),
    )


async def place(
    sessions: async_sessionmaker[AsyncSession],
    request: OrderRequest,
    key: IdempotencyKey | None = KEY,
) -> Placement:
    """As POST /orders places an order: its workflow's start queued, under its key."""
    assert request.placed_at is not None
    return await Placing(sessions, SPEC).place(request, request.placed_at, start=START, key=key)


async def claim(sessions: async_sessionmaker[AsyncSession], request: OrderRequest) -> None:
    now = datetime.now(UTC)
    terms = ClaimTerms("hash", request.order_id, "holder", now, timedelta(minutes=1), timedelta(1))
    async with sessions() as session:
        assert (await idempotency.claim(session, KEY, terms)).ours


async def key_record(sessions: async_sessionmaker[AsyncSession]) -> KeyRecord:
    async with sessions() as session:
        found = await idempotency.record_of(session, KEY)
    assert found is not None
    return found


async def starts(sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
    async with sessions() as session:
        return await outbox.lease(session, datetime.now(UTC), timedelta(seconds=1), limit=10)


async def orders_recorded(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OrderRow)) or 0)


async def only_at(
    sessions: async_sessionmaker[AsyncSession], sku: str, fc_id: str, units: int
) -> None:
    """No other centre has any of `sku`."""
    async with sessions() as session:
        await session.execute(
            update(StockRow).where(StockRow.sku == sku).values(on_hand=0, available=0)
        )
        await session.commit()
    await Stockroom(sessions).put(sku, units, fc_id)


class CrashingSession(AsyncSession):
    """A session whose process dies as it is about to commit."""

    async def commit(self) -> None:
        raise ConnectionResetError("the API process died before the commit")


def crashing(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(sessions.kw["bind"], class_=CrashingSession, expire_on_commit=False)


async def test_an_order_its_start_and_its_keys_answer_are_committed_together(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    request = a_request(OrderLine(SOFA, 2))
    await claim(db_sessions, request)

    placement = await place(db_sessions, request)

    placed = request_to_json(dataclasses.replace(request, placement=placement))
    recorded = await OrderWrites(db_sessions).allocation_of(request.order_id)
    [start] = await starts(db_sessions)
    answered = await key_record(db_sessions)
    assert placement.status is OrderStatus.ALLOCATED
    assert recorded is not None and recorded.status is OrderStatus.ALLOCATED
    assert (start.order_id, start.traceparent) == (request.order_id, START.traceparent)
    assert answered.placed is not None and answered.placed.order == placed
    assert json.loads(start.request) == placed


async def test_a_crash_before_the_commit_leaves_no_order_no_start_and_the_key_in_flight(
    db_sessions: async_sessionmaker[AsyncSession], stockroom: Stockroom
) -> None:
    request = a_request(OrderLine(SOFA, 2))
    await claim(db_sessions, request)
    before = await stockroom.units(SOFA)

    with pytest.raises(ConnectionResetError):
        await place(crashing(db_sessions), request)

    assert await OrderWrites(db_sessions).allocation_of(request.order_id) is None
    assert await starts(db_sessions) == []
    assert (await key_record(db_sessions)).placed is None
    assert await stockroom.units(SOFA) == before
    retried = await place(db_sessions, request)  # the client's retry, with the key's order id
    assert retried.status is OrderStatus.ALLOCATED
    assert (await key_record(db_sessions)).placed is not None
    assert len(await starts(db_sessions)) == 1
    assert (await stockroom.units(SOFA))["reserved"] == before["reserved"] + 2


async def test_of_two_requests_placing_one_order_under_one_key_exactly_one_records_it(
    db_sessions: async_sessionmaker[AsyncSession], stockroom: Stockroom
) -> None:
    """The first request outlived its lease and a retry took the key over: both place."""
    request = a_request(OrderLine(SOFA, 2))
    await claim(db_sessions, request)
    before = await stockroom.units(SOFA)

    results = await asyncio.gather(
        place(db_sessions, request), place(db_sessions, request), return_exceptions=True
    )

    [placement] = [r for r in results if isinstance(r, Placement)]
    assert [type(r) for r in results if r is not placement] == [OrderAlreadyRecorded]
    answered = await key_record(db_sessions)
    assert answered.placed is not None
    assert answered.placed.order == request_to_json(
        dataclasses.replace(request, placement=placement)
    )
    assert await orders_recorded(db_sessions) == 1
    assert len(await starts(db_sessions)) == 1
    assert (await stockroom.units(SOFA))["reserved"] == before["reserved"] + 2


async def test_a_rejected_order_queues_no_start_and_its_key_answers_the_rejection(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    request = a_request(OrderLine("SKU-9999", 1))
    await claim(db_sessions, request)

    placement = await place(db_sessions, request)

    answered = await key_record(db_sessions)
    assert placement.status is OrderStatus.REJECTED
    assert placement.unknown_skus == ["SKU-9999"]
    assert answered.placed is not None
    assert answered.placed.order["placement"]["status"] == OrderStatus.REJECTED
    assert await starts(db_sessions) == []


async def test_a_backordered_order_queues_its_start_and_reserves_nothing(
    db_sessions: async_sessionmaker[AsyncSession], stockroom: Stockroom
) -> None:
    await only_at(db_sessions, SOFA, "ewr", 1)
    request = a_request(OrderLine(SOFA, 2), backorder_hours=48)

    placement = await place(db_sessions, request, key=None)

    assert placement.status is OrderStatus.BACKORDERED
    assert [start.order_id for start in await starts(db_sessions)] == [request.order_id]
    assert (await stockroom.units(SOFA))["reserved"] == 0


async def test_a_split_order_queues_one_start(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await only_at(db_sessions, SOFA, "ewr", 1)
    await only_at(db_sessions, LAMP, "sea", 1)
    request = a_request(OrderLine(SOFA, 1), OrderLine(LAMP, 1))

    placement = await place(db_sessions, request, key=None)

    assert sorted(a.fulfilment_centre for a in placement.allocations) == ["ewr", "sea"]
    assert len(await starts(db_sessions)) == 1


async def test_orders_racing_for_the_last_units_get_exactly_the_units_there_are(
    db_sessions: async_sessionmaker[AsyncSession], stockroom: Stockroom
) -> None:
    """They all see the three units; those who lose one at the reservation source again, in
    the same session, and find none left."""
    await only_at(db_sessions, SOFA, "ewr", 3)
    requests = [a_request(OrderLine(SOFA, 1)) for _ in range(6)]

    placements = await asyncio.gather(*(place(db_sessions, r, key=None) for r in requests))

    assert (
        sorted(p.status for p in placements)
        == [OrderStatus.ALLOCATED] * 3 + [OrderStatus.REJECTED] * 3
    )
    assert await stockroom.units(SOFA) == {
        "on_hand": 3,
        "available": 0,
        "reserved": 3,
        "shipped": 0,
    }
    assert len(await starts(db_sessions)) == 3
    assert await stockroom.rows_off_balance() == []


@dataclasses.dataclass
class Traffic:
    """What a block asked of the database: sessions opened, statements, commits, rollbacks."""

    sessions: int = 0
    statements: list[str] = dataclasses.field(default_factory=list)
    commits: int = 0
    rollbacks: int = 0


def statement_of(sql: str) -> str:
    """`VERB table`: the statement's first word and the first table it names."""
    verb = sql.split(None, 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", sql, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else '?'}"


@contextmanager
def watching(
    sessions: async_sessionmaker[AsyncSession], traffic: Traffic
) -> Iterator[async_sessionmaker[AsyncSession]]:
    engine: AsyncEngine = sessions.kw["bind"]

    def opened() -> AsyncSession:
        traffic.sessions += 1
        return sessions()

    def executed(*args: Any) -> None:
        traffic.statements.append(statement_of(args[2]))

    def committed(_: Any) -> None:
        traffic.commits += 1

    def rolled_back(_: Any) -> None:
        traffic.rollbacks += 1

    listeners = [
        ("before_cursor_execute", executed),
        ("commit", committed),
        ("rollback", rolled_back),
    ]
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    try:
        yield cast(async_sessionmaker[AsyncSession], opened)  # called as the sessionmaker is
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)


async def test_placing_an_order_is_one_session_one_transaction_and_no_statement_twice(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The hot path of POST /orders: the decision's reads, then the writes, then one commit."""
    await place(db_sessions, a_request(OrderLine(SOFA, 1)), key=None)  # connections warm
    request = a_request(OrderLine(SOFA, 2))
    await claim(db_sessions, request)
    traffic = Traffic()

    with watching(db_sessions, traffic) as sessions:
        await place(sessions, request)

    assert (traffic.sessions, traffic.commits, traffic.rollbacks) == (1, 1, 0)
    assert traffic.statements == [
        "SELECT products",  # the decision: the SKUs known, their stock, the backlog
        "SELECT stock",
        "SELECT parcels",
        "INSERT orders",  # the order and its lines
        "INSERT order_lines",
        "INSERT workflow_outbox",  # what its placement brings along
        "UPDATE idempotency_keys",
        "UPDATE stock",  # its stock, last: rows other orders wait for are held shortest
        "INSERT parcels",
        "INSERT allocations",
    ]
