"""API keys in the store, on SQLite and PostgreSQL: issued, verified, revoked, listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.access import ApiToken, InvalidKeySpec, Role
from store import api_keys
from store.models import ApiKeyRow

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_an_issued_key_verifies_with_its_role_and_customer(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessions() as session:
        issued = await api_keys.create_key(session, Role.CUSTOMER, NOW, "c-7", "test")
        found = await api_keys.verify(session, issued.token)

    assert found == issued.key
    assert (found.role, found.customer_id, found.label) == (Role.CUSTOMER, "c-7", "test")
    assert found.created_at == NOW and found.revoked_at is None


async def test_the_stored_row_holds_the_hash_of_the_secret_never_the_token(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessions() as session:
        issued = await api_keys.create_key(session, Role.OPERATOR, NOW)
        row = (await session.execute(text("SELECT * FROM api_keys"))).one()

    token = ApiToken.parse(issued.token)
    assert token is not None
    stored = " ".join(str(value) for value in row)
    assert token.secret not in stored and issued.token not in stored
    assert row.secret_hash == token.secret_hash


async def test_wrong_unknown_and_malformed_tokens_verify_to_nothing(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessions() as session:
        issued = await api_keys.create_key(session, Role.OPERATOR, NOW)
        token = ApiToken.parse(issued.token)
        assert token is not None
        wrong_secret = str(ApiToken(token.key_id, ApiToken.new().secret))
        unknown_id = str(ApiToken(ApiToken.new().key_id, token.secret))

        for candidate in (wrong_secret, unknown_id, "doms_nothing", "", issued.token + "x"):
            assert await api_keys.verify(session, candidate) is None, candidate


async def test_a_revoked_key_no_longer_verifies_and_is_revoked_once(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessions() as session:
        issued = await api_keys.create_key(session, Role.CARRIER, NOW)
        other = await api_keys.create_key(session, Role.CARRIER, NOW)
        later = NOW + timedelta(hours=1)

        assert await api_keys.revoke(session, issued.key.key_id, later)
        assert not await api_keys.revoke(session, issued.key.key_id, later)
        assert not await api_keys.revoke(session, "0000000000000000", later)

        assert await api_keys.verify(session, issued.token) is None
        assert await api_keys.verify(session, other.token) is not None
        listed = {key.key_id: key for key in await api_keys.list_keys(session)}
    assert listed[issued.key.key_id].revoked_at == later
    assert listed[other.key.key_id].revoked_at is None


async def test_a_customer_key_needs_a_customer_and_no_other_key_has_one(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessions() as session:
        with pytest.raises(InvalidKeySpec):
            await api_keys.create_key(session, Role.CUSTOMER, NOW)
        with pytest.raises(InvalidKeySpec):
            await api_keys.create_key(session, Role.OPERATOR, NOW, customer_id="c-1")
        assert list(await session.scalars(select(ApiKeyRow))) == []


async def test_the_database_refuses_a_customer_key_without_a_customer(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The same rule as a constraint, for rows written around the repository."""
    row = ApiKeyRow(key_id="0" * 16, secret_hash="0" * 64, role="customer", created_at=NOW)
    async with db_sessions() as session:
        session.add(row)
        with pytest.raises(IntegrityError):
            await session.commit()
