"""Future revisions on SQLite: batch mode rebuilds tables, which must work with data in them."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from store.migrate import MIGRATIONS_DIR, alembic_config

REBUILD_CENTRES = '''
"""a future revision that makes SQLite rebuild a table other tables point at"""

import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fulfilment_centres", recreate="always") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fulfilment_centres", recreate="always") as batch:
        batch.drop_column("note")
'''


async def test_a_revision_rebuilding_a_referenced_table_keeps_every_row(
    sqlite_url: str, tmp_path: Path
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts)
    config = alembic_config(sqlite_url)
    config.set_main_option("script_location", str(scripts))
    head = ScriptDirectory.from_config(config).get_current_head()
    (scripts / "versions" / "9999_rebuild_centres.py").write_text(
        REBUILD_CENTRES.replace("{head}", str(head))
    )
    database = sqlite_url.split("///", 1)[1]
    stock_rows = _count(database, "stock")

    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.downgrade, config, str(head))

    assert stock_rows > 0
    assert _count(database, "stock") == stock_rows
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


def _count(database: str, table: str) -> int:
    with sqlite3.connect(database) as connection:
        count: int = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return count
