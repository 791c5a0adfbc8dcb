"""Run the Alembic revisions programmatically (used by `doms migrate`, `doms up` and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).parent


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    upgrade_to(url, "head")


def upgrade_to(url: str, revision: str) -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade_to(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
