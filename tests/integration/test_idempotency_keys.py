"""Idempotency keys on SQLite and PostgreSQL: locked once, answered once, taken over by exactly
one request after the holder died, and forgotten after their time."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warehouse import OrderDesk, Stockroom

from domain.orders import OrderLine
from store import idempotency
from store.idempotency import (
    AnswerToKey,
    Claim,
    ClaimTerms,
    IdempotencyKey,
    KeyRecord,
    StoredAnswer,
)
from store.models import KeyState

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=40)
DAY = timedelta(hours=24)
KEY = IdempotencyKey("anonymous", "key-1")
PLACED = StoredAnswer(201, {"order_id": "o-1", "status": "allocated"}, "/orders/o-1")


def terms(order_id: str = "o-1", body: str = "hash-a", at: datetime = NOW) -> ClaimTerms:
    return ClaimTerms(request_hash=body, order_id=order_id, now=at, lease=LEASE, keep_for=DAY)


async def claim(
    sessions: async_sessionmaker[AsyncSession], how: ClaimTerms, key: IdempotencyKey = KEY
) -> Claim:
    async with sessions() as session:
        return await idempotency.claim(session, key, how)


async def complete(sessions: async_sessionmaker[AsyncSession], answer: StoredAnswer) -> None:
    async with sessions() as session:
        await idempotency.complete(session, AnswerToKey(KEY, answer))
        await session.commit()


async def record(sessions: async_sessionmaker[AsyncSession]) -> KeyRecord | None:
    async with sessions() as session:
        return await idempotency.record_of(session, KEY)


async def test_a_new_key_is_locked_for_its_request_with_the_order_id_it_brought(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await claim(db_sessions, terms("o-1"))

    assert first.ours
    assert (first.record.order_id, first.record.state) == ("o-1", KeyState.IN_FLIGHT)
    assert await record(db_sessions) == first.record


async def test_while_the_first_request_holds_the_key_a_second_one_does_not_get_it(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1"))

    second = await claim(db_sessions, terms("o-2", at=NOW + LEASE / 2))

    assert not second.ours
    assert (second.record.order_id, second.record.answer) == ("o-1", None)


async def test_the_final_answer_is_kept_for_replay(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1"))
    await complete(db_sessions, PLACED)

    replay = await claim(db_sessions, terms("o-2", at=NOW + LEASE * 10))

    assert not replay.ours
    assert replay.record.state is KeyState.COMPLETED
    assert replay.record.answer == PLACED


async def test_a_key_used_with_another_body_is_reported_and_never_taken_over(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1", body="hash-a"))

    other = await claim(db_sessions, terms("o-2", body="hash-b", at=NOW + LEASE * 2))

    assert not other.ours
    assert other.record.request_hash == "hash-a"
    assert await record(db_sessions) == other.record


async def test_of_two_retries_of_an_abandoned_key_exactly_one_takes_it_over_with_its_order_id(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1"))  # and its process dies: the lease runs out
    later = NOW + LEASE * 2

    claims = await asyncio.gather(
        *(claim(db_sessions, terms(f"o-retry-{n}", at=later)) for n in range(2))
    )

    assert sorted(c.ours for c in claims) == [False, True]
    assert {c.record.order_id for c in claims} == {"o-1"}  # the first attempt's order id
    [winner] = [c for c in claims if c.ours]
    assert winner.record.locked_until == later + LEASE


async def test_a_released_key_is_taken_over_at_once_and_keeps_its_order_id(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1"))
    async with db_sessions() as session:
        await idempotency.release(session, KEY, NOW + timedelta(seconds=1))

    retry = await claim(db_sessions, terms("o-2", at=NOW + timedelta(seconds=2)))

    assert retry.ours and retry.record.order_id == "o-1"


async def test_a_completed_key_is_not_released(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1"))
    await complete(db_sessions, PLACED)
    async with db_sessions() as session:
        await idempotency.release(session, KEY, NOW)

    assert not (await claim(db_sessions, terms("o-2", at=NOW + timedelta(seconds=1)))).ours


async def test_only_the_first_answer_is_kept(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1"))
    await complete(db_sessions, PLACED)
    await complete(db_sessions, StoredAnswer(409, {"title": "Order cannot be served"}))

    found = await record(db_sessions)

    assert found is not None and found.answer == PLACED


async def test_keys_of_different_callers_never_meet(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    mine = await claim(db_sessions, terms("o-1"), IdempotencyKey("caller-a", "same"))
    theirs = await claim(db_sessions, terms("o-2"), IdempotencyKey("caller-b", "same"))

    assert mine.ours and theirs.ours
    assert theirs.record.order_id == "o-2"


async def test_an_expired_key_counts_as_new(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1"))
    await complete(db_sessions, PLACED)

    fresh = await claim(db_sessions, terms("o-2", body="hash-b", at=NOW + DAY))

    assert fresh.ours and fresh.record.order_id == "o-2"


async def test_expired_keys_are_deleted_in_batches_and_the_others_kept(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    for n in range(3):  # a day before the two below
        await claim(db_sessions, terms(f"o-{n}"), IdempotencyKey("anonymous", f"old-{n}"))
    for n in range(2):
        at = NOW + DAY
        await claim(db_sessions, terms(f"o-{n}", at=at), IdempotencyKey("anonymous", f"new-{n}"))

    async with db_sessions() as session:
        batches = [await idempotency.remove_expired(session, NOW + DAY, limit=2) for _ in range(3)]
        kept = [
            await idempotency.record_of(session, IdempotencyKey("anonymous", f"new-{n}"))
            for n in range(2)
        ]
        gone = await idempotency.record_of(session, IdempotencyKey("anonymous", "old-0"))

    assert batches == [2, 1, 0]
    assert None not in kept and gone is None


async def test_the_answer_is_recorded_with_the_order_or_not_at_all(
    db_sessions: async_sessionmaker[AsyncSession], desk: OrderDesk, stockroom: Stockroom
) -> None:
    await stockroom.put("SKU-0001", 1)
    await claim(db_sessions, terms("o-1"))
    answered = AnswerToKey(KEY, PLACED)
    too_big = dataclasses.replace(desk.order(OrderLine("SKU-0001", 2)), then_answer=answered)
    fits = dataclasses.replace(desk.order(OrderLine("SKU-0001", 1)), then_answer=answered)

    assert not await desk.allocate(too_big)  # short of stock: the transaction rolls back
    in_flight = await record(db_sessions)
    assert await desk.allocate(fits)
    completed = await record(db_sessions)

    assert in_flight is not None and in_flight.answer is None
    assert completed is not None and completed.answer == PLACED
