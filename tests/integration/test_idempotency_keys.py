"""Idempotency keys on SQLite and PostgreSQL: locked once, answered once, taken over by exactly
one request after the holder died or was cancelled, and forgotten after their time."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.messages import OrderRequest
from api.idempotency import REPLAYED, place_once, request_hash, sweep_expired_keys
from api.intake import Intake
from api.schemas import OrderCreate
from doms.settings import Settings
from store import idempotency
from store.idempotency import (
    Claim,
    ClaimTerms,
    IdempotencyKey,
    KeyRecord,
    PlacedOrder,
)
from store.models import IdempotencyKeyRow, KeyState
from store.orders import OrderAlreadyRecorded

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=40)
DAY = timedelta(hours=24)
KEY = IdempotencyKey("anonymous", "key-1")
PLACED = PlacedOrder({"order_id": "o-1", "placement": {"status": "allocated"}}, "0af7" * 8)


def terms(
    order_id: str = "o-1", body: str = "hash-a", at: datetime = NOW, holder: str = ""
) -> ClaimTerms:
    return ClaimTerms(
        request_hash=body,
        order_id=order_id,
        holder=holder or f"holder-of-{order_id}",
        now=at,
        lease=LEASE,
        keep_for=DAY,
    )


async def claim(
    sessions: async_sessionmaker[AsyncSession], how: ClaimTerms, key: IdempotencyKey = KEY
) -> Claim:
    async with sessions() as session:
        return await idempotency.claim(session, key, how)


async def complete(sessions: async_sessionmaker[AsyncSession], placed: PlacedOrder) -> None:
    async with sessions() as session:
        await idempotency.complete(session, KEY, placed)
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
    assert (second.record.order_id, second.record.placed) == ("o-1", None)


async def test_the_final_answer_is_kept_for_replay(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1"))
    await complete(db_sessions, PLACED)

    replay = await claim(db_sessions, terms("o-2", at=NOW + LEASE * 10))

    assert not replay.ours
    assert replay.record.state is KeyState.COMPLETED
    assert replay.record.placed == PLACED


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


async def release(
    sessions: async_sessionmaker[AsyncSession], holder: str, at: datetime = NOW
) -> bool:
    async with sessions() as session:
        return await idempotency.release(session, KEY, holder, at)


async def test_a_released_key_is_taken_over_at_once_and_keeps_its_order_id(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1", holder="first"))
    assert await release(db_sessions, "first", NOW + timedelta(seconds=1))

    retry = await claim(db_sessions, terms("o-2", at=NOW + timedelta(seconds=2)))

    assert retry.ours and retry.record.order_id == "o-1"


async def test_a_completed_key_is_not_released(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1", holder="first"))
    await complete(db_sessions, PLACED)

    assert not await release(db_sessions, "first")
    assert not (await claim(db_sessions, terms("o-2", at=NOW + timedelta(seconds=1)))).ours


async def test_a_request_that_outlived_its_lease_cannot_release_the_key_taken_over(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The first request was slow, not dead: its late failure must not free the key while
    the request that took it over is still placing the order."""
    await claim(db_sessions, terms("o-1", holder="slow"))
    taken_over = await claim(db_sessions, terms("o-2", at=NOW + LEASE * 2, holder="retry"))
    assert taken_over.ours

    assert not await release(db_sessions, "slow", NOW + LEASE * 2)
    third = await claim(db_sessions, terms("o-3", at=NOW + LEASE * 2 + timedelta(seconds=1)))
    assert not third.ours  # still the retry's: 409 in progress, not a second placement

    assert await release(db_sessions, "retry", NOW + LEASE * 3)
    fourth = await claim(db_sessions, terms("o-4", at=NOW + LEASE * 3 + timedelta(seconds=1)))
    assert fourth.ours and fourth.record.order_id == "o-1"


async def test_only_the_first_answer_is_kept(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await claim(db_sessions, terms("o-1"))
    await complete(db_sessions, PLACED)
    await complete(
        db_sessions, PlacedOrder({"order_id": "o-1", "placement": {"status": "rejected"}})
    )

    found = await record(db_sessions)

    assert found is not None and found.placed == PLACED


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


# --- the sweeper the API runs (api/idempotency.py) -------------------------------------------


class SweeperStopped(Exception):
    pass


class Rounds:
    """The sweeper's `pause`: counts the rounds it finished, and after `rounds` of them
    stops it instead of waiting the period (the app's shutdown cancels it there)."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.periods: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.periods.append(seconds)
        if len(self.periods) == self.rounds:
            raise SweeperStopped


async def sweep(sessions: async_sessionmaker[AsyncSession], rounds: Rounds, batch: int) -> None:
    with contextlib.suppress(SweeperStopped):
        await sweep_expired_keys(sessions, every_seconds=60, batch=batch, pause=rounds)


async def test_the_sweeper_deletes_every_expired_key_in_one_round_batch_after_batch(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)  # the sweeper reads the real clock
    old = [IdempotencyKey("anonymous", f"old-{n}") for n in range(5)]
    for key in old:
        await claim(db_sessions, terms(at=now - DAY * 2), key)
    fresh = IdempotencyKey("anonymous", "fresh")
    await claim(db_sessions, terms(at=now), fresh)
    one_round = Rounds(1)

    await sweep(db_sessions, one_round, batch=2)  # 2 + 2 + 1: three batches, no pause between

    async with db_sessions() as session:
        left = [await idempotency.record_of(session, key) for key in old]
        kept = await idempotency.record_of(session, fresh)
    assert left == [None] * 5
    assert kept is not None
    assert one_round.periods == [60]


async def test_the_sweeper_outlives_a_database_that_is_away(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    await claim(db_sessions, terms(at=now - DAY * 2))
    calls = 0

    def flaky() -> AsyncSession:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("connection refused")  # as asyncpg says it, unwrapped
        return db_sessions()

    await sweep(cast(async_sessionmaker[AsyncSession], flaky), Rounds(2), batch=10)

    assert calls == 2
    assert await record(db_sessions) is None  # deleted in the second round


# --- what a request leaves of its key when it is cancelled (api/idempotency.py) ---------------

ORDER = OrderCreate.model_validate(
    {
        "customer_id": "c-1",
        "order_type": "standard",
        "destination": {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99},
        "lines": [{"sku": "SKU-0001", "quantity": 1}],
    }
)
Step = Callable[[OrderRequest], Awaitable[None]]


async def nothing(_: OrderRequest) -> None:
    pass


class StalledIntake:
    """An intake (api/intake.py) whose placement does `first`, then waits until cancelled."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], first: Step = nothing) -> None:
        self.sessions = sessions
        self.settings = Settings()
        self.placing = asyncio.Event()
        self.requests: list[OrderRequest] = []
        self._first = first

    async def place(self, request: OrderRequest, key: IdempotencyKey) -> None:
        self.requests.append(request)
        await self._first(request)
        self.placing.set()
        await asyncio.Event().wait()  # the order service takes its time


async def cancelled_while_placing(intake: StalledIntake) -> BaseException | None:
    """The request's ending, once cancelled (its client left) in the middle of placing."""
    request = asyncio.create_task(place_once(cast(Intake, intake), ORDER, KEY))
    await intake.placing.wait()
    request.cancel()
    (ending,) = await asyncio.gather(request, return_exceptions=True)
    return cast(BaseException | None, ending)


async def test_a_request_cancelled_while_placing_frees_its_key_for_the_retry_at_once(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    intake = StalledIntake(db_sessions)

    ending = await cancelled_while_placing(intake)
    retry = await claim(db_sessions, terms(body=request_hash(ORDER), at=datetime.now(UTC)))

    assert isinstance(ending, asyncio.CancelledError)
    assert retry.ours  # not a 409 until the lease runs out
    assert retry.record.order_id == intake.requests[0].order_id


async def test_a_second_cancel_does_not_stop_the_release_halfway(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    intake = StalledIntake(db_sessions)
    releasing = asyncio.Event()

    def announced() -> AsyncSession:
        releasing.set()
        return db_sessions()

    request = asyncio.create_task(place_once(cast(Intake, intake), ORDER, KEY))
    await intake.placing.wait()
    intake.sessions = cast(async_sessionmaker[AsyncSession], announced)
    request.cancel()
    await releasing.wait()
    request.cancel()  # the server stops while the request is releasing its key
    (ending,) = await asyncio.gather(request, return_exceptions=True)
    retry = await claim(db_sessions, terms(body=request_hash(ORDER), at=datetime.now(UTC)))

    assert isinstance(ending, asyncio.CancelledError)
    assert retry.ours


async def test_a_request_cancelled_after_its_order_was_recorded_keeps_the_answer(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def record_the_order(_: OrderRequest) -> None:  # its transaction has committed
        await complete(db_sessions, PLACED)

    ending = await cancelled_while_placing(StalledIntake(db_sessions, record_the_order))
    retry = await claim(db_sessions, terms(body=request_hash(ORDER), at=datetime.now(UTC)))

    assert isinstance(ending, asyncio.CancelledError)
    assert not retry.ours and retry.record.placed == PLACED  # replayed, not placed again


async def test_an_order_recorded_for_a_key_deleted_meanwhile_is_an_error_naming_the_key(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Only a key kept past its time (the sweeper) or deleted by hand can go while in use."""

    class KeyDeletedThenRecorded(StalledIntake):
        async def place(self, request: OrderRequest, key: IdempotencyKey) -> None:
            async with db_sessions() as session:
                await session.execute(delete(IdempotencyKeyRow))
                await session.commit()
            raise OrderAlreadyRecorded(request.order_id)

    intake = KeyDeletedThenRecorded(db_sessions)

    with pytest.raises(RuntimeError, match="'key-1' was deleted while its request held it"):
        await place_once(cast(Intake, intake), ORDER, KEY)


async def test_a_key_answered_before_revision_0007_replays_the_answer_it_stored(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Keys completed before keys recorded the placed order kept the answer as it was sent."""
    body = {"type": "about:blank", "title": "Order cannot be served", "status": 409}
    await claim(db_sessions, terms(body=request_hash(ORDER), at=datetime.now(UTC)))
    async with db_sessions() as session:
        await session.execute(
            update(IdempotencyKeyRow).values(
                state=KeyState.COMPLETED, status_code=409, response=body, location=None
            )
        )
        await session.commit()

    replay = await place_once(cast(Intake, StalledIntake(db_sessions)), ORDER, KEY)

    assert (replay.status_code, replay.headers[REPLAYED]) == (409, "true")
    assert replay.headers["content-type"] == "application/problem+json"
    assert json.loads(bytes(replay.body)) == body
