"""Alembic environment: runs revisions over the async engine of store.db."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from store.db import create_engine
from store.models import Base

URL_ATTRIBUTE = "database_url"


def _database_url() -> str:
    url = context.config.attributes.get(URL_ATTRIBUTE)
    if url:
        return str(url)
    from doms.settings import Settings

    return Settings().app_database_url


def _run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=sqlite)
    if sqlite:
        # Batch mode rebuilds a table by copy, drop and rename; with foreign keys enforced
        # the drop fails once other tables point at its rows. Off for the migration, then
        # every reference is checked before it counts as done.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        _refuse_broken_references(connection)
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def _refuse_broken_references(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left rows pointing at nothing: {broken[:5]}")


async def _run_online() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
