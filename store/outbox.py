"""The workflow outbox: orders accepted in the app database whose workflow is yet to start.

The API writes a row in the same transaction as the order (store/orders.py), so an
accepted order is never lost: if the process dies before the workflow starts, another
relay finds the row. Relays lease rows before starting them, so that API replicas share
the work rather than all starting the same workflows; a start is idempotent anyway (the
workflow id is the order id), so an expired lease only costs a repeated call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import WorkflowOutboxRow

OUTBOX: Table = WorkflowOutboxRow.__table__  # type: ignore[assignment]  # a Table at runtime
_ADD = insert(OUTBOX)  # built once: it is on every order's path
_FREE = or_(OUTBOX.c.leased_until.is_(None), OUTBOX.c.leased_until < bindparam("now"))
_ANY_FREE = select(OUTBOX.c.order_id).where(_FREE).limit(1)


@dataclass(frozen=True)
class PendingStart:
    order_id: str
    request: str  # the workflow's input, as the JSON text stored: started without decoding
    traceparent: str | None
    attempts: int


async def add(
    session: AsyncSession,
    order_id: str,
    request: Mapping[str, Any],
    at: datetime,
    traceparent: str | None = None,
) -> None:
    """Queue the start of an order's workflow; part of the caller's transaction."""
    await session.execute(
        _ADD,
        {
            "order_id": order_id,
            "request": dict(request),
            "created_at": at,
            "traceparent": traceparent,
            "leased_until": None,
        },
    )


async def has_free(session: AsyncSession, now: datetime) -> bool:
    """Whether any row waits that no relay holds: a read, so polling takes no write lock."""
    return (await session.execute(_ANY_FREE, {"now": now})).first() is not None


async def lease(
    session: AsyncSession,
    now: datetime,
    lease_for: timedelta,
    limit: int,
    order_id: str | None = None,
) -> list[PendingStart]:
    """Take up to `limit` rows no other relay holds (oldest first) until `now + lease_for`.

    With `order_id`, only that order's row. Commits: the lease is what other relays see.
    """
    free = or_(OUTBOX.c.leased_until.is_(None), OUTBOX.c.leased_until < now)
    candidates = select(OUTBOX.c.order_id).where(free)
    if order_id is not None:
        candidates = candidates.where(OUTBOX.c.order_id == order_id)
    # PostgreSQL: concurrent relays skip each other's candidates instead of waiting.
    # SQLite ignores FOR UPDATE; its single writer makes the statement atomic anyway.
    candidates = (
        candidates.order_by(OUTBOX.c.created_at).limit(limit).with_for_update(skip_locked=True)
    )
    taken = await session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.order_id.in_(candidates.scalar_subquery()), free)
        .values(leased_until=now + lease_for, attempts=OUTBOX.c.attempts + 1)
        .returning(
            OUTBOX.c.order_id,
            cast(OUTBOX.c.request, Text),  # the stored text, not decoded
            OUTBOX.c.traceparent,
            OUTBOX.c.attempts,
        )
    )
    rows = [PendingStart(*row) for row in taken.all()]
    await session.commit()
    return rows


async def remove(session: AsyncSession, order_ids: Sequence[str], commit: bool = True) -> None:
    """The workflows of these orders have started: forget them."""
    if order_ids:
        await session.execute(delete(OUTBOX).where(OUTBOX.c.order_id.in_(order_ids)))
        if commit:
            await session.commit()


async def retry_later(
    session: AsyncSession, order_ids: Sequence[str], at: datetime, commit: bool = True
) -> None:
    """Starting failed (Temporal unreachable): leave these rows until `at`."""
    if order_ids:
        await session.execute(
            update(OUTBOX).where(OUTBOX.c.order_id.in_(order_ids)).values(leased_until=at)
        )
        if commit:
            await session.commit()


async def pending_count(session: AsyncSession) -> int:
    """Accepted orders whose workflow has not started yet (a relay's backlog)."""
    return int((await session.execute(select(func.count()).select_from(OUTBOX))).scalar_one())


async def is_pending(session: AsyncSession, order_id: str) -> bool:
    found = await session.execute(select(OUTBOX.c.order_id).where(OUTBOX.c.order_id == order_id))
    return found.first() is not None
