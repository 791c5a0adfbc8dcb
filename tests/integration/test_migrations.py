"""The Alembic revisions build, remove and rebuild exactly the schema the models describe."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from store.db import create_engine
from store.migrate import alembic_config, downgrade_to, upgrade_to_head
from store.models import Base

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
