"""Idempotency keys of POST /orders: who holds a key, and the final answer given for it.

A request claims its key by inserting the row (committed at once, so other requests see
it). A row still in flight after `locked_until` belongs to a request whose process died:
the next request with the key takes it over with one guarded UPDATE, so only one of two
contenders wins, and it keeps the row's order id. A row past `expires_at` counts as gone.

Each claim writes its own `holder` token, and only the holder may release the key: a request
that outlived its lease (slow, not dead) and then fails must not free a key that another
request has taken over meanwhile. The final answer needs no such guard: whichever of the two
records it, it is the answer for the same order id.

The final answer is recorded as the order placed under the key, in the order's own
transaction (placing/service.py); rendering it as HTTP is the API's (api/idempotency.py).
Keys completed before revision 0007 kept the answer as it was sent, and replay that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Table, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import changed_one_row
from store.models import IdempotencyKeyRow, KeyState

KEYS: Table = IdempotencyKeyRow.__table__  # type: ignore[assignment]  # a Table at runtime
# A key deleted or expired between our insert and our read: claim again, a bounded number of times.
CLAIM_ATTEMPTS = 3
# On the order path (placing/service.py), so built once (see store/inventory.py).
_COMPLETE = (
    update(KEYS)
    .where(
        KEYS.c.scope == bindparam("b_scope"),
        KEYS.c.key == bindparam("b_key"),
        KEYS.c.state == KeyState.IN_FLIGHT.value,
    )
    .values(
        state=KeyState.COMPLETED.value,
        placed_order=bindparam("b_placed", type_=KEYS.c.placed_order.type),
        trace_id=bindparam("b_trace"),
    )
)


@dataclass(frozen=True)
class IdempotencyKey:
    scope: str  # whose key it is
    key: str


@dataclass(frozen=True)
class StoredAnswer:
    """An answer to POST /orders as the API sends it; keys completed before revision 0007
    stored it as it was sent."""

    status_code: int
    body: dict[str, Any]
    location: str | None = None


@dataclass(frozen=True)
class PlacedOrder:
    """The order placed under a key: its request with its placement as JSON (the workflow's
    input, activities.messages.request_to_json), and the trace it was placed in."""

    order: Mapping[str, Any]
    trace_id: str | None = None


@dataclass(frozen=True)
class KeyRecord:
    request_hash: str
    order_id: str
    state: KeyState
    locked_until: datetime
    placed: PlacedOrder | None  # completed: the key's final answer
    answer: StoredAnswer | None = None  # completed before revision 0007: the answer as sent


@dataclass(frozen=True)
class Claim:
    """The key's row as a claim found it; `ours`: this request holds the key now."""

    record: KeyRecord
    ours: bool


@dataclass(frozen=True)
class ClaimTerms:
    request_hash: str
    order_id: str  # for a new key; a key taken over keeps its own
    holder: str  # this request's token: only it may release the key (see `release`)
    now: datetime
    lease: timedelta
    keep_for: timedelta


async def claim(session: AsyncSession, key: IdempotencyKey, terms: ClaimTerms) -> Claim:
    """Lock a new key, take over an abandoned one, or report who holds it. Commits."""
    for _ in range(CLAIM_ATTEMPTS):
        if await _insert(session, key, terms):
            return Claim(_new_record(terms), ours=True)
        found = await _read(session, key)
        if found is None or found.expires_at <= terms.now:
            await _forget_expired(session, key, terms.now)
            continue
        record = _record_of(found)
        if _abandoned(record, terms) and await _take_over(session, key, terms):
            locked_until = terms.now + terms.lease
            return Claim(dataclasses.replace(record, locked_until=locked_until), ours=True)
        if not _abandoned(record, terms):
            return Claim(record, ours=False)
    raise RuntimeError(f"idempotency key {key.key!r} kept changing while it was claimed")


async def complete(session: AsyncSession, key: IdempotencyKey, placed: PlacedOrder) -> None:
    """Record the order placed under the key as its final answer, unless it has one: part of
    the caller's transaction (the caller commits)."""
    await session.execute(
        _COMPLETE,
        {
            "b_scope": key.scope,
            "b_key": key.key,
            "b_placed": dict(placed.order),
            "b_trace": placed.trace_id,
        },
    )


async def release(session: AsyncSession, key: IdempotencyKey, holder: str, now: datetime) -> bool:
    """No final answer (the server failed): let the next request with the key take it over
    at once. The row stays, so that request reuses its order id. Only the request holding the
    key (`holder`) releases it; False when the key is answered or held by another. Commits."""
    released = await session.execute(
        update(KEYS)
        .where(*_is(key), KEYS.c.state == KeyState.IN_FLIGHT, KEYS.c.holder == holder)
        .values(locked_until=now)
    )
    await session.commit()
    return changed_one_row(released)


async def remove_expired(session: AsyncSession, now: datetime, limit: int) -> int:
    """Delete up to `limit` keys kept long enough; returns how many. Commits."""
    batch = select(KEYS.c.scope, KEYS.c.key).where(KEYS.c.expires_at <= now).limit(limit)
    removed = await session.execute(
        delete(KEYS).where(tuple_(KEYS.c.scope, KEYS.c.key).in_(batch), KEYS.c.expires_at <= now)
    )
    await session.commit()
    return removed.rowcount if isinstance(removed, CursorResult) else 0


async def record_of(session: AsyncSession, key: IdempotencyKey) -> KeyRecord | None:
    found = await _read(session, key)
    return None if found is None else _record_of(found)


async def _insert(session: AsyncSession, key: IdempotencyKey, terms: ClaimTerms) -> bool:
    try:
        await session.execute(
            insert(KEYS).values(
                scope=key.scope,
                key=key.key,
                request_hash=terms.request_hash,
                order_id=terms.order_id,
                holder=terms.holder,
                state=KeyState.IN_FLIGHT,
                created_at=terms.now,
                locked_until=terms.now + terms.lease,
                expires_at=terms.now + terms.keep_for,
            )
        )
    except IntegrityError:
        await session.rollback()
        return False
    await session.commit()
    return True


async def _take_over(session: AsyncSession, key: IdempotencyKey, terms: ClaimTerms) -> bool:
    """The guarded UPDATE: of two requests taking over at once, one changes the row."""
    taken = await session.execute(
        update(KEYS)
        .where(
            *_is(key),
            KEYS.c.state == KeyState.IN_FLIGHT,
            KEYS.c.request_hash == terms.request_hash,
            KEYS.c.locked_until <= terms.now,
        )
        .values(locked_until=terms.now + terms.lease, holder=terms.holder)
    )
    await session.commit()
    return changed_one_row(taken)


async def _forget_expired(session: AsyncSession, key: IdempotencyKey, now: datetime) -> None:
    await session.execute(delete(KEYS).where(*_is(key), KEYS.c.expires_at <= now))
    await session.commit()


async def _read(session: AsyncSession, key: IdempotencyKey) -> Any:
    found = await session.execute(select(KEYS).where(*_is(key)))
    row = found.one_or_none()
    await session.commit()  # end the read: on PostgreSQL a later statement must see new rows
    return row


def _is(key: IdempotencyKey) -> tuple[Any, Any]:
    return KEYS.c.scope == key.scope, KEYS.c.key == key.key


def _abandoned(record: KeyRecord, terms: ClaimTerms) -> bool:
    """In flight past its lease, with the same request: its process died before answering."""
    return (
        record.state is KeyState.IN_FLIGHT
        and record.locked_until <= terms.now
        and record.request_hash == terms.request_hash
    )


def _record_of(row: Any) -> KeyRecord:
    state = KeyState(row.state)
    record = KeyRecord(row.request_hash, row.order_id, state, row.locked_until, None)
    if state is not KeyState.COMPLETED:
        return record
    if row.placed_order is None:  # completed before revision 0007
        answer = StoredAnswer(row.status_code, row.response, row.location)
        return dataclasses.replace(record, answer=answer)
    return dataclasses.replace(record, placed=PlacedOrder(row.placed_order, row.trace_id))


def _new_record(terms: ClaimTerms) -> KeyRecord:
    return KeyRecord(
        terms.request_hash, terms.order_id, KeyState.IN_FLIGHT, terms.now + terms.lease, None
    )
