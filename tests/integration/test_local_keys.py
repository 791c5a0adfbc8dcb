"""The API keys of a local `doms up`: made once, kept in an owner-only file, reused."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from domain.access import ApiToken, Role
from doms.local_keys import (
    DEMO_CUSTOMER_ID,
    LocalKeys,
    ensure_local_keys,
    keys_file,
    read_local_keys,
)
from store import api_keys
from store.db import create_engine, session_factory


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def verified(database_url: str, token: str) -> api_keys.ApiKey | None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return await api_keys.verify(session, token)
    finally:
        await engine.dispose()


async def revoke(database_url: str, token: str) -> None:
    parsed = ApiToken.parse(token)
    assert parsed is not None
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            assert await api_keys.revoke(session, parsed.key_id, datetime.now(UTC))
    finally:
        await engine.dispose()


async def test_the_first_start_makes_an_operator_and_a_customer_key_in_an_owner_only_file(
    database_url: str, tmp_path: Path
) -> None:
    keys = await ensure_local_keys(database_url, tmp_path)

    assert mode_of(keys_file(tmp_path)) == 0o600
    assert read_local_keys(tmp_path) == keys
    operator = await verified(database_url, keys.operator)
    customer = await verified(database_url, keys.customer)
    assert operator is not None and operator.role is Role.OPERATOR
    assert customer is not None and customer.role is Role.CUSTOMER
    assert customer.customer_id == keys.customer_id == DEMO_CUSTOMER_ID


async def test_a_restart_reuses_the_keys_while_they_work(database_url: str, tmp_path: Path) -> None:
    first = await ensure_local_keys(database_url, tmp_path)

    assert await ensure_local_keys(database_url, tmp_path) == first


async def test_a_revoked_key_in_the_file_is_replaced_by_new_working_ones(
    database_url: str, tmp_path: Path
) -> None:
    first = await ensure_local_keys(database_url, tmp_path)
    await revoke(database_url, first.operator)

    second = await ensure_local_keys(database_url, tmp_path)

    assert second.operator != first.operator and second.customer != first.customer
    assert await verified(database_url, second.operator) is not None
    assert read_local_keys(tmp_path) == second


async def test_a_file_of_another_database_or_unreadable_gives_new_keys_owner_only(
    database_url: str, tmp_path: Path
) -> None:
    path = keys_file(tmp_path)
    stranger = LocalKeys(str(ApiToken.new()), str(ApiToken.new()))
    path.write_text(json.dumps(asdict(stranger)))
    os.chmod(path, 0o644)

    keys = await ensure_local_keys(database_url, tmp_path)

    assert keys != stranger and mode_of(path) == 0o600
    path.write_text("not json")
    assert read_local_keys(tmp_path) is None
    assert await ensure_local_keys(database_url, tmp_path) != keys
