"""API keys: issue, verify, revoke, list. Only the SHA-256 of a key's secret is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import ApiToken, Role, check_key_spec, secret_matches
from store.db import changed_one_row
from store.models import ApiKeyRow


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    role: Role
    customer_id: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> ApiKey:
        return cls(
            row.key_id, Role(row.role), row.customer_id, row.label, row.created_at, row.revoked_at
        )


@dataclass(frozen=True)
class IssuedKey:
    """A new key and its token: the only time the token is known."""

    key: ApiKey
    token: str


async def create_key(
    session: AsyncSession,
    role: Role,
    created_at: datetime,
    customer_id: str | None = None,
    label: str | None = None,
) -> IssuedKey:
    check_key_spec(role, customer_id)
    token = ApiToken.new()
    row = ApiKeyRow(
        key_id=token.key_id,
        secret_hash=token.secret_hash,
        role=role.value,
        customer_id=customer_id,
        label=label,
        created_at=created_at,
    )
    session.add(row)
    await session.commit()
    return IssuedKey(ApiKey.of(row), str(token))


async def verify(session: AsyncSession, token: str) -> ApiKey | None:
    """The key of a token, or None when it is malformed, unknown, wrong or revoked."""
    parsed = ApiToken.parse(token)
    if parsed is None:
        return None
    row = await session.get(ApiKeyRow, parsed.key_id)
    if row is None or not secret_matches(parsed.secret, row.secret_hash):
        return None
    return ApiKey.of(row) if row.revoked_at is None else None


async def revoke(session: AsyncSession, key_id: str, revoked_at: datetime) -> bool:
    """Revoke a key; False when there is no such key or it was revoked already."""
    result = await session.execute(
        update(ApiKeyRow)
        .where(ApiKeyRow.key_id == key_id, ApiKeyRow.revoked_at.is_(None))
        .values(revoked_at=revoked_at)
    )
    await session.commit()
    return changed_one_row(result)


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    rows = await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))
    return [ApiKey.of(row) for row in rows]
