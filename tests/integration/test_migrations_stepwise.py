"""Every Alembic revision, one step at a time, on SQLite and PostgreSQL: each upgrade and
each downgrade lands on exactly the schema its target revision builds, and the walk down
and up again ends where the models are.

Generic over the revisions (read from the scripts, none named here), so a new revision
is covered as soon as it exists; test_migrations.py holds the tests of particular ones.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from test_migrations import current_revision, on_connection, schema_differences

from store.migrate import alembic_config, downgrade_to, upgrade_to

# Oldest first; None stands for base, the empty database.
REVISIONS: list[str | None] = [
    None,
    *reversed(
        [
            s.revision
            for s in ScriptDirectory.from_config(alembic_config("unused://")).walk_revisions()
        ]
    ),
]
VERSION_TABLE = "alembic_version"

Schema = dict[str, dict[str, Any]]


def schema(connection: Connection) -> Schema:
    """The database's tables as the inspector sees them, in an order-free form.

    Column order is left out on purpose: SQLite's batch mode may rebuild a table with its
    columns in another order, which changes nothing the application sees.
    """
    inspector = inspect(connection)
    tables: Schema = {}
    for table in sorted(set(inspector.get_table_names()) - {VERSION_TABLE}):
        tables[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ),
            "primary key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            "foreign keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (tuple(str(c) for c in ix["column_names"]), bool(ix["unique"]))
                for ix in inspector.get_indexes(table)
            ),
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
        }
    return tables


def row_counts(connection: Connection) -> dict[str, int]:
    tables = set(inspect(connection).get_table_names()) - {VERSION_TABLE}
    return {t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}


async def step(url: str, direction: str) -> None:
    move = upgrade_to if direction == "+1" else downgrade_to
    await asyncio.to_thread(move, url, direction)


def test_the_revisions_form_one_line_from_base() -> None:
    """One head and no branches: the walk below visits every revision."""
    scripts = ScriptDirectory.from_config(alembic_config("unused://"))

    assert len(REVISIONS) >= 2
    assert scripts.get_bases() == [REVISIONS[1]]
    assert scripts.get_heads() == [REVISIONS[-1]]
    assert all(len(s.nextrev) <= 1 for s in scripts.walk_revisions())


async def test_each_step_down_and_up_lands_on_the_schema_of_its_revision(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    built: dict[str | None, Schema] = {None: await on_connection(url, schema)}
    for revision in REVISIONS[1:]:
        await step(url, "+1")
        assert await on_connection(url, current_revision) == revision
        built[revision] = await on_connection(url, schema)
    assert await on_connection(url, schema_differences) == []

    for revision in reversed(REVISIONS[:-1]):
        await step(url, "-1")
        assert await on_connection(url, current_revision) == revision
        assert await on_connection(url, schema) == built[revision], f"down to {revision}"

    for revision in REVISIONS[1:]:
        await step(url, "+1")
        assert await on_connection(url, current_revision) == revision
        assert await on_connection(url, schema) == built[revision], f"up to {revision}"
    assert await on_connection(url, schema_differences) == []


async def test_stepping_a_seeded_database_down_and_up_keeps_the_rows_of_every_kept_table(
    database_url: str,
) -> None:
    """Down to the first revision and back, with the default network's rows in it: no step
    loses a row of a table that exists on both sides of it."""
    url = database_url
    seeded = await on_connection(url, row_counts)
    counts = seeded

    for revision in reversed(REVISIONS[1:-1]):
        await step(url, "-1")
        after = await on_connection(url, row_counts)
        kept = set(counts) & set(after)
        assert {t: after[t] for t in kept} == {t: counts[t] for t in kept}, f"down to {revision}"
        counts = after
    for revision in REVISIONS[2:]:
        await step(url, "+1")
        after = await on_connection(url, row_counts)
        kept = set(counts) & set(after)
        assert {t: after[t] for t in kept} == {t: counts[t] for t in kept}, f"up to {revision}"
        counts = after

    assert await on_connection(url, current_revision) == REVISIONS[-1]
    assert {t: counts[t] for t in seeded} == seeded
    assert await on_connection(url, schema_differences) == []
