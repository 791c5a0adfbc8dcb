"""The Alembic revisions build, remove and rebuild exactly the schema the models describe."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from store import idempotency
from store.db import create_engine, session_factory
from store.idempotency import IdempotencyKey, StoredAnswer
from store.inventory import backlog_by_centre
from store.migrate import alembic_config, downgrade_to, upgrade_to, upgrade_to_head
from store.models import Base
from store.queries import list_centres

MODEL_TABLES = set(Base.metadata.tables)
HEADS = ScriptDirectory.from_config(alembic_config("unused://")).get_heads()


async def on_connection(url: str, read: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_the_revisions_have_a_single_head() -> None:
    assert len(HEADS) == 1


async def test_upgrade_to_head_creates_every_table_of_the_models(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_database_url)

    assert await on_connection(empty_database_url, table_names) == MODEL_TABLES | {
        "alembic_version"
    }
    assert await on_connection(empty_database_url, current_revision) == HEADS[0]


async def test_the_models_match_the_schema_after_upgrade(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_database_url)

    assert await on_connection(empty_database_url, schema_differences) == []


async def test_downgrade_to_base_removes_every_table_and_upgrade_rebuilds_them(
    empty_database_url: str,
) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_database_url)

    await asyncio.to_thread(downgrade_to, empty_database_url, "base")
    assert await on_connection(empty_database_url, table_names) <= {"alembic_version"}
    assert await on_connection(empty_database_url, current_revision) is None

    await asyncio.to_thread(upgrade_to_head, empty_database_url)
    assert await on_connection(empty_database_url, table_names) >= MODEL_TABLES
    assert await on_connection(empty_database_url, schema_differences) == []


async def test_upgrading_an_up_to_date_database_changes_nothing(database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, database_url)

    assert await on_connection(database_url, current_revision) == HEADS[0]
    assert await on_connection(database_url, schema_differences) == []


# A database as revision 0001 left it: ten sofas at Newark, two of them shipped to one
# order and one reserved for another.
AT_0001 = (
    "INSERT INTO fulfilment_centres (id, name, region, country, lat, lon, central)"
    " VALUES ('ewr', 'Newark NJ', 'northeast', 'US', 40.7357, -74.1724, false)",
    "INSERT INTO products (sku, name) VALUES ('SKU-0001', 'Sofa')",
    "INSERT INTO stock (fc_id, sku, on_hand, available, reserved, shipped)"
    " VALUES ('ewr', 'SKU-0001', 10, 7, 1, 2)",
    *(
        "INSERT INTO orders (order_id, customer_id, order_type, mode, status,"
        " destination_country, destination_postal_code, destination_lat, destination_lon,"
        f" speedup, placed_at) VALUES ('{order_id}', 'c-1', 'standard', 'distributed',"
        f" '{status}', 'US', '10001', 40.75, -73.99, 1.0, '2026-12-01 09:00:00')"
        for order_id, status in (("o-shipped", "shipped"), ("o-waiting", "allocated"))
    ),
    "INSERT INTO allocations (order_id, fc_id, sku, quantity) VALUES"
    " ('o-shipped', 'ewr', 'SKU-0001', 2), ('o-waiting', 'ewr', 'SKU-0001', 1)",
    "INSERT INTO shipments (shipment_id, order_id, fc_id, dispatched_at)"
    " VALUES ('o-shipped-ewr', 'o-shipped', 'ewr', '2026-12-01 12:00:00')",
)


async def execute(url: str, statements: Sequence[str]) -> list[Any]:
    """Run the statements in one transaction; the rows of the last one."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
            return list(result) if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_upgrading_a_database_in_use_turns_its_allocations_into_parcels(
    empty_database_url: str,
) -> None:
    await asyncio.to_thread(upgrade_to, empty_database_url, "0001")
    await execute(empty_database_url, AT_0001)

    await asyncio.to_thread(upgrade_to_head, empty_database_url)

    assert await execute(
        empty_database_url, ["SELECT order_id, state FROM parcels ORDER BY order_id"]
    ) == [("o-shipped", "shipped"), ("o-waiting", "reserved")]
    engine = create_engine(empty_database_url)
    try:
        async with session_factory(engine)() as session:
            assert await backlog_by_centre(session, ["ewr"]) == {"ewr": 1}
            assert [c.capacity_per_hour for c in await list_centres(session)] == [40.0]
    finally:
        await engine.dispose()


async def test_downgrading_to_0001_keeps_the_orders_and_stock(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade_to, empty_database_url, "0001")
    tables_at_0001 = await on_connection(empty_database_url, table_names)
    await execute(empty_database_url, AT_0001)
    await asyncio.to_thread(upgrade_to_head, empty_database_url)
    assert await on_connection(empty_database_url, table_names) > tables_at_0001

    await asyncio.to_thread(downgrade_to, empty_database_url, "0001")

    assert await on_connection(empty_database_url, current_revision) == "0001"
    assert await on_connection(empty_database_url, table_names) == tables_at_0001
    assert await execute(
        empty_database_url, ["SELECT on_hand, available, reserved, shipped FROM stock"]
    ) == [(10, 7, 1, 2)]
    assert await execute(empty_database_url, ["SELECT count(*) FROM allocations"]) == [(2,)]


# A key answered before revision 0007, which keys kept as the answer sent.
ANSWERED_AT_0006 = (
    "INSERT INTO idempotency_keys (scope, key, request_hash, order_id, holder, state,"
    " status_code, response, location, created_at, locked_until, expires_at) VALUES"
    " ('anonymous', 'k-1', 'hash', 'o-1', '', 'completed', 201, '{\"order_id\": \"o-1\"}',"
    " '/orders/o-1', '2026-12-01 09:00:00', '2026-12-01 09:00:40', '2026-12-02 09:00:00')"
)


async def test_upgrading_past_0007_keeps_the_answers_of_keys_already_answered(
    empty_database_url: str,
) -> None:
    await asyncio.to_thread(upgrade_to, empty_database_url, "0006")
    await execute(empty_database_url, [ANSWERED_AT_0006])

    await asyncio.to_thread(upgrade_to_head, empty_database_url)

    engine = create_engine(empty_database_url)
    try:
        async with session_factory(engine)() as session:
            found = await idempotency.record_of(session, IdempotencyKey("anonymous", "k-1"))
    finally:
        await engine.dispose()
    assert found is not None and found.placed is None
    assert found.answer == StoredAnswer(201, {"order_id": "o-1"}, "/orders/o-1")
